//! `vigie cas`: analyse the CAS files and write the returns to the organisms and the
//! participations (docs/formats/cas.md).

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;

use super::analyze::parse_date;
use super::{Folders, EXIT_CANNOT_RUN};
use vigie::model::Kind;
use vigie::Options;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Writes into DIR, for each year found in the CAS files:\n  participations-<annee>.csv   one line per doctor of cas-adherents.csv: paid (A_PAYER) or blocked (BLOQUEE) and why\n  retour-<ORG>-<annee>.csv     for ACOSS, RSI and CARMF: what that organism must correct (header only when nothing)\n\nThe rates, the formula and what blocks a payment are in the CAS rule set (rules/cas: params `taux`, scripts/participation.rhai).\n\nExample:\n  vigie cas --as-of 2026-11-20 --out sorties-cas/ examples/"
)]
pub struct Args {
    /// Files or folders holding the CAS files (Acoss, RSI, CARMF, cas-adherents.csv); other
    /// files among them are analysed too but give nothing here.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Folder the files are written into (created if needed; files of the same names are
    /// replaced whole).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    #[command(flatten)]
    folders: Folders,
    /// Date the analysis is made at (AAAA-MM-JJ) [default: today].
    #[arg(long, value_name = "AAAA-MM-JJ", value_parser = parse_date)]
    as_of: Option<NaiveDate>,
    /// No summary on stderr.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(a: Args) -> ExitCode {
    let fail = |code: u8, msg: String| {
        say!("vigie: {msg}");
        ExitCode::from(code)
    };
    let (loaded, walk) = match a.folders.load_with(&a.paths, a.quiet) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let opts = Options {
        jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
        as_of: a.as_of,
        ..Options::default()
    };
    let (analysis, outputs) = loaded.setup.cas(vigie::files(&walk.files), &opts);
    if analysis.readable_inputs == 0 {
        return fail(EXIT_CANNOT_RUN, "aucune entrée lisible".into());
    }
    if outputs.files.is_empty() {
        return fail(
            EXIT_CANNOT_RUN,
            "aucun fichier CAS (Acoss, RSI, CARMF) parmi les entrées : rien à écrire".into(),
        );
    }
    let written = match outputs.write(&a.out) {
        Ok(w) => w,
        Err(e) => {
            return fail(
                EXIT_CANNOT_RUN,
                format!("{} : écriture impossible : {e}", a.out.display()),
            )
        }
    };
    let errors = analysis
        .outcomes
        .iter()
        .filter(|o| o.kind == Kind::Error)
        .count()
        + walk.errors.len();
    if !a.quiet {
        for (path, f) in written.iter().zip(&outputs.files) {
            say!("vigie: {} ({} ligne(s))", path.display(), f.rows.len() - 1);
        }
        for u in &outputs.unpaid {
            say!(
                "vigie: participation non calculée pour {} : {}{}",
                u.subject,
                u.message,
                u.line
                    .map(|l| format!(" (ligne {l} du script)"))
                    .unwrap_or_default()
            );
        }
        if errors > 0 {
            say!("vigie: {errors} erreur(s) de lecture ou de règle : `vigie analyze` les détaille");
        }
    }
    ExitCode::SUCCESS
}
