//! Damage that must not cost a whole file (docs/formats/README.md): damaged copies of the
//! samples — a damaged or missing first record, a byte-order mark — give one located error,
//! and every outcome of the undamaged records is the intact file's.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use vigie::model::{Kind, Outcome};

/// (code, subject) of every outcome that is not an error: what the rules found.
fn findings(outcomes: &[Outcome]) -> BTreeSet<(String, String)> {
    outcomes
        .iter()
        .filter(|o| o.kind != Kind::Error)
        .map(|o| (o.code.to_string(), o.subject.to_string()))
        .collect()
}

fn errors(outcomes: &[Outcome]) -> Vec<(String, Option<u32>)> {
    let errors: Vec<&Outcome> = outcomes.iter().filter(|o| o.kind == Kind::Error).collect();
    errors
        .iter()
        .map(|o| (o.code.to_string(), o.source.as_ref().and_then(|s| s.line)))
        .collect()
}

/// The whole sample set, with `name` replaced by `damaged` bytes (under the same name).
fn set_with(name: &str, damaged: Vec<u8>) -> (Vec<PathBuf>, PathBuf) {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "vigie-damage-{}-{n}-{}",
        std::process::id(),
        name.replace('.', "-")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for f in common::sample_files() {
        let dest = dir.join(f.file_name().unwrap());
        if f.file_name().unwrap() == name {
            std::fs::write(&dest, &damaged).unwrap();
        } else {
            std::fs::copy(&f, &dest).unwrap();
        }
        files.push(dest);
    }
    (files, dir)
}

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(common::path("tests/data/samples").join(name)).unwrap()
}

fn first_line_end(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| p + 1)
}

/// Analyses the sample set with `name` damaged; checks the errors it gives and that the
/// findings are the intact set's.
fn check(name: &str, damaged: Vec<u8>, expected_errors: &[(&str, Option<u32>)]) {
    check_except(name, damaged, expected_errors, |_| false);
}

/// The intact sample set's findings, computed once for every test of this file.
fn intact_findings() -> &'static BTreeSet<(String, String)> {
    static INTACT: std::sync::OnceLock<BTreeSet<(String, String)>> = std::sync::OnceLock::new();
    INTACT.get_or_init(|| findings(&common::analyse(&common::sample_files(), "2026-11-20", 2)))
}

/// Like [`check`], except for the findings `spared` says the damage may cost.
fn check_except(
    name: &str,
    damaged: Vec<u8>,
    expected_errors: &[(&str, Option<u32>)],
    spared: impl Fn(&(String, String)) -> bool,
) {
    let (files, dir) = set_with(name, damaged);
    let outcomes = common::analyse(&files, "2026-11-20", 2);
    let expected: Vec<(String, Option<u32>)> = expected_errors
        .iter()
        .map(|(c, l)| (c.to_string(), *l))
        .collect();
    assert_eq!(errors(&outcomes), expected, "{name}");
    let kept = |set: &BTreeSet<(String, String)>| -> BTreeSet<(String, String)> {
        set.iter().filter(|f| !spared(f)).cloned().collect()
    };
    let (before, after) = (kept(intact_findings()), kept(&findings(&outcomes)));
    let lost: Vec<_> = before.difference(&after).collect();
    let added: Vec<_> = after.difference(&before).collect();
    assert!(
        lost.is_empty() && added.is_empty(),
        "{name}: lost {lost:#?}\nadded {added:#?}"
    );
    std::fs::remove_dir_all(Path::new(&dir)).ok();
}

#[test]
fn a_nul_in_the_first_record_of_a_cas_file_costs_that_record_only() {
    for name in ["cotisations-2025.acoss", "cotisations-2025.carmf"] {
        let mut bytes = sample(name);
        bytes[5] = 0;
        // The first record is an error; its doctor's findings that need it are not made, the
        // others are the intact set's — checked on a set where that record is the only one
        // damaged: the findings compared exclude nothing, so the record must be one no
        // finding needs. The first doctor of each file is in every organism's file.
        let (files, dir) = set_with(name, bytes);
        let outcomes = common::analyse(&files, "2026-11-20", 2);
        assert_eq!(
            errors(&outcomes),
            [("PARSE".to_string(), Some(1))],
            "{name}: one error, on the first line"
        );
        // One CAS-X-ABS per doctor and year: counted over the findings, (code, subject) pairs.
        let cas_x_abs = |f: &BTreeSet<(String, String)>| {
            f.iter().filter(|(code, _)| code == "CAS-X-ABS").count()
        };
        let found = findings(&outcomes);
        assert!(
            cas_x_abs(&found) <= cas_x_abs(intact_findings()) + 1,
            "{name}: the file is not lost (no false CAS-X-ABS for every doctor)"
        );
        assert!(
            found.len() + 5 >= intact_findings().len(),
            "{name}: nearly every finding kept"
        );
        std::fs::remove_dir_all(dir).ok();
    }
}

