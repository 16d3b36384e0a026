//! Outcomes in report order without holding them all: a worker whose outcomes grow sorts them
//! and spills them as a run to a temporary file; the report merges the runs and what stayed in
//! memory, one outcome at a time. The runs are removed when the merge ends (or fails).

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use chrono::NaiveDate;

use crate::model::{sort_for_report, Outcome, SubjectOrder};

/// The sorted runs of one analysis, in a temporary folder of their own.
#[derive(Debug)]
pub struct Runs {
    order: SubjectOrder,
    dir: PathBuf,
    /// Whether `dir` was made (by the first spill).
    made: Mutex<bool>,
    /// Each run written, with how many outcomes it holds.
    files: Mutex<Vec<(PathBuf, usize)>>,
    next: AtomicUsize,
    /// Why the first spill that failed did.
    failed: Mutex<Option<io::Error>>,
}

/// One line of a run: the outcome and its date (which the report does not show, so that its
/// serialisation leaves it out).
type Line = (Option<NaiveDate>, Outcome);

impl Runs {
    /// Runs ordered as `order` says, kept in a new folder under the system's temporary folder
    /// (`TMPDIR`), created at the first spill.
    pub fn new(order: &SubjectOrder) -> Runs {
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        let n = RUNS.fetch_add(1, AtomicOrdering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("vigie-tri-{}-{n}-{nanos}", std::process::id());
        Runs::in_dir(order, std::env::temp_dir().join(name))
    }

    /// Runs kept in folder `dir`, made at the first spill and removed with the runs. The folder
    /// must not exist: it is made for this analysis alone, readable by its user alone (the
    /// runs hold what the report holds).
    pub fn in_dir(order: &SubjectOrder, dir: PathBuf) -> Runs {
        Runs {
            order: order.clone(),
            dir,
            made: Mutex::new(false),
            files: Mutex::new(Vec::new()),
            next: AtomicUsize::new(0),
            failed: Mutex::new(None),
        }
    }

    /// [`Runs::spill`] as an analysis takes it (`Options::spill`): the outcomes given back
    /// when they could not be written, the first failure kept for [`Runs::take_failure`].
    pub fn spiller(
        self: &Arc<Self>,
    ) -> impl Fn(Vec<Outcome>) -> Result<(), Vec<Outcome>> + Send + Sync + 'static {
        let runs = Arc::clone(self);
        move |outcomes| runs.spill(outcomes).map_err(|(back, _)| back)
    }

    /// Why the first spill that failed did, if one did (the outcomes then stayed in memory).
    pub fn take_failure(&self) -> Option<io::Error> {
        self.failed.lock().ok().and_then(|mut f| f.take())
    }

    /// Makes the runs' folder, once; an existing one is refused (another's, or a trap).
    fn make_dir(&self) -> io::Result<()> {
        let mut made = self.made.lock().unwrap_or_else(PoisonError::into_inner);
        if !*made {
            let mut builder = std::fs::DirBuilder::new();
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(&self.dir)?;
            *made = true;
        }
        Ok(())
    }

    /// Sorts `outcomes` and writes them as one run; gives them back, whole, when the run could
    /// not be written (a full disk): they then stay in memory and nothing is lost.
    pub fn spill(&self, mut outcomes: Vec<Outcome>) -> Result<(), (Vec<Outcome>, io::Error)> {
        sort_for_report(&mut outcomes, &self.order);
        let n = self.next.fetch_add(1, AtomicOrdering::Relaxed);
        let path = self.dir.join(format!("run-{n:05}.jsonl"));
        let written = self
            .make_dir()
            .and_then(|()| File::create_new(&path))
            .and_then(|f| {
                let mut w = BufWriter::new(f);
                for o in &outcomes {
                    serde_json::to_writer(&mut w, &(o.date, o))?;
                    w.write_all(b"\n")?;
                }
                w.flush()
            });
        match written {
            Ok(()) => {
                self.files
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((path, outcomes.len()));
                Ok(())
            }
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                let mut failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
                if failed.is_none() {
                    *failed = Some(io::Error::new(e.kind(), e.to_string()));
                }
                Err((outcomes, e))
            }
        }
    }

    /// How many runs were spilled (and not merged yet).
    pub fn count(&self) -> usize {
        self.files.lock().map_or(0, |f| f.len())
    }

    /// Every outcome of the runs and of `rest` (in report order), merged in report order; equal
    /// ones in the order they were spilled, `rest` last. The runs' folder goes when the last of
    /// `self` and the merge goes.
    pub fn merge(self: &Arc<Self>, rest: Vec<Outcome>) -> io::Result<Merged> {
        let files = std::mem::take(&mut *self.files.lock().unwrap_or_else(PoisonError::into_inner));
        let mut sources = Vec::with_capacity(files.len() + 1);
        for (path, count) in files {
            let lines = BufReader::new(File::open(&path)?).lines();
            sources.push(Source::Run { lines, left: count });
        }
        sources.push(Source::Memory(rest.into_iter()));
        let mut merged = Merged {
            heads: BinaryHeap::with_capacity(sources.len()),
            sources,
            runs: Arc::clone(self),
            failed: None,
        };
        for i in 0..merged.sources.len() {
            merged.pull(i)?;
        }
        Ok(merged)
    }
}

impl Drop for Runs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Where merged outcomes come from: a run (with how many outcomes it has still to give), or
/// what stayed in memory.
enum Source {
    Run {
        lines: std::io::Lines<BufReader<File>>,
        left: usize,
    },
    Memory(std::vec::IntoIter<Outcome>),
}

