//! The generic decoder: physical lines in, typed records (or located faults) out, for any
//! grammar. Fixed-width and delimited layouts, ISO-8859-1 and UTF-8, CRLF/LF mixed.

use std::io::{self, BufRead};
use std::sync::Arc;

use super::field;
use crate::model::{ErrorCode, FieldDef, FieldType, Grammar, Layout, Record, Value};

/// The longest line kept before a grammar is known (recognition reads the first line).
pub const MAX_FIRST_LINE: usize = 64 << 10;

/// The longest line kept for `g`: twice a fixed record, 64 KiB of a delimited one. A longer
/// line is still read to its end, in bounded memory; only its beginning is kept (it is an
/// error of its own, of the wrong length or column count).
pub fn max_line(g: &Grammar) -> usize {
    match g.layout {
        Layout::Fixed { record_length, .. } => record_length.saturating_mul(2).saturating_add(2),
        Layout::Delimited { .. } => 64 << 10,
    }
}

/// Reads physical lines without their end (`\n` or `\r\n`), streaming: one buffer is reused,
/// never longer than the line limit. A UTF-8 byte-order mark opening the file is skipped.
pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    line: u32,
    max: usize,
    /// Length of the last line, line end excluded, even when only its beginning was kept.
    length: usize,
    /// Bytes consumed so far (for progress).
    pub bytes: u64,
}

impl<R: BufRead> LineReader<R> {
    /// A reader keeping at most `max` bytes of a line.
    pub fn new(inner: R, max: usize) -> Self {
        LineReader {
            inner,
            buf: Vec::with_capacity(256),
            line: 0,
            max,
            length: 0,
            bytes: 0,
        }
    }

    /// Changes the line limit (once the grammar is known).
    pub fn set_max(&mut self, max: usize) {
        self.max = max;
    }

    /// The next line (its kept part), its 1-based number and its true length, line end
    /// excluded; `None` at the end. A final line end is optional.
    pub fn next_line(&mut self) -> io::Result<Option<(&[u8], u32, usize)>> {
        self.buf.clear();
        let mut consumed = 0u64;
        loop {
            let available = self.inner.fill_buf()?;
            if available.is_empty() {
                break;
            }
            let (take, end) = match memchr::memchr(b'\n', available) {
                Some(i) => (i + 1, true),
                None => (available.len(), false),
            };
            let room = self.max.saturating_sub(self.buf.len());
            self.buf
                .extend_from_slice(available.get(..take.min(room)).unwrap_or_default());
            self.inner.consume(take);
            consumed += take as u64;
            if end {
                break;
            }
        }
        if consumed == 0 {
            return Ok(None);
        }
        self.bytes += consumed;
        self.line += 1;
        let mut line = self.buf.as_slice();
        let mut ending = 0;
        if let Some(rest) = line.strip_suffix(b"\n") {
            line = rest.strip_suffix(b"\r").unwrap_or(rest);
            ending = self.buf.len() - line.len();
        } else if let Some(rest) = line.strip_suffix(b"\r") {
            // The file's last line end cut after its CR.
            line = rest;
            ending = 1;
        }
        self.length = usize::try_from(consumed)
            .unwrap_or(usize::MAX)
            .saturating_sub(ending);
        if self.line == 1 {
            if let Some(rest) = line.strip_prefix(b"\xEF\xBB\xBF") {
                line = rest;
                self.length = self.length.saturating_sub(3);
            }
        }
        Ok(Some((line, self.line, self.length)))
    }
}

/// A fault found while decoding one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineFault {
    /// `PARSE` or `STRUCTURE`.
    pub code: ErrorCode,
    pub column: Option<u32>,
    pub field: Option<String>,
    pub message: String,
    /// What a field should hold (`un code parmi S, D, T`), for a field's fault.
    pub expected: Option<String>,
}

/// One decoded line: its record type (when it could be told), the record (when its layout
/// was right) and its faults. A record with faulty fields still holds its good fields; the
/// faulty ones are `Absent`.
#[derive(Debug)]
pub struct Decoded {
    pub record_index: Option<usize>,
    pub record: Option<Record>,
    pub faults: Vec<LineFault>,
}

/// Whether the first line looks like a file of this grammar.
pub fn signature_matches(g: &Grammar, first_line: &[u8]) -> bool {
    match &g.layout {
        Layout::Fixed {
            type_zone: Some((start, len)),
            ..
        } => {
            let Some(code) = first_line.get(*start..start + len) else {
                return false;
            };
            let root_open = g
                .root()
                .and_then(|r| r.open)
                .or_else(|| g.group_at(1).and_then(|c| c.open));
            root_open
                .and_then(|r| g.record_at(r))
                .is_some_and(|r| r.code.as_deref() == Some(code))
        }
        Layout::Fixed { record_length, .. } => {
            first_line.len() == *record_length && first_line.iter().all(|&b| b >= 0x20 && b != 0x7f)
        }
        Layout::Delimited {
            separator,
            header: true,
        } => {
            // The reader skips a byte-order mark before this.
            let line = first_line;
            let sep = [*separator];
            let expected = g.header.join(std::str::from_utf8(&sep).unwrap_or(";"));
            line == expected.as_bytes()
        }
        Layout::Delimited { .. } => true,
    }
}

/// Decodes one physical line with the grammar; `length` is the line's true length when only
/// its beginning was kept.
pub fn decode_line(g: &Grammar, line: &[u8], line_no: u32, length: usize) -> Decoded {
    match &g.layout {
        Layout::Fixed {
            record_length,
            type_zone,
        } => decode_fixed(g, line, line_no, length, *record_length, *type_zone),
        Layout::Delimited { separator, .. } => decode_delimited(g, line, line_no, *separator),
    }
}