#[test]
fn a_byte_order_mark_changes_nothing() {
    for name in [
        "lot-02-752379560.b2",
        "cotisations-2025.acoss",
        "retour-01.noemie",
        "pieces.scor.csv",
    ] {
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend(sample(name));
        check(name, bytes, &[]);
    }
}

#[test]
fn a_b2_file_without_its_header_is_still_read() {
    let name = "lot-02-752379560.b2";
    let bytes = sample(name);
    let headless = bytes[first_line_end(&bytes)..].to_vec();
    check(name, headless, &[("STRUCTURE", Some(1))]);
}

#[test]
fn a_damaged_b2_header_is_one_error_and_the_rest_is_read() {
    let name = "lot-02-752379560.b2";
    let mut bytes = sample(name);
    bytes[4] = b'X'; // a letter in the sender's number
    check(name, bytes, &[("PARSE", Some(1))]);
}

/// The guidance findings, with the `n_ps` left out of their subjects (a NOEMIE file without
/// a readable header cannot give it).
fn guidance_without_n_ps(found: &BTreeSet<(String, String)>) -> BTreeSet<(String, String)> {
    found
        .iter()
        .filter(|(code, _)| code.starts_with("G-"))
        .map(|(code, subject)| {
            let rest: Vec<&str> = subject
                .split(' ')
                .filter(|kv| !kv.starts_with("n_ps="))
                .collect();
            (code.clone(), rest.join(" "))
        })
        .collect()
}

/// A NOEMIE file whose header is missing or damaged: its returns are read, but without the
/// header's `n_ps` a return cannot be joined with its invoice or its PJ. The guidance whose
/// choice needs them (G-RANG before G-DROITS, G-PJ-RECUE before G-PJ-ENVOI) is not given — a
/// fallback would be a guess —, every other return is guided as in the intact file.
#[test]
fn a_noemie_file_without_a_readable_header_guides_what_needs_no_join() {
    let name = "retour-01.noemie";
    let bytes = sample(name);
    let headless = bytes[first_line_end(&bytes)..].to_vec();
    let mut damaged = bytes.clone();
    damaged[6] = b'X'; // a letter in the n_ps
    for (bytes, error) in [(headless, "STRUCTURE"), (damaged, "PARSE")] {
        let (files, dir) = set_with(name, bytes);
        let outcomes = common::analyse(&files, "2026-11-20", 2);
        assert_eq!(errors(&outcomes), [(error.to_string(), Some(1))]);
        let (before, after) = (
            guidance_without_n_ps(intact_findings()),
            guidance_without_n_ps(&findings(&outcomes)),
        );
        let added: Vec<_> = after.difference(&before).collect();
        assert!(added.is_empty(), "{error}: no guidance guessed: {added:#?}");
        let lost: Vec<_> = before.difference(&after).collect();
        assert!(
            !lost.is_empty()
                && lost.iter().all(|(code, _)| {
                    ["G-DROITS", "G-RANG", "G-PJ-RECUE", "G-PJ-ENVOI"].contains(&code.as_str())
                }),
            "{error}: only the guidance that needs the invoice or its PJ is lost: {lost:#?}"
        );
        assert!(after.len() > 20, "{error}: the other returns are guided");
        std::fs::remove_dir_all(dir).ok();
    }
}

