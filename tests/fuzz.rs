//! Property tests (proptest) by mutation: damaged copies of every published sample, random
//! bytes under every format's name, and damaged grammars and rule sets must never panic, hang
//! or abort vigie — every input is analysed or refused with located faults.
//!
//! A short run is part of `cargo test` (120 cases per property, well under a minute); a longer
//! one is `VIGIE_FUZZ_ROUNDS=2000 cargo test --release --test fuzz -- --nocapture`. A failure
//! is shrunk to a smallest damage and its seed saved under `tests/fuzz.proptest-regressions`,
//! where the next run replays it first.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::FileFailurePersistence;
use vigie::model::Outcome;
use vigie::{Options, Setup};

/// Cases per property: `VIGIE_FUZZ_ROUNDS`, else `default`.
fn rounds(default: u32) -> u32 {
    std::env::var("VIGIE_FUZZ_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(default: u32) -> ProptestConfig {
    ProptestConfig {
        cases: rounds(default),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

/// One way files get damaged.
#[derive(Debug, Clone)]
enum Damage {
    /// A byte replaced.
    Replace(Index, u8),
    /// A byte lost.
    Remove(Index),
    /// A byte added (a NUL, a CR, anything).
    Insert(Index, u8),
    /// The end of the file lost.
    Truncate(Index),
    /// The line around a place written twice.
    DoubleLine(Index),
    /// A digit becomes a letter, a letter a digit.
    Swap(Index),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Damage::Replace(i, b)),
        any::<Index>().prop_map(Damage::Remove),
        (
            any::<Index>(),
            prop_oneof![Just(0u8), Just(b'\r'), Just(b'\n'), any::<u8>()]
        )
            .prop_map(|(i, b)| Damage::Insert(i, b)),
        any::<Index>().prop_map(Damage::Truncate),
        any::<Index>().prop_map(Damage::DoubleLine),
        any::<Index>().prop_map(Damage::Swap),
    ]
}

/// `bytes` with `damages` applied in turn.
fn damaged(bytes: &[u8], damages: &[Damage]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for d in damages {
        let at = |i: &Index, b: &[u8]| if b.is_empty() { 0 } else { i.index(b.len()) };
        match d {
            Damage::Replace(i, x) => {
                let p = at(i, &b);
                if let Some(c) = b.get_mut(p) {
                    *c = *x;
                }
            }
            Damage::Remove(i) => {
                let p = at(i, &b);
                if p < b.len() {
                    b.remove(p);
                }
            }
            Damage::Insert(i, x) => {
                let p = at(i, &b);
                b.insert(p, *x);
            }
            Damage::Truncate(i) => b.truncate(at(i, &b)),
            Damage::DoubleLine(i) => {
                let p = at(i, &b);
                let start = b[..p]
                    .iter()
                    .rposition(|&c| c == b'\n')
                    .map_or(0, |q| q + 1);
                let end = b[p..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |q| p + q + 1);
                let line = b[start..end].to_vec();
                b.splice(start..start, line);
            }
            Damage::Swap(i) => {
                let p = at(i, &b);
                if let Some(c) = b.get_mut(p) {
                    *c = if c.is_ascii_digit() {
                        b'A' + *c % 26
                    } else {
                        b'0' + *c % 10
                    };
                }
            }
        }
    }
    b
}

/// The project's setup, loaded once for every case.
fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(common::setup)
}

/// The same, every rule run by Rhai's interpreter alone (the reference of the compiled form).
fn interpreted() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| common::setup().interpreted())
}

