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

impl<'de> Deserialize<'de> for Subject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Subject, D::Error> {
        struct Pairs;
        impl<'de> serde::de::Visitor<'de> for Pairs {
            type Value = Subject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a subject: a map of keys to texts")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Subject, A::Error> {
                let mut pairs = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, String>()? {
                    pairs.push((Arc::from(k), v));
                }
                Ok(Subject(pairs))
            }
        }
        d.deserialize_map(Pairs)
    }
}

/// Where an outcome comes from: a file, a physical line, and for errors a column and a field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// One finding of the analysis. It reads back what it writes (`date` aside, which reports do
/// not show).
#[derive(Debug, Clone, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
            .key(&self.subject)
            .cmp(&order.key(&other.subject))
            .then_with(|| self.same_subject_cmp(other))
    }

    /// The report order of two outcomes about the same subject: code, then source file and
    /// line.
    pub fn same_subject_cmp(&self, other: &Outcome) -> Ordering {
        fn at(o: &Outcome) -> Option<(&Arc<str>, Option<u32>, Option<u32>)> {
            o.source.as_ref().map(|s| (&s.file, s.line, s.column))
        }
        self.code
            .cmp(&other.code)
            .then_with(|| at(self).cmp(&at(other)))
    }
}

/// Sorts outcomes in report order (stable, so equal keys keep their production order): the
/// order of [`Outcome::report_cmp`], each subject turned once into its key in report order
/// rather than looked up again at each comparison.
pub fn sort_for_report(outcomes: &mut [Outcome], order: &SubjectOrder) {
    let mut keyed: Vec<(Vec<SubjectPart<'_>>, &Outcome, usize)> = outcomes
        .iter()
        .enumerate()
        .map(|(i, o)| (order.key(&o.subject), o, i))
        .collect();
    keyed.sort_by(|(ka, a, _), (kb, b, _)| ka.cmp(kb).then_with(|| a.same_subject_cmp(b)));
    let by: Vec<usize> = keyed.into_iter().map(|(_, _, i)| i).collect();
    permute(outcomes, by);
}

/// Reorders `items` so that item `i` becomes the one that was at `by[i]` (`by` a permutation
/// of their indexes), following each cycle of the permutation with swaps.
fn permute<T>(items: &mut [T], mut by: Vec<usize>) {
    for start in 0..by.len() {
        let mut at = start;
        while let Some(slot) = by.get_mut(at) {
            let from = std::mem::replace(slot, at);
            if from == start {
                break;
            }
            items.swap(at, from);
            at = from;
        }
    }
}

/// One subject key's value as reports order it: absent before any value; for the keys compared
/// as numbers, numbers by value (`9` before `10`) before values that are not numbers; texts by
/// text. A total order, so the sort is well defined whatever the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SubjectPart<'a> {
    /// The subject has no such key.
    Absent,
    /// A number, for a numeric key (its text breaks ties: `09` before `9`).
    Number(u64, &'a str),
    /// Any other value.
    Text(&'a str),
}

impl SubjectPart<'_> {
    /// Appends the part as bytes that compare as the parts do (an order-preserving encoding):
    /// a tag by variant, a number in 8 big-endian bytes, a text with its zero bytes escaped
    /// (`00 FF`) and ended by `00 00`. Keys of several parts concatenate.
    pub fn encode(&self, out: &mut Vec<u8>) {
        fn text(s: &str, out: &mut Vec<u8>) {
            for &b in s.as_bytes() {
                out.push(b);
                if b == 0 {
                    out.push(0xFF);
                }
            }
            out.extend_from_slice(&[0, 0]);
        }
        match self {
            SubjectPart::Absent => out.push(0),
            SubjectPart::Number(n, s) => {
                out.push(1);
                out.extend_from_slice(&n.to_be_bytes());
                text(s, out);
            }
            SubjectPart::Text(s) => {
                out.push(2);
                text(s, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{sort_for_report, Details, Kind, Outcome, Severity, Source, Subject};
    use crate::model::SubjectOrder;

    fn outcome(subject: &[(&str, &str)], code: &str, line: Option<u32>) -> Outcome {
        Outcome {
            kind: Kind::Anomaly,
            code: Arc::from(code),
            severity: Severity::Rejet,
            subject: Subject(
                subject
                    .iter()
                    .map(|(k, v)| (Arc::from(*k), v.to_string()))
                    .collect(),
            ),
            message: format!("{code} {line:?}"),
            text: None,
            ruleset: None,
            source: line.map(|l| Source {
                file: Arc::from("lot.b2"),
                line: Some(l),
                column: None,
                field: None,
            }),
            date: None,
            details: Details::default(),
        }
    }

    proptest::proptest! {
        /// Key bytes compare as keys do, whatever the values: absent, numbers with zeros in
        /// front or a sign, texts with zero bytes, prefixes of one another.
        #[test]
        fn key_bytes_compare_as_keys(
            a in proptest::collection::vec(proptest::option::of("[0-9+]{0,3}|[a\\x00b]{0,3}"), 3),
            b in proptest::collection::vec(proptest::option::of("[0-9+]{0,3}|[a\\x00b]{0,3}"), 3),
        ) {
            let order = SubjectOrder {
                keys: ["n_ps", "ligne", "pj"].into_iter().map(Arc::from).collect(),
                numeric: vec![Arc::from("ligne"), Arc::from("pj")],
            };
            let subject = |values: &[Option<String>]| {
                Subject(
                    order
                        .keys
                        .iter()
                        .zip(values)
                        .filter_map(|(k, v)| v.clone().map(|v| (Arc::clone(k), v)))
                        .collect(),
                )
            };
            let (a, b) = (subject(&a), subject(&b));
            proptest::prop_assert_eq!(
                order.key_bytes(&a).cmp(&order.key_bytes(&b)),
                order.key(&a).cmp(&order.key(&b))
            );
        }
    }

    /// The keyed sort gives the order of `report_cmp` itself: absent keys first, numeric keys
    /// by value (`ligne=9` before `ligne=10`), then code, then line, equal ones as produced.
    #[test]
    fn the_report_sort_is_the_report_order() {
        let order = SubjectOrder {
            keys: ["n_ps", "n_lot", "n_facture", "ligne"]
                .into_iter()
                .map(Arc::from)
                .collect(),
            numeric: vec![Arc::from("ligne")],
        };
        let mut produced = Vec::new();
        for (i, ps) in ["2", "10", "1"].into_iter().enumerate() {
            for ligne in ["10", "9", "x", ""] {
                let mut subject = vec![("n_ps", ps), ("n_lot", "011"), ("n_facture", "7")];
                if !ligne.is_empty() {
                    subject.push(("ligne", ligne));
                }
                for code in ["LIG-MNT", "FAC-TOT"] {
                    produced.push(outcome(&subject, code, Some(40 - i as u32)));
                    produced.push(outcome(&subject, code, None));
                }
            }
            produced.push(outcome(&[("n_ps", ps)], "LOT-CNT", Some(1)));
        }
        let mut expected = produced.clone();
        expected.sort_by(|a, b| a.report_cmp(b, &order));
        let mut sorted = produced;
        sort_for_report(&mut sorted, &order);
        let shown = |v: &[Outcome]| -> Vec<String> {
            v.iter()
                .map(|o| format!("{} {} {}", o.subject, o.code, o.message))
                .collect()
        };
        assert_eq!(shown(&sorted), shown(&expected));
        // n_ps is text ("1" < "10" < "2"); within a PS, absent keys first; ligne as numbers,
        // then what is not a number.
        let mut seen: Vec<String> = Vec::new();
        for o in &sorted {
            let at = o.subject.to_string();
            if seen.last() != Some(&at) {
                seen.push(at);
            }
        }
        let ps1: Vec<&str> = seen.iter().take(5).map(String::as_str).collect();
        assert_eq!(
            ps1,
            [
                "n_ps=1",
                "n_ps=1 n_lot=011 n_facture=7",
                "n_ps=1 n_lot=011 n_facture=7 ligne=9",
                "n_ps=1 n_lot=011 n_facture=7 ligne=10",
                "n_ps=1 n_lot=011 n_facture=7 ligne=x",
            ]
        );
        assert_eq!(seen.get(5).map(String::as_str), Some("n_ps=10"));
        let next: Vec<&str> = sorted
            .iter()
            .skip(1)
            .take(3)
            .map(|o| o.message.as_str())
            .collect();
        assert_eq!(
            next,
            ["FAC-TOT None", "FAC-TOT Some(38)", "LIG-MNT None"],
            "code, then source (none first)"
        );
    }
}
