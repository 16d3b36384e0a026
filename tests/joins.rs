//! Joined facts on damaged input (tests/data/joins/): what a fault hides and what it must not.

mod common;

use std::path::PathBuf;

use vigie::model::{Kind, Outcome};

fn analyse(dir: &str) -> Vec<Outcome> {
    let dir = common::path(&format!("tests/data/joins/{dir}"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    common::analyse(&files, "2026-11-20", 2)
}

fn codes(outcomes: &[Outcome]) -> Vec<String> {
    outcomes
        .iter()
        .filter(|o| o.kind != Kind::Error)
        .map(|o| o.code.to_string())
        .collect()
}

fn errors(outcomes: &[Outcome]) -> usize {
    outcomes.iter().filter(|o| o.kind == Kind::Error).count()
}

#[test]
fn a_pj_of_an_invoice_with_an_unreadable_line_is_matched_but_not_compared() {
    // The invoice's first line has letters in `quantite`: the invoice is unreadable. Its PJ is
    // dated like the skipped second line: neither PJ-DATE (the lines are incomplete) nor
    // PJ-ORPH (it has an invoice), and no rule failure.
    let o = analyse("invoice-with-bad-line");
    assert_eq!(errors(&o), 1, "{o:#?}");
    assert!(codes(&o).is_empty(), "{:?}", codes(&o));
}

#[test]
fn faulty_pj_index_lines_are_not_used() {
    // Both PJ lines of the index have a faulty field (31 September, an unknown quality): they
    // are errors, match nothing, so both invoices miss their PJ and NOEMIE 0302-031 asks for it.
    let o = analyse("pj-index-with-bad-lines");
    assert_eq!(errors(&o), 2);
    let mut c = codes(&o);
    c.sort();
    assert_eq!(c, ["G-PJ-ENVOI", "G-PJ-ENVOI", "PJ-MANQ", "PJ-MANQ"]);
}

#[test]
fn an_unreadable_death_date_is_no_absent_date() {
    // Acoss's date_deces is 31 February; RSI and CARMF give a date. No CAS-X-DEC blaming Acoss
    // for "no date": the conflict waits for a readable file.
    let o = analyse("cas-unreadable-death-date");
    assert_eq!(errors(&o), 1);
    assert!(
        !codes(&o).iter().any(|c| c == "CAS-X-DEC"),
        "{:?}",
        codes(&o)
    );
}

#[test]
fn a_repeated_record_with_a_bad_field_is_still_a_repeat() {
    let o = analyse("cas-repeat-with-bad-field");
    assert_eq!(errors(&o), 1);
    assert!(
        codes(&o).iter().any(|c| c == "CAS-N-DUP"),
        "{:?}",
        codes(&o)
    );
}

#[test]
fn a_damaged_noemie_990_is_an_error_not_a_rule_failure() {
    let o = analyse("noemie-bad-990");
    let rule_failures: Vec<&Outcome> = o.iter().filter(|x| &*x.code == "RULE").collect();
    assert!(rule_failures.is_empty(), "{rule_failures:#?}");
    assert_eq!(errors(&o), 1);
    assert_eq!(codes(&o), ["G-BENEF"]);
}
