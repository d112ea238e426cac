/// One column of a captured table.
public struct CaptureColumn: Sendable, Equatable, Hashable {
    public var name: String
    /// The database's own type id (PostgreSQL: the type OID), recorded in the schema registry.
    public var typeID: UInt32
    /// The database's type modifier (PostgreSQL's `atttypmod`; -1: none).
    public var typeModifier: Int32
    /// How values are encoded.
    public var kind: ColumnKind
    /// Part of the Kafka key (primary key, else replica identity).
    public var isKey: Bool

    public init(name: String, typeID: UInt32, typeModifier: Int32 = -1, kind: ColumnKind, isKey: Bool) {
        self.name = name; self.typeID = typeID; self.typeModifier = typeModifier; self.kind = kind; self.isKey = isKey
    }

    /// Column lists compared without the key flag: a new schema version when they differ.
    public static func sameColumns(_ a: [CaptureColumn], _ b: [CaptureColumn]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.name == $1.name && $0.typeID == $1.typeID && $0.typeModifier == $1.typeModifier }
    }
}
