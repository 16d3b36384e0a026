//! A corpus of any size with the mix of the published samples: the sample B2 lots, PJ index and
//! NOEMIE returns copied over and over, each copy's invoice numbers (and PJ fingerprints) moved
//! apart so that copies do not repeat one another, files grouped so that a file holds many
//! copies. Counters of the grouped files (B2 `99`, NOEMIE `990`/`999`) are recomputed, so the
//! samples' one FIC-CNT and two NOE-TOT are not copied; every other outcome of the samples is,
//! copy by copy.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Copies of the samples per generated file.
const COPIES_PER_FILE: usize = 50;

/// What was generated.
pub struct Corpus {
    /// Every file, B2 lots first (in name order), then the PJ indexes and the returns.
    pub files: Vec<PathBuf>,
    /// Invoices in the B2 lots.
    pub invoices: usize,
    /// Their total size.
    pub bytes: u64,
}

/// The sample lines of a file, each with its own line end.
fn lines(path: &Path) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).unwrap();
    data.split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

/// Invoice number `f` in copy `k`: 0 stays 0 (FAC-ZERO), equal stays equal, copies apart.
fn invoice(f: u64, k: usize) -> u64 {
    if f == 0 {
        return 0;
    }
    (f - 1 + k as u64 * 1_000_003) % 999_999_999 + 1
}

/// Rewrites the 9 digits at `at` (0-based) as copy `k`'s invoice number.
fn move_invoice(line: &mut [u8], at: usize, k: usize) {
    let Some(zone) = line.get_mut(at..at + 9) else {
        return;
    };
    let Ok(f) = std::str::from_utf8(zone).unwrap_or("x").parse::<u64>() else {
        return;
    };
    zone.copy_from_slice(format!("{:09}", invoice(f, k)).as_bytes());
}

fn end_of(line: &[u8]) -> &'static [u8] {
    if line.ends_with(b"\r\n") {
        b"\r\n"
    } else {
        b"\n"
    }
}

fn padded(mut s: String, width: usize) -> String {
    while s.len() < width {
        s.push(' ');
    }
    s
}

/// One B2 file: the sample's header, its lots for every copy, a recomputed `99`.
fn b2(sample: &[Vec<u8>], copies: std::ops::Range<usize>, out: &Path) -> usize {
    let mut w = std::io::BufWriter::new(std::fs::File::create(out).unwrap());
    let (mut records, mut lots, mut invoices) = (0usize, 0usize, 0usize);
    let Some(header) = sample.first() else {
        return 0;
    };
    w.write_all(header).unwrap();
    records += 1;
    for k in copies {
        for line in sample.iter().skip(1).filter(|l| !l.starts_with(b"99")) {
            let mut l = line.clone();
            match l.get(..2) {
                Some(b"2 ") => {
                    invoices += 1;
                    move_invoice(&mut l, 2, k);
                }
                Some(b"4 ") | Some(b"5 ") => move_invoice(&mut l, 2, k),
                Some(b"1 ") => lots += 1,
                _ => {}
            }
            w.write_all(&l).unwrap();
            records += 1;
        }
    }
    let trailer = padded(format!("99{lots:04}{:08}", records + 1), 128);
    w.write_all(trailer.as_bytes()).unwrap();
    w.write_all(end_of(header)).unwrap();
    invoices
}

/// One PJ index: the header, every copy's lines with invoice numbers and fingerprints moved.
fn scor(sample: &[Vec<u8>], copies: std::ops::Range<usize>, out: &Path) {
    let mut w = std::io::BufWriter::new(std::fs::File::create(out).unwrap());
    let Some(header) = sample.first() else { return };
    w.write_all(header).unwrap();
    for k in copies {
        for line in sample.iter().skip(1) {
            let text = String::from_utf8_lossy(line);
            let mut cols: Vec<String> = text
                .trim_end_matches(['\r', '\n'])
                .split(';')
                .map(str::to_string)
                .collect();
            if let Some(f) = cols.get_mut(2) {
                if let Ok(n) = f.parse::<u64>() {
                    *f = format!("{:09}", invoice(n, k));
                }
            }
            if let Some(sha) = cols.get_mut(10) {
                if sha.len() == 64 {
                    let tail = u32::from_str_radix(&sha[56..], 16).unwrap_or(0) ^ k as u32;
                    *sha = format!("{}{tail:08x}", &sha[..56]);
                }
            }
            w.write_all(cols.join(";").as_bytes()).unwrap();
            w.write_all(end_of(line)).unwrap();
        }
    }
}

