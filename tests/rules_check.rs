//! `rules check` knows the rules' world: every mistake a rule author can make is a fault of
//! a known kind, at the exact line and column, all of them in one run.

mod common;

use vigie::{FaultKind, Setup};

/// (kind, file name, line, column) of every fault of the rule set in `tests/data/rules-check/`.
fn faults(set: &str) -> Vec<(FaultKind, String, u32, u32)> {
    let root = common::root();
    let err = match Setup::load(
        &root.join("grammars"),
        &root.join("tests/data/rules-check").join(set),
    ) {
        Ok(_) => panic!("{set} should be refused"),
        Err(e) => e,
    };
    err.0
        .iter()
        .map(|f| {
            (
                f.kind,
                f.file.file_name().unwrap().to_string_lossy().into_owned(),
                f.line().unwrap_or(0),
                f.column().unwrap_or(0),
            )
        })
        .collect()
}

#[test]
fn every_mistake_of_a_rule_author_is_found_in_one_run() {
    let found = faults("faulty");
    let expected = [
        (FaultKind::UnknownKey, "ruleset.yaml", 10, 1), // extra: top-level key
        (FaultKind::UnknownField, "a.rhai", 1, 7),      // ligne.quantit
        (FaultKind::UnknownPlaceholder, "ruleset.yaml", 5, 105), // {quantite_mx}
        (FaultKind::UnknownFunction, "b.rhai", 1, 1),   // a call as a statement
        (FaultKind::UnknownFunction, "b.rhai", 3, 8),   // return unknown(…)
        (FaultKind::UnknownPlaceholder, "ruleset.yaml", 6, 100), // a let is not a detail
        (FaultKind::Forbidden, "c.rhai", 1, 1),         // eval
        (FaultKind::UnknownField, "d.rhai", 1, 30),     // loop variable's field
        (FaultKind::UnknownField, "d.rhai", 2, 9),      // closing record's field
        (FaultKind::DateComparedWithText, "d.rhai", 2, 40), // date == "2026-01-01"
        (FaultKind::UnknownField, "e.rhai", 2, 19),     // a join's (PJ) field
        (FaultKind::UnknownField, "e.rhai", 3, 20),     // sum("montnt")
    ];
    let expected: Vec<(FaultKind, String, u32, u32)> = expected
        .iter()
        .map(|(k, f, l, c)| (*k, f.to_string(), *l, *c))
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn the_project_rules_pass_the_check() {
    let root = common::root();
    let setup = Setup::load(&root.join("grammars"), &root.join("rules"));
    assert!(setup.is_ok(), "{}", setup.err().unwrap());
}

/// A copy of the project's grammars with `edit` applied to `file`, in a folder of its own
/// (tests run side by side: two copies of one file must not share a folder).
fn grammars_with(file: &str, edit: impl Fn(&str) -> String) -> std::path::PathBuf {
    static COPIES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COPIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let root = common::root();
    let dir =
        std::env::temp_dir().join(format!("vigie-grammars-{}-{n}-{file}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(root.join("grammars")).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let text = if name == file { edit(&text) } else { text };
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir
}

#[test]
fn a_grammar_fault_is_located_on_its_own_entry_not_a_similar_name() {
    // `statut` (a field) and `statut_facture` (a record) both exist in noemie.yaml: the fault
    // of the field is on the field's line, at its faulty value.
    let dir = grammars_with("noemie.yaml", |t| {
        t.replace(
            "{ name: statut,          pos: 40, len: 1,  type: enum, values: [P, R, S] }",
            "{ name: statut,          pos: 40, len: 1,  type: enume, values: [P, R, S] }",
        )
    });
    let err = Setup::grammars(&dir).expect_err("refused");
    let places: Vec<_> = err
        .0
        .iter()
        .map(|f| (f.kind, f.line(), f.column()))
        .collect();
    assert_eq!(places, [(FaultKind::BadValue, Some(27), Some(58))], "{err}");
    assert!(
        err.to_string().contains("vouliez-vous dire « enum »"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_subject_key_a_report_would_drop_is_refused() {
    let dir = grammars_with("scor.yaml", |t| {
        t.replace("pj: \"#ligne\"", "piece: \"#ligne\"")
    });
    let err = Setup::grammars(&dir).expect_err("refused");
    assert_eq!(err.0.len(), 1, "{err}");
    assert_eq!(err.0[0].kind, FaultKind::UnknownName, "{err}");
    assert!(err.to_string().contains("piece"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}

/// Every field of every project grammar, given an unknown type in turn, is refused on its own
/// line — never on another entry with a similar name.
#[test]
fn each_grammar_field_fault_lands_on_its_own_line() {
    let root = common::root();
    let mut checked = 0;
    for entry in std::fs::read_dir(root.join("grammars")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        for (i, line) in text.lines().enumerate() {
            if !line.contains("{ name:") || !line.contains(" type: ") {
                continue;
            }
            let dir = grammars_with(&name, |t| {
                let mut lines: Vec<String> = t.lines().map(str::to_string).collect();
                let ty = lines[i]
                    .split(" type: ")
                    .nth(1)
                    .unwrap()
                    .split([',', ' '])
                    .next()
                    .unwrap()
                    .to_string();
                lines[i] = lines[i].replace(&format!(" type: {ty}"), " type: zzz");
                lines.join("\n")
            });
            let err = Setup::grammars(&dir).expect_err("refused");
            let lines: Vec<(String, Option<u32>)> = err
                .0
                .iter()
                .map(|f| {
                    (
                        f.file.file_name().unwrap().to_string_lossy().into_owned(),
                        f.line(),
                    )
                })
                .collect();
            assert_eq!(lines, [(name.clone(), Some(i as u32 + 1))], "{err}");
            std::fs::remove_dir_all(dir).ok();
            checked += 1;
        }
    }
    assert!(checked > 150, "{checked} fields checked");
}

/// Every rule entry of the project's rule sets, given an unknown severity in turn, is refused
/// on its own line — the second entry of a code is not reported on the first.
#[test]
fn each_rule_entry_fault_lands_on_its_own_line() {
    let root = common::root();
    let mut checked = 0;
    for set in ["flux-tiers", "cas"] {
        let text =
            std::fs::read_to_string(root.join("rules").join(set).join("ruleset.yaml")).unwrap();
        for (i, line) in text.lines().enumerate() {
            if !line.trim_start().starts_with("severity:") {
                continue;
            }
            let work =
                std::env::temp_dir().join(format!("vigie-sev-{}-{set}-{i}", std::process::id()));
            std::fs::create_dir_all(&work).unwrap();
            for e in std::fs::read_dir(root.join("rules").join(set)).unwrap() {
                let p = e.unwrap().path();
                let dest = work.join(p.file_name().unwrap());
                if p.is_dir() {
                    std::fs::create_dir_all(&dest).unwrap();
                    for f in std::fs::read_dir(&p).unwrap() {
                        let f = f.unwrap().path();
                        std::fs::copy(&f, dest.join(f.file_name().unwrap())).unwrap();
                    }
                }
            }
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            lines[i] = lines[i].replace("severity:", "severity: zzz #");
            std::fs::write(work.join("ruleset.yaml"), lines.join("\n")).unwrap();
            let Err(err) = Setup::load(&root.join("grammars"), &work) else {
                panic!("line {} refused", i + 1)
            };
            let places: Vec<(FaultKind, Option<u32>)> =
                err.0.iter().map(|f| (f.kind, f.line())).collect();
            assert_eq!(places, [(FaultKind::BadValue, Some(i as u32 + 1))], "{err}");
            std::fs::remove_dir_all(work).ok();
            checked += 1;
        }
    }
    assert_eq!(checked, 70, "every rule entry");
}

#[test]
fn limits_beyond_their_ceiling_are_refused_where_written() {
    let root = common::root();
    let dir = std::env::temp_dir().join(format!("vigie-limits-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("scripts")).unwrap();
    std::fs::write(dir.join("scripts/a.rhai"), "true").unwrap();
    std::fs::write(
        dir.join("ruleset.yaml"),
        "name: l\nversion: \"1\"\ngrammars: [b2]\nlimits:\n  max_operations: 18446744073709551615\n  max_call_levels: 512\n  max_string_size: 0\nrules:\n  - { code: A, kind: anomaly, severity: rejet, scope: facture, script: scripts/a.rhai, message: m }\n",
    )
    .unwrap();
    let Err(err) = Setup::load(&root.join("grammars"), &dir) else {
        panic!("refused")
    };
    let places: Vec<_> = err.0.iter().map(|f| (f.kind, f.line())).collect();
    assert_eq!(
        places,
        [
            (FaultKind::BadValue, Some(5)),
            (FaultKind::BadValue, Some(6)),
            (FaultKind::BadValue, Some(7))
        ],
        "{err}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn fields_read_through_an_index_eval_through_fn_and_wrong_arities_are_found() {
    let found = faults("more");
    let expected: Vec<(FaultKind, String, u32, u32)> = [
        (FaultKind::UnknownField, "b.rhai", 1, 19), // facture.lignes[0].quantit
        (FaultKind::UnknownField, "c.rhai", 1, 28), // f[0].n_factur
        (FaultKind::Forbidden, "d.rhai", 1, 9),     // Fn("eval")
        (FaultKind::UnknownFunction, "e.rhai", 1, 1), // luhn(a, b): takes 1
        (FaultKind::UnknownFunction, "e.rhai", 1, 25), // add_days(d): takes 2
    ]
    .iter()
    .map(|(k, f, l, c)| (*k, f.to_string(), *l, *c))
    .collect();
    // a.rhai builds its details with `r.limite = …` and `r["ecart"] = …`: no fault.
    assert_eq!(found, expected);
}

/// A copy of the project's flux-tiers rule set with `edit` applied to its manifest.
fn flux_tiers_with(tag: &str, edit: impl Fn(&str) -> String) -> std::path::PathBuf {
    let root = common::root();
    let dir = std::env::temp_dir().join(format!("vigie-ft-{tag}-{}", std::process::id()));
    for sub in ["scripts", "cases"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for e in std::fs::read_dir(root.join("rules/flux-tiers").join(sub)).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, dir.join(sub).join(p.file_name().unwrap())).unwrap();
        }
    }
    let text = std::fs::read_to_string(root.join("rules/flux-tiers/ruleset.yaml")).unwrap();
    std::fs::write(dir.join("ruleset.yaml"), edit(&text)).unwrap();
    dir
}

#[test]
fn one_mistake_is_one_fault_and_the_rest_of_the_manifest_is_still_checked() {
    let root = common::root();
    let dir = flux_tiers_with("one", |t| {
        t.replace("  max_operations: 50000", "  max_operation: 50000")
            .replace("  delai_pj_jours: 30", "  delai_pj_jours: [1, 2]")
            .replace("severity: rejet", "severity: rejett")
    });
    let Err(err) = Setup::load(&root.join("grammars"), &dir) else {
        panic!("refused")
    };
    let kinds: Vec<FaultKind> = err.0.iter().map(|f| f.kind).collect();
    let rejets = std::fs::read_to_string(root.join("rules/flux-tiers/ruleset.yaml"))
        .unwrap()
        .matches("severity: rejet")
        .count();
    assert_eq!(kinds.len(), 2 + rejets, "{err}");
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == FaultKind::UnknownKey)
            .count(),
        1,
        "{err}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == FaultKind::BadValue).count(),
        1 + rejets,
        "{err}"
    );
    std::fs::remove_dir_all(dir).ok();
}
