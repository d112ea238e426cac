/// One column value of a captured row, as the database's change log carries it.
///
/// Values stay in the database's text form: the encoder types them by the column's
/// ``ColumnKind`` (numbers, booleans, timestamps, ...), so the hot path never parses twice.
public enum ColumnValue: Sendable, Equatable, Hashable {
    case null
    /// A value the log did not carry and that must not be invented: PostgreSQL's unchanged TOAST
    /// column, MySQL's column left out of a minimal row image.
    case unchangedToast
    /// The value in the database's text form.
    case text(String)
}
