//! What the analysis produces: anomalies, guidance, conflicts and input errors, each about a
//! subject (formats/report.md).

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// What an outcome is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Anomaly,
    Conflict,
    Guidance,
    Error,
}

/// How serious an outcome is, from the most to the least serious.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Rejet,
    Signalement,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Rejet => "rejet",
            Severity::Signalement => "signalement",
            Severity::Info => "info",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Anomaly => "anomaly",
            Kind::Conflict => "conflict",
            Kind::Guidance => "guidance",
            Kind::Error => "error",
        }
    }
}

/// The subject keys in report order (formats/report.md, "sorted deterministically").
pub const SUBJECT_ORDER: [&str; 10] = [
    "emetteur",
    "numero_fichier",
    "n_ps",
    "n_lot",
    "n_facture",
    "ligne",
    "pj",
    "rpps",
    "annee",
    "organisme",
];

/// Subject keys compared as numbers when sorting.
const NUMERIC_KEYS: [&str; 2] = ["ligne", "pj"];

/// The business key an outcome is about, as `(key, value)` pairs in the grammar's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject(pub Vec<(Arc<str>, String)>);

impl Subject {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Compares two subjects key by key in report order, a missing key before any value.
    pub fn report_cmp(&self, other: &Subject) -> Ordering {
        for key in SUBJECT_ORDER {
            let ord = match (self.get(key), other.get(key)) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (Some(a), Some(b)) if NUMERIC_KEYS.contains(&key) => {
                    match (a.parse::<u64>(), b.parse::<u64>()) {
                        (Ok(x), Ok(y)) => x.cmp(&y),
                        _ => a.cmp(b),
                    }
                }
                (Some(a), Some(b)) => a.cmp(b),
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}

impl Serialize for Subject {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(&**k, v)?;
        }
        m.end()
    }
}

/// Where an outcome comes from: a file, a physical line, and for errors a column and a field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    pub file: Arc<str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// One finding of the analysis.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub kind: Kind,
    pub code: Arc<str>,
    pub severity: Severity,
    pub subject: Subject,
    /// One French sentence for the agent; never a NIR or a name.
    pub message: String,
    /// The guidance text for the professional, placeholders filled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `name@version` of the rule set that decided; absent on input errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ruleset: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// Details some kinds carry (formats/report.md): `motif` for NOEMIE guidance; `field`,
    /// `values` and `return_to` for conflicts.
    #[serde(flatten)]
    pub details: Details,
}

/// The kind-specific keys of an outcome, absent unless the rule gave them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Details {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub motif: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_to: Option<Vec<String>>,
}

impl Outcome {
    /// An input error (`PARSE`, `STRUCTURE`) at a place of a file.
    pub fn error(
        code: &'static str,
        file: &Arc<str>,
        line: Option<u32>,
        column: Option<u32>,
        field: Option<&str>,
        message: String,
    ) -> Outcome {
        Outcome {
            kind: Kind::Error,
            code: Arc::from(code),
            severity: Severity::Rejet,
            subject: Subject::default(),
            message,
            text: None,
            ruleset: None,
            source: Some(Source {
                file: file.clone(),
                line,
                column,
                field: field.map(str::to_string),
            }),
            details: Details::default(),
        }
    }

    /// The deterministic report order: subject, code, then source file and line.
    pub fn report_cmp(&self, other: &Outcome) -> Ordering {
        self.subject
            .report_cmp(&other.subject)
            .then_with(|| self.code.cmp(&other.code))
            .then_with(|| {
                let a = self.source.as_ref().map(|s| (&s.file, s.line, s.column));
                let b = other.source.as_ref().map(|s| (&s.file, s.line, s.column));
                a.cmp(&b)
            })
    }
}

/// Sorts outcomes in report order (stable, so equal keys keep their production order).
pub fn sort_for_report(outcomes: &mut [Outcome]) {
    outcomes.sort_by(Outcome::report_cmp);
}
