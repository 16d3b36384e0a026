//! Report writers (docs/formats/report.md): a table for people, JSON Lines, a JSON array, CSV.

use std::borrow::Borrow;
use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use serde::ser::{Error as _, SerializeSeq};

use crate::model::{Outcome, SubjectOrder};

pub mod spill;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for a terminal.
    Table,
    /// One JSON object per line.
    Jsonl,
    /// One JSON array.
    Json,
    /// `;`-separated, one column per subject key.
    Csv,
}

impl Format {
    /// Every format, by the name the command line takes.
    pub const ALL: [(&'static str, Format); 4] = [
        ("table", Format::Table),
        ("jsonl", Format::Jsonl),
        ("json", Format::Json),
        ("csv", Format::Csv),
    ];
}

/// Writes `outcomes` (already in report order) to `w`; CSV has one column per subject key of
/// `order`.
pub fn write(
    format: Format,
    outcomes: &[Outcome],
    order: &SubjectOrder,
    w: &mut dyn Write,
) -> io::Result<()> {
    write_each(format, outcomes.iter().map(Ok), order, w)
}

/// Writes outcomes as they come (in report order, as [`spill::Runs::merge`] gives them) to
/// `w`: each format but the table holds one outcome at a time. The first error of the
/// outcomes stops the report with it.
pub fn write_each<O: Borrow<Outcome>>(
    format: Format,
    outcomes: impl Iterator<Item = io::Result<O>>,
    order: &SubjectOrder,
    w: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Jsonl => {
            for o in outcomes {
                serde_json::to_writer(&mut *w, o?.borrow())?;
                w.write_all(b"\n")?;
            }
            Ok(())
        }
        Format::Json => {
            serde_json::to_writer_pretty(&mut *w, &Each(RefCell::new(Some(outcomes))))?;
            w.write_all(b"\n")
        }
        Format::Csv => write_csv(outcomes, order, w),
        Format::Table => write_table(outcomes, w),
    }
}

/// Outcomes serialised as a JSON array as they come.
struct Each<I>(RefCell<Option<I>>);

impl<I, O> serde::Serialize for Each<I>
where
    I: Iterator<Item = io::Result<O>>,
    O: Borrow<Outcome>,
{
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for o in self.0.borrow_mut().take().into_iter().flatten() {
            seq.serialize_element(o.map_err(S::Error::custom)?.borrow())?;
        }
        seq.end()
    }
}

/// The I/O error inside a CSV error, so that a closed pipe stays a closed pipe.
fn io_error(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => io::Error::other(format!("{other:?}")),
    }
}

/// A CSV writer as every CSV file vigie writes is (docs/formats/cas.md "Output files:
/// bytes"): `;`, LF line ends, a cell quoted only when it holds `;`, `"` or a line end.
pub fn csv_writer<W: Write>(w: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(csv::Terminator::Any(b'\n'))
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(w)
}

/// Appends one CSV line of `cells` to `out` (see [`csv_writer`]).
pub fn csv_line(out: &mut Vec<u8>, cells: &[String]) {
    let mut w = csv_writer(&mut *out);
    // Writing into memory cannot fail.
    let _ = w.write_record(cells);
    let _ = w.flush();
}

fn write_csv<O: Borrow<Outcome>>(
    outcomes: impl Iterator<Item = io::Result<O>>,
    order: &SubjectOrder,
    w: &mut dyn Write,
) -> io::Result<()> {
    let mut c = csv_writer(w);
    let mut header: Vec<&str> = vec!["kind", "code", "severity"];
    header.extend(order.keys.iter().map(|k| &**k));
    header.extend([
        "message", "text", "ruleset", "file", "line", "column", "field",
    ]);
    c.write_record(&header).map_err(io_error)?;
    for o in outcomes {
        let o = o?;
        let o = o.borrow();
        let src = o.source.as_ref();
        let mut row: Vec<String> = vec![
            o.kind.as_str().into(),
            o.code.to_string(),
            o.severity.as_str().into(),
        ];
        row.extend(
            order
                .keys
                .iter()
                .map(|k| o.subject.get(k).unwrap_or("").to_string()),
        );
        row.push(o.message.clone());
        row.push(o.text.clone().unwrap_or_default());
        row.push(o.ruleset.as_deref().unwrap_or("").to_string());
        row.push(src.map(|s| s.file.to_string()).unwrap_or_default());
        row.push(
            src.and_then(|s| s.line)
                .map(|l| l.to_string())
                .unwrap_or_default(),
        );
        row.push(
            src.and_then(|s| s.column)
                .map(|l| l.to_string())
                .unwrap_or_default(),
        );
        row.push(src.and_then(|s| s.field.clone()).unwrap_or_default());
        c.write_record(&row).map_err(io_error)?;
    }
    c.flush()
}

/// The table aligns its columns: it holds its rows (a format for people, not for a national
/// day).
fn write_table<O: Borrow<Outcome>>(
    outcomes: impl Iterator<Item = io::Result<O>>,
    w: &mut dyn Write,
) -> io::Result<()> {
    let rows: Vec<[String; 5]> = outcomes
        .map(|o| {
            let o = o?;
            let o = o.borrow();
            let src = o.source.as_ref().map(|s| {
                let file = std::path::Path::new(&*s.file)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                match (s.line, s.column) {
                    (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
                    (Some(l), None) => format!("{file}:{l}"),
                    _ => file,
                }
            });
            Ok([
                o.severity.as_str().to_string(),
                o.code.to_string(),
                o.subject.to_string(),
                o.message.clone(),
                src.unwrap_or_default(),
            ])
        })
        .collect::<io::Result<_>>()?;
    let head = ["GRAVITÉ", "CODE", "SUJET", "MESSAGE", "SOURCE"];
    let width = |i: usize| {
        rows.iter()
            .filter_map(|r| r.get(i))
            .map(|s| s.chars().count())
            .chain(head.get(i).map(|h| h.chars().count()))
            .max()
            .unwrap_or(0)
    };
    let (w0, w1, w2) = (width(0), width(1), width(2));
    let pad = |s: &str, n: usize| format!("{s}{}", " ".repeat(n.saturating_sub(s.chars().count())));
    writeln!(
        w,
        "{}  {}  {}  {}  {}",
        pad(head[0], w0),
        pad(head[1], w1),
        pad(head[2], w2),
        head[3],
        head[4]
    )?;
    for r in &rows {
        writeln!(
            w,
            "{}  {}  {}  {}  ({})",
            pad(&r[0], w0),
            pad(&r[1], w1),
            pad(&r[2], w2),
            r[3],
            r[4]
        )?;
    }
    Ok(())
}

/// Writes `path` whole or not at all: into a temporary file beside it, synced, then renamed
/// over it. An interrupted run leaves the previous report (or none), never a truncated one.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "rapport".into());
    let tmp = path.with_file_name(format!(".{name}.vigie-{}.tmp", std::process::id()));
    let result = File::create(&tmp).and_then(|f| {
        let mut w = BufWriter::new(f);
        write(&mut w)?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