#[test]
fn a_damaged_noemie_200_makes_its_return_unreadable_and_nothing_fails() {
    let name = "retour-01.noemie";
    let mut bytes = sample(name);
    // The amount of the first 200 (line 2) gets a letter.
    let start = first_line_end(&bytes);
    bytes[start + 30] = b'X';
    let (files, dir) = set_with(name, bytes);
    let outcomes = common::analyse(&files, "2026-11-20", 2);
    assert_eq!(
        errors(&outcomes),
        [("PARSE".to_string(), Some(2))],
        "one error, no RULE"
    );
    let damaged = findings(&outcomes);
    let lost: Vec<_> = intact_findings().difference(&damaged).cloned().collect();
    assert!(
        lost.iter().all(
            |(code, subject)| code.starts_with("G-") && subject.contains("n_facture=000202901")
        ),
        "only the guidance of the damaged return is lost: {lost:#?}"
    );
    let added: Vec<_> = damaged.difference(intact_findings()).cloned().collect();
    assert!(added.is_empty(), "no false NOE-TOT: {added:#?}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_damaged_lot_header_costs_only_the_lot_s_own_checks() {
    let name = "lot-02-752379560.b2";
    for at in [4, 13] {
        // A letter in the lot's n_ps, then in its n_lot.
        let mut bytes = sample(name);
        let start = first_line_end(&bytes);
        bytes[start + at] = b'X';
        // The lot's own checks are not made; everything else is the intact set's: subjects
        // (n_ps and n_lot come from the lot's 9), duplicates across lots, joins with the PJ.
        check_except(name, bytes, &[("PARSE", Some(2))], |(code, subject)| {
            subject == "n_ps=752379560 n_lot=021"
                && (code.starts_with("LOT-") || code == "ID-PSKEY")
        });
    }
}

#[test]
fn random_bytes_under_a_format_s_name_are_one_error() {
    let bytes: Vec<u8> = (0..4000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let dir = std::env::temp_dir().join(format!("vigie-random-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("hasard.b2");
    std::fs::write(&f, bytes).unwrap();
    let outcomes = common::analyse(&[f], "2026-11-20", 1);
    assert_eq!(outcomes.len(), 1, "{outcomes:#?}");
    assert!(
        outcomes[0].message.contains("format"),
        "{}",
        outcomes[0].message
    );
    std::fs::remove_dir_all(dir).ok();
}

/// Damages a record so that it cannot be read whatever its fields: a fixed-width record loses
/// its last character, a CSV line its first separator.
fn break_record(line: &mut Vec<u8>, csv: bool) {
    let end = line.len() - usize::from(line.last() == Some(&b'\r'));
    if csv {
        if let Some(i) = line.iter().position(|&b| b == b';') {
            line.remove(i);
        }
    } else if end > 0 {
        line.remove(end - 1);
    }
}

/// Every format: its first record, its second, one in the middle and its last two, damaged in
/// turn, in the whole sample set. The damage is an error of its line, no rule fails on what it
/// could not read, and the findings are the intact set's except what [`may_differ`] allows.
#[test]
fn a_damaged_record_of_any_format_is_located_and_costs_only_what_it_holds() {
    let mut tried = 0;
    for file in common::sample_files() {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let csv = name.ends_with(".csv");
        let bytes = std::fs::read(&file).unwrap();
        let lines: Vec<&[u8]> = bytes
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let n = lines.len();
        let first = usize::from(csv); // a CSV's header is not a record
        let picks: BTreeSet<usize> = [first, first + 1, n / 2, n - 2, n - 1]
            .into_iter()
            .filter(|&i| i < n && i >= first)
            .collect();
        for i in picks {
            let line = i + 1;
            let (files, dir) = set_with(&name, with_line_broken(&name, line));
            let outcomes = common::analyse(&files, "2026-11-20", 2);
            let failed: Vec<&Outcome> = outcomes
                .iter()
                .filter(|o| &*o.code == "RULE" || &*o.code == "INTERNAL")
                .collect();
            assert!(failed.is_empty(), "{name} line {line}: {failed:#?}");
            let line_no = u32::try_from(line).unwrap();
            assert!(
                outcomes.iter().any(|o| o.kind == Kind::Error
                    && o.source.as_ref().and_then(|s| s.line) == Some(line_no)),
                "{name} line {line}: the damage is an error of its line"
            );
            let context = held_by(&lines, i);
            let after = findings(&outcomes);
            let unexplained: Vec<_> = intact_findings()
                .difference(&after)
                .map(|f| (f, false))
                .chain(after.difference(intact_findings()).map(|f| (f, true)))
                .filter(|(f, added)| !may_differ(&name, &context, line, f, *added))
                .collect();
            assert!(
                unexplained.is_empty(),
                "{name} line {line}: findings changed (true: added) {unexplained:#?}"
            );
            std::fs::remove_dir_all(dir).ok();
            tried += 1;
        }
    }
    assert!(tried > 80, "{tried} damaged records tried");
}

/// The text a damaged record `i` held: the record, and for a NOEMIE `300` the `200` it follows
/// (the return it belongs to).
fn held_by(lines: &[&[u8]], i: usize) -> String {
    let mut text = String::from_utf8_lossy(lines[i]).into_owned();
    if lines[i].starts_with(b"300") {
        if let Some(open) = lines[..i].iter().rev().find(|l| l.starts_with(b"200")) {
            text.push_str(&String::from_utf8_lossy(open));
        }
    }
    text
}

/// Whether breaking the record at `line` of `name`, which held `record`, may lose (or, when
/// `added`, add) the finding `(code, subject)` — the expectations of
/// docs/formats/README.md "Damage that must not cost a whole file", format by format.
fn may_differ(
    name: &str,
    record: &str,
    line: usize,
    finding: &(String, String),
    added: bool,
) -> bool {
    let (code, subject) = finding;
    // The subject names something the damaged record held.
    let names = |key: &str| {
        subject.split(' ').any(|kv| {
            kv.strip_prefix(key)
                .and_then(|v| v.strip_prefix('='))
                .is_some_and(|v| record.contains(v))
        })
    };
    if name.ends_with(".b2") {
        // Nothing is ever added. A lot's `1`: the findings of that lot that need its header
        // (its own checks, a wait counted from its date). A `2`, `4` or `5`: its invoice is
        // unreadable. A lot's `9`: that lot's own checks. The file's `0` or `99`: the file's counts.
        return !added
            && match record.as_bytes().first() {
                Some(b'1') => names("n_ps") && names("n_lot"),
                Some(b'2' | b'4' | b'5') => names("n_facture"),
                Some(b'9') if record.starts_with("99") => code == "FIC-CNT",
                Some(b'9') => names("n_lot") && !subject.contains("n_facture="),
                _ => code == "FIC-CNT",
            };
    }
    if name.ends_with(".noemie") {
        // The header: the subjects lose its n_ps (the guidance comes back without it, see
        // a_noemie_file_without_a_readable_header_guides_what_needs_no_join). A `200` or
        // `300`: its return is unreadable, so not guided. The trailer: the file's totals are
        // not compared.
        return if record.starts_with("000") {
            if added {
                code.starts_with("G-") && !subject.contains("n_ps=")
            } else {
                names("n_ps")
            }
        } else {
            !added && (code.starts_with("G-") && names("n_facture") || code == "NOE-TOT")
        };
    }
    if name.starts_with("pieces") {
        // The PJ line is not indexed: its own findings are not made, a later copy of it is no
        // longer a duplicate, and the invoice it belonged to may now miss a PJ.
        return if added {
            code == "PJ-MANQ" && names("n_facture")
        } else {
            subject.ends_with(&format!(" pj={line}")) || code == "PJ-DBL"
        };
    }
    if name.starts_with("cotisations") {
        // The doctor's record is unreadable: for the cross-checks the organism has no record
        // for that doctor (the PARSE error says why), and that doctor's other findings may go.
        return names("rpps") && (!added || code == "CAS-X-ABS");
    }
    // The directory of PS and the adherents file feed the letters, not the findings.
    false
}

/// The sample `name` with its line `line` (1-based) broken (see [`break_record`]).
fn with_line_broken(name: &str, line: usize) -> Vec<u8> {
    let bytes = sample(name);
    let mut lines: Vec<Vec<u8>> = bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    break_record(&mut lines[line - 1], name.ends_with(".csv"));
    lines.join(&b'\n')
}

#[test]
fn a_damaged_trailer_costs_only_its_group_s_own_checks() {
    // A lot's 9: that lot's LOT-CNT is not made; its invoices are analysed as usual.
    check_except(
        "lot-02-752379560.b2",
        with_line_broken("lot-02-752379560.b2", 74),
        &[("PARSE", Some(74))],
        |(code, subject)| code.starts_with("LOT-") && subject == "n_ps=752379560 n_lot=021",
    );
    // The file's 99: FIC-CNT is not made; every lot is analysed as usual.
    check_except(
        "lot-02-752379560.b2",
        with_line_broken("lot-02-752379560.b2", 178),
        &[("PARSE", Some(178))],
        |(code, _)| code == "FIC-CNT",
    );
    // A NOEMIE 990: its totals are not compared; every return is guided as usual.
    check_except(
        "retour-01.noemie",
        with_line_broken("retour-01.noemie", 47),
        &[("PARSE", Some(47))],
        |(code, _)| code == "NOE-TOT",
    );
}
