//! The one path every analysis takes — read → assemble → join → evaluate — for `vigie
//! analyze` and for rule cases (and, later, the store's reconcile).
//!
//! Every input is recognised first; the inputs a join holds (PJ index, NOEMIE returns, CAS)
//! are read and indexed, then the others are streamed in the order given: with several jobs,
//! reader threads decode files ahead, side by side, and one thread assembles and links them in
//! that order (duplicates are counted in input order); workers evaluate units in parallel,
//! each with its own engine; the held units and gathered facts come last. Bounded channels
//! keep memory flat, and outcomes may leave memory as they grow (`Options::spill`). An input
//! is a file, or records built by a rule case: both go through the same assembler and joins.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, PoisonError};

use chrono::NaiveDate;

use crate::facts::keys::KeySpace;
pub use crate::facts::read::Origin;
pub use crate::facts::read::Records;
use crate::facts::read::{assemble_records, decode_file, detect, FileAssembly, Step};
use crate::facts::stash::Stash;
use crate::facts::{read_file, Frozen, Joiner, KeyTracker};
use crate::model::{sort_for_report, ErrorCode, Grammar, GrammarSet, Outcome, Unit};
use crate::rules::bindings::Bindings;
use crate::rules::eval::{merge_failures, Failure};
use crate::rules::{Evaluator, RuleSet};

/// One input of an analysis.
#[derive(Debug)]
pub enum Input {
    /// A file (on disk, or kept by the store), recognised by its name or content (or
    /// `Options::forced`).
    File(Origin),
    /// Records built by a rule case.
    Records(Records),
}

/// How to run an analysis.
#[derive(Clone, Default)]
pub struct Options {
    /// Worker threads evaluating rules; 1 runs everything on the calling thread.
    pub jobs: usize,
    /// Date the analysis is made at [default: today].
    pub as_of: Option<NaiveDate>,
    /// Imposes a grammar on every file.
    pub forced: Option<Arc<Grammar>>,
    /// Decodes and assembles only, no rule (benchmarks).
    pub decode_only: bool,
    /// Evaluates only the rule of this code (rule cases).
    pub only: Option<String>,
    /// Runs every rule in Rhai's interpreter alone, none in compiled form (the reference:
    /// agreement tests, a doubt about the compiled form).
    pub interpreted: bool,
    /// Told the bytes read so far, as reading goes (a progress bar).
    pub progress: Option<Arc<dyn Fn(u64) + Send + Sync>>,
    /// Keeps the held units and gathered facts in [`Analysis::held`] (the CAS outputs read
    /// them after the analysis; the CAS files are small).
    pub keep_held: bool,
    /// Grammars whose streamed units are kept in [`Analysis::kept`] (the directory of PS that
    /// letters are addressed from).
    pub keep: Vec<String>,
    /// Takes outcomes out of memory as they grow (sorted runs on disk, merged by the report):
    /// [`Analysis::outcomes`] then holds only those not spilled.
    pub spill: Option<Spill>,
    /// Outcomes a worker holds before it spills them [default: 16 384, about 15 MB].
    pub spill_at: Option<usize>,
    /// A folder where the held side of the joins (PJ index, returns, the invoices they point
    /// to) is kept in a file of its own, removed from the folder at once; `None` keeps it in
    /// memory.
    pub stash_in: Option<std::path::PathBuf>,
}

/// Takes a worker's outcomes out of memory, or gives them back, whole, when it cannot (they
/// then stay in memory: nothing is lost).
pub type Spill = Arc<dyn Fn(Vec<Outcome>) -> Result<(), Vec<Outcome>> + Send + Sync>;

/// Outcomes a worker holds before it spills them, when the analysis spills (about 15 MB: an
/// outcome takes some 550 bytes and its texts; 1 M invoices make some 60 runs).
const SPILL_AT: usize = 16_384;

/// Spills `outcomes` once they are `at` or more; a spill that failed is not tried again by this
/// worker.
fn spill_if_many(spill: &mut Option<Spill>, at: usize, outcomes: &mut Vec<Outcome>) {
    if outcomes.len() < at.max(1) {
        return;
    }
    if let Some(to_disk) = spill {
        if let Err(back) = to_disk(std::mem::take(outcomes)) {
            *outcomes = back;
            *spill = None;
        }
    }
}

