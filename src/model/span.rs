//! Where something stands in a text file a person edits.

/// 1-based line and column (in characters), and how many characters it covers on its line
/// (at least 1, for a caret).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Span {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// Characters covered on the line.
    pub len: u32,
}

impl Span {
    /// A span of `len` characters at `line`, `column`.
    pub fn new(line: u32, column: u32, len: u32) -> Span {
        Span { line, column, len }
    }
}