/// A run that does not give back what was written to it (its message quotes no value).
fn damaged_run(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("un fichier de tri temporaire est {what} : le rapport serait incomplet"),
    )
}

/// The next outcome of a source, with its subject's key bytes and the source's number (the
/// earlier source first on a tie).
struct Head {
    key: Vec<u8>,
    outcome: Outcome,
    source: usize,
}

impl Ord for Head {
    /// Reversed, so that `BinaryHeap`, a max-heap, gives the first in report order.
    fn cmp(&self, other: &Head) -> Ordering {
        other
            .key
            .cmp(&self.key)
            .then_with(|| other.outcome.same_subject_cmp(&self.outcome))
            .then_with(|| other.source.cmp(&self.source))
    }
}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Head) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Head) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Head {}

/// The outcomes of every run, in report order (an iterator); the runs' files go with it.
pub struct Merged {
    sources: Vec<Source>,
    /// The next outcome of each source that has one.
    heads: BinaryHeap<Head>,
    runs: Arc<Runs>,
    /// The error of a run, told after the outcome taken before it.
    failed: Option<io::Error>,
}

impl Merged {
    /// Puts the next outcome of source `i`, if it has one, among the heads.
    fn pull(&mut self, i: usize) -> io::Result<()> {
        let next = match self.sources.get_mut(i) {
            Some(Source::Run { lines, left }) => match (lines.next().transpose()?, *left) {
                (None, 0) => None,
                (None, _) => return Err(damaged_run("tronqué")),
                (Some(_), 0) => return Err(damaged_run("plus long qu'écrit")),
                (Some(line), _) => {
                    *left = left.saturating_sub(1);
                    let (date, mut outcome): Line =
                        serde_json::from_str(&line).map_err(|_| damaged_run("illisible"))?;
                    outcome.date = date;
                    Some(outcome)
                }
            },
            Some(Source::Memory(rest)) => rest.next(),
            None => None,
        };
        if let Some(outcome) = next {
            self.heads.push(Head {
                key: self.runs.order.key_bytes(&outcome.subject),
                outcome,
                source: i,
            });
        }
        Ok(())
    }

    /// The same outcomes, merged on a thread of their own a few batches ahead of whoever takes
    /// them: reading the runs back and writing the report then take a core each. When no
    /// thread can be started, they are merged as they are taken.
    pub fn read_ahead(self) -> Ahead {
        // The merge is handed over once the thread runs: a thread that cannot start gives
        // nothing back, and the merge must not be lost with it.
        let (hand, handed) = sync_channel::<Merged>(1);
        let (send, batches) = sync_channel(AHEAD_BATCHES);
        let spawned = std::thread::Builder::new()
            .name("vigie-fusion".into())
            .spawn(move || {
                let Ok(mut merged) = handed.recv() else {
                    return;
                };
                loop {
                    let batch: Vec<_> = merged.by_ref().take(AHEAD_BATCH).collect();
                    if batch.is_empty() || send.send(batch).is_err() {
                        break;
                    }
                }
            });
        let inline = |merged| Ahead {
            inline: Some(merged),
            batches: None,
            batch: Vec::new().into_iter(),
            thread: None,
        };
        let Ok(thread) = spawned else {
            return inline(self);
        };
        if let Err(back) = hand.send(self) {
            return inline(back.0);
        }
        Ahead {
            inline: None,
            batches: Some(batches),
            batch: Vec::new().into_iter(),
            thread: Some(thread),
        }
    }
}

/// Outcomes merged per batch …
const AHEAD_BATCH: usize = 512;
/// … and batches merged ahead of the one taken.
const AHEAD_BATCHES: usize = 4;

/// The merged outcomes, read ahead on a thread of their own ([`Merged::read_ahead`]).
pub struct Ahead {
    /// The merge, when it could not be handed to a thread.
    inline: Option<Merged>,
    batches: Option<Receiver<Vec<io::Result<Outcome>>>>,
    batch: std::vec::IntoIter<io::Result<Outcome>>,
    thread: Option<JoinHandle<()>>,
}

impl Iterator for Ahead {
    type Item = io::Result<Outcome>;

    fn next(&mut self) -> Option<io::Result<Outcome>> {
        if let Some(merged) = self.inline.as_mut() {
            return merged.next();
        }
        loop {
            if let Some(next) = self.batch.next() {
                return Some(next);
            }
            match self.batches.as_ref()?.recv() {
                Ok(batch) => self.batch = batch.into_iter(),
                // The merge ended: told, if its thread died rather than finished.
                Err(_) => {
                    self.batches = None;
                    let died = self.thread.take().is_some_and(|t| t.join().is_err());
                    return died.then(|| Err(damaged_run("illisible (fusion interrompue)")));
                }
            }
        }
    }
}

impl Drop for Ahead {
    /// Stops the merging thread (its next batch finds no taker) and waits for it: the merge,
    /// and with it its hold on the runs, ends with this.
    fn drop(&mut self) {
        self.batches = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Iterator for Merged {
    type Item = io::Result<Outcome>;

    fn next(&mut self) -> Option<io::Result<Outcome>> {
        // A run that could not be read back ends the merge with its error.
        if let Some(e) = self.failed.take() {
            self.heads.clear();
            return Some(Err(e));
        }
        let Head {
            outcome, source, ..
        } = self.heads.pop()?;
        if let Err(e) = self.pull(source) {
            self.failed = Some(e);
        }
        Some(Ok(outcome))
    }
}