/// A fresh folder for one case (cases of a property run one after the other).
fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vigie-fuzz-{tag}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Analyses `bytes` under the name `name`: the analysis ends in bounded time, with no
/// internal failure, and the compiled form of the rules gives what Rhai's interpreter gives;
/// returns its outcomes.
fn analyse_as(name: &str, bytes: &[u8], jobs: usize) -> Result<Vec<Outcome>, TestCaseError> {
    // A folder of its own: the properties run side by side.
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = scratch(&format!("input-{run}"));
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let opts = Options {
        jobs,
        as_of: Some(common::date("2026-11-20")),
        ..Options::default()
    };
    let started = Instant::now();
    let analysis = setup().analyze(vigie::files(std::slice::from_ref(&path)), &opts);
    prop_assert!(
        started.elapsed() < Duration::from_secs(20),
        "{name}: {:?}",
        started.elapsed()
    );
    let internal: Vec<&Outcome> = analysis
        .outcomes
        .iter()
        .filter(|o| &*o.code == "INTERNAL")
        .collect();
    prop_assert!(internal.is_empty(), "{name}: {internal:#?}");
    for o in &analysis.outcomes {
        prop_assert!(!quotes_a_nir(&o.message), "{name}: {}", o.message);
    }
    let reference = interpreted().analyze(vigie::files(std::slice::from_ref(&path)), &opts);
    prop_assert_eq!(
        format!("{:?}", analysis.outcomes),
        format!("{:?}", reference.outcomes),
        "{}: compiled and interpreted differ",
        name
    );
    std::fs::remove_dir_all(&dir).ok();
    Ok(analysis.outcomes)
}

/// Whether `text` holds something shaped like a NIR: 13 to 15 characters of digits (and the
/// Corsican `A`/`B`), at least 12 of them digits.
fn quotes_a_nir(text: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_digit() || c == 'A' || c == 'B'))
        .any(|run| {
            (13..=15).contains(&run.len()) && run.chars().filter(char::is_ascii_digit).count() >= 12
        })
}

fn sample_names() -> Vec<String> {
    common::sample_files()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(common::path("tests/data/samples").join(name)).unwrap()
}

proptest! {
    #![proptest_config(config(120))]

    /// A damaged sample of any format is analysed: located errors, never a panic, a hang or
    /// an internal failure, on one thread or two.
    #[test]
    fn damaged_samples_never_break_the_analysis(
        name in select(sample_names()),
        damages in prop::collection::vec(damage(), 1..4),
        jobs in 1usize..=2,
    ) {
        let bytes = damaged(&sample(&name), &damages);
        analyse_as(&name, &bytes, jobs)?;
    }

    /// Random bytes under any format's name are errors, never a panic or a hang.
    #[test]
    fn random_bytes_under_any_format_s_name_are_errors(
        name in select(sample_names()),
        bytes in prop::collection::vec(any::<u8>(), 0..3000),
    ) {
        analyse_as(&name, &bytes, 1)?;
    }
}

/// The project's grammars and rule sets, copied into `work`.
fn copy_project(work: &Path) {
    let root = common::root();
    common::copy_dir(&root.join("grammars"), &work.join("grammars"));
    common::copy_dir(&root.join("rules"), &work.join("rules"));
}

/// The files business staff edit, damaged by [`damaged_grammars_and_rule_sets_load_or_give_faults`].
const EDITED: [&str; 10] = [
    "grammars/b2.yaml",
    "grammars/scor.yaml",
    "grammars/noemie.yaml",
    "grammars/acoss.yaml",
    "grammars/joins.yaml",
    "grammars/report.yaml",
    "rules/flux-tiers/ruleset.yaml",
    "rules/cas/ruleset.yaml",
    "rules/flux-tiers/scripts/fse-tard.rhai",
    "rules/cas/scripts/n-ass-acoss.rhai",
];

proptest! {
    #![proptest_config(config(60))]

    /// A damaged grammar or rule file: loading succeeds or gives faults on the project's
    /// files, never a panic.
    #[test]
    fn damaged_grammars_and_rule_sets_load_or_give_faults(
        target in select(EDITED.to_vec()),
        damages in prop::collection::vec(damage(), 1..4),
    ) {
        let work = scratch("files");
        copy_project(&work);
        let file = work.join(target);
        std::fs::write(&file, damaged(&std::fs::read(&file).unwrap(), &damages)).unwrap();
        if let Err(faults) = Setup::load(&work.join("grammars"), &work.join("rules")) {
            prop_assert!(!faults.0.is_empty(), "refused without a fault");
            for f in &faults.0 {
                prop_assert!(f.file.starts_with(&work), "fault on {}", f.file.display());
            }
        }
    }
}

#[test]
fn the_nir_check_sees_a_nir() {
    assert!(quotes_a_nir("le NIR 1660659521413 est faux"));
    assert!(quotes_a_nir("NIR corse 200072A331507."));
    assert!(!quotes_a_nir(
        "montant 110650,42 ; RPPS 13053040195 ; facture 000144010"
    ));
}
