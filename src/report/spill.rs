//! Outcomes in report order without holding them all: a worker whose outcomes grow sorts them
//! and spills them as a run to a temporary file; the report merges the runs and what stayed in
//! memory, one outcome at a time. The runs are removed when the merge ends (or fails).

use std::cmp::Ordering;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::NaiveDate;

use crate::model::{sort_for_report, Outcome, SubjectOrder};

/// The sorted runs of one analysis, in a temporary folder of their own.
#[derive(Debug)]
pub struct Runs {
    order: SubjectOrder,
    dir: PathBuf,
    files: Mutex<Vec<PathBuf>>,
    next: AtomicUsize,
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
        let dir = std::env::temp_dir().join(format!("vigie-tri-{}-{n}", std::process::id()));
        Runs::in_dir(order, dir)
    }

    /// Runs kept in folder `dir`, created at the first spill and removed with the runs.
    pub fn in_dir(order: &SubjectOrder, dir: PathBuf) -> Runs {
        Runs {
            order: order.clone(),
            dir,
            files: Mutex::new(Vec::new()),
            next: AtomicUsize::new(0),
        }
    }

    /// Sorts `outcomes` and writes them as one run; gives them back, whole, when the run could
    /// not be written (a full disk): they then stay in memory and nothing is lost.
    pub fn spill(&self, mut outcomes: Vec<Outcome>) -> Result<(), (Vec<Outcome>, io::Error)> {
        sort_for_report(&mut outcomes, &self.order);
        let n = self.next.fetch_add(1, AtomicOrdering::Relaxed);
        let path = self.dir.join(format!("run-{n:05}.jsonl"));
        let written = std::fs::create_dir_all(&self.dir)
            .and_then(|()| File::create(&path))
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
                    .push(path);
                Ok(())
            }
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                Err((outcomes, e))
            }
        }
    }

    /// How many runs were spilled.
    pub fn count(&self) -> usize {
        self.files.lock().map_or(0, |f| f.len())
    }

    /// Every outcome of the runs and of `rest` (in report order), merged in report order; equal
    /// ones in the order they were spilled, `rest` last. The runs' folder goes when the last of
    /// `self` and the merge goes.
    pub fn merge(self: &Arc<Self>, rest: Vec<Outcome>) -> io::Result<Merged> {
        let files = std::mem::take(&mut *self.files.lock().unwrap_or_else(PoisonError::into_inner));
        let mut sources = Vec::with_capacity(files.len() + 1);
        for path in &files {
            sources.push(Source::Run(BufReader::new(File::open(path)?).lines()));
        }
        sources.push(Source::Memory(rest.into_iter()));
        let mut merged = Merged {
            heads: Vec::with_capacity(sources.len()),
            sources,
            runs: Arc::clone(self),
        };
        for i in 0..merged.sources.len() {
            let head = merged.pull(i)?;
            merged.heads.push(head);
        }
        Ok(merged)
    }
}

impl Drop for Runs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Where merged outcomes come from.
enum Source {
    Run(std::io::Lines<BufReader<File>>),
    Memory(std::vec::IntoIter<Outcome>),
}

/// The next outcome of a source, with its subject's key bytes.
type Head = Option<(Vec<u8>, Outcome)>;

/// The outcomes of every run, in report order (an iterator); the runs' files go with it.
pub struct Merged {
    sources: Vec<Source>,
    heads: Vec<Head>,
    runs: Arc<Runs>,
}

impl Merged {
    fn pull(&mut self, i: usize) -> io::Result<Head> {
        let next = match self.sources.get_mut(i) {
            Some(Source::Run(lines)) => match lines.next().transpose()? {
                Some(line) => {
                    let (date, mut outcome): Line = serde_json::from_str(&line)?;
                    outcome.date = date;
                    Some(outcome)
                }
                None => None,
            },
            Some(Source::Memory(rest)) => rest.next(),
            None => None,
        };
        Ok(next.map(|o| (self.runs.order.key_bytes(&o.subject), o)))
    }

    /// The source whose head comes first in report order (the earliest source on a tie).
    fn first(&self) -> Option<usize> {
        let mut best: Option<(usize, &(Vec<u8>, Outcome))> = None;
        for (i, head) in self.heads.iter().enumerate() {
            let Some(h) = head else { continue };
            let before = best.is_none_or(|(_, b)| {
                h.0.cmp(&b.0).then_with(|| h.1.same_subject_cmp(&b.1)) == Ordering::Less
            });
            if before {
                best = Some((i, h));
            }
        }
        best.map(|(i, _)| i)
    }
}

impl Iterator for Merged {
    type Item = io::Result<Outcome>;

    fn next(&mut self) -> Option<io::Result<Outcome>> {
        let i = self.first()?;
        let refill = match self.pull(i) {
            Ok(head) => head,
            Err(e) => {
                // A run that cannot be read back ends the merge with its error.
                self.heads.clear();
                return Some(Err(e));
            }
        };
        let taken = std::mem::replace(self.heads.get_mut(i)?, refill);
        taken.map(|(_, o)| Ok(o))
    }
}
