//! Rule cases go through the decoder's field types and the real assembler: a case can build
//! a damaged record and expect a rule failure, and a case that no file could hold is refused
//! with a located fault.

mod common;

use std::path::PathBuf;

use vigie::{FaultKind, Setup};

fn essai() -> Setup {
    common::setup_with(&common::path("tests/data/cases/essai"))
}

fn file(rel: &str) -> PathBuf {
    common::path(&format!("tests/data/cases/{rel}"))
}

#[test]
fn a_damaged_record_and_a_rule_failure_are_cases_too() {
    let setup = essai();
    let set = &setup.sets[0];
    for case_file in ["essai/cases/LOT-VIEUX.yaml", "essai/cases/DIVISE.yaml"] {
        let results = setup.run_cases(set, &file(case_file)).unwrap();
        for r in &results {
            assert!(r.passed(), "{}: {}\n{}", r.code, r.name, r.diff());
        }
    }
    let damaged = &setup
        .run_cases(set, &file("essai/cases/LOT-VIEUX.yaml"))
        .unwrap()[2];
    let codes: Vec<&str> = damaged.outcomes.iter().map(|o| &*o.code).collect();
    assert_eq!(
        codes,
        ["PARSE"],
        "the rule neither fires nor fails on what it could not read"
    );
}

#[test]
fn a_case_no_file_could_hold_is_refused_where_it_is_written() {
    let setup = essai();
    let set = &setup.sets[0];
    for (name, kind, line, column, hint) in [
        (
            "unknown-expect-key.yaml",
            FaultKind::UnknownKey,
            7,
            11,
            "n_lot",
        ),
        (
            "enum-outside-grammar.yaml",
            FaultKind::BadValue,
            5,
            35,
            "S, D, T",
        ),
        (
            "unknown-field.yaml",
            FaultKind::UnknownField,
            5,
            15,
            "date_lot",
        ),
    ] {
        let err = setup
            .run_cases(set, &file(&format!("bad/{name}")))
            .unwrap_err();
        let f = &err.0[0];
        assert_eq!(
            (f.kind, f.line(), f.column()),
            (kind, Some(line), Some(column)),
            "{err}"
        );
        assert!(f.message.contains(hint), "{name}: {err}");
    }
}
