//! Reading one input file: recognise its format, stream its lines through the decoder and the
//! assembler, hand units over as they close.

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{Assembler, KeyTracker};
use crate::grammar::decode::{
    decode_line, max_line, signature_matches, Decoded, LineReader, MAX_FIRST_LINE,
};
use crate::model::{ErrorCode, Grammar, GrammarSet, Layout, Outcome, Unit};

/// Records built elsewhere than from a file (a rule case), as the decoder would give them.
#[derive(Debug)]
pub struct Records {
    /// The name outcomes give as their source file.
    pub name: Arc<str>,
    pub grammar: Arc<Grammar>,
    /// Decoded lines with their line numbers, in order.
    pub lines: Vec<(Decoded, u32)>,
    /// A group whose closing record is not given is closed without fault (cases give closing
    /// records only when a rule reads them).
    pub closers_optional: bool,
}

/// Pushes built records through the assembler, as [`read_file`] pushes decoded lines.
pub fn assemble_records(
    records: Records,
    keys: &mut KeyTracker,
    emit: &mut impl FnMut(Unit),
) -> FileRead {
    let mut out = FileRead {
        ..FileRead::default()
    };
    let mut asm = Assembler::new(Arc::clone(&records.grammar), records.name, keys);
    asm.closers_optional = records.closers_optional;
    for (d, line) in records.lines {
        out.readable |= d.record.is_some();
        asm.push(d, line, emit);
    }
    out.errors = asm.finish(emit);
    out
}

/// What reading a file gave besides its units.
#[derive(Debug, Default)]
pub struct FileRead {
    /// Input errors (`PARSE`, `STRUCTURE`).
    pub errors: Vec<Outcome>,
    /// Whether at least one record could be decoded.
    pub readable: bool,
}