fn amount(line: &[u8], at: usize) -> u64 {
    line.get(at..at + 8)
        .and_then(|z| std::str::from_utf8(z).ok())
        .and_then(|z| z.parse().ok())
        .unwrap_or(0)
}

/// One NOEMIE return: the sample's header, every copy's `200`/`300`, recomputed `990`/`999`.
fn noemie(sample: &[Vec<u8>], copies: std::ops::Range<usize>, out: &Path) {
    let mut w = std::io::BufWriter::new(std::fs::File::create(out).unwrap());
    let Some(header) = sample.first() else { return };
    w.write_all(header).unwrap();
    let (mut records, mut entities, mut asked, mut paid) = (1usize, 0usize, 0u64, 0u64);
    for k in copies {
        for line in sample
            .iter()
            .filter(|l| l.starts_with(b"200") || l.starts_with(b"300"))
        {
            let mut l = line.clone();
            if l.starts_with(b"200") {
                move_invoice(&mut l, 6, k);
                entities += 1;
                asked += amount(&l, 23);
                paid += amount(&l, 31);
            }
            w.write_all(&l).unwrap();
            records += 1;
        }
    }
    let end = end_of(header);
    let totals = padded(format!("990{entities:06}{asked:010}{paid:010}"), 80);
    w.write_all(totals.as_bytes()).unwrap();
    w.write_all(end).unwrap();
    let last = padded(format!("999{:06}", records + 2), 80);
    w.write_all(last.as_bytes()).unwrap();
    w.write_all(end).unwrap();
}

/// Writes a corpus of at least `invoices` invoices under `dir` from the samples of `examples`.
pub fn generate(examples: &Path, dir: &Path, invoices: usize) -> Corpus {
    std::fs::create_dir_all(dir).unwrap();
    let mut names: Vec<PathBuf> = std::fs::read_dir(examples)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    let of = |ext: &str| -> Vec<PathBuf> {
        names
            .iter()
            .filter(|p| p.to_string_lossy().ends_with(ext))
            .cloned()
            .collect()
    };
    let named = |ext: &str| -> Vec<(String, Vec<Vec<u8>>)> {
        of(ext)
            .iter()
            .map(|p| {
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    lines(p),
                )
            })
            .collect()
    };
    let lots = named(".b2");
    let per_copy: usize = lots
        .iter()
        .map(|(_, l)| l.iter().filter(|r| r.starts_with(b"2 ")).count())
        .sum();
    let copies = invoices.div_ceil(per_copy.max(1));
    let index = of(".scor.csv").first().map(|p| lines(p));
    let returns = named(".noemie");
    let mut b2_files = Vec::new();
    let mut held = Vec::new();
    let mut written = 0;
    for (g, start) in (0..copies).step_by(COPIES_PER_FILE).enumerate() {
        let range = start..(start + COPIES_PER_FILE).min(copies);
        for (name, sample) in &lots {
            let out = dir.join(format!("g{g:04}-{name}"));
            written += b2(sample, range.clone(), &out);
            b2_files.push(out);
        }
        if let Some(sample) = &index {
            let out = dir.join(format!("g{g:04}-pieces.scor.csv"));
            scor(sample, range.clone(), &out);
            held.push(out);
        }
        for (name, sample) in &returns {
            let out = dir.join(format!("g{g:04}-{name}"));
            noemie(sample, range.clone(), &out);
            held.push(out);
        }
    }
    b2_files.sort();
    let files: Vec<PathBuf> = b2_files.into_iter().chain(held).collect();
    let bytes = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    Corpus {
        files,
        invoices: written,
        bytes,
    }
}
