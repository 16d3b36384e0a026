//! The analysis flow over many files: one reader streams files in the order given (decode +
//! assemble, sequential because duplicates are counted in file order), workers evaluate units
//! in parallel, each with its own engine. A bounded channel keeps memory flat.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::Arc;

use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::facts::{read_file, KeyTracker, Unit};
use crate::grammar::{Grammar, GrammarSet};
use crate::outcome::{sort_for_report, Outcome};
use crate::rules::eval::{merge_failures, Failure};
use crate::rules::{Evaluator, RuleSet};

/// How to run an analysis.
#[derive(Debug, Clone)]
pub struct Options {
    /// Worker threads evaluating rules; 1 runs everything on the calling thread.
    pub jobs: usize,
    pub as_of: NaiveDate,
    /// Imposes a grammar on every file.
    pub forced: Option<Arc<Grammar>>,
    /// Shows a progress bar on stderr (only when stderr is a terminal).
    pub progress: bool,
    /// Decodes and assembles only, no rule (benchmarks).
    pub decode_only: bool,
}

/// What an analysis found.
#[derive(Debug, Default)]
pub struct Analysis {
    /// Every outcome, in report order.
    pub outcomes: Vec<Outcome>,
    pub files: usize,
    /// Files of which at least one record could be decoded.
    pub readable_files: usize,
    /// Units evaluated (lots, files, index lines…).
    pub units: u64,
    pub bytes: u64,
    pub failures: Vec<Failure>,
}

/// Files named by `paths`: files as given, folders walked (sorted, hidden entries skipped).
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut stack = vec![p.clone()];
            let mut found = Vec::new();
            while let Some(d) = stack.pop() {
                let entries = std::fs::read_dir(&d)
                    .map_err(|e| format!("{} : dossier illisible ({e})", d.display()))?;
                for e in entries.flatten() {
                    let path = e.path();
                    if e.file_name().to_string_lossy().starts_with('.') {
                        continue;
                    }
                    if path.is_dir() {
                        stack.push(path);
                    } else {
                        found.push(path);
                    }
                }
            }
            found.sort();
            out.extend(found);
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(format!("{} : fichier ou dossier introuvable", p.display()));
        }
    }
    Ok(out)
}

const BATCH: usize = 16;

/// Runs the analysis of `files` (in that order) with `sets`.
pub fn run(
    files: &[PathBuf],
    grammars: &GrammarSet,
    sets: &[Arc<RuleSet>],
    opts: &Options,
) -> Analysis {
    let total: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let bar = progress_bar(opts.progress, total);
    let bytes = AtomicU64::new(0);
    let mut analysis = Analysis {
        files: files.len(),
        ..Analysis::default()
    };
    let mut keys = KeyTracker::default();
    let mut input_errors = Vec::new();

    if opts.jobs <= 1 {
        let mut ev = (!opts.decode_only).then(|| Evaluator::new(grammars, sets, opts.as_of));
        let mut outcomes = Vec::new();
        for f in files {
            let r = read_file(
                f,
                grammars,
                opts.forced.as_ref(),
                &mut keys,
                &bytes,
                &mut |unit: Unit| {
                    analysis.units += 1;
                    if let Some(ev) = ev.as_mut() {
                        ev.evaluate(&unit, &mut outcomes);
                    }
                },
            );
            analysis.readable_files += usize::from(r.readable);
            input_errors.extend(r.errors);
            bar.set_position(bytes.load(Ordering::Relaxed));
        }
        analysis.failures = ev.map(|e| e.failures()).unwrap_or_default();
        analysis.outcomes = outcomes;
    } else {
        let (tx, rx) = sync_channel::<Vec<Unit>>(opts.jobs * 4);
        let rx = Arc::new(std::sync::Mutex::new(rx));
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..opts.jobs)
                .map(|_| {
                    let rx = Arc::clone(&rx);
                    s.spawn(move || {
                        let mut ev =
                            (!opts.decode_only).then(|| Evaluator::new(grammars, sets, opts.as_of));
                        let mut outcomes = Vec::new();
                        loop {
                            let batch = match rx.lock().expect("channel lock").recv() {
                                Ok(b) => b,
                                Err(_) => break,
                            };
                            if let Some(ev) = ev.as_mut() {
                                for unit in &batch {
                                    ev.evaluate(unit, &mut outcomes);
                                }
                            }
                        }
                        (outcomes, ev.map(|e| e.failures()).unwrap_or_default())
                    })
                })
                .collect();
            let mut batch = Vec::with_capacity(BATCH);
            for f in files {
                let r = read_file(
                    f,
                    grammars,
                    opts.forced.as_ref(),
                    &mut keys,
                    &bytes,
                    &mut |unit: Unit| {
                        analysis.units += 1;
                        batch.push(unit);
                        if batch.len() == BATCH {
                            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                            let _ = tx.send(full);
                            bar.set_position(bytes.load(Ordering::Relaxed));
                        }
                    },
                );
                analysis.readable_files += usize::from(r.readable);
                input_errors.extend(r.errors);
            }
            if !batch.is_empty() {
                let _ = tx.send(batch);
            }
            drop(tx);
            let mut failures = Vec::new();
            for w in workers {
                let (outcomes, f) = w.join().expect("worker thread");
                analysis.outcomes.extend(outcomes);
                failures.push(f);
            }
            analysis.failures = merge_failures(failures);
        });
    }
    bar.finish_and_clear();
    analysis.bytes = bytes.load(Ordering::Relaxed);
    analysis.outcomes.extend(input_errors);
    analysis
        .outcomes
        .extend(analysis.failures.iter().map(Failure::to_outcome));
    sort_for_report(&mut analysis.outcomes);
    analysis
}

fn progress_bar(wanted: bool, total: u64) -> ProgressBar {
    if !wanted || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} analyse {bar:30} {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, reste {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Default folders: `name` in the working directory, else beside the binary or up to three
/// levels above it (a `target/release/vigie` inside a clone finds the clone's folders).
pub fn find_default_dir(name: &str) -> Option<PathBuf> {
    let here = Path::new(name);
    if here.is_dir() {
        return Some(here.to_path_buf());
    }
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .skip(1)
        .take(4)
        .map(|a| a.join(name))
        .find(|p| p.is_dir())
}
