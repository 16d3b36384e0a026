//! `vigie agents`: the registry of the agents who act.

use std::process::ExitCode;

use super::out::to_stdout;
use super::store::{exit_of, StoreArgs};
use super::EXIT_USAGE;
use vigie::Role;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Register an agent. On an empty store the first one needs no agent and must be an
    /// administrator; afterwards an administrator (--agent) registers the others.
    #[command(
        after_help = "Examples:\n  vigie agents add a.martin --nom Martin --prenom Anne --role administration\n  VIGIE_AGENT=a.martin vigie agents add b.durand --nom Durand --prenom Bruno --role gestion"
    )]
    Add {
        /// The agent's identifier (a matricule).
        id: String,
        /// Family name.
        #[arg(long)]
        nom: String,
        /// Given name.
        #[arg(long)]
        prenom: String,
        /// lecture (reads, NIR masked), gestion (ingest, reconcile, letters, NIR in full) or
        /// administration (also agents and purge).
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the agents (identifier, name, role, active or not).
    List {
        /// As JSON Lines rather than a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Disable an agent: it no longer acts, and stays in the audit trail.
    Disable {
        /// The agent's identifier.
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("« {s} » : rôle lecture, gestion ou administration"))
}

pub fn run(c: Command) -> ExitCode {
    match c {
        Command::Add {
            id,
            nom,
            prenom,
            role,
            store,
        } => {
            let mut s = match store.open() {
                Ok(s) => s,
                Err(code) => return code,
            };
            match s.add_agent(store.agent.as_deref(), &id, &nom, &prenom, role) {
                Ok(a) => {
                    say!(
                        "vigie: agent {} ({} {}) enregistré, rôle {}",
                        a.id,
                        a.prenom,
                        a.nom,
                        a.role
                    );
                    ExitCode::SUCCESS
                }
                Err(vigie::StoreError::Invalid(m)) => {
                    say!("vigie: {m}");
                    ExitCode::from(EXIT_USAGE)
                }
                Err(e) => exit_of(&e),
            }
        }
        Command::List { json, store } => {
            let (mut s, _) = match store.open_as("agents list", Role::Lecture) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let agents = match s.agents() {
                Ok(a) => a,
                Err(e) => return exit_of(&e),
            };
            let written = to_stdout(|w| {
                for a in &agents {
                    if json {
                        serde_json::to_writer(&mut *w, a)?;
                        writeln!(w)?;
                    } else {
                        let state = if a.active { "actif" } else { "désactivé" };
                        writeln!(
                            w,
                            "{:<16} {:<14} {:<24} {}",
                            a.id,
                            a.role.as_str(),
                            format!("{} {}", a.prenom, a.nom),
                            state
                        )?;
                    }
                }
                Ok(())
            });
            written.err().unwrap_or(ExitCode::SUCCESS)
        }
        Command::Disable { id, store } => {
            let mut s = match store.open() {
                Ok(s) => s,
                Err(code) => return code,
            };
            match s.disable_agent(store.agent.as_deref(), &id) {
                Ok(()) => {
                    say!("vigie: agent {id} désactivé");
                    ExitCode::SUCCESS
                }
                Err(vigie::StoreError::Invalid(m)) => {
                    say!("vigie: {m}");
                    ExitCode::from(EXIT_USAGE)
                }
                Err(e) => exit_of(&e),
            }
        }
    }
}
