//! The store: vigie's memory over weeks — the files received and their facts, the outcomes
//! decided with the rule set version and the dates they appeared and were resolved, what is
//! awaited, the letters sent, the agents and the audit trail of what each did. SQLite in one
//! file by default, PostgreSQL for a whole caisse, one code path (`db`).

mod agents;
mod audit;
mod db;
mod ingest;
mod migrate;
mod purge;
mod reconcile;
mod sent;
mod status;

use std::fmt;
use std::path::PathBuf;

pub use agents::{Agent, Role};
pub use audit::{AuditEntry, AuditFilter, Verified};
use db::Db;
pub use db::Kind as Backend;
pub use ingest::{Ingested, Received};
pub use purge::Purged;
pub use reconcile::{Changes, Reconciled};
pub use status::StatusQuery;

/// Why the store refused or failed.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreError {
    /// The store's URL is not one vigie knows.
    Url(String),
    /// The database said no (its message, never the values bound).
    Database(String),
    /// The store was written by a newer vigie.
    NewerSchema {
        /// Its schema version.
        found: i64,
        /// The latest version this vigie knows.
        known: i64,
    },
    /// No agent was named for a command that needs one.
    NoAgent,
    /// The agent named is not registered.
    UnknownAgent(String),
    /// The agent named is disabled.
    DisabledAgent(String),
    /// The agent's role does not allow the action.
    Forbidden {
        /// The agent.
        agent: String,
        /// Its role.
        role: Role,
        /// The action refused.
        action: String,
        /// The role the action needs.
        needs: Role,
    },
    /// A request that cannot be carried out as asked (an agent that exists already…).
    Invalid(String),
    /// A file with not one readable record: nothing of it is kept.
    Unreadable(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Url(u) => write!(
                f,
                "magasin « {u} » : attendu sqlite:CHEMIN ou postgres://utilisateur@hôte/base"
            ),
            StoreError::Database(m) => write!(f, "base de données : {m}"),
            StoreError::NewerSchema { found, known } => write!(
                f,
                "ce magasin est au schéma {found}, plus récent que celui que connaît ce vigie ({known}) : mettez vigie à jour avant de l'utiliser"
            ),
            StoreError::NoAgent => write!(
                f,
                "cette commande doit nommer son agent : --agent ID ou VIGIE_AGENT (vigie agents list)"
            ),
            StoreError::UnknownAgent(a) => write!(
                f,
                "agent « {a} » inconnu : seul un agent enregistré agit (vigie agents add, par un administrateur)"
            ),
            StoreError::DisabledAgent(a) => write!(f, "agent « {a} » désactivé : il n'agit plus"),
            StoreError::Forbidden {
                agent,
                role,
                action,
                needs,
            } => write!(
                f,
                "agent « {agent} » (rôle {role}) : « {action} » demande le rôle {needs} ou plus"
            ),
            StoreError::Invalid(m) | StoreError::Unreadable(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for StoreError {}

/// The time of an action, UTC, to the second (`2026-12-01T09:30:00Z`).
pub(crate) fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The month (`AAAA-MM`) of a date, the unit the store partitions and purges by.
pub(crate) fn month_of(day: chrono::NaiveDate) -> String {
    day.format("%Y-%m").to_string()
}

/// An open, migrated store.
pub struct Store {
    db: Db,
    url: String,
    shown: String,
}

impl Store {
    /// Opens the store at `url` — `sqlite:PATH` (created when missing) or `postgres://…` —
    /// and brings its schema to this vigie's version.
    pub fn open(url: &str) -> Result<Store, StoreError> {
        let (db, shown) = connect(url)?;
        let mut store = Store {
            db,
            url: url.to_string(),
            shown,
        };
        migrate::migrate(&mut store.db)?;
        Ok(store)
    }

    /// Another connection to the same database, for a thread's quick look-ups: on SQLite it
    /// waits at most a tenth of a second for a lock (the writer's commit), then gives up.
    fn look_up_connection(&self) -> Result<Db, StoreError> {
        let (db, _) = connect(&self.url)?;
        if let Db::Sqlite(c) = &db {
            c.busy_timeout(std::time::Duration::from_millis(100))
                .map_err(|e| StoreError::Database(e.to_string()))?;
        }
        Ok(db)
    }

    /// The database this store is on.
    pub fn backend(&self) -> Backend {
        self.db.kind()
    }

    /// The store's URL, password left out (for messages).
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The schema version this vigie writes.
    pub fn schema_version() -> i64 {
        migrate::latest()
    }
}

/// A connection to the store at `url`, and the URL to show (password left out).
fn connect(url: &str) -> Result<(Db, String), StoreError> {
    if let Some(path) = url.strip_prefix("sqlite:") {
        let path = PathBuf::from(path.strip_prefix("//").unwrap_or(path));
        if path.as_os_str().is_empty() {
            return Err(StoreError::Url(url.to_string()));
        }
        let c = rusqlite::Connection::open(&path).map_err(|e| {
            StoreError::Database(format!("{} : ouverture impossible : {e}", path.display()))
        })?;
        c.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(|e| StoreError::Database(e.to_string()))?;
        // A rollback journal (a WAL would copy every page twice, and was slower on a
        // measured ingest); FULL: a commit survives a power cut too; a 32 MB page cache for
        // the inserts of a large file.
        c.execute_batch(
            "PRAGMA journal_mode = TRUNCATE; PRAGMA synchronous = FULL; PRAGMA cache_size = -32768;",
        )
        .map_err(|e| StoreError::Database(e.to_string()))?;
        Ok((Db::Sqlite(c), format!("sqlite:{}", path.display())))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let c = postgres::Client::connect(url, postgres::NoTls)
            .map_err(|e| StoreError::Database(format!("connexion impossible : {e}")))?;
        Ok((Db::Postgres(Box::new(c)), without_password(url)))
    } else {
        Err(StoreError::Url(url.to_string()))
    }
}

/// `postgres://user:secret@host/db` → `postgres://user@host/db`.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((user, host)) => {
            let user = user.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}@{host}")
        }
        None => url.to_string(),
    }
}
