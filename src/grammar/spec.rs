//! The shape of the files of `grammars/`, as business staff write them: a format's grammar,
//! the joins between formats, the report's subject order. Read with the located YAML reader:
//! every value keeps its place for the checks made after parsing.

use serde::Deserialize;

use crate::diag::{Lenient, Ordered, Spanned};
use crate::model::{DatePattern, Encoding};

/// Top-level keys of a grammar file.
pub const GRAMMAR_KEYS: &[&str] = &[
    "format",
    "title",
    "files",
    "encoding",
    "layout",
    "record_length",
    "record_type",
    "separator",
    "header",
    "records",
    "structure",
];

/// A format's grammar (`grammars/b2.yaml`).
#[derive(Debug, Deserialize)]
pub struct GrammarSpec {
    pub format: Spanned<String>,
    pub title: String,
    /// File-name patterns (`*.b2`) by which a file of this format is recognised.
    #[serde(default)]
    pub files: Vec<String>,
    pub encoding: Spanned<Encoding>,
    pub layout: Spanned<LayoutKind>,
    pub record_length: Option<Spanned<usize>>,
    pub record_type: Option<Spanned<ZoneSpec>>,
    pub separator: Option<Spanned<char>>,
    #[serde(default)]
    pub header: bool,
    pub records: Vec<Lenient<RecordSpec>>,
    pub structure: GroupSpec,
}

/// `layout:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LayoutKind {
    Fixed,
    Delimited,
}

/// A zone of a fixed-width record (`record_type: { pos: 1, len: 2 }`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneSpec {
    pub pos: usize,
    pub len: usize,
}

/// One record type.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordSpec {
    pub name: Spanned<String>,
    #[serde(rename = "type")]
    pub code: Option<Spanned<String>>,
    pub fields: Vec<Lenient<Spanned<FieldSpec>>>,
}

/// The type names of fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TypeName {
    Text,
    Digits,
    Integer,
    Amount,
    Date,
    Bool,
    Enum,
    Hex,
    Filler,
}

/// One field of a record type.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    pub name: Spanned<String>,
    pub pos: Option<Spanned<usize>>,
    pub len: Option<Spanned<usize>>,
    #[serde(rename = "type")]
    pub ty: Spanned<TypeName>,
    pub pattern: Option<Spanned<DatePattern>>,
    pub decimals: Option<Spanned<u32>>,
    pub separator: Option<Spanned<char>>,
    pub values: Option<Vec<String>>,
    pub yes: Option<Vec<String>>,
    pub no: Option<Vec<String>>,
    #[serde(default)]
    pub optional: bool,
    /// An empty zone reads as 0 (RSI amounts: « empty means 0 »).
    #[serde(default)]
    pub zero_if_empty: bool,
}

/// One level of nesting.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    pub group: Spanned<String>,
    pub plural: Option<Spanned<String>>,
    pub open: Option<Spanned<String>>,
    pub close: Option<Spanned<String>>,
    pub close_as: Option<Spanned<String>>,
    #[serde(default)]
    pub stream: bool,
    #[serde(default)]
    pub fragile: bool,
    #[serde(default)]
    pub single: bool,
    #[serde(default, rename = "match")]
    pub match_fields: Vec<Spanned<String>>,
    #[serde(default)]
    pub key: Vec<Spanned<String>>,
    #[serde(default)]
    pub subject: Ordered<Spanned<String>, Spanned<String>>,
    pub date: Option<Spanned<String>>,
    #[serde(default)]
    pub children: Vec<GroupSpec>,
}

/// Top-level keys of a joins file.
pub const JOINS_KEYS: &[&str] = &["links", "gathers"];

/// `grammars/joins.yaml`.
#[derive(Debug, Deserialize)]
pub struct JoinsSpec {
    #[serde(default)]
    pub links: Vec<Lenient<LinkSpec>>,
    #[serde(default)]
    pub gathers: Vec<Lenient<GatherSpec>>,
}

/// A link between two groups.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    pub from: SideSpec,
    pub to: SideSpec,
    /// Every `from` node of a key links, not only the first (two returns of one invoice).
    #[serde(default)]
    pub every: Option<Spanned<bool>>,
}

/// One side of a link.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SideSpec {
    pub grammar: Spanned<String>,
    pub group: Spanned<String>,
    pub key: Spanned<Vec<Spanned<String>>>,
    /// The property under which this side reads the other one.
    #[serde(rename = "as")]
    pub name: Option<Spanned<String>>,
}

/// A gather: one fact per combination of key values, from several groups.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatherSpec {
    /// Name of the synthetic grammar (rule sets list it in `grammars`).
    pub format: Spanned<String>,
    pub title: String,
    /// Name of the fact's group (the rules' scope).
    pub group: Spanned<String>,
    /// Key field names; they are the fact's fields and its subject.
    pub key: Vec<Spanned<String>>,
    pub members: Vec<Spanned<MemberSpec>>,
}

/// One member of a gather.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberSpec {
    pub grammar: Spanned<String>,
    pub group: Spanned<String>,
    /// Gather key part → path in the member's group (`annee: annee`).
    pub key: Spanned<Ordered<Spanned<String>, Spanned<String>>>,
    #[serde(rename = "as")]
    pub name: Spanned<String>,
}

/// Top-level keys of the report file.
pub const REPORT_KEYS: &[&str] = &["subjects"];

/// `grammars/report.yaml`: how reports order subjects.
#[derive(Debug, Deserialize)]
pub struct ReportSpec {
    pub subjects: SubjectsSpec,
}

/// The subject keys in report order, and those compared as numbers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectsSpec {
    pub order: Vec<Spanned<String>>,
    #[serde(default)]
    pub numeric: Vec<Spanned<String>>,
}
