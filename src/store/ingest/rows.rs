//! A file's fact rows — one per lot, invoice, line, PJ line, return, CAS record — built from
//! its units as they are read: subject, PS, date and readable fields (as JSON), by batches.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::facts::{resolve, subject_values};
use crate::model::{iso_date, Node, Unit, Value};
use crate::store::db::Val;

/// Rows are handed on by batches of this many.
const BATCH: usize = 2000;

/// Appends the `(field, value)` pairs of a node's opening record that could be read, as a JSON
/// object; `keys` keeps each record's keys written once (`"nir":"`).
fn write_fields(node: &Node, keys: &mut Keys, out: &mut String) {
    out.push('{');
    if let Some(r) = &node.open {
        let keys = keys.of(&r.def);
        for (i, (key, v)) in keys.iter().zip(r.values.iter()).enumerate() {
            if r.is_faulty(i) {
                continue;
            }
            let before = out.len();
            if before > 1 {
                out.push(',');
            }
            out.push_str(key);
            // Written in place, escaped afterwards in the rare case it needs it.
            let value_at = out.len();
            if !v.write_display(out) {
                out.truncate(before);
                continue;
            }
            if out.get(value_at..).is_some_and(needs_escape) {
                let raw = out.split_off(value_at);
                escaped(&raw, out);
            }
            out.push('"');
        }
    }
    out.push('}');
}

/// The JSON keys of each record's fields, up to the opening quote of the value (`"nir":"`),
/// by record id.
#[derive(Default)]
struct Keys(Vec<Option<Vec<String>>>);

impl Keys {
    fn of(&mut self, def: &crate::model::RecordDef) -> &[String] {
        if self.0.len() <= def.id {
            self.0.resize(def.id + 1, None);
        }
        match self.0.get_mut(def.id) {
            Some(slot) => slot.get_or_insert_with(|| {
                let key = |name: &str| {
                    let mut k = String::from("\"");
                    escaped(name, &mut k);
                    k.push_str("\":\"");
                    k
                };
                def.fields.iter().map(|f| key(&f.name)).collect()
            }),
            None => &[],
        }
    }
}

/// Whether `s` holds a character a JSON string must escape.
fn needs_escape(s: &str) -> bool {
    s.bytes().any(must_escape)
}

/// Whether a JSON string must escape byte `b` (the bytes to escape are ASCII: a byte search is
/// a character search in UTF-8).
fn must_escape(b: u8) -> bool {
    b == b'"' || b == b'\\' || b < b' '
}

/// Appends `s` escaped for a JSON string (RFC 8259), copying the runs that need none whole.
fn escaped(s: &str, out: &mut String) {
    use std::fmt::Write;
    let mut rest = s;
    while let Some(at) = rest.bytes().position(must_escape) {
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

/// Turns units into fact rows, handed on by batches. The file's id is left for the writer to
/// fill ([`ID`], [`FILE_ID`]): the file has none before it is inserted.
pub(super) struct FactRows<F: FnMut(Vec<Val>)> {
    /// Where the batches go.
    sink: F,
    month: Arc<str>,
    received: Arc<str>,
    rows: Vec<Val>,
    /// The PS met (`n_ps=…`), for the audit entry.
    ps: BTreeSet<String>,
    last_ps: String,
    keys: Keys,
    /// The rows built.
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

impl<F: FnMut(Vec<Val>)> FactRows<F> {
    /// Rows for the file received on `received` (month `month`), handed to `sink`.
    pub fn new(month: &str, received: &str, sink: F) -> Self {
        FactRows {
            sink,
            month: Arc::from(month),
            received: Arc::from(received),
            rows: Vec::with_capacity(BATCH * FACT_COLUMNS.len()),
            ps: BTreeSet::new(),
            last_ps: String::new(),
            keys: Keys::default(),
            count: 0,
            recent: Recent::default(),
        }
    }

    /// Adds the rows of `unit`'s node and of its descendants.
    pub fn unit(&mut self, unit: &Unit) {
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
        write_fields(node, &mut self.keys, &mut fields);
        let shared = |v: Option<Arc<str>>| v.map_or(Val::Null, Val::Shared);
        self.rows.extend([
            Val::Int(i64::try_from(self.count).unwrap_or(i64::MAX)),
            Val::Int(0),
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

    /// Hands the last rows on; the rows built and the PS met (`n_ps=…`).
    pub fn finish(mut self) -> (u64, BTreeSet<String>) {
        self.flush();
        (self.count, self.ps)
    }

    /// Hands the rows built so far on.
    fn flush(&mut self) {
        if !self.rows.is_empty() {
            let full = Vec::with_capacity(BATCH * FACT_COLUMNS.len());
            (self.sink)(std::mem::replace(&mut self.rows, full));
        }
    }
}

/// The columns of a fact row, in [`FactRows`]' order.
pub(super) const FACT_COLUMNS: [&str; 10] = [
    "id", "file_id", "month", "received", "line", "grp", "subject", "ps", "day", "fields",
];

/// The position of the fact's id in a row: its rank in the file until the writer adds the
/// file's part ([`fact_id`]).
pub(super) const ID: usize = 0;

/// The position of the file id in a fact row.
pub(super) const FILE_ID: usize = 1;

/// The id of the fact of rank `rank` in file `file_id`: a file's facts are one range of ids.
pub(crate) fn fact_id(file_id: i64, rank: i64) -> i64 {
    file_id.saturating_mul(1 << 32).saturating_add(rank)
}

#[cfg(test)]
mod tests {
    use super::{escaped, needs_escape};

    #[test]
    fn a_value_escaped_reads_back_as_itself_in_json() {
        for raw in [
            "SIMON",
            "Raphaël",
            "",
            "dit \"le grand\"",
            "C:\\scans\\pj.pdf",
            "tab\there, bell\u{7}",
            "\u{1f}fin",
        ] {
            let mut out = String::new();
            escaped(raw, &mut out);
            let back: String = serde_json::from_str(&format!("\"{out}\"")).unwrap();
            assert_eq!(back, raw);
            assert_eq!(needs_escape(raw), out != raw, "{raw:?}");
        }
    }
}
