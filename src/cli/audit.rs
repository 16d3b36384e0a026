//! `vigie audit`: query the audit trail, or check that no entry was edited or deleted.

use std::process::ExitCode;

use chrono::NaiveDate;

use super::analyze::parse_date;
use super::out::to_stdout;
use super::store::{exit_of, StoreArgs};
use super::EXIT_CANNOT_RUN;
use vigie::{AuditFilter, Role};

#[derive(Debug, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Every action is in the trail: ingest, reconcile, status, letters, agents, purge — \
who, what, when (UTC), which subjects. Each entry carries the SHA-256 of the previous one: \
vigie audit verify finds an entry edited or deleted.\n\nExamples:\n  VIGIE_AGENT=a.martin vigie audit --by b.durand --from 2026-11-01\n  VIGIE_AGENT=a.martin vigie audit --subject n_ps=132202888 --json\n  VIGIE_AGENT=a.martin vigie audit verify"
)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Only the actions of this agent.
    #[arg(long, value_name = "ID")]
    by: Option<String>,
    /// Only actions about a subject containing this text (n_ps=132202888, fichier=…).
    #[arg(long, value_name = "TEXTE")]
    subject: Option<String>,
    /// From this day (AAAA-MM-JJ, included).
    #[arg(long, value_name = "AAAA-MM-JJ", value_parser = parse_date)]
    from: Option<NaiveDate>,
    /// To this day (AAAA-MM-JJ, included).
    #[arg(long, value_name = "AAAA-MM-JJ", value_parser = parse_date)]
    to: Option<NaiveDate>,
    /// As JSON Lines rather than a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Check the whole trail: exit 0 when intact, 1 naming the first broken entry.
    Verify {
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub fn run(a: Args) -> ExitCode {
    if let Some(Command::Verify { store }) = a.command {
        let (mut s, _) = match store.open_as("audit verify", Role::Lecture) {
            Ok(s) => s,
            Err(code) => return code,
        };
        return match s.verify_audit() {
            Ok(v) => match v.broken {
                None => {
                    say!("vigie: piste d'audit intacte ({} entrée(s))", v.entries);
                    ExitCode::SUCCESS
                }
                Some((seq, why)) => {
                    say!("vigie: piste d'audit altérée à l'entrée {seq} : {why}");
                    ExitCode::from(EXIT_CANNOT_RUN)
                }
            },
            Err(e) => exit_of(&e),
        };
    }
    let (mut s, _) = match a.store.open_as("audit", Role::Administration) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let filter = AuditFilter {
        agent: a.by,
        subject: a.subject,
        from: a.from,
        to: a.to,
    };
    let entries = match s.audit(&filter) {
        Ok(e) => e,
        Err(e) => return exit_of(&e),
    };
    let written = to_stdout(|w| {
        for e in &entries {
            if a.json {
                serde_json::to_writer(&mut *w, e)?;
                writeln!(w)?;
            } else {
                writeln!(
                    w,
                    "{:>6} {} {:<14} {:<16} {} — {}",
                    e.seq,
                    e.at,
                    e.agent,
                    e.action,
                    e.subjects.join(" "),
                    e.details
                )?;
            }
        }
        Ok(())
    });
    written.err().unwrap_or(ExitCode::SUCCESS)
}