/// What an analysis found.
#[derive(Debug, Default)]
pub struct Analysis {
    /// Every outcome, in report order; with [`Options::spill`], those not spilled.
    pub outcomes: Vec<Outcome>,
    /// Inputs given.
    pub inputs: usize,
    /// Inputs of which at least one record could be decoded.
    pub readable_inputs: usize,
    /// Units evaluated (lots, files, index lines…).
    pub units: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Rules that failed, one entry per rule (also among `outcomes`).
    pub failures: Vec<Failure>,
    /// With [`Options::keep_held`]: the held units (PJ index, returns, CAS records), read back,
    /// and the gathered facts, in reading order.
    pub held: Vec<Unit>,
    /// The units of the grammars [`Options::keep`] names, in reading order.
    pub kept: Vec<Unit>,
    /// What the user should know that is no finding (the held side kept in memory because its
    /// folder could not be written).
    pub warnings: Vec<String>,
}

const BATCH: usize = 16;

/// Held units a worker reads back and evaluates at once: at most so many …
const HELD_RANGE: usize = 1024;
/// … and at most so many bytes of their stashed roots.
const HELD_RANGE_BYTES: u64 = 64 * 1024;

/// What a worker is given: units read and linked, or a range of the held units to read back.
enum Work<'g> {
    Units(Vec<Unit>),
    Held(Arc<Frozen<'g>>, std::ops::Range<usize>),
}

/// Reads every input and hands units to `send` in the order the joins need: the held inputs
/// first (kept, indexed), then the streamed ones (linked as they go by); the held units and
/// the gathered facts come after, from the joiner.
struct Feeder<'a> {
    grammars: &'a GrammarSet,
    opts: &'a Options,
    bytes: &'a AtomicU64,
    keys: KeyTracker,
    errors: Vec<Outcome>,
    readable: usize,
    units: u64,
    kept: Vec<Unit>,
}

impl Feeder<'_> {
    fn read(
        &mut self,
        input: Input,
        grammar: Arc<Grammar>,
        ahead: &mut Ahead,
        send: &mut dyn FnMut(Unit),
    ) {
        let mut units = 0u64;
        let mut count = |u: Unit| {
            units += 1;
            send(u);
        };
        let r = match input {
            Input::File(origin) => {
                let mut read = match ahead.next_file() {
                    None => read_file(&origin, grammar, &mut self.keys, self.bytes, &mut count),
                    Some(decoded) => {
                        let mut file = FileAssembly::new(grammar, origin.name(), &mut self.keys);
                        for step in decoded {
                            file.take(step, &mut count);
                        }
                        file.finish(&mut count)
                    }
                };
                if ahead.lost {
                    read.errors.push(lost_reader());
                }
                read
            }
            Input::Records(r) => assemble_records(r, &mut self.keys, &mut count),
        };
        self.units += units;
        self.readable += usize::from(r.readable);
        self.errors.extend(r.errors);
        if let Some(p) = &self.opts.progress {
            p(self.bytes.load(Ordering::Relaxed));
        }
    }

    fn grammar_of(&self, input: &Input) -> Result<Arc<Grammar>, Box<Outcome>> {
        match input {
            Input::File(path) => detect(path, self.grammars, self.opts.forced.as_ref()),
            Input::Records(r) => Ok(Arc::clone(&r.grammar)),
        }
    }

    /// Reads `inputs` in the order the joins need, linking streamed units with `joiner` before
    /// they are sent (each keeps the held nodes its links point to).
    fn feed(&mut self, inputs: Vec<Input>, joiner: &mut Joiner, send: &mut dyn FnMut(Unit)) {
        let mut held = Vec::new();
        let mut streamed = Vec::new();
        for input in inputs {
            match self.grammar_of(&input) {
                Ok(g) if joiner.holds(&g.name) => held.push((input, g)),
                Ok(g) => streamed.push((input, g)),
                Err(e) => self.errors.push(*e),
            }
        }
        let held_count = held.len();
        let order: Vec<(Input, Arc<Grammar>)> = held.into_iter().chain(streamed).collect();
        let files: Vec<(Origin, Arc<Grammar>)> = order
            .iter()
            .filter_map(|(input, g)| match input {
                Input::File(origin) => Some((origin.clone(), Arc::clone(g))),
                Input::Records(_) => None,
            })
            .collect();
        let lanes = self.opts.jobs.min(MAX_READERS).min(files.len());
        if lanes < 2 {
            return self.feed_in_order(order, held_count, &mut Ahead::none(), joiner, send);
        }
        let bytes = self.bytes;
        std::thread::scope(|scope| {
            // The receivers live in this scope: should the assembly panic, unwinding drops
            // them; the readers, their sends refused, read their current file to its end
            // without keeping it, and stop.
            let mut ahead = Ahead::none();
            let mut readers = Vec::with_capacity(lanes);
            for lane in 0..lanes {
                let (tx, rx) = sync_channel::<Decoded>(AHEAD);
                ahead.lanes.push(rx);
                let files = &files;
                readers.push(scope.spawn(move || decode_ahead(files, (lane, lanes), bytes, &tx)));
            }
            self.feed_in_order(order, held_count, &mut ahead, joiner, send);
            drop(ahead);
            // A reader that panicked has been told as its file's error (`lost_reader`): joined
            // here, its panic does not end the analysis.
            for r in readers {
                let _ = r.join();
            }
        });
    }

    /// Reads `order` (the held inputs, then the streamed ones) in that order: held units are
    /// kept and indexed, streamed ones linked as they go by (the held units are evaluated
    /// after, from [`Joiner::freeze`]).
    fn feed_in_order(
        &mut self,
        order: Vec<(Input, Arc<Grammar>)>,
        held_count: usize,
        ahead: &mut Ahead,
        joiner: &mut Joiner,
        send: &mut dyn FnMut(Unit),
    ) {
        let mut order = order.into_iter();
        let mut held = Vec::new();
        for (input, g) in order.by_ref().take(held_count) {
            held.push(Arc::clone(&g));
            self.read(input, g, ahead, &mut |u| joiner.hold(u));
        }
        // No file of a held grammar comes after them: their duplicate keys (PJ-DBL's
        // fingerprints, one a PJ line) are done with.
        for g in &held {
            for group in &g.groups {
                self.keys.forget(KeySpace::Group(group.id));
            }
        }
        joiner.seal();
        for (input, g) in order {
            let keep = self.opts.keep.contains(&g.name);
            let mut kept = Vec::new();
            self.read(input, g, ahead, &mut |mut u| {
                joiner.link(&mut u);
                if keep {
                    kept.push(u.clone());
                }
                send(u);
            });
            self.kept.append(&mut kept);
        }
        self.errors.extend(joiner.take_errors());
        // Every file is read: the duplicate keys (one or two a node, FAC-DBL and PJ-DBL) are
        // done with, before the held units are read back.
        self.keys = KeyTracker::default();
    }
}

