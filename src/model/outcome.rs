//! What the analysis produces: anomalies, guidance, conflicts and errors, each about a subject
//! (docs/formats/report.md).

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::schema::SubjectOrder;

/// The codes of `error` outcomes: input that could not be read, a rule that failed, vigie
/// itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// A field or record that does not match its grammar.
    Parse,
    /// A record of unknown type or out of the format's order.
    Structure,
    /// A rule stopped on a fact (script error, limit reached).
    Rule,
    /// A bug of vigie outside any rule.
    Internal,
}

impl ErrorCode {
    /// The code as the report writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Parse => "PARSE",
            ErrorCode::Structure => "STRUCTURE",
            ErrorCode::Rule => "RULE",
            ErrorCode::Internal => "INTERNAL",
        }
    }
}

/// What an outcome is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A rule found something wrong.
    Anomaly,
    /// Sources disagree (CAS): returned to the organisms concerned.
    Conflict,
    /// What the professional should do (Compagnon).
    Guidance,
    /// Input that could not be read, or a rule that failed.
    Error,
}

/// How serious an outcome is, from the most to the least serious.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Blocks the payment.
    Rejet,
    /// To be corrected, without blocking.
    Signalement,
    /// For information.
    Info,
}

impl Severity {
    /// The word the report writes.
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
    /// The word the report writes.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Anomaly => "anomaly",
            Kind::Conflict => "conflict",
            Kind::Guidance => "guidance",
            Kind::Error => "error",
        }
    }
}

/// The business key an outcome is about, as `(key, value)` pairs in the grammar's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject(pub Vec<(Arc<str>, String)>);

impl Subject {
    /// The value of subject key `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| v.as_str())
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
    /// The input file.
    pub file: Arc<str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The physical line (1-based).
    pub line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The 1-based column of an error.
    pub column: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The field of an error.
    pub field: Option<String>,
}

/// One finding of the analysis.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// What it is.
    pub kind: Kind,
    /// Catalogue code (`ID-NIRKEY`), or the error code.
    pub code: Arc<str>,
    /// How serious it is.
    pub severity: Severity,
    /// What it is about.
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
    /// Where it comes from.
    pub source: Option<Source>,
    /// The fact's date (an invoice's lot date), for letters; not in the report.
    #[serde(skip)]
    pub date: Option<chrono::NaiveDate>,
    /// Details some kinds carry (docs/formats/report.md): `motif` for NOEMIE guidance; `field`,
    /// `values` and `return_to` for conflicts.
    #[serde(flatten)]
    pub details: Details,
}

/// The kind-specific keys of an outcome, absent unless the rule gave them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Details {
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The NOEMIE motif a guidance answers.
    pub motif: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The field of an error.
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Each organism's value of the field in conflict.
    pub values: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The organisms a conflict is returned to.
    pub return_to: Option<Vec<String>>,
}

impl Outcome {
    /// An input error (`PARSE`, `STRUCTURE`) at a place of a file.
    pub fn error(
        code: ErrorCode,
        file: &Arc<str>,
        line: Option<u32>,
        column: Option<u32>,
        field: Option<&str>,
        message: String,
    ) -> Outcome {
        Outcome {
            kind: Kind::Error,
            code: Arc::from(code.as_str()),
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
            date: None,
            details: Details::default(),
        }
    }

    /// The deterministic report order: subject (in `order`), code, then source file and line.
    pub fn report_cmp(&self, other: &Outcome, order: &SubjectOrder) -> Ordering {
        order
            .cmp(&self.subject, &other.subject)
            .then_with(|| self.code.cmp(&other.code))
            .then_with(|| {
                let a = self.source.as_ref().map(|s| (&s.file, s.line, s.column));
                let b = other.source.as_ref().map(|s| (&s.file, s.line, s.column));
                a.cmp(&b)
            })
    }
}

/// Sorts outcomes in report order (stable, so equal keys keep their production order).
pub fn sort_for_report(outcomes: &mut [Outcome], order: &SubjectOrder) {
    outcomes.sort_by(|a, b| a.report_cmp(b, order));
}
