//! Faults of the files business staff edit: a closed set of kinds, the file, the line and
//! column of the offending key or value, and the source line to show under a caret.

use std::fmt;
use std::path::{Path, PathBuf};

pub use crate::model::Span;

/// What kind of fault: tests and tools match on this, never on the French text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// A file or folder that cannot be read.
    Unreadable,
    /// YAML that does not parse.
    Syntax,
    /// A key the file format does not have (a misspelt key).
    UnknownKey,
    /// A key the file format requires.
    MissingKey,
    /// A value of the wrong type or outside its closed list.
    BadValue,
    /// A name defined twice.
    Duplicate,
    /// A reference to a name that does not exist (record, group, grammar, scope, rule).
    UnknownName,
    /// A zone overlapping another one or past the end of its record.
    Zone,
    /// A script that does not compile.
    Script,
    /// A call to a function that vigie does not register.
    UnknownFunction,
    /// A script feature rule authors may not use (`eval`).
    Forbidden,
    /// A fact field that the grammars of the rule's scope do not have.
    UnknownField,
    /// A `{placeholder}` that nothing fills.
    UnknownPlaceholder,
    /// A date compared with a text, which is always false.
    DateComparedWithText,
    /// Two versions of a rule in force on the same date.
    VersionOverlap,
    /// A letter template that does not compile.
    Template,
    /// Nothing to load where something was expected (no grammar, no rule set).
    Empty,
}

/// One fault in a file business staff edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// What went wrong.
    pub kind: FaultKind,
    /// The file at fault.
    pub file: PathBuf,
    /// Where in the file, when a place can be told.
    pub span: Option<Span>,
    /// What is wrong and what is expected, in French.
    pub message: String,
    /// The source line the span points into, shown under the message.
    pub source_line: Option<String>,
}

impl Fault {
    /// A fault about a whole file (or folder), with no place inside it.
    pub fn file(kind: FaultKind, file: &Path, message: impl Into<String>) -> Fault {
        Fault {
            kind,
            file: file.to_path_buf(),
            span: None,
            message: message.into(),
            source_line: None,
        }
    }

    /// A fault at `span` of `text` (the file's content, for the source line).
    pub fn at(
        kind: FaultKind,
        file: &Path,
        text: &str,
        span: Span,
        message: impl Into<String>,
    ) -> Fault {
        let source_line = usize::try_from(span.line)
            .ok()
            .and_then(|l| l.checked_sub(1))
            .and_then(|l| text.lines().nth(l))
            .map(str::to_string);
        Fault {
            kind,
            file: file.to_path_buf(),
            span: Some(span),
            message: message.into(),
            source_line,
        }
    }

    /// The 1-based line, if the fault has a place.
    pub fn line(&self) -> Option<u32> {
        self.span.map(|s| s.line)
    }

    /// The 1-based column, if the fault has a place.
    pub fn column(&self) -> Option<u32> {
        self.span.map(|s| s.column)
    }
}

impl fmt::Display for Fault {
    /// `file:line:col: message`, then the source line with a caret under the spot.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(s) = self.span {
            write!(f, ":{}:{}", s.line, s.column)?;
        }
        write!(f, ": {}", self.message)?;
        if let (Some(s), Some(src)) = (self.span, &self.source_line) {
            let gutter = s.line.to_string();
            let pad = " ".repeat(gutter.len());
            let before = usize::try_from(s.column.saturating_sub(1)).unwrap_or(0);
            let indent: String = src
                .chars()
                .take(before)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let carets = "^".repeat(usize::try_from(s.len.max(1)).unwrap_or(1));
            write!(f, "\n{pad} |\n{gutter} | {src}\n{pad} | {indent}{carets}")?;
        }
        Ok(())
    }
}

/// Every fault found, shown one after the other.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults(pub Vec<Fault>);

impl Faults {
    /// Whether a fault of `kind` is among them.
    pub fn has(&self, kind: FaultKind) -> bool {
        self.0.iter().any(|f| f.kind == kind)
    }
}

impl From<Fault> for Faults {
    fn from(f: Fault) -> Faults {
        Faults(vec![f])
    }
}

impl fmt::Display for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, fault) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{fault}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Faults {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_shows_its_line_with_a_caret_under_the_value() {
        let text = "rules:\n  - scope: factur\n";
        let f = Fault::at(
            FaultKind::UnknownName,
            Path::new("ruleset.yaml"),
            text,
            Span::new(2, 12, 6),
            "portée « factur » inconnue",
        );
        assert_eq!(
            f.to_string(),
            "ruleset.yaml:2:12: portée « factur » inconnue\n  |\n2 |   - scope: factur\n  |            ^^^^^^"
        );
    }
}
