//! Property tests by mutation: damaged copies of every published sample, and of the grammars
//! and rule sets business staff edit, must never panic, hang or abort vigie — every input is
//! analysed or refused with located faults. A short run is part of `cargo test`; a longer
//! one is `VIGIE_FUZZ_ROUNDS=20000 cargo test --release --test fuzz -- --nocapture`.
//!
//! The mutations are seeded (`VIGIE_FUZZ_SEED`), so that a failure is replayed exactly.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use vigie::{Options, Setup};

/// A small deterministic generator (xorshift64*): no dependency, replayable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn rounds(default: usize) -> usize {
    std::env::var("VIGIE_FUZZ_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn seed() -> u64 {
    std::env::var("VIGIE_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x005E_ED0F_71E5)
}

/// Damages `bytes` in one of the ways files get damaged: a byte changed, removed or added, a
/// line cut short or doubled, a NUL, a CR, the end lost.
fn mutate(rng: &mut Rng, bytes: &[u8]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for _ in 0..=rng.below(3) {
        let at = rng.below(b.len());
        match rng.below(8) {
            0 => {
                if let Some(x) = b.get_mut(at) {
                    *x = rng.next() as u8;
                }
            }
            1 => {
                if at < b.len() {
                    b.remove(at);
                }
            }
            2 => b.insert(at.min(b.len()), rng.next() as u8),
            3 => b.insert(at.min(b.len()), 0),
            4 => b.insert(at.min(b.len()), b'\r'),
            5 => b.truncate(at),
            6 => {
                // Double the line around `at`.
                let start = b[..at.min(b.len())]
                    .iter()
                    .rposition(|&c| c == b'\n')
                    .map_or(0, |p| p + 1);
                let end = b[at.min(b.len())..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |p| at + p + 1);
                let line = b[start..end].to_vec();
                b.splice(start..start, line);
            }
            _ => {
                // A digit becomes a letter, a letter a digit.
                if let Some(x) = b.get_mut(at) {
                    *x = if x.is_ascii_digit() {
                        b'A' + *x % 26
                    } else {
                        b'0' + *x % 10
                    };
                }
            }
        }
    }
    b
}

fn samples() -> Vec<PathBuf> {
    common::sample_files()
}

/// Every sample damaged `rounds` times in all: each analysis ends, in bounded time, with no
/// panic; outcomes carry no NIR of the original file.
#[test]
fn damaged_samples_never_break_the_analysis() {
    let setup = common::setup();
    let mut rng = Rng(seed());
    let dir = std::env::temp_dir().join(format!("vigie-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let files = samples();
    let n = rounds(120);
    let started = Instant::now();
    let mut outcomes = 0usize;
    for round in 0..n {
        let original = &files[rng.below(files.len())];
        let bytes = std::fs::read(original).unwrap();
        let damaged = dir.join(original.file_name().unwrap());
        std::fs::write(&damaged, mutate(&mut rng, &bytes)).unwrap();
        let t = Instant::now();
        let a = setup.analyze(
            vigie::files(std::slice::from_ref(&damaged)),
            &Options {
                jobs: 1 + round % 2,
                as_of: Some(common::date("2026-11-20")),
                ..Options::default()
            },
        );
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "round {round} (seed {}) took {:?} on {}",
            seed(),
            t.elapsed(),
            original.display()
        );
        assert!(
            a.outcomes.iter().all(|o| &*o.code != "INTERNAL"),
            "round {round} (seed {}): an internal failure on {}",
            seed(),
            original.display()
        );
        outcomes += a.outcomes.len();
        std::fs::remove_file(&damaged).ok();
    }
    println!(
        "fuzz: {n} damaged samples analysed in {:?}, {outcomes} outcomes, no panic, no hang",
        started.elapsed()
    );
    std::fs::remove_dir_all(dir).ok();
}

/// The grammars and rule sets damaged: loading either succeeds or gives located faults,
/// never a panic.
#[test]
fn damaged_grammars_and_rule_sets_are_refused_with_faults() {
    let root = common::root();
    let mut rng = Rng(seed() ^ 0xFACE);
    let work = std::env::temp_dir().join(format!("vigie-fuzz-files-{}", std::process::id()));
    let n = rounds(60);
    let mut refused = 0;
    for round in 0..n {
        std::fs::remove_dir_all(&work).ok();
        common::copy_dir(&root.join("grammars"), &work.join("grammars"));
        common::copy_dir(&root.join("rules"), &work.join("rules"));
        let targets = [
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
        let target = work.join(targets[rng.below(targets.len())]);
        if let Ok(bytes) = std::fs::read(&target) {
            std::fs::write(&target, mutate(&mut rng, &bytes)).unwrap();
        }
        match Setup::load(&work.join("grammars"), &work.join("rules")) {
            Ok(_) => {}
            Err(faults) => {
                refused += 1;
                assert!(
                    !faults.0.is_empty(),
                    "round {round}: refused without a fault"
                );
                for f in &faults.0 {
                    assert!(
                        f.file.exists() || f.file.starts_with(&work),
                        "round {round}: fault on an unknown file {}",
                        f.file.display()
                    );
                }
            }
        }
    }
    println!("fuzz: {n} damaged grammar or rule files loaded, {refused} refused with faults");
    std::fs::remove_dir_all(work).ok();
}
