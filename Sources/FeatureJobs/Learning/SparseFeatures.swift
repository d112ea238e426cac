public import StreamKit

/// A sparse feature vector: parallel arrays of indices (into a model's fixed dimension) and
/// values, in the order they were appended.
///
/// It is a reusable buffer: ``removeAll()`` keeps the capacity, so a scoring loop that fills one
/// vector per record allocates nothing once the buffer has grown to the largest record.
/// ``FeatureHasher`` maps named numeric and categorical features to indices.
///
/// ```swift
/// var x = SparseFeatures(capacity: 8)
/// x.append(0, 1)                                   // bias
/// x.append(1, log(amount / mean))                  // a numeric slot
/// x.append(hasher.index(field: merchantField, value: merchantId), 1)   // one-hot, hashed
/// let p = model.predict(x)
/// ```
@frozen
public struct SparseFeatures: Sendable, Hashable {
    /// Indices, each below the model's dimension. Duplicates are allowed (hash collisions) and
    /// act as separate terms of the dot product.
    public var indices: [UInt32]
    /// The value of each index.
    public var values: [Double]

    /// An empty vector with room for `capacity` entries.
    @inlinable
    public init(capacity: Int = 16) {
        indices = []; values = []
        indices.reserveCapacity(capacity); values.reserveCapacity(capacity)
    }

    /// A vector of `(index, value)` pairs.
    @inlinable
    public init(_ pairs: [(UInt32, Double)]) {
        indices = pairs.map(\.0); values = pairs.map(\.1)
    }

    /// Number of entries.
    @inlinable public var count: Int { indices.count }

    /// Removes every entry, keeping the capacity.
    @inlinable
    public mutating func removeAll() {
        indices.removeAll(keepingCapacity: true); values.removeAll(keepingCapacity: true)
    }

    /// Appends `value` at `index`.
    @inlinable
    public mutating func append(_ index: UInt32, _ value: Double) {
        indices.append(index); values.append(value)
    }
}

extension SparseFeatures: StateCodable {
    /// Entry count, then each index (varint) and value (IEEE-754 bits): an exact round trip.
    @inlinable
    public func encode(to writer: inout ByteWriter) {
        writer.writeVarUInt(UInt64(indices.count))
        for k in 0..<indices.count { writer.writeVarUInt(UInt64(indices[k])); writer.writeDouble(values[k]) }
    }

    @inlinable
    public init(from reader: inout ByteReader) throws {
        let n = try reader.readVarUInt()
        guard n <= 1 << 20 else { throw StreamKitError(.state, "sparse feature vector of \(n) entries") }
        self.init(capacity: Int(n))
        for _ in 0..<n {
            let i = try reader.readVarUInt()
            guard i <= UInt64(UInt32.max) else { throw StreamKitError(.state, "feature index \(i) out of range") }
            append(UInt32(i), try reader.readDouble())
        }
    }
}
