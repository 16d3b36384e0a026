//! `vigie analyze`: decode files, run the rule sets, write the report.

use std::borrow::Borrow;
use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::out::to_stdout;
use super::{Folders, EXIT_CANNOT_RUN, EXIT_FOUND, EXIT_USAGE};
use vigie::model::{Kind, Outcome, Severity, SubjectOrder};
use vigie::report::spill::{Merged, Runs};
use vigie::report::{self, Format};
use vigie::{Input, Options, Spill};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  vigie analyze examples/\n  vigie analyze --as-of 2026-11-20 --format jsonl lots/*.b2 pieces.scor.csv\n  vigie analyze --fail-on rejet --format csv --output rapport.csv depot/\n\nTemporary files: the outcomes memory does not keep (sorted runs) and the joined side (PJ\nindex, NOEMIE returns, the invoices they point to) wait in the system's temporary folder\n(TMPDIR), readable by you alone, and are removed when the analysis ends."
)]
pub struct Args {
    /// Files or folders to analyse, in any mix of formats (folders are walked, sorted by name).
    /// The PJ index, NOEMIE returns and CAS files are read first and joined; B2 lots are read in
    /// the order given, which is the order FAC-DBL counts repeats in.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    folders: Folders,
    /// Imposes a grammar (by its `format` name) on every file instead of recognising it.
    #[arg(long, value_name = "NAME")]
    grammar: Option<String>,
    /// Date the analysis is made at (AAAA-MM-JJ) [default: today].
    #[arg(long, value_name = "AAAA-MM-JJ", value_parser = parse_date)]
    as_of: Option<NaiveDate>,
    #[command(flatten)]
    report: ReportArgs,
    /// Worker threads evaluating rules [default: number of cores].
    #[arg(long, short, value_name = "N")]
    jobs: Option<usize>,
    /// No progress bar, no summary on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// Runs every rule in Rhai's interpreter, the reference, instead of its compiled form
    /// (slower; the outcomes are the same — for a doubt, or to compare).
    #[arg(long)]
    interpreted: bool,
}

/// How a report is written, shared by the commands that write one.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Report format: table, jsonl, json or csv.
    #[arg(long, value_name = "FORMAT", default_value = "table", value_parser = parse_format)]
    pub format: Format,
    /// Writes the report to FILE instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exits with 3 when an outcome of this severity or worse is found.
    #[arg(long, value_name = "SEVERITY", value_parser = parse_severity)]
    pub fail_on: Option<Severity>,
}

impl ReportArgs {
    /// Writes `outcomes` (in report order) where `--output` says, in `--format`.
    pub fn write(&self, outcomes: &[Outcome], order: &SubjectOrder) -> Result<(), ExitCode> {
        self.write_each(outcomes.iter().map(Ok), order)
    }

    /// Writes outcomes as they come, in report order (the merged runs of an analysis).
    pub fn write_each<O: Borrow<Outcome>>(
        &self,
        outcomes: impl Iterator<Item = io::Result<O>>,
        order: &SubjectOrder,
    ) -> Result<(), ExitCode> {
        let format = self.format;
        match &self.output {
            Some(path) => {
                report::write_atomically(path, |w| report::write_each(format, outcomes, order, w))
                    .map_err(|e| {
                        say!(
                            "vigie: {} : écriture du rapport impossible : {e}",
                            path.display()
                        );
                        ExitCode::from(EXIT_CANNOT_RUN)
                    })
            }
            None => to_stdout(|w| report::write_each(format, outcomes, order, w)),
        }
    }

    /// The exit code for `outcomes`: `--fail-on` met or not.
    pub fn exit(&self, outcomes: &[Outcome]) -> ExitCode {
        self.exit_on(&Tally::of(outcomes))
    }

    /// The exit code for outcomes counted by `tally`: `--fail-on` met or not.
    pub fn exit_on(&self, tally: &Tally) -> ExitCode {
        match (self.fail_on, tally.worst) {
            (Some(t), Some(worst)) if worst <= t => ExitCode::from(EXIT_FOUND),
            _ => ExitCode::SUCCESS,
        }
    }
}

/// Outcomes counted as the report is written: by kind, and the most serious severity.
#[derive(Debug, Default)]
pub struct Tally {
    anomalies: usize,
    guidance: usize,
    conflicts: usize,
    errors: usize,
    worst: Option<Severity>,
}

impl Tally {
    pub fn of(outcomes: &[Outcome]) -> Tally {
        let mut t = Tally::default();
        outcomes.iter().for_each(|o| t.add(o));
        t
    }

    pub fn add(&mut self, o: &Outcome) {
        match o.kind {
            Kind::Anomaly => self.anomalies += 1,
            Kind::Guidance => self.guidance += 1,
            Kind::Conflict => self.conflicts += 1,
            Kind::Error => self.errors += 1,
        }
        self.worst = Some(self.worst.map_or(o.severity, |w| w.min(o.severity)));
    }

    /// Tells the counts on the error output.
    pub fn say(&self, inputs: usize) {
        say!(
            "vigie: {} fichier(s), {} anomalie(s), {} consigne(s), {} conflit(s), {} erreur(s) de lecture ou de règle",
            inputs,
            self.anomalies,
            self.guidance,
            self.conflicts,
            self.errors,
        );
    }
}

pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("« {s} » n'est pas une date AAAA-MM-JJ"))
}

fn parse_format(s: &str) -> Result<Format, String> {
    Format::ALL
        .iter()
        .find(|(name, _)| *name == s)
        .map(|(_, f)| *f)
        .ok_or_else(|| format!("« {s} » : format table, jsonl, json ou csv"))
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    match s {
        "rejet" => Ok(Severity::Rejet),
        "signalement" => Ok(Severity::Signalement),
        "info" => Ok(Severity::Info),
        _ => Err(format!("« {s} » : gravité rejet, signalement ou info")),
    }
}

/// Evaluation threads per core at most: more only costs memory.
const MAX_JOBS_PER_CORE: usize = 4;

/// A progress bar on stderr, only when it is a terminal.
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

pub fn run(a: Args) -> ExitCode {
    let fail = |code: u8, msg: String| {
        say!("vigie: {msg}");
        ExitCode::from(code)
    };
    let loaded = match a.folders.load(a.quiet) {
        Ok(l) => l,
        Err(m) => return fail(EXIT_CANNOT_RUN, m),
    };
    let setup = &loaded.setup;
    let grammars = &setup.grammars;
    let forced = match &a.grammar {
        Some(name) => match grammars.get(name).filter(|g| !g.synthetic) {
            Some(g) => Some(Arc::clone(g)),
            None => {
                let known: Vec<&str> = grammars.readable().map(|g| g.name.as_str()).collect();
                return fail(
                    EXIT_USAGE,
                    format!(
                        "--grammar {name} : grammaire inconnue (connues : {})",
                        known.join(", ")
                    ),
                );
            }
        },
        None => None,
    };
    let walk = match super::walk(&a.paths, a.quiet) {
        Ok(w) => w,
        Err(code) => return code,
    };
    let files = walk.files;
    let total: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let bar = progress_bar(!a.quiet, total);
    let shown = bar.clone();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let most = cores.saturating_mul(MAX_JOBS_PER_CORE);
    if a.jobs.is_some_and(|j| j > most) && !a.quiet {
        say!("vigie: --jobs ramené à {most} ({MAX_JOBS_PER_CORE} par cœur)");
    }
    // Outcomes beyond what a worker holds go to sorted runs on disk, merged as the report is
    // written: memory does not grow with the outcomes.
    let runs = Arc::new(Runs::new(&grammars.subjects));
    let spill: Spill = Arc::new(runs.spiller());
    let opts = Options {
        jobs: a.jobs.unwrap_or(cores).clamp(1, most),
        as_of: a.as_of,
        forced,
        interpreted: a.interpreted,
        progress: Some(Arc::new(move |bytes| shown.set_position(bytes))),
        spill: Some(spill),
        // The PJ index, the returns and the invoices they point to wait in a file of their own
        // rather than in memory.
        stash_in: Some(std::env::temp_dir()),
        ..Options::default()
    };
    let inputs: Vec<Input> = vigie::files(&files);
    let mut analysis = setup.analyze(inputs, &opts);
    drop(opts);
    analysis.add_errors(walk.errors, &grammars.subjects);
    bar.finish_and_clear();
    for w in &analysis.warnings {
        say!("vigie: {w}");
    }
    if let Some(e) = runs.take_failure() {
        say!("vigie: tri sur disque impossible ({e}) : les résultats restent en mémoire, le rapport est entier");
    }
    let rest = std::mem::take(&mut analysis.outcomes);
    let merged = match runs.merge(rest).map(Merged::read_ahead) {
        Ok(m) => m,
        Err(e) => {
            return fail(
                EXIT_CANNOT_RUN,
                format!("relecture des résultats triés sur disque impossible : {e}"),
            )
        }
    };
    let mut tally = Tally::default();
    let mut counted = merged.inspect(|o| {
        if let Ok(o) = o {
            tally.add(o);
        }
    });
    if let Err(code) = a.report.write_each(counted.by_ref(), &grammars.subjects) {
        return code;
    }
    // A reader that closed the pipe stopped the report: what it did not take still counts
    // for the totals and for --fail-on.
    counted.for_each(drop);
    if !a.quiet {
        tally.say(analysis.inputs);
    }
    if analysis.readable_inputs == 0 {
        return fail(EXIT_CANNOT_RUN, "aucune entrée lisible".into());
    }
    a.report.exit_on(&tally)
}
