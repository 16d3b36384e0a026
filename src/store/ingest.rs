//! Ingest: a received file kept whole (reconcile reads it again with the grammars of the day)
//! with its facts — one row per lot, invoice, line, PJ line, return, CAS record — and its input
//! errors, in one transaction per file. A file already received (same SHA-256) is not stored
//! twice; a crash in the middle leaves the store as before that file.
//!
//! Threads share the work: readers read the files ahead (content, digest, decoding, fact rows),
//! file `i` by reader `i % readers`, and one writer takes them back in order from each reader
//! in turn and writes them, so that files are decoded while the one before them is inserted
//! and committed.

mod rows;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

use chrono::NaiveDate;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::db::{Db, Kind, Val};
use super::{audit, month_of, now, Agent, Store, StoreError};
use crate::drive::{self, Input, Options, Origin};
use crate::model::{iso_date, GrammarSet, Outcome};
pub(crate) use rows::fact_id;
pub(crate) use rows::{ps_of, ps_subject};
use rows::{FactRows, FACT_COLUMNS, FILE_ID, ID};

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

/// The JSON of the input errors of a file (kept with it).
fn errors_json(errors: &[Outcome]) -> String {
    serde_json::to_string(errors).unwrap_or_else(|_| "[]".into())
}

/// Files read at most at once (on as many cores).
const MAX_READERS: usize = 4;

/// Batches a reader may hand on ahead of the writer.
const AHEAD: usize = 8;

/// What a reading thread hands the writing one, file after file.
enum Ahead {
    /// A file not to store: refused, or received before.
    Settled(Ingested),
    /// A file to store; its rows follow, then its end.
    Start(Header),
    /// Fact rows of the file started.
    Rows(Vec<Val>),
    /// The file started has been read to its end.
    End(Reading),
}

/// A file to store, as read.
struct Header {
    name: String,
    digest: String,
    grammar: String,
    bytes: Arc<[u8]>,
    day: String,
    month: String,
}

/// What reading a whole file gave.
struct Reading {
    facts: u64,
    ps: BTreeSet<String>,
    errors: Vec<Outcome>,
    readable: bool,
}

/// The writing thread has stopped (on an error it reports itself).
struct WriterGone;

/// The name and day the file of SHA-256 `digest` was first received under, if it was.
fn received_before(db: &mut Db, digest: &str, name: &str) -> Result<Option<Ingested>, StoreError> {
    let seen = db.query(
        "SELECT f.name, f.received FROM digests d JOIN files f ON f.id = d.file_id AND f.month = d.month WHERE d.digest = $1",
        &[digest.into()],
    )?;
    Ok(match seen.first().map(Vec::as_slice) {
        Some([first, received]) => Some(Ingested::Already {
            file: name.to_string(),
            first: first.text().to_string(),
            received: received.text().to_string(),
        }),
        _ => None,
    })
}

