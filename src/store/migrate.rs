//! Versioned schema migrations, applied when the store is opened: each in its own
//! transaction, recorded in `vigie_schema`; a store written by a newer vigie is refused.

use super::db::{Db, Kind, Val};
use super::StoreError;

/// One schema version: its number, its name and its DDL per database.
struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// Every version, in order. A new version is appended, never edited once released.
const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "store",
    sqlite: include_str!("migrations/0001_store.sqlite.sql"),
    postgres: include_str!("migrations/0001_store.postgres.sql"),
}];

/// The schema version this vigie writes.
pub fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Brings the schema of `db` to the latest version; refuses a newer one.
pub fn migrate(db: &mut Db) -> Result<(), StoreError> {
    db.batch(
        "CREATE TABLE IF NOT EXISTS vigie_schema (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )?;
    let current = db.one("SELECT MAX(version) FROM vigie_schema", &[])?.int();
    if current > latest() {
        return Err(StoreError::NewerSchema {
            found: current,
            known: latest(),
        });
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        db.transaction(|db| {
            if db.kind() == Kind::Postgres {
                // Two vigie starting at once: the second waits, then finds the work done.
                db.query("SELECT pg_advisory_xact_lock(7219140)", &[])?;
            }
            let done = db
                .one(
                    "SELECT COUNT(*) FROM vigie_schema WHERE version = $1",
                    &[Val::Int(m.version)],
                )?
                .int();
            if done > 0 {
                return Ok(());
            }
            db.batch(match db.kind() {
                Kind::Sqlite => m.sqlite,
                Kind::Postgres => m.postgres,
            })?;
            db.exec(
                "INSERT INTO vigie_schema (version, name, applied_at) VALUES ($1, $2, $3)",
                &[Val::Int(m.version), m.name.into(), super::now().into()],
            )?;
            Ok(())
        })?;
    }
    Ok(())
}
