//! The timing harness every engine runs under: the lots split into one part per thread, each
//! thread converting its part into the engine's own input form (timed apart), then all the
//! threads evaluating together from a barrier, several times; a run lasts until its slowest
//! thread ends, and the fastest run is kept.

use std::ops::Range;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use crate::facts::Facts;
use crate::rules::Firing;

/// An engine under test: built once, then per thread a state holding its input (which need
/// not be `Send`: it is built and used on its thread).
pub trait Contender: Sync {
    /// Its per-thread state: engine objects and the converted facts of its lots.
    type State;

    /// Converts the lots `lots` of the facts into the engine's input and readies the engine.
    fn prepare(&self, lots: Range<usize>) -> Self::State;

    /// Evaluates the 12 rules on every fact of the state, keeping what fired; gives how many.
    fn run(&self, state: &mut Self::State) -> usize;

    /// What fired in the last run, as positions in the facts.
    fn firings(&self, state: &Self::State) -> Result<Vec<Firing>, String>;
}

/// What one thread gave: its conversion time, each run's time, what fired.
type ThreadResult = (Duration, Vec<Duration>, Result<Vec<Firing>, String>);

/// What one engine gave on some threads.
pub struct Measure {
    /// Threads used.
    pub threads: usize,
    /// Time to convert the facts into the engine's input (slowest thread).
    pub convert: Duration,
    /// The fastest run (each run: until its slowest thread ends).
    pub best: Duration,
    /// Every run.
    pub runs: Vec<Duration>,
    /// What fired (last run), or why it could not be read.
    pub firings: Result<Vec<Firing>, String>,
}

/// Runs `engine` `runs` times on `threads` threads over `facts`.
pub fn measure<C: Contender>(engine: &C, facts: &Facts, threads: usize, runs: usize) -> Measure {
    let parts = facts.split(threads);
    let barrier = Barrier::new(parts.len());
    let per_thread: Vec<ThreadResult> = std::thread::scope(|s| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|range| {
                let barrier = &barrier;
                s.spawn(move || {
                    let t = Instant::now();
                    let mut state = engine.prepare(range);
                    let convert = t.elapsed();
                    let mut times = Vec::with_capacity(runs);
                    for _ in 0..runs {
                        barrier.wait();
                        let t = Instant::now();
                        std::hint::black_box(engine.run(&mut state));
                        times.push(t.elapsed());
                    }
                    (convert, times, engine.firings(&state))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("an evaluation thread panicked"))
            .collect()
    });
    let convert = per_thread.iter().map(|p| p.0).max().unwrap_or_default();
    let runs: Vec<Duration> = (0..runs)
        .map(|r| per_thread.iter().map(|p| p.1[r]).max().unwrap_or_default())
        .collect();
    let best = runs.iter().copied().min().unwrap_or_default();
    let mut firings = Ok(Vec::new());
    for (_, _, f) in per_thread {
        firings = match (firings, f) {
            (Ok(mut all), Ok(f)) => {
                all.extend(f);
                Ok(all)
            }
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
    }
    if let Ok(f) = &mut firings {
        facts.unmasked(f);
        f.sort_unstable();
    }
    Measure {
        threads,
        convert,
        best,
        runs,
        firings,
    }
}