/// Reads every `lanes`-th file of `files` from the `lane`-th, and hands each on to the writer;
/// `seen` (a connection of its own, when there is one) spares decoding a file received before.
fn read_ahead(
    files: &[Received<'_>],
    (lane, lanes): (usize, usize),
    grammars: &GrammarSet,
    mut seen: Option<Db>,
    send: &SyncSender<Ahead>,
) {
    for file in files.iter().skip(lane).step_by(lanes) {
        if read_one(file, grammars, seen.as_mut(), send).is_err() {
            return;
        }
    }
}

/// Reads one file and hands it on: settled, or its header, rows and end.
fn read_one(
    file: &Received<'_>,
    grammars: &GrammarSet,
    seen: Option<&mut Db>,
    send: &SyncSender<Ahead>,
) -> Result<(), WriterGone> {
    let hand = |next: Ahead| send.send(next).map_err(|_| WriterGone);
    let name = file.path.display().to_string();
    let bytes: Arc<[u8]> = match std::fs::read(file.path) {
        Ok(b) => b.into(),
        Err(e) => {
            let reason = format!("fichier illisible : {e}");
            return hand(Ahead::Settled(Ingested::Refused { file: name, reason }));
        }
    };
    let digest = digest(&bytes);
    // A failed look-up is only a lost shortcut: the writer looks again in its transaction.
    if let Some(Ok(Some(already))) = seen.map(|db| received_before(db, &digest, &name)) {
        return hand(Ahead::Settled(already));
    }
    let origin = Origin::Stored {
        name: Arc::from(name.as_str()),
        bytes: Arc::clone(&bytes),
    };
    let grammar = match crate::facts::read::detect(&origin, grammars, None) {
        Ok(g) => g.name.clone(),
        Err(e) => {
            let reason = e.message;
            return hand(Ahead::Settled(Ingested::Refused { file: name, reason }));
        }
    };
    let day = iso_date(file.day);
    let month = month_of(file.day);
    // Once the writer has stopped, the rest of the file is read without building rows.
    let gone = std::cell::Cell::new(false);
    let mut facts = FactRows::new(&month, &day, |rows| {
        if !gone.get() && send.send(Ahead::Rows(rows)).is_err() {
            gone.set(true);
        }
    });
    hand(Ahead::Start(Header {
        name,
        digest,
        grammar,
        bytes,
        day,
        month,
    }))?;
    let opts = Options {
        jobs: 1,
        decode_only: true,
        ..Options::default()
    };
    let read = drive::read(vec![Input::File(origin)], grammars, &opts, &mut |u| {
        if !gone.get() {
            facts.unit(u);
        }
    });
    let (count, ps) = facts.finish();
    if gone.get() {
        return Err(WriterGone);
    }
    hand(Ahead::End(Reading {
        facts: count,
        ps,
        errors: read.outcomes,
        readable: read.readable_inputs > 0,
    }))
}

/// The id the next file stored will have. On SQLite the writer holds the database's write lock
/// (`BEGIN IMMEDIATE`): no other can take it meanwhile.
fn next_file_id(db: &mut Db) -> Result<i64, StoreError> {
    let sql = match db.kind() {
        Kind::Sqlite => "SELECT COALESCE(MAX(id), 0) + 1 FROM files",
        Kind::Postgres => "SELECT nextval('files_id')",
    };
    Ok(db.one(sql, &[])?.int())
}

/// A reading thread stopped before the end of its files.
fn reading_stopped() -> StoreError {
    StoreError::Database("la lecture des fichiers s'est arrêtée avant la fin".into())
}

impl Store {
    /// Ingests `files` in their order for `agent` (who must be allowed to change the store):
    /// each kept whole with its facts and input errors, in one transaction, audited. `each`
    /// hears what became of each file as soon as it is settled. Stops at the first database
    /// error (the files before it are stored).
    pub fn ingest(
        &mut self,
        agent: &Agent,
        grammars: &GrammarSet,
        files: &[Received<'_>],
        each: &mut dyn FnMut(Ingested),
    ) -> Result<(), StoreError> {
        let lanes = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_READERS)
            .min(files.len().max(1));
        std::thread::scope(|scope| {
            // Inside the scope: should the writer panic, unwinding drops the receivers, and the
            // readers, their sends refused, stop before the scope waits for them.
            let mut ahead = Vec::with_capacity(lanes);
            let mut readers = Vec::with_capacity(lanes);
            for lane in 0..lanes {
                let seen = self.look_up_connection().ok();
                let (send, receive) = sync_channel::<Ahead>(AHEAD);
                ahead.push(receive);
                readers.push(
                    scope.spawn(move || read_ahead(files, (lane, lanes), grammars, seen, &send)),
                );
            }
            let written = self.write_all(agent, files.len(), &ahead, each);
            drop(ahead);
            let joined: Vec<bool> = readers.into_iter().map(|r| r.join().is_ok()).collect();
            written?;
            if joined.contains(&false) {
                return Err(reading_stopped());
            }
            Ok(())
        })
    }

    /// Writes the `count` files the readers hand on, taking them in turn from each reader,
    /// one transaction each.
    fn write_all(
        &mut self,
        agent: &Agent,
        count: usize,
        ahead: &[Receiver<Ahead>],
        each: &mut dyn FnMut(Ingested),
    ) -> Result<(), StoreError> {
        for lane in ahead.iter().cycle().take(count) {
            match lane.recv() {
                Ok(Ahead::Settled(settled)) => each(settled),
                Ok(Ahead::Start(header)) => each(self.store_file(agent, header, lane)?),
                _ => return Err(reading_stopped()),
            }
        }
        Ok(())
    }

    /// Stores the file `header` starts, with the rows that follow it, in one transaction.
    fn store_file(
        &mut self,
        agent: &Agent,
        header: Header,
        ahead: &Receiver<Ahead>,
    ) -> Result<Ingested, StoreError> {
        let Header {
            name,
            digest,
            grammar,
            bytes,
            day,
            month,
        } = header;
        let size = bytes.len() as u64;
        let stored = self.db.transaction(|db| {
            if let Some(already) = received_before(db, &digest, &name)? {
                skip_file(ahead)?;
                return Ok(already);
            }
            ensure_month(db, &month)?;
            let file_id = next_file_id(db)?;
            db.exec(
                "INSERT INTO digests (digest, file_id, month) VALUES ($1, $2, $3)",
                &[digest.as_str().into(), Val::Int(file_id), month.as_str().into()],
            )?;
            let read = insert_facts(db, file_id, ahead)?;
            if !read.readable {
                let why = read.errors.first().map(|o| o.message.clone());
                return Err(StoreError::Unreadable(why.unwrap_or_default()));
            }
            // Inserted last, whole: a row rewritten with its content would copy it again.
            db.exec(
                "INSERT INTO files (id, month, digest, name, grammar, received, ingested_at, agent, size, units, errors, content) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                &[
                    Val::Int(file_id),
                    month.as_str().into(),
                    digest.as_str().into(),
                    name.as_str().into(),
                    grammar.as_str().into(),
                    day.as_str().into(),
                    now().into(),
                    agent.id.as_str().into(),
                    Val::Int(i64::try_from(size).unwrap_or(i64::MAX)),
                    Val::Int(i64::try_from(read.facts).unwrap_or(i64::MAX)),
                    errors_json(&read.errors).into(),
                    Val::Bytes(bytes),
                ],
            )?;
            let mut subjects = vec![format!("fichier={name}")];
            subjects.extend(read.ps);
            audit::append(
                db,
                &agent.id,
                "ingest",
                &subjects,
                &format!(
                    "format {grammar}, reçu le {day}, {} faits, {} erreur(s) de lecture",
                    read.facts,
                    read.errors.len()
                ),
            )?;
            Ok(Ingested::Stored {
                file: name.clone(),
                format: grammar.clone(),
                facts: read.facts,
                errors: read.errors.len(),
                bytes: size,
            })
        });
        match stored {
            Err(StoreError::Unreadable(reason)) => Ok(Ingested::Refused { file: name, reason }),
            other => other,
        }
    }
}

/// Inserts the fact rows of file `file_id` as the reader hands them on; what reading it gave.
fn insert_facts(db: &mut Db, file_id: i64, ahead: &Receiver<Ahead>) -> Result<Reading, StoreError> {
    loop {
        match ahead.recv() {
            Ok(Ahead::Rows(mut rows)) => {
                for row in rows.chunks_mut(FACT_COLUMNS.len()) {
                    if let Some(Val::Int(rank)) = row.get_mut(ID) {
                        *rank = fact_id(file_id, *rank);
                    }
                    if let Some(id) = row.get_mut(FILE_ID) {
                        *id = Val::Int(file_id);
                    }
                }
                db.insert_many("facts", &FACT_COLUMNS, &rows)?;
            }
            Ok(Ahead::End(read)) => return Ok(read),
            _ => return Err(reading_stopped()),
        }
    }
}

/// Passes over the rows of a file found received before, to its end.
fn skip_file(ahead: &Receiver<Ahead>) -> Result<(), StoreError> {
    loop {
        match ahead.recv() {
            Ok(Ahead::Rows(_)) => {}
            Ok(Ahead::End(_)) => return Ok(()),
            _ => return Err(reading_stopped()),
        }
    }
}
