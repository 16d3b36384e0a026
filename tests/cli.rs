//! The binary run as a user would: exit codes, formats, rule authors' commands.

mod common;

use common::stderr;

use std::process::{Command, Output};

fn vigie(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(args)
        .current_dir(common::root())
        .output()
        .expect("vigie runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn analyze_examples_from_the_project_folder() {
    let o = vigie(&["analyze", "--as-of", "2026-11-20", "examples/"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("GRAVITÉ"), "table header");
    assert!(
        out.contains("FAC-DBL") && out.contains("ORD-PERIM"),
        "{out}"
    );
}

#[test]
fn jsonl_is_one_object_per_line_with_the_report_keys() {
    let o = vigie(&[
        "analyze",
        "--as-of",
        "2026-11-20",
        "--format",
        "jsonl",
        "-q",
        "examples/lot-02-752379560.b2",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!lines.is_empty());
    for l in &lines {
        for k in [
            "kind", "code", "severity", "subject", "message", "ruleset", "source",
        ] {
            assert!(l.get(k).is_some(), "{k} missing in {l}");
        }
        assert_eq!(l["ruleset"], "flux-tiers@2026.11.0");
    }
}

#[test]
fn json_and_csv_formats() {
    let o = vigie(&[
        "analyze",
        "--as-of",
        "2026-11-20",
        "--format",
        "json",
        "-q",
        "examples/lot-02-752379560.b2",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v.as_array().unwrap().len() > 3);
    let o = vigie(&[
        "analyze",
        "--as-of",
        "2026-11-20",
        "--format",
        "csv",
        "-q",
        "examples/lot-02-752379560.b2",
    ]);
    let out = stdout(&o);
    assert!(
        out.starts_with("kind;code;severity;emetteur;numero_fichier;n_ps;n_lot;n_facture;ligne"),
        "{out}"
    );
}

#[test]
fn output_file_and_fail_on() {
    let out = std::env::temp_dir().join(format!("vigie-cli-{}.jsonl", std::process::id()));
    let o = vigie(&[
        "analyze",
        "--as-of",
        "2026-11-20",
        "--format",
        "jsonl",
        "-q",
        "--fail-on",
        "rejet",
        "-o",
        out.to_str().unwrap(),
        "examples/lot-02-752379560.b2",
    ]);
    assert_eq!(o.status.code(), Some(3), "a rejet was found");
    assert!(std::fs::read_to_string(&out).unwrap().contains("FAC-ZERO"));
    std::fs::remove_file(out).ok();
    // lot-06 holds no rejet at that date: --fail-on rejet exits 0.
    let o = vigie(&[
        "analyze",
        "--as-of",
        "2026-11-20",
        "-q",
        "--fail-on",
        "rejet",
        "--format",
        "jsonl",
        "examples/lot-06-691191555.b2",
    ]);
    let rejets = stdout(&o)
        .lines()
        .filter(|l| l.contains("\"rejet\""))
        .count();
    assert_eq!(o.status.code(), Some(if rejets > 0 { 3 } else { 0 }));
}

#[test]
fn usage_errors_exit_2_and_unreadable_input_exits_1() {
    assert_eq!(vigie(&["analyze"]).status.code(), Some(2));
    assert_eq!(
        vigie(&["analyze", "--as-of", "2026-13-01", "examples/"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        vigie(&["analyze", "no/such/file.b2"]).status.code(),
        Some(2)
    );
    assert_eq!(
        vigie(&["analyze", "--grammar", "nope", "examples/"])
            .status
            .code(),
        Some(2)
    );
    let o = vigie(&["analyze", "-q", "tests/data/broken/binaire.b2"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("PARSE"));
}

#[test]
fn forced_grammar_reads_a_file_with_another_name() {
    let dir = std::env::temp_dir().join(format!("vigie-forced-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("lot.txt");
    std::fs::copy(common::path("examples/lot-02-752379560.b2"), &f).unwrap();
    let o = vigie(&[
        "analyze",
        "--as-of",
        "2026-11-20",
        "-q",
        "--format",
        "jsonl",
        "--grammar",
        "b2",
        f.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("FAC-ZERO"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn rules_check_list_and_test_on_the_project_rules() {
    let o = vigie(&["rules", "check"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("flux-tiers@2026.11.0"));
    let o = vigie(&["rules", "list"]);
    let out = stdout(&o);
    assert!(
        out.contains("ORD-PERIM") && out.contains("ligne") && out.contains("signalement"),
        "{out}"
    );
    let o = vigie(&["rules", "test"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains(" passed, 0 failed"));
}

#[test]
fn rules_check_reports_every_fault_with_its_place() {
    let dir = common::temp_rule_set(
        "check",
        "name: faux\nversion: \"1\"\ngrammars: [b2]\nrules:\n  - code: A\n    kind: anomaly\n    severity: rejet\n    scope: facture\n    script: scripts/a.rhai\n    message: m\n  - code: B\n    kind: anomaly\n    severity: rejet\n    scope: facture\n    script: scripts/b.rhai\n    message: m\n  - code: C\n    kind: anomaly\n    severity: rejet\n    scope: facture\n    script: scripts/absent.rhai\n    message: m\n  - code: D\n    kind: anomaly\n    severity: rejet\n    scope: facture\n    script: scripts/a.rhai\n    mesage: m\n  - code: E\n    kind: anomaly\n    severity: rejet\n    scope: factur\n    script: scripts/a.rhai\n    message: m\n",
        &[
            ("scripts/a.rhai", "let x = ;\n"),
            (
                "scripts/b.rhai",
                "// calls a helper that does not exist\nluhn_key(facture.nir) == 3\n",
            ),
        ],
    );
    let o = vigie(&["rules", "check", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    for (needles, fault) in [
        (
            ["a.rhai:1:9", "a.rhai"],
            "syntax error with line and column",
        ),
        (["b.rhai:2:1", "luhn_key"], "unknown helper"),
        (["ruleset.yaml:21", "absent.rhai"], "missing script"),
        (["ruleset.yaml:28:5", "mesage"], "bad key"),
        (["ruleset.yaml:32", "factur"], "unknown scope"),
    ] {
        assert!(needles.iter().all(|n| err.contains(n)), "{fault}: {err}");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn help_teaches() {
    let o = vigie(&["analyze", "--help"]);
    let out = stdout(&o);
    for w in [
        "--as-of",
        "--fail-on",
        "--format",
        "--rules",
        "--grammars",
        "Examples",
    ] {
        assert!(out.contains(w), "{w} in help");
    }
}

/// Runs vigie with its standard output read for one line only, then closed (`| head -1`).
fn first_line_then_close(args: &[&str]) -> (String, Output) {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(args)
        .current_dir(common::root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vigie runs");
    let mut first = String::new();
    {
        let out = child.stdout.take().unwrap();
        BufReader::new(out).read_line(&mut first).unwrap();
    }
    let o = child.wait_with_output().unwrap();
    assert!(!stderr(&o).contains("panicked"), "{args:?}: {}", stderr(&o));
    (first, o)
}

#[test]
fn a_reader_that_stops_early_ends_every_command_quietly() {
    for args in [
        &["rules", "list"][..],
        &["rules", "test"],
        &["rules", "check"],
        &["analyze", "-q", "--format", "jsonl", "examples/"],
        &["analyze", "-q", "--format", "csv", "examples/"],
        &["analyze", "-q", "--format", "json", "examples/"],
        &["analyze", "-q", "examples/"],
    ] {
        let (first, o) = first_line_then_close(args);
        assert!(!first.is_empty(), "{args:?} printed a line");
        assert_eq!(
            o.status.code(),
            Some(0),
            "{args:?}: a closed pipe ends every command the same way"
        );
    }
}

/// A reader that takes one line and closes the pipe stops the report, not the counting:
/// `--fail-on` and the totals still see every outcome.
#[test]
fn a_closed_pipe_still_counts_every_outcome_for_the_totals_and_fail_on() {
    let whole = vigie(&["analyze", "--format", "jsonl", "examples/"]);
    let totals = stderr(&whole);
    let totals = totals.lines().last().unwrap_or_default().to_string();
    assert!(totals.contains("anomalie(s)"), "{totals}");
    let (first, o) = first_line_then_close(&[
        "analyze",
        "--fail-on",
        "rejet",
        "--format",
        "jsonl",
        "examples/",
    ]);
    assert!(!first.is_empty());
    assert_eq!(o.status.code(), Some(3), "a rejet was found, if not shown");
    assert_eq!(stderr(&o).lines().last().unwrap_or_default(), totals);
}

#[test]
fn a_helper_given_a_date_outside_the_calendar_fails_the_rule_not_the_run() {
    let dir = common::temp_rule_set(
        "easter",
        "name: paques\nversion: \"1\"\ngrammars: [b2]\nrules:\n  - { code: PAQUES, kind: anomaly, severity: rejet, scope: facture, script: scripts/p.rhai, message: m }\n  - { code: TOUT, kind: anomaly, severity: info, scope: facture, script: scripts/t.rhai, message: m }\n",
        &[
            ("scripts/p.rhai", "is_public_holiday(date(-2959, 3, 1))"),
            ("scripts/t.rhai", "true"),
        ],
    );
    let rules = dir.to_str().unwrap();
    let o = vigie(&["rules", "check", rules]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for jobs in ["1", "2"] {
        let o = vigie(&[
            "analyze",
            "-q",
            "--format",
            "jsonl",
            "--rules",
            rules,
            "-j",
            jobs,
            "examples/lot-02-752379560.b2",
        ]);
        assert_eq!(o.status.code(), Some(0), "-j {jobs}: {}", stderr(&o));
        let out = stdout(&o);
        let failures: Vec<&str> = out.lines().filter(|l| l.contains("\"RULE\"")).collect();
        assert_eq!(failures.len(), 1, "-j {jobs}: reported once: {out}");
        assert!(
            failures[0].contains("hors du calendrier"),
            "{}",
            failures[0]
        );
        assert!(out.contains("\"TOUT\""), "the other rule ran");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_rule_author_updates_the_snapshots_without_rust() {
    let root = common::root();
    let work = std::env::temp_dir().join(format!("vigie-accept-{}", std::process::id()));
    common::copy_dir(&root.join("rules"), &work.join("rules"));
    common::copy_dir(&root.join("tests/snapshots"), &work.join("tests/snapshots"));
    let manifest = work.join("rules/flux-tiers/ruleset.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace(
            "valable jusqu'au {limite}.",
            "valable jusqu'au {limite} inclus.",
        ),
    )
    .unwrap();
    let rules = work.join("rules");
    let o = vigie(&[
        "rules",
        "test",
        "--accept",
        "--rules",
        rules.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let out = stdout(&o);
    let written: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("instantané écrit"))
        .collect();
    assert_eq!(
        written.len(),
        1,
        "only ORD-PERIM's snapshot changes: {}",
        stdout(&o)
    );
    let snap =
        std::fs::read_to_string(work.join(
            "tests/snapshots/rule_snapshots__rule_cases@flux-tiers__cases__ORD-PERIM.yaml.snap",
        ))
        .unwrap();
    assert!(snap.contains("inclus."), "{snap}");
    assert!(
        snap.starts_with("---\nsource: tests/rule_snapshots.rs\n"),
        "insta's header: {snap}"
    );
    // A second run finds nothing to write.
    let o = vigie(&[
        "rules",
        "test",
        "--accept",
        "--rules",
        rules.to_str().unwrap(),
    ]);
    assert!(!stdout(&o).contains("instantané écrit"), "{}", stdout(&o));
    std::fs::remove_dir_all(work).ok();
}

#[test]
fn every_command_says_which_folders_it_loaded() {
    for args in [
        &["rules", "check"][..],
        &["analyze", "examples/lot-02-752379560.b2"],
    ] {
        let o = vigie(args);
        let err = stderr(&o);
        let root = common::root().canonicalize().unwrap();
        assert!(
            err.contains(&format!("grammaires {}", root.join("grammars").display()))
                && err.contains(&format!("règles {}", root.join("rules").display())),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn the_format_pages_are_those_the_grammars_give() {
    let o = vigie(&["grammars", "doc", "--check"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "docs/formats/ is stale: run `vigie grammars doc`\n{}",
        stderr(&o)
    );
    let work = std::env::temp_dir().join(format!("vigie-doc-{}", std::process::id()));
    let o = vigie(&["grammars", "doc", "--out", work.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let b2 = std::fs::read_to_string(work.join("b2.md")).unwrap();
    assert!(b2.contains("| `n_facture` | 3–11 | 9 |"), "{b2}");
    let o = vigie(&[
        "grammars",
        "doc",
        "--check",
        "--out",
        work.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    std::fs::write(work.join("b2.md"), "vieux").unwrap();
    let o = vigie(&[
        "grammars",
        "doc",
        "--check",
        "--out",
        work.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "a stale page is found");
    std::fs::remove_dir_all(work).ok();
}

#[test]
fn the_report_file_is_written_whole_or_not_at_all() {
    let dir = std::env::temp_dir().join(format!("vigie-atomic-{}", std::process::id()));
    let target = dir.join("rapport.jsonl");
    std::fs::create_dir_all(&target).unwrap(); // a folder where the report should go
    let o = vigie(&[
        "analyze",
        "-q",
        "--format",
        "jsonl",
        "-o",
        target.to_str().unwrap(),
        "examples/",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 1, "no temporary file left: {left:?}");
    std::fs::remove_dir_all(&target).unwrap();
    std::fs::write(&target, "ancien rapport\n").unwrap();
    let o = vigie(&[
        "analyze",
        "-q",
        "--as-of",
        "2026-11-20",
        "--format",
        "jsonl",
        "-o",
        target.to_str().unwrap(),
        "examples/",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let written = std::fs::read_to_string(&target).unwrap();
    assert_eq!(
        written.lines().count(),
        282,
        "the whole new report replaced the old one"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn each_input_is_read_once_and_special_files_never_block() {
    use std::os::unix::fs::symlink;
    let dir = std::env::temp_dir().join(format!("vigie-walk-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("lots")).unwrap();
    let lot = dir.join("lots/lot-02.b2");
    std::fs::copy(common::path("examples/lot-02-752379560.b2"), &lot).unwrap();
    symlink(dir.join("lots"), dir.join("lots/boucle")).unwrap(); // a link loop
    symlink(&lot, dir.join("lots/meme-lot.b2")).unwrap(); // the same file again
    let fifo = dir.join("lots/tube.b2");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let once = vigie(&[
        "analyze",
        "-q",
        "--as-of",
        "2026-11-20",
        "--format",
        "jsonl",
        lot.to_str().unwrap(),
    ]);
    let started = std::time::Instant::now();
    let o = vigie(&[
        "analyze",
        "--as-of",
        "2026-11-20",
        "--format",
        "jsonl",
        dir.join("lots").to_str().unwrap(),
        lot.to_str().unwrap(),
        fifo.to_str().unwrap(),
    ]);
    assert!(
        started.elapsed().as_secs() < 30,
        "no hang on the FIFO or the loop"
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let expected = stdout(&once);
    let rules = |s: &str| {
        s.lines()
            .filter(|l| !l.contains("\"kind\":\"error\""))
            .count()
    };
    assert_eq!(
        rules(&out),
        rules(&expected),
        "the lot analysed once, however it is named"
    );
    let fifo_errors = out
        .lines()
        .filter(|l| l.contains("tube.b2") && l.contains("pas un fichier ordinaire"))
        .count();
    assert_eq!(
        fifo_errors, 1,
        "the FIFO is one error, reported once: {out}"
    );
    assert!(stderr(&o).contains("lu une seule fois"), "{}", stderr(&o));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn standard_input_is_refused_with_the_reason_not_read_as_empty() {
    let o = vigie(&["analyze", "--as-of", "2026-11-20", "-"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("l'entrée standard n'est pas lue"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty(), "nothing analysed: {}", stdout(&o));
}

#[test]
fn a_closed_standard_error_does_not_abort() {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["analyze", "--as-of", "2026-11-20", "examples/"])
        .current_dir(common::root())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn vigie_cas_writes_the_organisms_returns_and_the_participations() {
    let out = std::env::temp_dir().join(format!("vigie-cas-cli-{}", std::process::id()));
    let o = vigie(&[
        "cas",
        "--as-of",
        "2026-11-20",
        "--out",
        out.to_str().unwrap(),
        "tests/data/samples",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for name in [
        "participations-2025.csv",
        "retour-ACOSS-2025.csv",
        "retour-RSI-2025.csv",
        "retour-CARMF-2025.csv",
    ] {
        assert!(out.join(name).is_file(), "{name}: {}", stderr(&o));
        assert!(stderr(&o).contains(name), "the summary names {name}");
    }
    assert_eq!(
        std::fs::read(out.join("participations-2025.csv")).unwrap(),
        std::fs::read(common::path(
            "tests/data/expected-cas/participations-2025.csv"
        ))
        .unwrap()
    );
    // A second run replaces the files whole.
    let again = vigie(&[
        "cas",
        "-q",
        "--as-of",
        "2026-11-20",
        "--out",
        out.to_str().unwrap(),
        "tests/data/samples",
    ]);
    assert_eq!(again.status.code(), Some(0));
    assert!(stderr(&again).is_empty(), "{}", stderr(&again));
    std::fs::remove_dir_all(&out).ok();
    // Without CAS files there is nothing to write: said, exit 1.
    let none = vigie(&[
        "cas",
        "-q",
        "--out",
        out.to_str().unwrap(),
        "tests/data/samples/lot-01-992748186.b2",
    ]);
    assert_eq!(none.status.code(), Some(1), "{}", stderr(&none));
    assert!(
        stderr(&none).contains("aucun fichier CAS"),
        "{}",
        stderr(&none)
    );
}

#[test]
fn a_mistake_in_the_participation_script_is_found_by_rules_check() {
    let work = std::env::temp_dir().join(format!("vigie-part-check-{}", std::process::id()));
    common::copy_dir(&common::root().join("rules"), &work);
    let script = work.join("cas/scripts/participation.rhai");
    let text = std::fs::read_to_string(&script).unwrap();
    std::fs::write(&script, text.replace("m.adherent;", "m.adherant;")).unwrap();
    let o = vigie(&["rules", "check", "--rules", work.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("participation.rhai:10:") && err.contains("vouliez-vous dire « adherent »"),
        "{err}"
    );
    std::fs::remove_dir_all(work).ok();
}

#[test]
fn rules_test_previews_the_letter_a_case_gives() {
    let o = vigie(&["rules", "test", "--preview", "rules/flux-tiers"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let out = stdout(&o);
    let preview = out
        .split("ok    flux-tiers@2026.11.0 PJ-MANQ — pj S sans pièce, délai dépassé, anomalie")
        .nth(1)
        .expect("the PJ-MANQ case");
    assert!(
        preview
            .trim_start()
            .starts_with("┌ Objet : Assurance Maladie"),
        "{preview}"
    );
    assert!(
        preview.contains("│ Facture 000000001 (lot 001)")
            && preview.contains("Ce qu'il faut faire : Nous n'avons pas reçu la pièce"),
        "{preview}"
    );
}
