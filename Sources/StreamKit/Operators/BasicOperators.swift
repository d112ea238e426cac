/// `map`: one output per input.
public struct MapOperator<Input: Sendable, Output: Sendable>: StreamOperator {
    @usableFromInline let transform: @Sendable (Input) throws -> Output
    @inlinable public init(_ transform: @escaping @Sendable (Input) throws -> Output) { self.transform = transform }
    @inlinable
    public mutating func processBatch(_ input: inout Batch<Input>, into output: inout Batch<Output>,
                                      side: inout Batch<Never>, context: OperatorContext) throws {
        for i in 0..<input.count {
            output.append(try transform(input.values[i]), timestamp: input.timestamps[i], watermark: input.watermarks[i])
        }
    }
}

/// `filter`: keeps the inputs for which the predicate holds.
public struct FilterOperator<Element: Sendable>: StreamOperator {
    @usableFromInline let predicate: @Sendable (Element) throws -> Bool
    @inlinable public init(_ predicate: @escaping @Sendable (Element) throws -> Bool) { self.predicate = predicate }
    @inlinable
    public mutating func processBatch(_ input: inout Batch<Element>, into output: inout Batch<Element>,
                                      side: inout Batch<Never>, context: OperatorContext) throws {
        // Compact in place, then hand the storage over (no copy of the kept records).
        var kept = 0
        for i in 0..<input.count where try predicate(input.values[i]) {
            if kept != i {
                input.values[kept] = input.values[i]
                input.timestamps[kept] = input.timestamps[i]
                input.watermarks[kept] = input.watermarks[i]
            }
            kept += 1
        }
        let n = input.count
        input.values.removeLast(n - kept); input.timestamps.removeLast(n - kept); input.watermarks.removeLast(n - kept)
        if output.isEmpty {
            swap(&input.values, &output.values); swap(&input.timestamps, &output.timestamps); swap(&input.watermarks, &output.watermarks)
        } else {
            output.values.append(contentsOf: input.values); output.timestamps.append(contentsOf: input.timestamps)
            output.watermarks.append(contentsOf: input.watermarks)
        }
    }
}

/// `flatMap`: zero or more outputs per input, appended through a callback (no array per record).
public struct FlatMapOperator<Input: Sendable, Output: Sendable>: StreamOperator {
    @usableFromInline let transform: @Sendable (Input, (Output) -> Void) throws -> Void
    @inlinable public init(_ transform: @escaping @Sendable (Input, (Output) -> Void) throws -> Void) { self.transform = transform }
    @inlinable
    public mutating func processBatch(_ input: inout Batch<Input>, into output: inout Batch<Output>,
                                      side: inout Batch<Never>, context: OperatorContext) throws {
        for i in 0..<input.count {
            let ts = input.timestamps[i], wm = input.watermarks[i]
            try transform(input.values[i]) { output.append($0, timestamp: ts, watermark: wm) }
        }
    }
}

/// A `map` that may reject a record: rejected records go to the side output with the reason
/// (a dead-letter output, code ``StreamKitError/Code/userFunction``, the error's text as the
/// reason) and the job keeps running — Flink's side-output pattern for poison records.
public struct TryMapOperator<Input: Sendable, Output: Sendable>: StreamOperator {
    public typealias SideOutput = DeadLetter<Input>
    @usableFromInline let transform: @Sendable (Input) throws -> Output
    @inlinable public init(_ transform: @escaping @Sendable (Input) throws -> Output) { self.transform = transform }
    @inlinable
    public mutating func processBatch(_ input: inout Batch<Input>, into output: inout Batch<Output>,
                                      side: inout Batch<DeadLetter<Input>>, context: OperatorContext) throws {
        for i in 0..<input.count {
            do {
                output.append(try transform(input.values[i]), timestamp: input.timestamps[i], watermark: input.watermarks[i])
            } catch {
                context.metrics.droppedRecords.add(1)
                side.append(DeadLetter(record: input.values[i], reason: "\(error)", code: .userFunction),
                            timestamp: input.timestamps[i], watermark: input.watermarks[i])
            }
        }
    }
}

