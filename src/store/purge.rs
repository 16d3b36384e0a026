//! Retention: what was received before the cut-off day (the day given less the retention
//! period) goes — files, their facts and digests, the outcomes about them, the letters sent
//! before it. The audit trail stays, the purge's own entry with it. On PostgreSQL the months
//! wholly before the cut-off are dropped as partitions; the cut-off's own month is deleted row
//! by row.

use chrono::{Months, NaiveDate};
use serde::Serialize;

use super::db::{Db, Kind};
use super::{audit, month_of, Agent, Store, StoreError};

/// What a purge removed (or, dry, would remove).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Purged {
    /// Data received before this day goes.
    pub cutoff: String,
    /// Files received before the cut-off.
    pub files: u64,
    /// Their facts (lots, invoices, lines, PJ, returns, CAS records).
    pub facts: u64,
    /// Outcomes about them (awaited documents included).
    pub outcomes: u64,
    /// Outcomes told in letters before the cut-off.
    pub letters: u64,
    /// Monthly partitions dropped whole (PostgreSQL).
    pub partitions: Vec<String>,
    /// Nothing was deleted.
    pub dry_run: bool,
}

/// The tables purged by their `received` day, in the order they are deleted.
const BY_RECEIPT: [&str; 3] = ["outcomes", "facts", "files"];

fn count(db: &mut Db, sql: &str, cutoff: &str) -> Result<u64, StoreError> {
    Ok(u64::try_from(db.one(sql, &[cutoff.into()])?.int()).unwrap_or(0))
}

/// The monthly partitions of `table` wholly before `month` (PostgreSQL).
fn old_partitions(db: &mut Db, table: &str, month: &str) -> Result<Vec<String>, StoreError> {
    let rows = db.query(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = $1 ORDER BY c.relname",
        &[table.into()],
    )?;
    let prefix = format!("{table}_p");
    let limit = month.replace('-', "_");
    Ok(rows
        .iter()
        .filter_map(|r| r.first().map(|v| v.text().to_string()))
        .filter(|name| {
            name.strip_prefix(&prefix)
                .is_some_and(|m| m.len() == 7 && *m < *limit.as_str())
        })
        .collect())
}

impl Store {
    /// Purges what was received more than `months` months before `as_of`, for `agent` (an
    /// administrator); `dry_run` reports the same without deleting. Audited either way.
    pub fn purge(
        &mut self,
        agent: &Agent,
        as_of: NaiveDate,
        months: u32,
        dry_run: bool,
    ) -> Result<Purged, StoreError> {
        let cutoff_day = as_of
            .checked_sub_months(Months::new(months))
            .ok_or_else(|| {
                StoreError::Invalid(format!(
                    "période de conservation de {months} mois hors calendrier"
                ))
            })?;
        let cutoff = cutoff_day.format("%Y-%m-%d").to_string();
        let cutoff_month = month_of(cutoff_day);
        self.db.transaction(|db| {
            let mut p = Purged {
                cutoff: cutoff.clone(),
                dry_run,
                files: count(db, "SELECT COUNT(*) FROM files WHERE received < $1", &cutoff)?,
                facts: count(db, "SELECT COUNT(*) FROM facts WHERE received < $1", &cutoff)?,
                outcomes: count(db, "SELECT COUNT(*) FROM outcomes WHERE received < $1", &cutoff)?,
                letters: count(db, "SELECT COUNT(*) FROM sent WHERE day < $1", &cutoff)?,
                partitions: Vec::new(),
            };
            if !dry_run {
                if db.kind() == Kind::Postgres {
                    for table in BY_RECEIPT {
                        for part in old_partitions(db, table, &cutoff_month)? {
                            // A catalogue name of the form table_pAAAA_MM: safe to write.
                            db.batch(&format!("DROP TABLE {part}"))?;
                            p.partitions.push(part);
                        }
                    }
                }
                for table in BY_RECEIPT {
                    db.exec(&format!("DELETE FROM {table} WHERE received < $1"), &[cutoff.as_str().into()])?;
                }
                db.exec(
                    "DELETE FROM digests WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.id = digests.file_id AND f.month = digests.month)",
                    &[],
                )?;
                db.exec("DELETE FROM sent WHERE day < $1", &[cutoff.as_str().into()])?;
            }
            audit::append(
                db,
                &agent.id,
                if dry_run { "purge --dry-run" } else { "purge" },
                &[format!("reçu avant le {cutoff}")],
                &format!(
                    "au {as_of}, conservation {months} mois : {} fichier(s), {} fait(s), {} résultat(s), {} lettre(s){}",
                    p.files,
                    p.facts,
                    p.outcomes,
                    p.letters,
                    if dry_run { " (rien supprimé)" } else { "" }
                ),
            )?;
            Ok(p)
        })
    }
}
