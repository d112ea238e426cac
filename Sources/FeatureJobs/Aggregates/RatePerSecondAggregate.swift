public import StreamKit
public import Glibc

/// Events per second over a window: `count / windowSeconds`, optionally counting only the inputs that
/// satisfy a predicate.
///
/// An aggregate does not see its window, so the window length is a parameter: pass the size of the
/// tumbling or sliding window the aggregate runs in. (Session and count windows have no fixed
/// length; use `.count()` and divide by the window bounds of the `WindowResult` instead.)
///
/// ```swift
/// .window(.sliding(size: .minutes(5), slide: .minutes(1)))
/// .aggregate(.ratePerSecond(window: .minutes(5)))
/// ```
public struct RatePerSecondAggregate<Input>: AggregateFunction {
    /// The window length in seconds.
    public let windowSeconds: Double
    @usableFromInline let predicate: (@Sendable (Input) -> Bool)?

    /// - Parameters:
    ///   - window: the window size (must be positive).
    ///   - predicate: counts only inputs for which it is true; nil counts all.
    @inlinable
    public init(window: Duration, where predicate: (@Sendable (Input) -> Bool)? = nil) {
        let (seconds, attoseconds) = window.components
        let length = Double(seconds) + Double(attoseconds) * 1e-18
        precondition(length > 0, "the window length must be positive")
        windowSeconds = length
        self.predicate = predicate
    }
    @inlinable public func makeAccumulator() -> Int64 { 0 }
    @inlinable public func add(_ value: Input, to a: inout Int64) {
        if let predicate, !predicate(value) { return }
        a &+= 1
    }
    @inlinable public func merge(_ other: Int64, into a: inout Int64) { a &+= other }
    /// Counted inputs per second of window.
    @inlinable public func result(_ a: Int64) -> Double { Double(a) / windowSeconds }
}
