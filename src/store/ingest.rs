//! Ingest: a received file kept whole (reconcile reads it again with the grammars of the day)
//! with its facts — one row per lot, invoice, line, PJ line, return, CAS record — and its input
//! errors, in one transaction per file. A file already received (same SHA-256) is not stored
//! twice; a crash in the middle leaves the store as before that file.

use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::db::{Db, Kind, Val};
use super::{audit, month_of, now, Agent, Store, StoreError};
use crate::drive::{self, Input, Options, Origin};
use crate::facts::{resolve, subject_of};
use crate::model::{GrammarSet, Node, Outcome, Unit, Value};

/// Facts are written by batches of this many rows.
const BATCH: usize = 2000;

/// One file to ingest: where it is and the name outcomes will give it (as `analyze` would).
#[derive(Debug, Clone)]
pub struct Received<'a> {
    /// The file on disk.
    pub path: &'a Path,
    /// The day it was received (its facts are kept from that day for the retention period).
    pub day: NaiveDate,
}

/// What ingesting one file did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "etat", rename_all = "lowercase")]
pub enum Ingested {
    /// Stored now.
    Stored {
        /// Its name.
        file: String,
        /// Its format.
        format: String,
        /// Facts stored (lots, invoices, lines…).
        facts: u64,
        /// Input errors kept with it.
        errors: usize,
        /// Its size in bytes.
        bytes: u64,
    },
    /// Received before (same content): nothing done.
    Already {
        /// Its name.
        file: String,
        /// The name it was first received under.
        first: String,
        /// When.
        received: String,
    },
    /// Not a file of any format, unreadable: nothing stored, the reason given.
    Refused {
        /// Its name.
        file: String,
        /// Why.
        reason: String,
    },
}

/// The SHA-256 of `bytes`, in hexadecimal.
fn digest(bytes: &[u8]) -> String {
    audit::hex(&Sha256::digest(bytes))
}

/// Creates month `month`'s partitions of the tables that grow with the flow (PostgreSQL).
pub(crate) fn ensure_month(db: &mut Db, month: &str) -> Result<(), StoreError> {
    if db.kind() != Kind::Postgres {
        return Ok(());
    }
    // `month` comes from a date (AAAA-MM): safe to write into the statement.
    let suffix = month.replace('-', "_");
    for table in ["files", "facts", "outcomes"] {
        db.batch(&format!(
            "CREATE TABLE IF NOT EXISTS {table}_p{suffix} PARTITION OF {table} FOR VALUES IN ('{month}')"
        ))?;
    }
    Ok(())
}

/// The `(field, value)` pairs of a node's opening record that could be read, as JSON.
fn fields_json(node: &Node) -> String {
    let mut map = serde_json::Map::new();
    if let Some(r) = &node.open {
        for (i, (def, v)) in r.def.fields.iter().zip(r.values.iter()).enumerate() {
            if r.is_faulty(i) {
                continue;
            }
            if let Some(text) = v.display() {
                map.insert(def.name.clone(), serde_json::Value::String(text));
            }
        }
    }
    serde_json::Value::Object(map).to_string()
}

/// The PS (or doctor) a subject is about: its number alone, and as a subject (`n_ps=…`).
pub(crate) fn ps_of(subject: &crate::model::Subject) -> Option<String> {
    subject
        .get("n_ps")
        .or_else(|| subject.get("rpps"))
        .map(str::to_string)
}

pub(crate) fn ps_subject(subject: &crate::model::Subject) -> Option<String> {
    ["n_ps", "rpps"]
        .iter()
        .find_map(|k| subject.get(k).map(|v| format!("{k}={v}")))
}

/// Turns units into fact rows, written by batches.
struct FactWriter<'a> {
    db: &'a mut Db,
    file_id: i64,
    month: String,
    received: String,
    rows: Vec<Vec<Val>>,
    written: u64,
    ps: std::collections::BTreeSet<String>,
    failed: Option<StoreError>,
}

impl FactWriter<'_> {
    fn unit(&mut self, unit: &Unit) {
        let mut chain: Vec<&Node> = unit.ancestors.iter().map(Arc::as_ref).collect();
        self.node(&unit.node, &mut chain);
    }

    fn node<'n>(&mut self, node: &'n Node, chain: &mut Vec<&'n Node>) {
        chain.push(node);
        let subject = subject_of(chain);
        let day = node
            .group
            .date
            .as_ref()
            .and_then(|p| resolve(p, chain))
            .and_then(|v| match v.as_ref() {
                Value::Date(d) => Some(d.format("%Y-%m-%d").to_string()),
                _ => None,
            });
        let ps = ps_of(&subject);
        if let Some(p) = ps_subject(&subject) {
            self.ps.insert(p);
        }
        self.rows.push(vec![
            Val::Int(self.file_id),
            self.month.as_str().into(),
            self.received.as_str().into(),
            Val::Int(i64::from(node.line)),
            node.group.name.as_str().into(),
            subject.to_string().into(),
            ps.into(),
            day.into(),
            fields_json(node).into(),
        ]);
        if self.rows.len() >= BATCH {
            self.flush();
        }
        for children in &node.children {
            for child in children {
                self.node(child, chain);
            }
        }
        chain.pop();
    }

    fn flush(&mut self) {
        if self.failed.is_some() || self.rows.is_empty() {
            self.rows.clear();
            return;
        }
        let cols = [
            "file_id", "month", "received", "line", "grp", "subject", "ps", "day", "fields",
        ];
        match self.db.insert_many("facts", &cols, &self.rows) {
            Ok(()) => self.written += self.rows.len() as u64,
            Err(e) => self.failed = Some(e),
        }
        self.rows.clear();
    }
}

