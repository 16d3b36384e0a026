//! The compiled form of the rules agrees with Rhai's interpreter, the reference: the same
//! outcomes, in the same order, on the published samples at dates on both sides of every
//! wait, on the broken files, on every rule case, on one thread and on two. (The damaged
//! samples of `tests/fuzz.rs` are checked the same way.)

mod common;

use std::path::PathBuf;

use vigie::{Options, Setup};

/// Every outcome, as the report would order and write it.
fn outcomes(setup: &Setup, files: &[PathBuf], as_of: &str, jobs: usize) -> Vec<String> {
    let opts = Options {
        jobs,
        as_of: Some(common::date(as_of)),
        ..Options::default()
    };
    let analysis = setup.analyze(vigie::files(files), &opts);
    analysis.outcomes.iter().map(|o| format!("{o:?}")).collect()
}

fn assert_agree(files: &[PathBuf], as_of: &str) {
    let compiled = common::setup();
    let interpreted = common::setup().interpreted();
    for jobs in [1, 2] {
        let fast = outcomes(&compiled, files, as_of, jobs);
        let reference = outcomes(&interpreted, files, as_of, jobs);
        assert!(!reference.is_empty());
        assert_eq!(
            fast.len(),
            reference.len(),
            "{as_of}, {jobs} thread(s): outcome counts differ"
        );
        for (f, r) in fast.iter().zip(&reference) {
            assert_eq!(f, r, "{as_of}, {jobs} thread(s)");
        }
    }
}

/// The samples, at the published date and at dates on both sides of the PJ wait (30 days)
/// and of the deadlines the rules compute.
#[test]
fn the_samples_give_the_same_outcomes_compiled_and_interpreted() {
    let files = common::sample_files();
    for as_of in ["2026-11-20", "2026-10-01", "2026-12-15", "2027-06-30"] {
        assert_agree(&files, as_of);
    }
}

/// Broken files: faults in fields, unreadable records, where the compiled form hands the fact
/// to the interpreter.
#[test]
fn broken_files_give_the_same_outcomes_compiled_and_interpreted() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(common::path("tests/data/broken"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_none_or(|e| e != "json"))
        .collect();
    files.sort();
    files.extend(common::sample_files());
    assert_agree(&files, "2026-11-20");
}

/// Every case of every shipped rule set, both sides of each rule's boundaries.
#[test]
fn every_rule_case_gives_the_same_outcomes_compiled_and_interpreted() {
    let compiled = common::setup();
    let interpreted = common::setup().interpreted();
    let mut cases = 0;
    for (set, reference_set) in compiled.sets.iter().zip(&interpreted.sets) {
        let fast = compiled.run_all_cases(set).unwrap();
        let reference = interpreted.run_all_cases(reference_set).unwrap();
        assert_eq!(fast.len(), reference.len(), "{}", set.id);
        for (f, r) in fast.iter().zip(&reference) {
            assert_eq!(
                format!("{:?}", f.outcomes),
                format!("{:?}", r.outcomes),
                "{} {} « {} »",
                set.id,
                f.code,
                f.name
            );
            cases += 1;
        }
    }
    assert!(cases > 200, "{cases} cases");
}

/// The shipped rules run in compiled form, but for the few that loop with `+=`, which
/// stay with the interpreter: a change of Rhai's syntax tree that silently sent every rule
/// back to the interpreter would show here.
#[test]
fn the_shipped_rules_run_compiled() {
    let setup = common::setup();
    let ev = setup.evaluator(&setup.sets, common::date("2026-11-20"));
    let interpreted: Vec<String> = ev
        .compiled_rules()
        .into_iter()
        .filter(|(_, fast)| !fast)
        .map(|(code, _)| code.to_string())
        .collect();
    assert_eq!(
        interpreted,
        ["CAS-N-CPT", "CAS-N-CPT", "CAS-N-CPT", "CAS-X-DEC"]
    );
}

/// Scripts at the edges of what the compiled form covers, in a set with tight limits: a map
/// whose nested entries pass `max_map_size`, a list whose texts together pass
/// `max_string_size`, a push on a constant, an argument that changes its receiver, a loop, a
/// name shadowed by a `let`. Rhai stops some of them; the compiled form gives what Rhai gives.
#[test]
fn scripts_at_the_edges_give_the_same_outcomes_compiled_and_interpreted() {
    let rules = [
        (
            "NESTED",
            "#{ a: facture.lignes.len(), b: #{ x: 1, y: facture.lignes.len() } }",
        ),
        ("FLAT", "#{ a: facture.lignes.len(), b: 2 }"),
        ("TEXTS", "[facture.n_facture, facture.n_facture].len() > 1"),
        ("TEXT", "[facture.n_facture].len() == 1"),
        ("CONST", "const l = []; l.push(1); true"),
        ("ORDER", "let l = []; l.contains({ l.push(1); 1 })"),
        (
            "LOOP",
            "let n = 0; for l in facture.lignes { if l.montant > 0 { return true; } } false",
        ),
        ("SHADOW", "let facture = 3; facture == 3"),
        (
            "MIXED",
            "facture.n_facture == 0 || facture.tiers_payant != () && 1 < 2",
        ),
    ];
    let mut manifest = String::from(
        "name: bords\nversion: \"1\"\ngrammars: [b2]\nlimits: { max_map_size: 3, max_string_size: 12 }\nrules:\n",
    );
    let mut scripts = Vec::new();
    for (code, script) in rules {
        let path = format!("scripts/{}.rhai", code.to_lowercase());
        manifest.push_str(&format!(
            "  - {{ code: {code}, kind: anomaly, severity: rejet, scope: facture, script: {path}, message: \"{code}\" }}\n"
        ));
        scripts.push((path, script));
    }
    let scripts: Vec<(&str, &str)> = scripts.iter().map(|(p, s)| (p.as_str(), *s)).collect();
    let dir = common::temp_rule_set("bords", &manifest, &scripts);
    let files = [common::path("tests/data/samples/lot-02-752379560.b2")];
    let compiled = common::setup_with(&dir);
    let interpreted = common::setup_with(&dir).interpreted();
    let fast = outcomes(&compiled, &files, "2026-11-20", 1);
    let reference = outcomes(&interpreted, &files, "2026-11-20", 1);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(fast, reference);
    let count = |code: &str| {
        reference
            .iter()
            .filter(|o| o.contains(&format!("code: \"{code}\"")))
            .count()
    };
    // Both sides of each limit were reached: stopped rules are told once, as RULE.
    assert!(count("FLAT") > 0 && count("TEXT") > 0 && count("LOOP") > 0 && count("MIXED") > 0);
    assert_eq!(
        count("RULE"),
        3,
        "NESTED, TEXTS, CONST stopped: {reference:#?}"
    );
    assert!(count("ORDER") > 0, "Rhai reads the list after its argument");
}
