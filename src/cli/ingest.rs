//! `vigie ingest`: record received files in the store, each once, each in one transaction.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use chrono::NaiveDate;

use super::analyze::parse_date;
use super::store::{exit_of, StoreArgs};
use super::{Folders, EXIT_CANNOT_RUN};
use vigie::{Ingested, Received, Role};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Each file is kept whole with its facts (lots, invoices, lines, PJ lines, \
NOEMIE returns, CAS records) and its reading errors, in one transaction: a file received before \
(same content, by SHA-256) is skipped, and an interrupted ingest leaves the store as before the \
file it was on — run it again. Files are recorded in the order given, folders walked by name: \
the order vigie reconcile reads them in, as vigie analyze would.

Examples:
  VIGIE_AGENT=a.martin vigie ingest --received 2026-11-02 depot/2026-11-02/
  vigie ingest --store postgres://vigie@localhost/cpam --agent a.martin lots/*.b2"
)]
pub struct Args {
    /// Files or folders received.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// The day the files were received (AAAA-MM-JJ) [default: today]; the retention period runs
    /// from it.
    #[arg(long, visible_alias = "as-of", value_name = "AAAA-MM-JJ", value_parser = parse_date)]
    received: Option<NaiveDate>,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    folders: Folders,
    /// No summary on stderr.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(a: Args) -> ExitCode {
    let (mut store, agent) = match a.store.open_as("ingest", Role::Gestion) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let grammars = match a.folders.load_grammars(a.quiet) {
        Ok(g) => g,
        Err(code) => return code,
    };
    let walk = match super::walk(&a.paths, a.quiet) {
        Ok(w) => w,
        Err(code) => return code,
    };
    for e in &walk.errors {
        say!("vigie: {}", e.message);
    }
    let day = a
        .received
        .unwrap_or_else(|| chrono::Local::now().date_naive());
    let started = Instant::now();
    let (mut stored, mut facts, mut bytes, mut refused) = (0, 0, 0, walk.errors.len());
    let files: Vec<Received<'_>> = walk
        .files
        .iter()
        .map(|path| Received { path, day })
        .collect();
    let ingested = store.ingest(&agent, &grammars, &files, &mut |settled| match settled {
        Ingested::Stored {
            file,
            format,
            facts: f,
            errors,
            bytes: b,
        } => {
            stored += 1;
            facts += f;
            bytes += b;
            if !a.quiet {
                say!("vigie: {file} : reçu ({format}, {f} faits, {errors} erreur(s) de lecture gardée(s))");
            }
        }
        Ingested::Already {
            file,
            first,
            received,
        } => {
            if !a.quiet {
                say!("vigie: {file} : déjà reçu le {received} (sous le nom {first}), ignoré");
            }
        }
        Ingested::Refused { file, reason } => {
            refused += 1;
            say!("vigie: {file} : refusé : {reason}");
        }
    });
    if let Err(e) = ingested {
        return exit_of(&e);
    }
    if !a.quiet {
        let secs = started.elapsed().as_secs_f64().max(1e-6);
        say!(
            "vigie: {stored} fichier(s) reçu(s) dans {} ({facts} faits, {:.1} Mo, {:.0} faits/s)",
            store.shown(),
            bytes as f64 / 1e6,
            facts as f64 / secs
        );
    }
    if refused > 0 {
        return ExitCode::from(EXIT_CANNOT_RUN);
    }
    ExitCode::SUCCESS
}
