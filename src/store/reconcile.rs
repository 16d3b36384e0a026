//! Reconcile, the store's side: the files received by a day, in the order they came, as the
//! inputs of an analysis; then what that analysis decided, kept against what was open before —
//! an outcome found again stays as it was, a new one appears on the day, one no longer found is
//! resolved on the day, one whose message, guidance or rule set version changed is resolved
//! and appears again as decided now.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;
use serde::Serialize;

use super::db::{Db, Val};
use super::ingest::{ensure_month, ps_of, ps_subject};
use super::{audit, month_of, now, Agent, Store, StoreError};
use crate::drive::{Input, Origin};
use crate::model::Outcome;

/// How one code's outcomes moved in a reconcile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    /// New on the day.
    pub appeared: u64,
    /// No longer found.
    pub resolved: u64,
    /// Found again, told otherwise (message, guidance, severity, rule set version).
    pub changed: u64,
}

/// What a reconcile changed in the store.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Reconciled {
    /// All codes together.
    pub total: Changes,
    /// Per code (invoices awaiting a document under `attente`).
    pub by_code: BTreeMap<String, Changes>,
}

/// What identifies an outcome from one reconcile to the next: what it is, about what, where.
fn identity(o: &Outcome) -> String {
    let (file, line, col) = o
        .source
        .as_ref()
        .map_or((None, None, None), |s| (Some(&*s.file), s.line, s.column));
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}\t{}",
        o.code,
        o.subject,
        file.unwrap_or_default(),
        line.unwrap_or_default(),
        col.unwrap_or_default(),
        o.details.field.as_deref().unwrap_or_default(),
        o.details.motif.as_deref().unwrap_or_default(),
    )
}

/// The subject as JSON pairs, in order (read back by status).
pub(crate) fn subject_json(o: &Outcome) -> String {
    let pairs: Vec<(&str, &str)> = o
        .subject
        .0
        .iter()
        .map(|(k, v)| (&**k, v.as_str()))
        .collect();
    serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".into())
}

/// An open outcome of the store.
struct Open {
    id: i64,
    month: String,
    body: String,
}

const COLUMNS: [&str; 21] = [
    "month", "received", "identity", "awaited", "code", "kind", "severity", "subject", "ps",
    "file", "line", "col", "field", "ruleset", "message", "text", "details", "day", "body",
    "appeared", "resolved",
];

/// Where an outcome's row goes: its file's month and day of receipt.
struct Place<'a> {
    month: &'a str,
    received: &'a str,
}

fn row(
    o: &Outcome,
    awaited: bool,
    at: &Place<'_>,
    identity: String,
    body: String,
    day: &str,
) -> Vec<Val> {
    let src = o.source.as_ref();
    let opt_int = |v: Option<u32>| v.map_or(Val::Null, |v| Val::Int(i64::from(v)));
    let details = serde_json::to_string(&o.details).unwrap_or_else(|_| "{}".into());
    vec![
        at.month.into(),
        at.received.into(),
        identity.into(),
        Val::Int(i64::from(awaited)),
        (&*o.code).into(),
        o.kind.as_str().into(),
        o.severity.as_str().into(),
        subject_json(o).into(),
        ps_of(&o.subject).into(),
        src.map(|s| s.file.to_string()).into(),
        opt_int(src.and_then(|s| s.line)),
        opt_int(src.and_then(|s| s.column)),
        src.and_then(|s| s.field.clone()).into(),
        o.ruleset.as_ref().map(|r| r.to_string()).into(),
        o.message.as_str().into(),
        o.text.clone().into(),
        details.into(),
        o.date.map(|d| d.format("%Y-%m-%d").to_string()).into(),
        body.into(),
        day.into(),
        Val::Null,
    ]
}

