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
use crate::facts::{resolve, subject_values};
use crate::model::{iso_date, GrammarSet, Node, Outcome, Unit, Value};

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

/// Appends the `(field, value)` pairs of a node's opening record that could be read, as a JSON
/// object.
fn write_fields(node: &Node, out: &mut String) {
    out.push('{');
    let mut value = String::new();
    if let Some(r) = &node.open {
        for (i, (def, v)) in r.def.fields.iter().zip(r.values.iter()).enumerate() {
            value.clear();
            if r.is_faulty(i) || !v.write_display(&mut value) {
                continue;
            }
            if out.len() > 1 {
                out.push(',');
            }
            json_string(&def.name, out);
            out.push(':');
            json_string(&value, out);
        }
    }
    out.push('}');
}

/// Appends `s` as a JSON string (RFC 8259 escapes), copying the runs that need none whole.
fn json_string(s: &str, out: &mut String) {
    use std::fmt::Write;
    out.push('"');
    let mut rest = s;
    // The bytes to escape are ASCII: a byte search is a character search in UTF-8.
    while let Some(at) = rest
        .bytes()
        .position(|b| b == b'"' || b == b'\\' || b < b' ')
    {
        out.push_str(rest.get(..at).unwrap_or_default());
        let mut tail = rest.get(at..).unwrap_or_default().chars();
        match tail.next() {
            Some('"') => out.push_str("\\\""),
            Some('\\') => out.push_str("\\\\"),
            Some(c) => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            None => {}
        }
        rest = tail.as_str();
    }
    out.push_str(rest);
    out.push('"');
}

/// The PS (or doctor) a subject is about.
pub(crate) fn ps_of(subject: &crate::model::Subject) -> Option<String> {
    PS_KEYS
        .iter()
        .find_map(|k| subject.get(k))
        .map(str::to_string)
}

/// The PS (or doctor) a subject is about, as a subject (`n_ps=…`, `rpps=…`).
pub(crate) fn ps_subject(subject: &crate::model::Subject) -> Option<String> {
    PS_KEYS
        .iter()
        .find_map(|k| subject.get(k).map(|v| format!("{k}={v}")))
}

/// The subject keys that name a PS or a doctor.
const PS_KEYS: [&str; 2] = ["n_ps", "rpps"];

/// Turns units into fact rows, handed by batches to the thread that inserts them.
struct FactRows {
    send: std::sync::mpsc::SyncSender<Vec<Val>>,
    file_id: i64,
    month: Arc<str>,
    received: Arc<str>,
    rows: Vec<Val>,
    ps: std::collections::BTreeSet<String>,
    last_ps: String,
    count: u64,
    recent: Recent,
}

/// The texts that repeat from row to row (a group's name, a lot's date, a PS), shared rather
/// than allocated for each row.
#[derive(Default)]
struct Recent(Vec<Arc<str>>);

impl Recent {
    const KEPT: usize = 16;

    fn get(&mut self, text: &str) -> Arc<str> {
        if let Some(found) = self.0.iter().find(|t| &***t == text) {
            return Arc::clone(found);
        }
        if self.0.len() == Self::KEPT {
            self.0.remove(0);
        }
        let new: Arc<str> = Arc::from(text);
        self.0.push(Arc::clone(&new));
        new
    }
}

impl FactRows {
    fn unit(&mut self, unit: &Unit) {
        let mut chain: Vec<&Node> = unit.ancestors.iter().map(Arc::as_ref).collect();
        self.node(&unit.node, &mut chain);
    }

