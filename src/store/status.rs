//! Status: what the store knew on a day, per PS or for a subject — the outcomes open that day
//! (missing documents, orphan PJ, rejected invoices, the guidance shown, conflicts), the
//! invoices awaiting a document and since when, the letters sent — as outcomes, so that every
//! report format shows them. The beneficiary's NIR is added where the subject is an invoice,
//! in full only for a role that needs it.

use std::sync::Arc;

use chrono::NaiveDate;

use super::db::Val;
use super::ingest::fact_id;
use super::{Agent, Store, StoreError};
use crate::model::{Details, Kind, Outcome, Severity, Source, Subject};

/// The code status gives an invoice awaiting a document.
pub const AWAITED: &str = "ATTENTE-PJ";
/// The code status gives a letter sent.
pub const SENT: &str = "COURRIER";

/// What [`Store::status`] shows.
#[derive(Debug, Clone)]
pub struct StatusQuery {
    /// The day seen.
    pub as_of: NaiveDate,
    /// Only this PS (or doctor).
    pub ps: Option<String>,
    /// Only outcomes whose subject has all these `(key, value)`.
    pub subject: Vec<(String, String)>,
}

fn kind_of(s: &str) -> Kind {
    match s {
        "conflict" => Kind::Conflict,
        "guidance" => Kind::Guidance,
        "error" => Kind::Error,
        _ => Kind::Anomaly,
    }
}

fn severity_of(s: &str) -> Severity {
    match s {
        "rejet" => Severity::Rejet,
        "signalement" => Severity::Signalement,
        _ => Severity::Info,
    }
}

fn subject_of_json(s: &str) -> Subject {
    let pairs: Vec<(String, String)> = serde_json::from_str(s).unwrap_or_default();
    Subject(
        pairs
            .into_iter()
            .map(|(k, v)| (Arc::from(k.as_str()), v))
            .collect(),
    )
}

/// A NIR as a role may see it: whole, or its last 4 characters.
pub fn shown_nir(nir: &str, full: bool) -> String {
    if full {
        return nir.to_string();
    }
    let tail: String = nir
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("…{tail}")
}

impl StatusQuery {
    fn matches(&self, subject: &Subject) -> bool {
        self.subject
            .iter()
            .all(|(k, v)| subject.get(k) == Some(v.as_str()))
    }
}

