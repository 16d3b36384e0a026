//! `vigie purge`: delete what is older than the retention period.

use std::process::ExitCode;

use chrono::NaiveDate;

use super::analyze::parse_date;
use super::store::{exit_of, StoreArgs};
use vigie::Role;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Deletes the files received before the day less the retention period, \
their facts (lots, invoices, lines, PJ, returns, CAS records), the outcomes about them, and the \
letters sent before it; on PostgreSQL the months wholly past are dropped as partitions. The \
audit trail is kept, this purge's entry with it. --dry-run gives the same report and deletes \
nothing.\n\nExamples:\n  VIGIE_AGENT=a.martin vigie purge --dry-run\n  VIGIE_AGENT=a.martin vigie purge --as-of 2029-12-01 --json"
)]
pub struct Args {
    /// The day of the purge (AAAA-MM-JJ) [default: today].
    #[arg(long, value_name = "AAAA-MM-JJ", value_parser = parse_date)]
    as_of: Option<NaiveDate>,
    /// Retention period, in months.
    #[arg(long, value_name = "MOIS", default_value_t = 36)]
    months: u32,
    /// Reports what would be deleted, deletes nothing.
    #[arg(long)]
    dry_run: bool,
    /// The report as one JSON object on standard output.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

pub fn run(a: Args) -> ExitCode {
    let (mut s, agent) = match a.store.open_as("purge", Role::Administration) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let as_of = a.as_of.unwrap_or_else(|| chrono::Local::now().date_naive());
    let p = match s.purge(&agent, as_of, a.months, a.dry_run) {
        Ok(p) => p,
        Err(e) => return exit_of(&e),
    };
    if a.json {
        let text = serde_json::to_string(&p).unwrap_or_default();
        if let Err(code) = super::out::to_stdout(|w| writeln!(w, "{text}")) {
            return code;
        }
    }
    let verb = if p.dry_run {
        "seraient supprimés"
    } else {
        "supprimés"
    };
    say!(
        "vigie: reçus avant le {} ({} mois avant le {as_of}), {verb} : {} fichier(s), {} fait(s), {} résultat(s), {} lettre(s){}",
        p.cutoff,
        a.months,
        p.files,
        p.facts,
        p.outcomes,
        p.letters,
        if p.partitions.is_empty() { String::new() } else { format!(" ; partitions supprimées : {}", p.partitions.join(", ")) }
    );
    ExitCode::SUCCESS
}