    fn node<'n>(&mut self, node: &'n Node, chain: &mut Vec<&'n Node>) {
        chain.push(node);
        let mut subject = String::with_capacity(48);
        let mut ps = None;
        for (k, v) in subject_values(chain) {
            let start = subject.len();
            if start > 0 {
                subject.push(' ');
            }
            let key_at = subject.len();
            subject.push_str(k);
            subject.push('=');
            let value_at = subject.len();
            if !v.write_display(&mut subject) {
                subject.truncate(start);
            } else if ps.is_none() && PS_KEYS.contains(&&**k) {
                ps = Some((key_at, value_at, subject.len()));
            }
        }
        let day = node
            .group
            .date
            .as_ref()
            .and_then(|p| resolve(p, chain))
            .and_then(|v| match v.as_ref() {
                Value::Date(d) => Some(self.recent.get(&iso_date(*d))),
                _ => None,
            });
        let ps = ps.map(|(key_at, value_at, end)| {
            let whole = subject.get(key_at..end).unwrap_or_default();
            if whole != self.last_ps {
                self.last_ps = whole.to_string();
                self.ps.insert(self.last_ps.clone());
            }
            self.recent
                .get(subject.get(value_at..end).unwrap_or_default())
        });
        let mut fields = String::with_capacity(256);
        write_fields(node, &mut fields);
        let shared = |v: Option<Arc<str>>| v.map_or(Val::Null, Val::Shared);
        self.rows.extend([
            Val::Int(self.file_id),
            Val::Shared(Arc::clone(&self.month)),
            Val::Shared(Arc::clone(&self.received)),
            Val::Int(i64::from(node.line)),
            Val::Shared(self.recent.get(&node.group.name)),
            subject.into(),
            shared(ps),
            shared(day),
            fields.into(),
        ]);
        self.count += 1;
        if self.rows.len() >= BATCH * FACT_COLUMNS.len() {
            self.flush();
        }
        for children in &node.children {
            for child in children {
                self.node(child, chain);
            }
        }
        chain.pop();
    }

    /// Hands the rows built to the writer (which, stopped on an error, says which when
    /// joined).
    fn flush(&mut self) {
        if !self.rows.is_empty() {
            let full = Vec::with_capacity(BATCH * FACT_COLUMNS.len());
            let _ = self.send.send(std::mem::replace(&mut self.rows, full));
        }
    }
}

/// The columns of a fact row, in [`FactRows`]' order.
const FACT_COLUMNS: [&str; 9] = [
    "file_id", "month", "received", "line", "grp", "subject", "ps", "day", "fields",
];

/// Reads `origin` and writes its facts into `db`: decoding and building the rows on this
/// thread, inserting them on another, so that both cores work. The facts written, the PS met,
/// the reading.
fn write_facts(
    db: &mut Db,
    grammars: &GrammarSet,
    origin: Origin,
    place: FactRowsOf<'_>,
) -> Result<
    (
        u64,
        std::collections::BTreeSet<String>,
        crate::drive::Analysis,
    ),
    StoreError,
> {
    let (send, receive) = std::sync::mpsc::sync_channel::<Vec<Val>>(4);
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || {
            for rows in receive {
                db.insert_many("facts", &FACT_COLUMNS, &rows)?;
            }
            Ok(())
        });
        let mut facts = FactRows {
            send,
            file_id: place.file_id,
            month: Arc::from(place.month),
            received: Arc::from(place.received),
            rows: Vec::with_capacity(BATCH * FACT_COLUMNS.len()),
            ps: Default::default(),
            last_ps: String::new(),
            count: 0,
            recent: Recent::default(),
        };
        let opts = Options {
            jobs: 1,
            decode_only: true,
            ..Options::default()
        };
        let read = drive::read(vec![Input::File(origin)], grammars, &opts, &mut |u| {
            facts.unit(u)
        });
        facts.flush();
        let FactRows {
            count, ps, send, ..
        } = facts;
        drop(send);
        match writer.join() {
            Ok(Ok(())) => Ok((count, ps, read)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(StoreError::Database(
                "le fil d'écriture des faits s'est arrêté".into(),
            )),
        }
    })
}

/// Where a file's facts go.
struct FactRowsOf<'a> {
    file_id: i64,
    month: &'a str,
    received: &'a str,
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
                        Val::Bytes(Arc::clone(&bytes)),
                    ],
                )?
                .int();
            db.exec(
                "INSERT INTO digests (digest, file_id, month) VALUES ($1, $2, $3)",
                &[digest.as_str().into(), Val::Int(file_id), month.as_str().into()],
            )?;
            let place = FactRowsOf {
                file_id,
                month: &month,
                received: &day,
            };
            let (facts, ps, read) = write_facts(db, grammars, origin, place)?;
            if read.readable_inputs == 0 {
                let why = read.outcomes.first().map(|o| o.message.clone());
                return Err(StoreError::Unreadable(why.unwrap_or_default()));
            }
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
