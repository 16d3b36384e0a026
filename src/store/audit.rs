//! The audit trail: every action — who, what, when, which subjects — appended in the same
//! transaction as the action itself. Each entry carries the SHA-256 of the previous one and
//! its own, and `audit_head` the last one, so that an edited, deleted or truncated trail is
//! found by [`Store::verify_audit`]. The database refuses updates and deletes of the trail.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::db::{Db, Val};
use super::{now, Store, StoreError};

/// The hash before the first entry.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One entry of the trail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Its rank, from 1.
    pub seq: i64,
    /// When (UTC).
    pub at: String,
    /// The agent who acted.
    pub agent: String,
    /// The action (`ingest`, `reconcile`, `status`, `letters`, `agents add`, `purge`…).
    pub action: String,
    /// The subjects it was about (`n_ps=…`, a file, an agent).
    pub subjects: Vec<String>,
    /// What else the action says (counts, dates).
    pub details: String,
    /// The hash of the previous entry.
    pub prev: String,
    /// Its own hash.
    pub hash: String,
}

/// The hash of an entry: what it says, chained to the previous one.
fn hash_of(e: &AuditEntry, subjects_json: &str) -> String {
    let mut h = Sha256::new();
    for part in [
        e.prev.as_str(),
        &e.seq.to_string(),
        &e.at,
        &e.agent,
        &e.action,
        subjects_json,
        &e.details,
    ] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex(&h.finalize())
}

/// Lower-case hexadecimal of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Appends an entry; to be called inside the action's transaction.
pub(crate) fn append(
    db: &mut Db,
    agent: &str,
    action: &str,
    subjects: &[String],
    details: &str,
) -> Result<(), StoreError> {
    let head = db.query("SELECT seq, hash FROM audit_head WHERE id = 1", &[])?;
    let (last, prev) = match head.first().map(|r| r.as_slice()) {
        Some([seq, hash]) => (seq.int(), hash.text().to_string()),
        _ => (0, GENESIS.to_string()),
    };
    let subjects_json = serde_json::to_string(subjects).unwrap_or_else(|_| "[]".into());
    let mut e = AuditEntry {
        seq: last + 1,
        at: now(),
        agent: agent.to_string(),
        action: action.to_string(),
        subjects: subjects.to_vec(),
        details: details.to_string(),
        prev,
        hash: String::new(),
    };
    e.hash = hash_of(&e, &subjects_json);
    db.exec(
        "INSERT INTO audit (seq, at, agent, action, subjects, details, prev, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            Val::Int(e.seq),
            e.at.as_str().into(),
            e.agent.as_str().into(),
            e.action.as_str().into(),
            subjects_json.into(),
            e.details.as_str().into(),
            e.prev.as_str().into(),
            e.hash.as_str().into(),
        ],
    )?;
    db.exec(
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, $1, $2) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        &[Val::Int(e.seq), e.hash.as_str().into()],
    )?;
    Ok(())
}

/// Which entries [`Store::audit`] returns.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this agent's actions.
    pub agent: Option<String>,
    /// Only actions about a subject containing this text (`n_ps=123456789`).
    pub subject: Option<String>,
    /// Only actions on or after this day.
    pub from: Option<chrono::NaiveDate>,
    /// Only actions on or before this day.
    pub to: Option<chrono::NaiveDate>,
}

/// What checking the trail found.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// Entries read.
    pub entries: i64,
    /// The first entry that breaks the chain and why, if any.
    pub broken: Option<(i64, String)>,
}

fn entry_of(row: &[Val]) -> (AuditEntry, String) {
    let text = |i: usize| row.get(i).map(|v| v.text().to_string()).unwrap_or_default();
    let subjects_json = text(4);
    let subjects = serde_json::from_str(&subjects_json).unwrap_or_default();
    let e = AuditEntry {
        seq: row.first().map_or(0, Val::int),
        at: text(1),
        agent: text(2),
        action: text(3),
        subjects,
        details: text(5),
        prev: text(6),
        hash: text(7),
    };
    (e, subjects_json)
}

const SELECT: &str = "SELECT seq, at, agent, action, subjects, details, prev, hash FROM audit";

impl Store {
    /// The entries `filter` selects, oldest first.
    pub fn audit(&mut self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let mut clauses = Vec::new();
        let mut params = Vec::new();
        let mut add = |clause: &str, v: Val| {
            params.push(v);
            clauses.push(clause.replace('?', &format!("${}", params.len())));
        };
        if let Some(a) = &filter.agent {
            add("agent = ?", a.as_str().into());
        }
        if let Some(s) = &filter.subject {
            add("subjects LIKE ?", format!("%{s}%").into());
        }
        if let Some(d) = filter.from {
            add("at >= ?", d.format("%Y-%m-%d").to_string().into());
        }
        if let Some(d) = filter.to.and_then(|d| d.succ_opt()) {
            add("at < ?", d.format("%Y-%m-%d").to_string().into());
        }
        let wher = if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        };
        let rows = self
            .db
            .query(&format!("{SELECT}{wher} ORDER BY seq"), &params)?;
        Ok(rows.iter().map(|r| entry_of(r).0).collect())
    }

    /// Checks the whole trail: each entry's hash, its link to the previous one, ranks without
    /// gaps, and the last entry against `audit_head`.
    pub fn verify_audit(&mut self) -> Result<Verified, StoreError> {
        let rows = self.db.query(&format!("{SELECT} ORDER BY seq"), &[])?;
        let mut prev = GENESIS.to_string();
        let mut expected = 1;
        let mut entries = 0;
        for row in &rows {
            let (e, subjects_json) = entry_of(row);
            entries += 1;
            let broken = if e.seq != expected {
                Some(format!("entrée {expected} absente (supprimée ?)"))
            } else if e.prev != prev {
                Some(
                    "ne suit pas l'entrée précédente (une entrée a été supprimée ou modifiée)"
                        .into(),
                )
            } else if hash_of(&e, &subjects_json) != e.hash {
                Some("son contenu ne correspond plus à son empreinte (modifiée)".into())
            } else {
                None
            };
            if let Some(why) = broken {
                return Ok(Verified {
                    entries,
                    broken: Some((e.seq, why)),
                });
            }
            prev = e.hash;
            expected += 1;
        }
        let head = self
            .db
            .query("SELECT seq, hash FROM audit_head WHERE id = 1", &[])?;
        let head = match head.first().map(|r| r.as_slice()) {
            Some([seq, hash]) => Some((seq.int(), hash.text().to_string())),
            _ => None,
        };
        let last = expected - 1;
        let broken = match head {
            Some((seq, hash)) if seq != last || hash != prev => Some((
                seq,
                format!("la dernière entrée enregistrée est la {seq}, la piste s'arrête à la {last} (entrées finales supprimées ou modifiées)"),
            )),
            None if last > 0 => Some((last, "tête de la piste absente".into())),
            _ => None,
        };
        Ok(Verified { entries, broken })
    }

    /// Appends an entry of its own (a read of personal data: `status`).
    pub fn record(
        &mut self,
        agent: &str,
        action: &str,
        subjects: &[String],
        details: &str,
    ) -> Result<(), StoreError> {
        self.db
            .transaction(|db| append(db, agent, action, subjects, details))
    }
}
