//! `vigie status`: what the store knew on a day, per PS or for a subject.

use std::process::ExitCode;

use chrono::NaiveDate;

use super::analyze::{parse_date, ReportArgs};
use super::store::{exit_of, StoreArgs};
use super::{Folders, EXIT_USAGE};
use vigie::{Role, StatusQuery};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Shows, as the last reconcile on or before the day left them: the \
invoices awaiting their PJ and since when (ATTENTE-PJ), those now missing (PJ-MANQ), orphan PJ \
(PJ-ORPH), rejected invoices and the guidance shown, conflicts, and the letters sent \
(COURRIER). Where the subject is an invoice the beneficiary's NIR is shown, whole for the roles \
gestion and administration, its last 4 characters for lecture. Every status is audited.

Examples:
  VIGIE_AGENT=a.martin vigie status --as-of 2026-12-01 --ps 132202888
  vigie status --subject n_ps=132202888 --subject n_facture=000123 --format json"
)]
pub struct Args {
    /// The day seen (AAAA-MM-JJ) [default: today].
    #[arg(long, value_name = "AAAA-MM-JJ", value_parser = parse_date)]
    as_of: Option<NaiveDate>,
    /// Only this PS (n° PS, or RPPS of a doctor).
    #[arg(long, value_name = "N")]
    ps: Option<String>,
    /// Only this subject: KEY=VALUE, repeated (n_ps=…, n_lot=…, n_facture=…).
    #[arg(long, value_name = "CLÉ=VALEUR")]
    subject: Vec<String>,
    #[command(flatten)]
    report: ReportArgs,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    folders: Folders,
}

pub fn run(a: Args) -> ExitCode {
    let mut subject = Vec::new();
    for s in &a.subject {
        match s.split_once('=') {
            Some((k, v)) if !k.is_empty() => subject.push((k.to_string(), v.to_string())),
            _ => {
                say!("vigie: --subject « {s} » : attendu CLÉ=VALEUR (n_ps=132202888)");
                return ExitCode::from(EXIT_USAGE);
            }
        }
    }
    let grammars = match a.folders.load_grammars(true) {
        Ok(g) => g,
        Err(code) => return code,
    };
    let (mut store, agent) = match a.store.open_as("status", Role::Lecture) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let q = StatusQuery {
        as_of: a.as_of.unwrap_or_else(|| chrono::Local::now().date_naive()),
        ps: a.ps,
        subject,
    };
    let mut lines = match store.status(&agent, &q) {
        Ok(l) => l,
        Err(e) => return exit_of(&e),
    };
    vigie::model::sort_for_report(&mut lines, &grammars.subjects);
    if let Err(code) = a.report.write(&lines, &grammars.subjects) {
        return code;
    }
    a.report.exit(&lines)
}
