//! What every command working with the store shares: which store (`--store`, `VIGIE_STORE`),
//! which agent acts (`--agent`, `VIGIE_AGENT`), and the refusals said plainly.

use std::process::ExitCode;

use vigie::{Agent, Role, Store, StoreError};

use super::{EXIT_CANNOT_RUN, EXIT_REFUSED};

/// The default store: one SQLite file in the working directory.
pub const DEFAULT_STORE: &str = "sqlite:vigie.db";

/// The store and the agent, shared by the store commands.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// The store: sqlite:CHEMIN (created when missing) or postgres://utilisateur@hôte/base.
    #[arg(long, value_name = "URL", env = "VIGIE_STORE", default_value = DEFAULT_STORE)]
    pub store: String,
    /// The registered agent who acts (vigie agents list).
    #[arg(long, value_name = "ID", env = "VIGIE_AGENT")]
    pub agent: Option<String>,
}

/// The exit code of a store error: refusals of an agent apart from failures.
pub fn exit_of(e: &StoreError) -> ExitCode {
    say!("vigie: {e}");
    match e {
        StoreError::NoAgent
        | StoreError::UnknownAgent(_)
        | StoreError::DisabledAgent(_)
        | StoreError::Forbidden { .. } => ExitCode::from(EXIT_REFUSED),
        _ => ExitCode::from(EXIT_CANNOT_RUN),
    }
}

impl StoreArgs {
    /// Opens (and migrates) the store.
    pub fn open(&self) -> Result<Store, ExitCode> {
        Store::open(&self.store).map_err(|e| exit_of(&e))
    }

    /// Opens the store and checks that the agent may do `action` (role `needs` or above).
    pub fn open_as(&self, action: &str, needs: Role) -> Result<(Store, Agent), ExitCode> {
        let mut store = self.open()?;
        let agent = store
            .authorize(self.agent.as_deref(), action, needs)
            .map_err(|e| exit_of(&e))?;
        Ok((store, agent))
    }
}
