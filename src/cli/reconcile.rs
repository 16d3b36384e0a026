//! `vigie reconcile`: run the rule sets over what the store holds on a day, report like
//! `vigie analyze`, and keep what appeared, was resolved or changed.

use std::process::ExitCode;

use chrono::NaiveDate;

use super::analyze::{parse_date, ReportArgs, Tally};
use super::store::{exit_of, StoreArgs};
use super::{Folders, EXIT_CANNOT_RUN};
use vigie::{Options, Role};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "The files received on or before the day are read again, in the order \
they were ingested, with today's grammars and rule sets: a PJ received weeks after its invoice \
satisfies it, PJ-MANQ fires only once the wait is over, a NOEMIE return finds its invoice of an \
earlier day, FAC-DBL sees every invoice kept. The report is the one vigie analyze would give on \
the same files at the same date (same formats, order and exit codes). The store keeps each \
outcome with the rule set version that decided it, the day it appeared and the day it was \
resolved; the summary on stderr says what changed since the last reconcile.

Examples:
  VIGIE_AGENT=a.martin vigie reconcile --as-of 2026-12-01
  vigie reconcile --as-of 2026-12-01 --format csv --output rapprochement.csv"
)]
pub struct Args {
    /// The day of the reconcile (AAAA-MM-JJ) [default: today].
    #[arg(long, value_name = "AAAA-MM-JJ", value_parser = parse_date)]
    as_of: Option<NaiveDate>,
    #[command(flatten)]
    report: ReportArgs,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    folders: Folders,
    /// Worker threads evaluating rules [default: number of cores].
    #[arg(long, short, value_name = "N")]
    jobs: Option<usize>,
    /// No summary on stderr.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(a: Args) -> ExitCode {
    let (mut store, agent) = match a.store.open_as("reconcile", Role::Gestion) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let loaded = match a.folders.load(a.quiet) {
        Ok(l) => l,
        Err(m) => {
            say!("vigie: {m}");
            return ExitCode::from(EXIT_CANNOT_RUN);
        }
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let opts = Options {
        jobs: a.jobs.unwrap_or(cores).clamp(1, cores * 4),
        as_of: Some(a.as_of.unwrap_or_else(|| chrono::Local::now().date_naive())),
        ..Options::default()
    };
    let setup = &loaded.setup;
    let (analysis, changes) = match setup.reconcile(&mut store, &agent, &opts) {
        Ok(r) => r,
        Err(e) => return exit_of(&e),
    };
    if let Err(code) = a.report.write(&analysis.outcomes, &setup.grammars.subjects) {
        return code;
    }
    if !a.quiet {
        Tally::of(&analysis.outcomes).say(analysis.inputs);
        let t = changes.total;
        say!(
            "vigie: depuis le dernier rapprochement : {} apparu(s), {} résolu(s), {} modifié(s)",
            t.appeared,
            t.resolved,
            t.changed
        );
        for (code, c) in changes
            .by_code
            .iter()
            .filter(|(_, c)| c.appeared + c.resolved + c.changed > 0)
        {
            say!(
                "vigie:   {code:<12} +{} −{} ~{}",
                c.appeared,
                c.resolved,
                c.changed
            );
        }
    }
    if analysis.inputs == 0 {
        say!("vigie: le magasin ne tient aucun fichier reçu à cette date (vigie ingest)");
        return ExitCode::from(EXIT_CANNOT_RUN);
    }
    a.report.exit(&analysis.outcomes)
}