/// Files decoded at most at once, ahead of their assembly.
const MAX_READERS: usize = 4;

/// Batches of decoded lines a reader may hand on ahead of the assembly.
const AHEAD: usize = 8;

/// Decoded lines per batch.
const STEPS: usize = 256;

/// What a reader thread hands on, file after file: a file's steps in batches, then its end.
enum Decoded {
    Steps(Vec<Step>),
    End,
}

/// Decodes every `lanes`-th file of `files` from the `lane`-th, and hands each on in order.
fn decode_ahead(
    files: &[(Origin, Arc<Grammar>)],
    (lane, lanes): (usize, usize),
    bytes: &AtomicU64,
    tx: &SyncSender<Decoded>,
) {
    for (origin, grammar) in files.iter().skip(lane).step_by(lanes) {
        let mut batch = Vec::with_capacity(STEPS);
        let mut gone = false;
        decode_file(origin, grammar, bytes, &mut |step| {
            // The assembly has stopped: the rest of the file is read and dropped.
            if gone {
                return;
            }
            batch.push(step);
            if batch.len() == STEPS {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(STEPS));
                gone = tx.send(Decoded::Steps(full)).is_err();
            }
        });
        // The assembly has stopped: nothing more to hand on, no file more to read.
        if gone || tx.send(Decoded::Steps(batch)).is_err() || tx.send(Decoded::End).is_err() {
            return;
        }
    }
}

/// Where the file inputs' decoded lines come from: decoded on the spot (`lanes` empty), or
/// ahead by reader threads, the `i`-th file by lane `i % lanes`.
struct Ahead {
    lanes: Vec<Receiver<Decoded>>,
    files: usize,
    /// The lane of the file read last stopped before its end.
    lost: bool,
}

impl Ahead {
    fn none() -> Ahead {
        Ahead {
            lanes: Vec::new(),
            files: 0,
            lost: false,
        }
    }