impl Store {
    /// What the store knew on `q.as_of` (see the module), for `agent`; audited as a read of
    /// personal data.
    pub fn status(&mut self, agent: &Agent, q: &StatusQuery) -> Result<Vec<Outcome>, StoreError> {
        let day = q.as_of.format("%Y-%m-%d").to_string();
        let mut params: Vec<Val> = vec![day.as_str().into()];
        let ps_clause = match &q.ps {
            Some(ps) => {
                params.push(ps.as_str().into());
                " AND ps = $2"
            }
            None => "",
        };
        let rows = self.db.query(
            &format!(
                "SELECT awaited, code, kind, severity, subject, file, line, col, field, ruleset, message, text, details, day \
                 FROM outcomes WHERE appeared <= $1 AND (resolved IS NULL OR resolved > $1){ps_clause}"
            ),
            &params,
        )?;
        let full = agent.role.sees_full_nir();
        let mut out = Vec::new();
        for r in rows {
            let [awaited, code, kind, severity, subject, file, line, col, field, ruleset, message, text, details, fact_day] =
                r.as_slice()
            else {
                continue;
            };
            let subject = subject_of_json(subject.text());
            if !q.matches(&subject) {
                continue;
            }
            let source = file.opt_text().map(|f| Source {
                file: Arc::from(f),
                line: u32::try_from(line.int()).ok().filter(|&l| l > 0),
                column: u32::try_from(col.int()).ok().filter(|&c| c > 0),
                field: field.opt_text(),
            });
            let nir = match &source {
                Some(s) => self.nir_at(&s.file, s.line)?,
                None => None,
            };
            let mut o = Outcome {
                kind: kind_of(kind.text()),
                code: Arc::from(code.text()),
                severity: severity_of(severity.text()),
                subject,
                message: message.text().to_string(),
                text: text.opt_text(),
                ruleset: ruleset.opt_text().map(|r| Arc::from(r.as_str())),
                source,
                date: fact_day
                    .opt_text()
                    .and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()),
                details: details_of(details.text()),
            };
            if awaited.int() != 0 {
                let since = fact_day.opt_text().unwrap_or_else(|| "?".into());
                o.code = Arc::from(AWAITED);
                o.kind = Kind::Anomaly;
                o.severity = Severity::Info;
                o.message = format!("attend sa pièce justificative depuis le {since}");
                o.text = None;
            }
            if let Some(nir) = nir {
                o.message = format!("{} — bénéficiaire NIR {}", o.message, shown_nir(&nir, full));
            }
            out.push(o);
        }
        out.extend(self.sent_before(q)?);
        let mut subjects = vec![match &q.ps {
            Some(ps) => format!("ps={ps}"),
            None => "tous les PS".to_string(),
        }];
        subjects.extend(q.subject.iter().map(|(k, v)| format!("{k}={v}")));
        self.record(
            &agent.id,
            "status",
            &subjects,
            &format!(
                "au {day}, {} ligne(s), NIR {}",
                out.len(),
                if full { "entiers" } else { "masqués" }
            ),
        )?;
        Ok(out)
    }

    /// The NIR of the invoice read at `file`:`line`, if the store holds one (of the files
    /// stored under that name, the one stored last — the highest id — first).
    fn nir_at(&mut self, file: &str, line: Option<u32>) -> Result<Option<String>, StoreError> {
        let Some(line) = line else { return Ok(None) };
        let files = self.db.query(
            "SELECT id FROM files WHERE name = $1 ORDER BY id DESC",
            &[file.into()],
        )?;
        for id in files.iter().filter_map(|r| r.first()).map(Val::int) {
            // A file's facts are one range of ids: read by the table's own key.
            let rows = self.db.query(
                "SELECT fields FROM facts WHERE id BETWEEN $1 AND $2 AND line = $3 AND file_id = $4",
                &[
                    Val::Int(fact_id(id, 0)),
                    Val::Int(fact_id(id.saturating_add(1), -1)),
                    Val::Int(i64::from(line)),
                    Val::Int(id),
                ],
            )?;
            let nir = rows.iter().find_map(|r| {
                let fields: serde_json::Value = serde_json::from_str(r.first()?.text()).ok()?;
                fields.get("nir")?.as_str().map(str::to_string)
            });
            if nir.is_some() {
                return Ok(nir);
            }
        }
        Ok(None)
    }

    /// The letters sent on or before the day, as status lines.
    fn sent_before(&mut self, q: &StatusQuery) -> Result<Vec<Outcome>, StoreError> {
        let day = q.as_of.format("%Y-%m-%d").to_string();
        let rows = self.db.query(
            "SELECT code, subject, ps, recipient_kind, channel, day, agent, file FROM sent WHERE day <= $1 ORDER BY day, key",
            &[day.into()],
        )?;
        let mut out = Vec::new();
        for r in rows {
            let [code, subject, ps, _kind, channel, day, agent, file] = r.as_slice() else {
                continue;
            };
            if q.ps.as_deref().is_some_and(|p| p != ps.text()) {
                continue;
            }
            let subject = subject_of_json(subject.text());
            if !q.matches(&subject) {
                continue;
            }
            out.push(Outcome {
                kind: Kind::Guidance,
                code: Arc::from(SENT),
                severity: Severity::Info,
                subject,
                message: format!(
                    "{} dite par {} le {} (agent {}, {})",
                    code.text(),
                    channel.text(),
                    day.text(),
                    agent.text(),
                    file.text()
                ),
                text: None,
                ruleset: None,
                source: None,
                date: None,
                details: Details::default(),
            });
        }
        Ok(out)
    }
}

fn details_of(json: &str) -> Details {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    Details {
        motif: text("motif"),
        field: text("field"),
        values: v.get("values").and_then(|x| x.as_object()).cloned(),
        return_to: v
            .get("return_to")
            .and_then(|x| serde_json::from_value(x.clone()).ok()),
    }
}