/// The JSON of the input errors of a file (kept with it).
fn errors_json(errors: &[Outcome]) -> String {
    serde_json::to_string(errors).unwrap_or_else(|_| "[]".into())
}

impl Store {
    /// Ingests one file for `agent` (who must be allowed to change the store): kept whole
    /// with its facts and input errors, in one transaction, audited.
    pub fn ingest(
        &mut self,
        agent: &Agent,
        grammars: &GrammarSet,
        file: &Received<'_>,
    ) -> Result<Ingested, StoreError> {
        let name = file.path.display().to_string();
        let bytes: Arc<[u8]> = match std::fs::read(file.path) {
            Ok(b) => b.into(),
            Err(e) => {
                return Ok(Ingested::Refused {
                    file: name,
                    reason: format!("fichier illisible : {e}"),
                })
            }
        };
        let digest = digest(&bytes);
        let seen = self.db.query(
            "SELECT f.name, f.received FROM digests d JOIN files f ON f.id = d.file_id AND f.month = d.month WHERE d.digest = $1",
            &[digest.as_str().into()],
        )?;
        if let Some([first, received]) = seen.first().map(Vec::as_slice) {
            return Ok(Ingested::Already {
                file: name,
                first: first.text().to_string(),
                received: received.text().to_string(),
            });
        }
        let origin = Origin::Stored {
            name: Arc::from(name.as_str()),
            bytes: Arc::clone(&bytes),
        };
        let grammar = match crate::facts::read::detect(&origin, grammars, None) {
            Ok(g) => g,
            Err(e) => {
                return Ok(Ingested::Refused {
                    file: name,
                    reason: e.message,
                })
            }
        };
        let month = month_of(file.day);
        let day = file.day.format("%Y-%m-%d").to_string();
        let size = bytes.len() as u64;
        let stored = self.db.transaction(|db| {
            ensure_month(db, &month)?;
            let file_id = db
                .one(
                    "INSERT INTO files (month, digest, name, grammar, received, ingested_at, agent, size, units, errors, content) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, '[]', $9) RETURNING id",
                    &[
                        month.as_str().into(),
                        digest.as_str().into(),
                        name.as_str().into(),
                        grammar.name.as_str().into(),
                        day.as_str().into(),
                        now().into(),
                        agent.id.as_str().into(),
                        Val::Int(i64::try_from(size).unwrap_or(i64::MAX)),
                        Val::Bytes(bytes.to_vec()),
                    ],
                )?
                .int();
            db.exec(
                "INSERT INTO digests (digest, file_id, month) VALUES ($1, $2, $3)",
                &[digest.as_str().into(), Val::Int(file_id), month.as_str().into()],
            )?;
            let mut w = FactWriter {
                db,
                file_id,
                month: month.clone(),
                received: day.clone(),
                rows: Vec::with_capacity(BATCH),
                written: 0,
                ps: Default::default(),
                failed: None,
            };
            let opts = Options {
                jobs: 1,
                decode_only: true,
                ..Options::default()
            };
            let read = drive::read(
                vec![Input::File(origin)],
                grammars,
                &opts,
                &mut |u| w.unit(u),
            );
            w.flush();
            if let Some(e) = w.failed.take() {
                return Err(e);
            }
            if read.readable_inputs == 0 {
                let why = read.outcomes.first().map(|o| o.message.clone());
                return Err(StoreError::Unreadable(why.unwrap_or_default()));
            }
            let (facts, ps) = (w.written, std::mem::take(&mut w.ps));
            db.exec(
                "UPDATE files SET units = $1, errors = $2 WHERE month = $3 AND id = $4",
                &[
                    Val::Int(i64::try_from(facts).unwrap_or(i64::MAX)),
                    errors_json(&read.outcomes).into(),
                    month.as_str().into(),
                    Val::Int(file_id),
                ],
            )?;
            let mut subjects = vec![format!("fichier={name}")];
            subjects.extend(ps);
            audit::append(
                db,
                &agent.id,
                "ingest",
                &subjects,
                &format!(
                    "format {}, reçu le {day}, {facts} faits, {} erreur(s) de lecture",
                    grammar.name,
                    read.outcomes.len()
                ),
            )?;
            Ok(Ingested::Stored {
                file: name.clone(),
                format: grammar.name.clone(),
                facts,
                errors: read.outcomes.len(),
                bytes: size,
            })
        });
        match stored {
            Err(StoreError::Unreadable(reason)) => Ok(Ingested::Refused { file: name, reason }),
            other => other,
        }
    }
}