fn decode_fixed(
    g: &Grammar,
    line: &[u8],
    line_no: u32,
    length: usize,
    record_length: usize,
    type_zone: Option<(usize, usize)>,
) -> Decoded {
    let length_fault = |len: usize| LineFault {
        code: ErrorCode::Parse,
        column: Some(if len < record_length {
            len as u32 + 1
        } else {
            record_length as u32 + 1
        }),
        field: None,
        message: format!("enregistrement de {len} caractères au lieu de {record_length}"),
        expected: None,
    };
    let record_index = match type_zone {
        None => 0,
        Some((start, len)) => {
            let Some(code) = line.get(start..start + len) else {
                return Decoded {
                    record_index: None,
                    record: None,
                    faults: vec![length_fault(length)],
                };
            };
            match g
                .records
                .iter()
                .position(|r| r.code.as_deref() == Some(code))
            {
                Some(i) => i,
                None => {
                    return Decoded {
                        record_index: None,
                        record: None,
                        faults: vec![LineFault {
                            code: ErrorCode::Structure,
                            column: Some(start as u32 + 1),
                            field: Some("type".into()),
                            message: "type d'enregistrement inconnu".into(),
                            expected: None,
                        }],
                    }
                }
            }
        }
    };
    if line.len() != record_length || length != record_length {
        return Decoded {
            record_index: Some(record_index),
            record: None,
            faults: vec![length_fault(length)],
        };
    }
    let Some(def) = g.record_at(record_index) else {
        return Decoded {
            record_index: None,
            record: None,
            faults: Vec::new(),
        };
    };
    let mut faults = Vec::new();
    let mut faulty = 0u128;
    let values = def
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let raw = line.get(f.start..f.start + f.len).unwrap_or_default();
            decode_field(g, f, raw).unwrap_or_else(|fault| {
                faults.push(fault);
                faulty |= Record::fault_bit(i);
                Value::Absent
            })
        })
        .collect();
    Decoded {
        record_index: Some(record_index),
        record: Some(Record {
            def: Arc::clone(def),
            values,
            line: line_no,
            faulty,
        }),
        faults,
    }
}

/// Decodes one field's zone (fixed width) or column (delimited) as the grammar says.
pub fn decode_field(g: &Grammar, f: &FieldDef, raw: &[u8]) -> Result<Value, LineFault> {
    let delimited = matches!(g.layout, Layout::Delimited { .. });
    let width = (delimited && f.len > 0).then_some(f.len);
    // An empty column of text is absent, whatever `optional` says.
    let optional = f.optional || delimited && raw.is_empty() && f.ty == FieldType::Text;
    let value = field::decode(&f.ty, raw, optional, width, g.latin1())
        .map(|v| f.settle(v))
        .map_err(|e| field_fault(&f.name, f.column(), &e.expected))?;
    match value {
        Value::Text(t)
            if delimited && f.ty == FieldType::Text && f.len > 0 && t.chars().count() != f.len =>
        {
            Err(field_fault(
                &f.name,
                f.column(),
                &format!("texte de {} caractères", f.len),
            ))
        }
        v => Ok(v),
    }
}

/// The fault of a field whose content does not match its type.
pub fn field_fault(name: &str, column: u32, expected: &str) -> LineFault {
    LineFault {
        code: ErrorCode::Parse,
        column: Some(column),
        field: Some(name.to_string()),
        message: format!("champ {name} : {expected} attendu"),
        expected: Some(expected.to_string()),
    }
}

fn decode_delimited(g: &Grammar, line: &[u8], line_no: u32, separator: u8) -> Decoded {
    let Some(def) = g.record_at(0) else {
        return Decoded {
            record_index: None,
            record: None,
            faults: Vec::new(),
        };
    };
    let text_line;
    let line = if g.latin1() {
        line
    } else {
        match std::str::from_utf8(line) {
            Ok(s) => {
                text_line = s;
                text_line.as_bytes()
            }
            Err(e) => {
                let column = line
                    .iter()
                    .take(e.valid_up_to())
                    .filter(|&&b| b == separator)
                    .count() as u32
                    + 1;
                return Decoded {
                    record_index: Some(0),
                    record: None,
                    faults: vec![LineFault {
                        code: ErrorCode::Parse,
                        column: Some(column),
                        field: None,
                        message: "texte UTF-8 invalide".into(),
                        expected: None,
                    }],
                };
            }
        }
    };
    let columns: Vec<&[u8]> = line.split(|&b| b == separator).collect();
    let expected = g.header.len();
    if columns.len() != expected {
        return Decoded {
            record_index: Some(0),
            record: None,
            faults: vec![LineFault {
                code: ErrorCode::Parse,
                // docs/formats/README.md: no column and no field for a wrong column count.
                column: None,
                field: None,
                message: match g.header.get(columns.len()) {
                    Some(missing) => format!(
                        "{} colonnes au lieu de {expected} : la ligne s'arrête avant la colonne {missing}",
                        columns.len()
                    ),
                    None => format!(
                        "{} colonnes au lieu de {expected} : colonnes en trop",
                        columns.len()
                    ),
                },
                expected: None,
            }],
        };
    }
    let mut faults = Vec::new();
    let mut faulty = 0u128;
    let values = def
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let raw = columns.get(f.start).copied().unwrap_or_default();
            decode_field(g, f, raw).unwrap_or_else(|fault| {
                faults.push(fault);
                faulty |= Record::fault_bit(i);
                Value::Absent
            })
        })
        .collect();
    Decoded {
        record_index: Some(0),
        record: Some(Record {
            def: Arc::clone(def),
            values,
            line: line_no,
            faulty,
        }),
        faults,
    }
}