/// Picks the grammar of a file from its name, then its first line: a name that matches but a
/// content that does not is "not of the format"; no name match tries every signature.
fn recognise<'g>(
    set: &'g GrammarSet,
    name: &str,
    first: &[u8],
) -> Result<&'g Arc<Grammar>, String> {
    let readable = || set.grammars.iter().filter(|g| !g.synthetic);
    let by_name: Vec<&Arc<Grammar>> = readable().filter(|g| g.matches_name(name)).collect();
    let by_content: Vec<&Arc<Grammar>> = by_name
        .iter()
        .copied()
        .filter(|g| signature_matches(g, first))
        .collect();
    match (by_name.as_slice(), by_content.as_slice()) {
        (_, [only]) => Ok(only),
        ([], _) => {
            let any: Vec<&Arc<Grammar>> =
                readable().filter(|g| signature_matches(g, first)).collect();
            match any.as_slice() {
                [only] => Ok(only),
                _ => Err("format non reconnu (ni par le nom du fichier, ni par son contenu) ; --grammar NOM l'impose".into()),
            }
        }
        // The name decides: a damaged first record is an error of that record, not of the file.
        ([g], []) => Ok(g),
        _ => Err(format!(
            "contenu conforme à aucun des formats possibles pour ce nom ({})",
            by_name
                .iter()
                .map(|g| g.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Where a file's bytes are: on disk, or held in memory (a file the store kept).
#[derive(Debug, Clone)]
pub enum Origin {
    /// A file on disk.
    Path(PathBuf),
    /// A file's bytes under the name it was received with.
    Stored {
        /// The name outcomes give as their source file.
        name: Arc<str>,
        /// Its content.
        bytes: Arc<[u8]>,
    },
}

impl Origin {
    /// The name outcomes give as the source file.
    pub fn name(&self) -> Arc<str> {
        match self {
            Origin::Path(p) => Arc::from(p.display().to_string()),
            Origin::Stored { name, .. } => Arc::clone(name),
        }
    }

    /// The file name alone, which recognition reads.
    fn file_name(&self) -> String {
        let path = match self {
            Origin::Path(p) => p.as_path(),
            Origin::Stored { name, .. } => Path::new(&**name),
        };
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn reader(&self) -> std::io::Result<Box<dyn BufRead>> {
        Ok(match self {
            Origin::Path(p) => Box::new(BufReader::with_capacity(1 << 16, File::open(p)?)),
            Origin::Stored { bytes, .. } => Box::new(Cursor::new(Arc::clone(bytes))),
        })
    }
}

/// A file's reader, its first line (kept part) and that line's true length.
type Opened = (LineReader<Box<dyn BufRead>>, Vec<u8>, usize);

/// Opens `origin` for line reading and reads its first line; the error says why it can't be
/// read.
fn open_first_line(origin: &Origin) -> Result<Opened, String> {
    let handle = origin
        .reader()
        .map_err(|e| format!("fichier illisible : {e}"))?;
    let mut reader = LineReader::new(handle, MAX_FIRST_LINE);
    match reader.next_line() {
        Ok(Some((l, _, length))) => {
            let first = l.to_vec();
            Ok((reader, first, length))
        }
        Ok(None) => Err("fichier vide".into()),
        Err(e) => Err(format!("lecture impossible : {e}")),
    }
}

/// The grammar of `origin`: `forced` when given, else recognised from its name and first
/// line. An unreadable or unrecognised file gives its error outcome.
pub fn detect(
    origin: &Origin,
    set: &GrammarSet,
    forced: Option<&Arc<Grammar>>,
) -> Result<Arc<Grammar>, Box<Outcome>> {
    let file = origin.name();
    let fail = |msg: String, line: Option<u32>| {
        Box::new(Outcome::error(
            ErrorCode::Parse,
            &file,
            line,
            None,
            None,
            msg,
        ))
    };
    let (_, first, _) = open_first_line(origin).map_err(|msg| fail(msg, None))?;
    if let Some(g) = forced {
        return Ok(Arc::clone(g));
    }
    recognise(set, &origin.file_name(), &first)
        .map(Arc::clone)
        .map_err(|msg| fail(msg, Some(1)))
}

/// One step of a file's reading, as the decoder hands it to the assembler.
#[derive(Debug)]
pub enum Step {
    /// The file could not be opened or its first line read: its one error; nothing follows.
    Unopened(Outcome),
    /// A decoded line and its number.
    Line(Decoded, u32),
    /// An error of the file that is no record's (a CSV header not the format's, a read cut
    /// short).
    Error(Outcome),
}

/// Decodes `origin` as `grammar` line after line and hands each step to `each`, in file order;
/// `bytes` is advanced as the file is read (progress). Decoding needs nothing of the other
/// files, so that files may be decoded side by side and assembled in order after.
pub fn decode_file(
    origin: &Origin,
    grammar: &Grammar,
    bytes: &AtomicU64,
    each: &mut impl FnMut(Step),
) {
    let file = origin.name();
    let error = |msg: String, line: Option<u32>| {
        Outcome::error(ErrorCode::Parse, &file, line, None, None, msg)
    };
    let (mut reader, first, first_length) = match open_first_line(origin) {
        Ok(r) => r,
        Err(msg) => return each(Step::Unopened(error(msg, None))),
    };
    reader.set_max(max_line(grammar));
    let header = matches!(grammar.layout, Layout::Delimited { header: true, .. });
    let step = |line: &[u8], no: u32, length: usize| {
        if header && no == 1 {
            let expected = format!("en-tête attendu : {}", grammar.header.join(";"));
            return (!signature_matches(grammar, line))
                .then(|| Step::Error(error(expected, Some(1))));
        }
        Some(Step::Line(decode_line(grammar, line, no, length), no))
    };
    each_step(step(&first, 1, first_length), each);
    let mut last_bytes = 0u64;
    loop {
        match reader.next_line() {
            Ok(Some((line, no, length))) => each_step(step(line, no, length), each),
            Ok(None) => break,
            Err(e) => {
                each(Step::Error(error(
                    format!("lecture interrompue : {e}"),
                    None,
                )));
                break;
            }
        }
        if reader.bytes - last_bytes > 1 << 20 {
            bytes.fetch_add(reader.bytes - last_bytes, Ordering::Relaxed);
            last_bytes = reader.bytes;
        }
    }
    bytes.fetch_add(reader.bytes - last_bytes, Ordering::Relaxed);
}

fn each_step(step: Option<Step>, each: &mut impl FnMut(Step)) {
    if let Some(step) = step {
        each(step);
    }
}

/// Assembles one file from its steps, in file order: units go to `emit` as they close.
pub struct FileAssembly<'t> {
    asm: Assembler<'t>,
    unopened: Option<Outcome>,
    readable: bool,
    grammar: Arc<Grammar>,
    file: Arc<str>,
}

impl<'t> FileAssembly<'t> {
    /// The assembly of file `file` read as `grammar`; `keys` counts duplicate keys over the
    /// run, so files must be assembled in the run's order.
    pub fn new(grammar: Arc<Grammar>, file: Arc<str>, keys: &'t mut KeyTracker) -> Self {
        FileAssembly {
            asm: Assembler::new(Arc::clone(&grammar), Arc::clone(&file), keys),
            unopened: None,
            readable: false,
            grammar,
            file,
        }
    }

    /// Takes the next step of the file.
    pub fn take(&mut self, step: Step, emit: &mut impl FnMut(Unit)) {
        match step {
            Step::Unopened(e) => self.unopened = Some(e),
            Step::Error(e) => self.asm.errors.push(e),
            Step::Line(d, no) => {
                self.readable |= d.record.is_some();
                self.asm.push(d, no, emit);
            }
        }
    }

    /// Closes what is still open at the end of the file.
    pub fn finish(self, emit: &mut impl FnMut(Unit)) -> FileRead {
        if let Some(e) = self.unopened {
            return FileRead {
                errors: vec![e],
                readable: false,
            };
        }
        let mut errors = self.asm.finish(emit);
        if !self.readable {
            // Not one record of the format: the file is not of it at all (random bytes named
            // `*.b2`), one error rather than one per line.
            let g = &self.grammar;
            errors = vec![Outcome::error(
                ErrorCode::Parse,
                &self.file,
                Some(1),
                None,
                None,
                format!(
                    "aucun enregistrement lisible au format {} ({}) : ce fichier n'est pas de ce format",
                    g.name, g.title
                ),
            )];
        }
        FileRead {
            errors,
            readable: self.readable,
        }
    }
}

/// Reads `origin` as `grammar` and hands every unit to `emit`, in file order. `bytes` is
/// advanced as the file is read (progress).
pub fn read_file(
    origin: &Origin,
    grammar: Arc<Grammar>,
    keys: &mut KeyTracker,
    bytes: &AtomicU64,
    emit: &mut impl FnMut(Unit),
) -> FileRead {
    let mut assembly = FileAssembly::new(Arc::clone(&grammar), origin.name(), keys);
    decode_file(origin, &grammar, bytes, &mut |step| {
        assembly.take(step, emit)
    });
    assembly.finish(emit)
}
