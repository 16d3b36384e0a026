//! The report streams: outcomes spilled to sorted runs on disk and merged back are the outcomes
//! of an analysis that holds them all, in the same order and with every field (the date the
//! report does not show included), on 1 and 2 threads, whatever the spill size; a spill that
//! cannot be written loses nothing; the runs' folder goes with the merge.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use vigie::model::Outcome;
use vigie::report::spill::Runs;
use vigie::report::{self, Format};
use vigie::{Options, Spill};

fn options(jobs: usize) -> Options {
    Options {
        jobs,
        as_of: Some(common::date("2026-11-20")),
        ..Options::default()
    }
}

fn scratch(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("vigie-test-spill-{tag}-{}", std::process::id()))
}

fn spill_into(runs: &Arc<Runs>) -> Spill {
    Arc::new(runs.spiller())
}

fn shown(outcomes: &[Outcome]) -> Vec<String> {
    outcomes.iter().map(|o| format!("{o:?}")).collect()
}

fn written(format: Format, outcomes: &[Outcome]) -> Vec<u8> {
    let order = common::setup().grammars.subjects.clone();
    let mut out = Vec::new();
    report::write(format, outcomes, &order, &mut out).unwrap();
    out
}

#[test]
fn spilled_runs_merge_into_the_outcomes_of_a_whole_analysis() {
    let setup = common::setup();
    let files = common::sample_files();
    let order = &setup.grammars.subjects;
    for jobs in [1, 2] {
        let whole = setup.analyze(vigie::files(&files), &options(jobs));
        assert!(whole.outcomes.len() > 200);
        assert!(whole.outcomes.iter().any(|o| o.date.is_some()));
        for at in [1, 7, 100] {
            let dir = scratch(&format!("{jobs}-{at}"));
            let runs = Arc::new(Runs::in_dir(order, dir.clone()));
            let opts = Options {
                spill: Some(spill_into(&runs)),
                spill_at: Some(at),
                ..options(jobs)
            };
            let analysis = setup.analyze(vigie::files(&files), &opts);
            drop(opts);
            assert!(runs.count() > 0, "{jobs} thread(s), spill at {at}: no run");
            assert!(analysis.outcomes.len() < whole.outcomes.len());
            assert!(dir.is_dir());
            let merged: Vec<Outcome> = runs
                .merge(analysis.outcomes)
                .unwrap()
                .collect::<std::io::Result<_>>()
                .unwrap();
            assert_eq!(
                shown(&merged),
                shown(&whole.outcomes),
                "{jobs} thread(s), spill at {at}"
            );
            for (_, format) in Format::ALL {
                assert!(written(format, &merged) == written(format, &whole.outcomes));
            }
            drop(runs);
            assert!(!dir.exists(), "the runs' folder is removed");
        }
    }
}

/// Read ahead on a thread of its own, the merge gives the same outcomes, batch after batch;
/// left before its end, it stops, and the runs still go.
#[test]
fn the_merge_read_ahead_gives_the_same_outcomes() {
    let setup = common::setup();
    let files = common::sample_files();
    let whole = setup.analyze(vigie::files(&files), &options(1));
    let order = &setup.grammars.subjects;
    // Four copies of every outcome, in three runs and in memory: more than two batches.
    let mut copies: Vec<Outcome> = [&whole.outcomes; 4]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    vigie::model::sort_for_report(&mut copies, order);
    assert!(copies.len() > 1024, "{} outcomes", copies.len());
    for taken in [usize::MAX, 700, 1] {
        let dir = scratch(&format!("ahead-{taken}"));
        let runs = Arc::new(Runs::in_dir(order, dir.clone()));
        for _ in 0..3 {
            assert!(runs.spill(whole.outcomes.clone()).is_ok());
        }
        let ahead = runs.merge(whole.outcomes.clone()).unwrap().read_ahead();
        let merged: Vec<Outcome> = ahead.take(taken).collect::<std::io::Result<_>>().unwrap();
        assert_eq!(
            shown(&merged),
            shown(&copies[..taken.min(copies.len())]),
            "{taken}"
        );
        drop(runs);
        assert!(!dir.exists(), "{taken}: the runs' folder is removed");
    }
}

/// A folder that cannot be created (under a file): every spill gives its outcomes back, the
/// analysis keeps them, and the report is whole.
#[test]
fn a_spill_that_cannot_be_written_loses_nothing() {
    let setup = common::setup();
    let files = common::sample_files();
    let whole = setup.analyze(vigie::files(&files), &options(2));
    let blocker = scratch("blocker");
    std::fs::write(&blocker, b"a file, not a folder").unwrap();
    let runs = Arc::new(Runs::in_dir(&setup.grammars.subjects, blocker.join("runs")));
    let refused = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let spill: Spill = {
        let (runs, refused) = (Arc::clone(&runs), Arc::clone(&refused));
        Arc::new(move |outcomes| {
            runs.spill(outcomes).map_err(|(back, _)| {
                refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                back
            })
        })
    };
    let opts = Options {
        spill: Some(spill),
        spill_at: Some(5),
        ..options(2)
    };
    let analysis = setup.analyze(vigie::files(&files), &opts);
    assert!(refused.load(std::sync::atomic::Ordering::Relaxed) > 0);
    assert!(runs.take_failure().is_some(), "the first failure is kept");
    assert_eq!(runs.count(), 0);
    assert_eq!(shown(&analysis.outcomes), shown(&whole.outcomes));
    std::fs::remove_file(&blocker).unwrap();
}

/// A run cut short, or made unreadable, after it was written: the merge says so rather than
/// give a report with outcomes missing, and quotes no value.
#[test]
fn a_damaged_run_is_an_error_not_a_shorter_report() {
    let setup = common::setup();
    let files = common::sample_files();
    let whole = setup.analyze(vigie::files(&files), &options(1));
    let garbled = b"[null,{\"kind\":1}]\n";
    for (tag, damage) in [
        ("cut", b"" as &[u8]),
        ("garbled", garbled),
        ("cut-ahead", b""),
        ("garbled-ahead", garbled),
    ] {
        let dir = scratch(tag);
        let runs = Arc::new(Runs::in_dir(&setup.grammars.subjects, dir.clone()));
        assert!(runs.spill(whole.outcomes.clone()).is_ok());
        let run = std::fs::read_dir(&dir)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let text = std::fs::read(&run).unwrap();
        let mut lines: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
        lines.pop();
        let mut damaged: Vec<u8> = lines.concat();
        damaged.extend_from_slice(damage);
        std::fs::write(&run, damaged).unwrap();
        let merge = runs.merge(Vec::new()).unwrap();
        let merged: Vec<std::io::Result<Outcome>> = if tag.ends_with("ahead") {
            merge.read_ahead().collect()
        } else {
            merge.collect()
        };
        let last = merged.last().unwrap();
        let Err(e) = last else {
            panic!("{tag}: the damage is not told")
        };
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{tag}");
        assert!(e.to_string().contains("fichier de tri"), "{tag}: {e}");
        assert_eq!(
            merged.iter().filter(|o| o.is_ok()).count(),
            whole.outcomes.len() - 1
        );
    }
}
