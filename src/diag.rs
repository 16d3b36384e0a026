//! Load-time faults of the files business staff edit (grammars, rule sets, cases), each with
//! its file, line and column.

use std::fmt;
use std::path::{Path, PathBuf};

/// One fault in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl Fault {
    pub fn new(
        file: &Path,
        line: Option<usize>,
        column: Option<usize>,
        message: impl Into<String>,
    ) -> Fault {
        Fault {
            file: file.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }

    /// A YAML error, with the location the parser gives.
    pub fn yaml(file: &Path, err: &serde_yaml::Error) -> Fault {
        let loc = err.location();
        Fault::new(
            file,
            loc.as_ref().map(|l| l.line()),
            loc.as_ref().map(|l| l.column()),
            err.to_string(),
        )
    }

    /// A fault about a spot found in the file's text by [`locate`].
    pub fn at(file: &Path, text: &str, anchors: &[&str], message: impl Into<String>) -> Fault {
        let (line, column) = match locate(text, anchors) {
            Some((l, c)) => (Some(l), Some(c)),
            None => (None, None),
        };
        Fault::new(file, line, column, message)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

/// A list of faults, shown one per line.
#[derive(Debug, Clone, Default)]
pub struct Faults(pub Vec<Fault>);

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

/// Finds where a YAML entry stands in its text: the first line holding `anchors[0]`, then from
/// there the first holding `anchors[1]`, and so on. Returns the 1-based line and column of the
/// last anchor. serde gives no positions for valid YAML that fails a semantic check, so faults
/// found after parsing are located by the text that names them (a rule's `code: X`, a field's
/// `name: y`).
pub fn locate(text: &str, anchors: &[&str]) -> Option<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut from = 0;
    let mut found = None;
    for anchor in anchors {
        let (i, col) = lines
            .iter()
            .enumerate()
            .skip(from)
            .find_map(|(i, l)| l.find(anchor).map(|c| (i, c)))?;
        found = Some((i + 1, text_column(lines[i], col)));
        from = i;
    }
    found
}

fn text_column(line: &str, byte: usize) -> usize {
    line[..byte].chars().count() + 1
}