impl Store {
    /// The files received on or before `as_of`, in the order they were ingested, as the inputs
    /// of an analysis (their names as given at ingest).
    pub fn inputs(&mut self, as_of: NaiveDate) -> Result<Vec<Input>, StoreError> {
        let day = as_of.format("%Y-%m-%d").to_string();
        let rows = self.db.query(
            "SELECT name, content FROM files WHERE received <= $1 ORDER BY id",
            &[day.into()],
        )?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let mut r = r.into_iter();
                let name = r.next()?.text().to_string();
                let Some(Val::Bytes(bytes)) = r.next() else {
                    return None;
                };
                Some(Input::File(Origin::Stored {
                    name: Arc::from(name),
                    bytes,
                }))
            })
            .collect())
    }

    /// The day of the last reconcile, if any.
    pub fn last_reconcile(&mut self) -> Result<Option<NaiveDate>, StoreError> {
        let v = self.db.one("SELECT MAX(as_of) FROM reconciles", &[])?;
        Ok(v.opt_text()
            .and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()))
    }

    /// Keeps what a reconcile at `as_of` decided (`outcomes`) and found awaited (`awaited`):
    /// appeared, resolved and changed against what was open. One transaction, audited.
    pub fn record_reconcile(
        &mut self,
        agent: &Agent,
        as_of: NaiveDate,
        rulesets: &str,
        outcomes: &[Outcome],
        awaited: &[Outcome],
    ) -> Result<Reconciled, StoreError> {
        if let Some(last) = self.last_reconcile()? {
            if as_of < last {
                return Err(StoreError::Invalid(format!(
                    "le magasin a été rapproché au {last} : un rapprochement au {as_of} réécrirait l'histoire (--as-of {last} ou après)"
                )));
            }
        }
        let day = as_of.format("%Y-%m-%d").to_string();
        let months = self.file_months()?;
        self.db.transaction(|db| {
            let mut open = open_outcomes(db)?;
            let mut done = Reconciled::default();
            let mut rows = Vec::new();
            let mut touched = BTreeSet::new();
            let mut to_resolve = Vec::new();
            let all = outcomes.iter().map(|o| (o, false)).chain(awaited.iter().map(|o| (o, true)));
            for (o, is_awaited) in all {
                let id = identity(o);
                let body = serde_json::to_string(o).unwrap_or_default();
                let code = if is_awaited { "attente".to_string() } else { o.code.to_string() };
                let counts = done.by_code.entry(code).or_default();
                let previous = open.get_mut(&(is_awaited, id.clone())).and_then(Vec::pop);
                match previous {
                    Some(p) if p.body == body => continue,
                    Some(p) => {
                        counts.changed += 1;
                        to_resolve.push(p);
                    }
                    None => counts.appeared += 1,
                }
                if let Some(p) = ps_subject(&o.subject) {
                    touched.insert(p);
                }
                let (month, received) = o
                    .source
                    .as_ref()
                    .and_then(|s| months.get(&*s.file).cloned())
                    .unwrap_or_else(|| (month_of(as_of), day.clone()));
                let place = Place { month: &month, received: &received };
                rows.extend(row(o, is_awaited, &place, id, body, &day));
            }
            for ((is_awaited, id), left) in open {
                let code = id.split('\t').next().unwrap_or_default().to_string();
                let code = if is_awaited { "attente".to_string() } else { code };
                done.by_code.entry(code).or_default().resolved += left.len() as u64;
                to_resolve.extend(left);
            }
            for p in &to_resolve {
                db.exec(
                    "UPDATE outcomes SET resolved = $1 WHERE month = $2 AND id = $3",
                    &[day.as_str().into(), p.month.as_str().into(), Val::Int(p.id)],
                )?;
            }
            let new_months: BTreeSet<&str> = rows.chunks(COLUMNS.len()).filter_map(|r| r.first()).map(Val::text).collect();
            for m in new_months {
                ensure_month(db, m)?;
            }
            db.insert_many("outcomes", &COLUMNS, &rows)?;
            for c in done.by_code.values() {
                done.total.appeared += c.appeared;
                done.total.resolved += c.resolved;
                done.total.changed += c.changed;
            }
            let t = done.total;
            db.exec(
                "INSERT INTO reconciles (as_of, at, agent, rulesets, appeared, resolved, changed) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    day.as_str().into(),
                    now().into(),
                    agent.id.as_str().into(),
                    rulesets.into(),
                    Val::Int(i64::try_from(t.appeared).unwrap_or(i64::MAX)),
                    Val::Int(i64::try_from(t.resolved).unwrap_or(i64::MAX)),
                    Val::Int(i64::try_from(t.changed).unwrap_or(i64::MAX)),
                ],
            )?;
            let subjects: Vec<String> = touched.into_iter().collect();
            audit::append(
                db,
                &agent.id,
                "reconcile",
                &subjects,
                &format!(
                    "au {day}, règles {rulesets} : {} apparu(s), {} résolu(s), {} modifié(s)",
                    t.appeared, t.resolved, t.changed
                ),
            )?;
            Ok(done)
        })
    }

    /// The month and day of receipt of every file, by name (the latest received under a
    /// name wins).
    fn file_months(&mut self) -> Result<HashMap<String, (String, String)>, StoreError> {
        let rows = self
            .db
            .query("SELECT name, month, received FROM files ORDER BY id", &[])?;
        Ok(rows
            .into_iter()
            .filter_map(|r| match r.as_slice() {
                [n, m, d] => Some((
                    n.text().to_string(),
                    (m.text().to_string(), d.text().to_string()),
                )),
                _ => None,
            })
            .collect())
    }
}

/// The open outcomes, by (awaited, identity); several with one identity are matched in turn.
fn open_outcomes(db: &mut Db) -> Result<HashMap<(bool, String), Vec<Open>>, StoreError> {
    let rows = db.query(
        "SELECT id, month, identity, body, awaited FROM outcomes WHERE resolved IS NULL ORDER BY id DESC",
        &[],
    )?;
    let mut open: HashMap<(bool, String), Vec<Open>> = HashMap::new();
    for r in rows {
        if let [id, month, identity, body, awaited] = r.as_slice() {
            open.entry((awaited.int() != 0, identity.text().to_string()))
                .or_default()
                .push(Open {
                    id: id.int(),
                    month: month.text().to_string(),
                    body: body.text().to_string(),
                });
        }
    }
    Ok(open)
}
