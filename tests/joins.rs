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

/// The outcomes of the published samples, the held side of the joins kept in `stash_in`.
fn samples_held_in(stash_in: Option<PathBuf>, jobs: usize) -> vigie::Analysis {
    let opts = vigie::Options {
        jobs,
        as_of: Some(common::date("2026-11-20")),
        stash_in,
        keep_held: true,
        ..vigie::Options::default()
    };
    common::setup().analyze(vigie::files(&common::sample_files()), &opts)
}

#[test]
fn the_held_side_on_disk_gives_what_it_gives_in_memory_and_leaves_nothing_behind() {
    let dir = std::env::temp_dir().join(format!("vigie-held-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for jobs in [1, 2] {
        let in_memory = samples_held_in(None, jobs);
        let on_disk = samples_held_in(Some(dir.clone()), jobs);
        assert!(on_disk.warnings.is_empty(), "{:?}", on_disk.warnings);
        assert!(
            in_memory.outcomes.iter().any(|o| o.code.starts_with("PJ-")),
            "the samples join PJ lines to invoices"
        );
        assert_eq!(
            format!("{:?}", on_disk.outcomes),
            format!("{:?}", in_memory.outcomes)
        );
        // The held units read back for the CAS outputs are the same too.
        assert_eq!(on_disk.held.len(), in_memory.held.len());
        assert_eq!(
            format!(
                "{:?}",
                on_disk.held.iter().map(|u| &u.node).collect::<Vec<_>>()
            ),
            format!(
                "{:?}",
                in_memory.held.iter().map(|u| &u.node).collect::<Vec<_>>()
            )
        );
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "no file left");
    }
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn a_held_side_that_cannot_go_to_disk_stays_in_memory_and_says_so() {
    let missing = std::env::temp_dir().join(format!("vigie-no-such-{}", std::process::id()));
    let analysis = samples_held_in(Some(missing), 2);
    assert_eq!(analysis.warnings.len(), 1, "{:?}", analysis.warnings);
    assert!(analysis.warnings[0].contains("gardées en mémoire"));
    assert_eq!(
        format!("{:?}", analysis.outcomes),
        format!("{:?}", samples_held_in(None, 2).outcomes)
    );
}
