//! The analysis flow over many files: every file is recognised first; the files a join holds
//! (PJ index, NOEMIE returns, CAS) are read and indexed, then one reader streams the others in
//! the order given (decode + assemble + link, sequential because duplicates are counted in file
//! order) to workers that evaluate units in parallel, each with its own engine; the held units
//! and gathered facts come last. A bounded channel keeps memory flat.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, PoisonError};

use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::facts::read::detect;
use crate::facts::{read_file, Joiner, KeyTracker, Unit};
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

/// Reads every file and hands units to `send` in the order the joins need: the held files
/// first (kept, indexed), then the streamed files (linked as they go by), then the held units
/// and the gathered facts.
struct Feeder<'a> {
    grammars: &'a GrammarSet,
    opts: &'a Options,
    bytes: &'a AtomicU64,
    bar: &'a ProgressBar,
    keys: KeyTracker,
    errors: Vec<Outcome>,
    readable_files: usize,
    units: u64,
}

impl Feeder<'_> {
    fn read(&mut self, path: &Path, grammar: Arc<Grammar>, send: &mut dyn FnMut(Unit)) {
        let mut units = 0u64;
        let r = read_file(path, grammar, &mut self.keys, self.bytes, &mut |u: Unit| {
            units += 1;
            send(u);
        });
        self.units += units;
        self.readable_files += usize::from(r.readable);
        self.errors.extend(r.errors);
        self.bar.set_position(self.bytes.load(Ordering::Relaxed));
    }

    /// `joiner` must outlive the evaluation of what is sent: an invoice's PJ lines are weak
    /// links into what it holds, and workers may still be evaluating after the last file.
    fn feed(&mut self, files: &[PathBuf], joiner: &mut Joiner, send: &mut dyn FnMut(Unit)) {
        let mut held = Vec::new();
        let mut streamed = Vec::new();
        for f in files {
            match detect(f, self.grammars, self.opts.forced.as_ref()) {
                Ok(g) if joiner.holds(&g.name) => held.push((f, g)),
                Ok(g) => streamed.push((f, g)),
                Err(e) => self.errors.push(*e),
            }
        }
        for (f, g) in held {
            self.read(f, g, &mut |u| joiner.hold(u));
        }
        joiner.seal();
        for (f, g) in streamed {
            self.read(f, g, &mut |u| {
                joiner.link(&u);
                send(u);
            });
        }
        for u in joiner.held() {
            send(u.clone());
        }
    }
}

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
    let mut joiner = Joiner::new(grammars);
    let mut feeder = Feeder {
        grammars,
        opts,
        bytes: &bytes,
        bar: &bar,
        keys: KeyTracker::default(),
        errors: Vec::new(),
        readable_files: 0,
        units: 0,
    };

    if opts.jobs <= 1 {
        let mut ev = (!opts.decode_only).then(|| Evaluator::new(grammars, sets, opts.as_of));
        let mut outcomes = Vec::new();
        feeder.feed(files, &mut joiner, &mut |unit: Unit| {
            if let Some(ev) = ev.as_mut() {
                ev.evaluate(&unit, &mut outcomes);
            }
        });
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
                            // A poisoned lock only means another worker died holding it: the
                            // receiver itself is sound.
                            let next = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
                            let Ok(batch) = next else { break };
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
            feeder.feed(files, &mut joiner, &mut |unit: Unit| {
                batch.push(unit);
                if batch.len() == BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    let _ = tx.send(full);
                }
            });
            if !batch.is_empty() {
                let _ = tx.send(batch);
            }
            drop(tx);
            let mut failures = Vec::new();
            for w in workers {
                match w.join() {
                    Ok((outcomes, f)) => {
                        analysis.outcomes.extend(outcomes);
                        failures.push(f);
                    }
                    // Evaluation contains its own panics; this is a last resort.
                    Err(_) => analysis.outcomes.push(lost_worker()),
                }
            }
            analysis.failures = merge_failures(failures);
        });
    }
    bar.finish_and_clear();
    analysis.units = feeder.units;
    analysis.readable_files = feeder.readable_files;
    analysis.bytes = bytes.load(Ordering::Relaxed);
    analysis.outcomes.extend(feeder.errors);
    analysis
        .outcomes
        .extend(analysis.failures.iter().map(Failure::to_outcome));
    sort_for_report(&mut analysis.outcomes);
    analysis
}

/// The outcome saying that a worker thread died and its outcomes were lost.
fn lost_worker() -> Outcome {
    Outcome::error(
        crate::rules::eval::INTERNAL,
        &Arc::from("vigie"),
        None,
        None,
        None,
        "erreur interne de vigie : un fil d'évaluation s'est arrêté, ses résultats sont perdus (à signaler)".into(),
    )
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