    /// The steps of the next file input, decoded ahead; `None` when files are decoded on the
    /// spot. A reader that stopped short ends its file there and sets `lost`.
    fn next_file(&mut self) -> Option<impl Iterator<Item = Step> + '_> {
        let lane = self.lanes.get(self.files % self.lanes.len().max(1))?;
        self.files += 1;
        self.lost = false;
        let lost = &mut self.lost;
        let mut ended = false;
        Some(
            std::iter::from_fn(move || {
                if ended {
                    return None;
                }
                match lane.recv() {
                    Ok(Decoded::Steps(steps)) => Some(steps),
                    Ok(Decoded::End) => {
                        ended = true;
                        None
                    }
                    Err(_) => {
                        ended = true;
                        *lost = true;
                        None
                    }
                }
            })
            .flatten(),
        )
    }
}

impl Analysis {
    /// Adds errors found before reading (an unreadable folder, a special file), in report
    /// order.
    pub fn add_errors(&mut self, errors: Vec<Outcome>, order: &crate::model::SubjectOrder) {
        if errors.is_empty() {
            return;
        }
        self.inputs += errors.len();
        self.outcomes.extend(errors);
        sort_for_report(&mut self.outcomes, order);
    }
}

impl<'a> Feeder<'a> {
    fn new(grammars: &'a GrammarSet, opts: &'a Options, bytes: &'a AtomicU64) -> Self {
        Feeder {
            grammars,
            opts,
            bytes,
            keys: KeyTracker::default(),
            errors: Vec::new(),
            readable: 0,
            units: 0,
            kept: Vec::new(),
        }
    }
}

/// Reads `inputs` as an analysis does (recognition, decoding, assembly) and hands every unit to
/// `tap` as it is read, joining nothing and evaluating no rule: the store's ingest. The
/// analysis holds the input errors.
pub fn read(
    inputs: Vec<Input>,
    grammars: &GrammarSet,
    opts: &Options,
    tap: &mut dyn FnMut(&Unit),
) -> Analysis {
    let bytes = AtomicU64::new(0);
    let inputs_given = inputs.len();
    let mut joiner = Joiner::none(grammars);
    let mut feeder = Feeder::new(grammars, opts, &bytes);
    feeder.feed(inputs, &mut joiner, &mut |u: Unit| tap(&u));
    let mut outcomes = std::mem::take(&mut feeder.errors);
    sort_for_report(&mut outcomes, &grammars.subjects);
    Analysis {
        outcomes,
        inputs: inputs_given,
        readable_inputs: feeder.readable,
        units: feeder.units,
        bytes: bytes.load(Ordering::Relaxed),
        ..Analysis::default()
    }
}

/// Runs the analysis of `inputs` (in that order) with `sets`.
pub fn run(
    inputs: Vec<Input>,
    grammars: &GrammarSet,
    bindings: &Arc<Bindings>,
    sets: &[Arc<RuleSet>],
    opts: &Options,
) -> Analysis {
    let bytes = AtomicU64::new(0);
    let mut analysis = Analysis {
        inputs: inputs.len(),
        ..Analysis::default()
    };
    let mut joiner = joiner(grammars, opts, &mut analysis.warnings);
    let mut feeder = Feeder::new(grammars, opts, &bytes);
    let as_of = opts
        .as_of
        .unwrap_or_else(|| chrono::Local::now().date_naive());
    let spill_at = opts.spill_at.unwrap_or(SPILL_AT);
    let evaluator = || {
        (!opts.decode_only).then(|| {
            let mut ev = Evaluator::new(grammars, bindings, sets, as_of);
            if opts.interpreted {
                ev = ev.interpreted();
            }
            match &opts.only {
                Some(code) => ev.only(code),
                None => ev,
            }
        })
    };
    let frozen = if opts.jobs <= 1 {
        let mut ev = evaluator();
        let mut outcomes = Vec::new();
        let mut spill = opts.spill.clone();
        let mut evaluate = |unit: &Unit, outcomes: &mut Vec<Outcome>| {
            if let Some(ev) = ev.as_mut() {
                ev.evaluate(unit, outcomes);
                spill_if_many(&mut spill, spill_at, outcomes);
            }
        };
        feeder.feed(inputs, &mut joiner, &mut |unit: Unit| {
            evaluate(&unit, &mut outcomes);
        });
        let frozen = joiner.freeze();
        frozen.units(0..frozen.count(), &mut |unit| match unit {
            Ok(unit) => evaluate(&unit, &mut outcomes),
            Err(e) => outcomes.push(e),
        });
        analysis.failures = ev.map(|e| e.failures()).unwrap_or_default();
        analysis.outcomes = outcomes;
        Arc::new(frozen)
    } else {
        let (tx, rx) = sync_channel::<Work>(opts.jobs * 4);
        let rx = Arc::new(std::sync::Mutex::new(rx));
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..opts.jobs)
                .map(|_| {
                    let rx = Arc::clone(&rx);
                    s.spawn(move || {
                        let mut ev = evaluator();
                        let mut outcomes = Vec::new();
                        let mut spill = opts.spill.clone();
                        loop {
                            // A poisoned lock only means another worker died holding it: the
                            // receiver itself is sound.
                            let next = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
                            let Ok(work) = next else { break };
                            match work {
                                Work::Units(batch) => {
                                    if let Some(ev) = ev.as_mut() {
                                        for unit in &batch {
                                            ev.evaluate(unit, &mut outcomes);
                                        }
                                    }
                                }
                                Work::Held(frozen, range) => {
                                    frozen.units(range, &mut |unit| match (unit, ev.as_mut()) {
                                        (Ok(unit), Some(ev)) => ev.evaluate(&unit, &mut outcomes),
                                        (Ok(_), None) => {}
                                        (Err(e), _) => outcomes.push(e),
                                    });
                                }
                            }
                            spill_if_many(&mut spill, spill_at, &mut outcomes);
                        }
                        (outcomes, ev.map(|e| e.failures()).unwrap_or_default())
                    })
                })
                .collect();
            let mut batch = Vec::with_capacity(BATCH);
            feeder.feed(inputs, &mut joiner, &mut |unit: Unit| {
                batch.push(unit);
                if batch.len() == BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    let _ = tx.send(Work::Units(full));
                }
            });
            if !batch.is_empty() {
                let _ = tx.send(Work::Units(batch));
            }
            // The held units, read back range by range by the workers.
            let frozen = Arc::new(joiner.freeze());
            for range in frozen.ranges(HELD_RANGE, HELD_RANGE_BYTES) {
                let _ = tx.send(Work::Held(Arc::clone(&frozen), range));
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
            analysis.failures = merge_failures(failures, &grammars.subjects);
            frozen
        })
    };
    if opts.keep_held {
        frozen.in_reading_order(&mut |u| analysis.held.extend(u.ok()));
    }
    if let Some(why) = frozen.disk_failure() {
        analysis.warnings.push(format!(
            "les données de jointure n'ont pu être écrites sur disque ({why}) : la suite est gardée en mémoire"
        ));
    }
    analysis.kept = std::mem::take(&mut feeder.kept);
    analysis.units = feeder.units;
    analysis.readable_inputs = feeder.readable;
    analysis.bytes = bytes.load(Ordering::Relaxed);
    analysis.outcomes.extend(feeder.errors);
    analysis
        .outcomes
        .extend(analysis.failures.iter().map(Failure::to_outcome));
    sort_for_report(&mut analysis.outcomes, &grammars.subjects);
    analysis
}

/// The joiner of an analysis: its held side in a file of `opts.stash_in`, or in memory when
/// there is none or it cannot be made (told in `warnings`).
fn joiner<'g>(grammars: &'g GrammarSet, opts: &Options, warnings: &mut Vec<String>) -> Joiner<'g> {
    let Some(dir) = &opts.stash_in else {
        return Joiner::new(grammars);
    };
    match Stash::in_dir(dir) {
        Ok(stash) => Joiner::stashing(grammars, stash),
        Err(e) => {
            warnings.push(format!(
                "les données de jointure ne peuvent être mises de côté dans {} ({e}) : elles sont gardées en mémoire",
                dir.display()
            ));
            Joiner::new(grammars)
        }
    }
}

/// The files of `paths` as inputs.
pub fn files(paths: &[impl AsRef<Path>]) -> Vec<Input> {
    paths
        .iter()
        .map(|p| Input::File(Origin::Path(p.as_ref().to_path_buf())))
        .collect()
}

/// An error of vigie itself (`INTERNAL`), told with `what` happened.
fn internal(what: &str) -> Outcome {
    Outcome::error(
        ErrorCode::Internal,
        &Arc::from("vigie"),
        None,
        None,
        None,
        format!("erreur interne de vigie : {what} (à signaler)"),
    )
}

/// The error of a file whose reader thread stopped before its end (its lines after are lost).
fn lost_reader() -> Outcome {
    internal("la lecture d'un fichier s'est arrêtée avant sa fin")
}

/// The outcome saying that a worker thread died and its outcomes were lost.
fn lost_worker() -> Outcome {
    internal("un fil d'évaluation s'est arrêté, ses résultats sont perdus")
}
