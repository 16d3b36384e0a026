//! The compiled tables a grammar set becomes: field types, records, groups (the nesting),
//! grammars, joins and the report's subject order. Built once by the grammar loader, read by
//! every stage after it; each definition keeps the place it was written at, so that a later
//! check (a rule reading a field, a case giving one) can point at it.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;

use super::span::Span;

/// Date layouts used by the formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum DatePattern {
    /// `JJMMAA`, year 2000 + `AA`.
    #[serde(rename = "JJMMAA")]
    Jjmmaa,
    /// `JJMMAAAA`.
    #[serde(rename = "JJMMAAAA")]
    Jjmmaaaa,
    /// `AAAAMMJJ`.
    #[serde(rename = "AAAAMMJJ")]
    Aaaammjj,
    /// `AAAA-MM-JJ`.
    #[serde(rename = "AAAA-MM-JJ")]
    Iso,
    /// `JJ/MM/AAAA`.
    #[serde(rename = "JJ/MM/AAAA")]
    Slashed,
}

impl DatePattern {
    /// The pattern as grammars write it.
    pub fn name(self) -> &'static str {
        match self {
            DatePattern::Jjmmaa => "JJMMAA",
            DatePattern::Jjmmaaaa => "JJMMAAAA",
            DatePattern::Aaaammjj => "AAAAMMJJ",
            DatePattern::Iso => "AAAA-MM-JJ",
            DatePattern::Slashed => "JJ/MM/AAAA",
        }
    }

    /// Width of the written date.
    pub fn width(self) -> usize {
        match self {
            DatePattern::Jjmmaa => 6,
            DatePattern::Jjmmaaaa | DatePattern::Aaaammjj => 8,
            DatePattern::Iso | DatePattern::Slashed => 10,
        }
    }

    /// The chrono format writing a date this way (`JJMMAA` writes the year's last two
    /// digits).
    pub fn chrono_format(self) -> &'static str {
        match self {
            DatePattern::Jjmmaa => "%d%m%y",
            DatePattern::Jjmmaaaa => "%d%m%Y",
            DatePattern::Aaaammjj => "%Y%m%d",
            DatePattern::Iso => "%Y-%m-%d",
            DatePattern::Slashed => "%d/%m/%Y",
        }
    }
}

/// How the content of a field is read.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldType {
    /// Free text; trailing spaces are cut, an all-space zone is absent.
    Text,
    /// A string of digits kept as written (identifiers: `"001"` stays `"001"`).
    Digits,
    /// Digits read as an integer.
    Integer,
    /// An amount in units of its last decimal: implied decimals (`0001250` → 1250 for 12.50)
    /// or, with `separator`, explicit ones (`48210,5` → 4821050).
    Amount {
        /// Digits after the decimal point.
        decimals: u32,
        /// The decimal separator written, if any (`,`).
        separator: Option<u8>,
    },
    /// A date written with its pattern.
    Date(DatePattern),
    /// A boolean with its spellings.
    Bool {
        /// Spellings of yes (`O`, `OUI`).
        yes: Vec<String>,
        /// Spellings of no.
        no: Vec<String>,
    },
    /// One code of a closed list, kept as text.
    Enum(Vec<String>),
    /// Hexadecimal digits kept as text (digests).
    Hex,
    /// Padding, not decoded.
    Filler,
}

/// One field of a record type.
#[derive(Debug, Clone)]
pub struct FieldDef {
    /// Its name.
    pub name: String,
    /// 0-based start (fixed width) or column index (delimited).
    pub start: usize,
    /// Zone width (fixed width); exact character or digit count when set (delimited).
    pub len: usize,
    /// How its content is read.
    pub ty: FieldType,
    /// An empty zone is allowed (absent), not a fault.
    pub optional: bool,
    /// An empty zone reads as 0 instead of absent.
    pub zero_if_empty: bool,
    /// Where the field is defined in its grammar file.
    pub span: Span,
}

impl FieldDef {
    /// A decoded value, with an empty zone read as 0 when the grammar says so.
    pub fn settle(&self, v: super::Value) -> super::Value {
        match v {
            super::Value::Absent if self.zero_if_empty => super::Value::Int(0),
            v => v,
        }
    }

    /// The 1-based column an error points at: the zone's first position, or the CSV column.
    pub fn column(&self) -> u32 {
        u32::try_from(self.start).map_or(u32::MAX, |s| s.saturating_add(1))
    }
}

/// One record type.
#[derive(Debug)]
pub struct RecordDef {
    /// Unique over the grammar set.
    pub id: usize,
    /// Its name.
    pub name: String,
    /// The type code (`"2 "`), for formats with several record types.
    pub code: Option<Vec<u8>>,
    /// Decoded fields (fillers left out).
    pub fields: Vec<FieldDef>,
    /// Where it is defined in its grammar file.
    pub span: Span,
}

impl RecordDef {
    /// The index of the field called `name`.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// Where a subject key, a duplicate key or a fact date is read.
#[derive(Debug, Clone, PartialEq)]
pub enum ValuePath {
    /// A field of the opening record of the group at this depth (0 = root).
    Field {
        /// Depth of the group in the chain (0 = root).
        depth: usize,
        /// The field's name.
        field: String,
    },
    /// The 1-based rank of the node among its siblings of the same group (`#`).
    Index,
    /// The physical line of the node's first record (`#ligne`).
    Line,
    /// A fixed text (`=ACOSS`).
    Const(Arc<str>),
}

/// One level of nesting (file, lot, invoice, line).
#[derive(Debug)]
pub struct GroupDef {
    /// Unique over the grammar set.
    pub id: usize,
    /// Index in its grammar's `groups`.
    pub index: usize,
    /// Its name.
    pub name: String,
    /// Name of the list of these nodes on their parent (`factures`).
    pub plural: String,
    /// Index of the parent group; `None` for the root.
    pub parent: Option<usize>,
    /// Nesting depth, 0 for the root.
    pub depth: usize,
    /// Record index of the opening record; `None` for a virtual root (flat files).
    pub open: Option<usize>,
    /// Record index of the closing record, if the group has one.
    pub close: Option<usize>,
    /// Name under which rules read the closing record (`fin`).
    pub close_as: String,
    /// Children are handed to the rules as they close and not kept.
    pub stream: bool,
    /// Any fault in the group's records makes it unreadable.
    pub fragile: bool,
    /// The parent holds at most one such node, read as a property rather than a list.
    pub single: bool,
    /// Fields that the group's other records must repeat from its opening record.
    pub match_fields: Vec<String>,
    /// The key: for a group, its duplicate key (FAC-DBL); for a side, the join key.
    pub key: Vec<ValuePath>,
    /// Subject keys of its outcomes and where each is read.
    pub subject: Vec<(Arc<str>, ValuePath)>,
    /// Where the date that selects the rules in force is read.
    pub date: Option<ValuePath>,
    /// Child group indexes.
    pub children: Vec<usize>,
    /// Names of the join properties, by link slot (grammars/joins.yaml).
    pub links: Vec<String>,
    /// Where it is defined in its grammar file.
    pub span: Span,
}

/// Character encoding of a format's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Encoding {
    #[serde(rename = "iso-8859-1", alias = "latin1")]
    /// ISO-8859-1: each byte is its code point.
    Latin1,
    #[serde(rename = "utf-8")]
    /// UTF-8.
    Utf8,
}

/// How records are laid out in a file.
#[derive(Debug, Clone)]
pub enum Layout {
    /// Fixed-width records, the type in a zone (`start`, `len`, 0-based) when there are several.
    Fixed {
        /// Characters of a record, line end excluded.
        record_length: usize,
        /// Where the record type is written (0-based start, length).
        type_zone: Option<(usize, usize)>,
    },
    /// One record per line, columns split on `separator`, a header line naming them.
    Delimited {
        /// The column separator.
        separator: u8,
        /// The first line names the columns.
        header: bool,
    },
}

/// A validated grammar.
#[derive(Debug)]
pub struct Grammar {
    /// Its name.
    pub name: String,
    /// A title for people.
    pub title: String,
    /// The file it was loaded from.
    pub path: PathBuf,
    /// File-name patterns (`*.b2`) that recognise its files.
    pub file_patterns: Vec<String>,
    /// Encoding of its files.
    pub encoding: Encoding,
    /// How its records are laid out.
    pub layout: Layout,
    /// Its record types.
    pub records: Vec<Arc<RecordDef>>,
    /// Groups in depth-first order; index 0 is the root.
    pub groups: Vec<Arc<GroupDef>>,
    /// Column names of the header line (delimited formats).
    pub header: Vec<String>,
    /// Built by a join (`gathers` of grammars/joins.yaml), never read from a file.
    pub synthetic: bool,
}

impl Grammar {
    /// Whether text fields are ISO-8859-1 (each byte is its code point).
    pub fn latin1(&self) -> bool {
        self.encoding == Encoding::Latin1
    }

    /// The group by name.
    pub fn group(&self, name: &str) -> Option<&Arc<GroupDef>> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// The root group.
    pub fn root(&self) -> Option<&Arc<GroupDef>> {
        self.groups.first()
    }

    /// The group with this index.
    pub fn group_at(&self, index: usize) -> Option<&Arc<GroupDef>> {
        self.groups.get(index)
    }

    /// The record type with this index.
    pub fn record_at(&self, index: usize) -> Option<&Arc<RecordDef>> {
        self.records.get(index)
    }

    /// The groups of the chain from the root down to `group`, names only.
    pub fn ancestry<'a>(&'a self, group: &'a GroupDef) -> Vec<&'a str> {
        let mut chain = vec![group.name.as_str()];
        let mut parent = group.parent;
        while let Some(g) = parent.and_then(|p| self.groups.get(p)) {
            chain.push(g.name.as_str());
            parent = g.parent;
        }
        chain.reverse();
        chain
    }

    /// Whether a file name matches one of the grammar's patterns.
    pub fn matches_name(&self, file_name: &str) -> bool {
        self.file_patterns.iter().any(|p| glob_match(p, file_name))
    }
}

/// One side of a link, resolved.
#[derive(Debug, Clone)]
pub struct Side {
    /// Name of the grammar.
    pub grammar: String,
    /// Index of the group in that grammar.
    pub group: usize,
    /// The key: for a group, its duplicate key (FAC-DBL); for a side, the join key.
    pub key: Vec<ValuePath>,
    /// Link slot of the property reading the other side, if any.
    pub slot: Option<usize>,
    /// Where that property is named (`as:`), in the link's file.
    pub name_span: Option<Span>,
}

/// A link between two groups (grammars/joins.yaml).
#[derive(Debug, Clone)]
pub struct LinkDef {
    /// The streamed side (B2 invoices).
    pub from: Side,
    /// The indexed side, read first (the PJ index).
    pub to: Side,
    /// Every `from` node of a key links; by default only the first one does.
    pub every: bool,
    /// The joins file that declares it.
    pub file: PathBuf,
}

/// One member of a gather.
#[derive(Debug, Clone)]
pub struct Member {
    /// Name of the grammar.
    pub grammar: String,
    /// Index of the group in that grammar.
    pub group: usize,
    /// For each part of the gather key, where the member reads it (`None`: every value seen).
    pub key: Vec<Option<ValuePath>>,
    /// Link slot of the gathered fact that reads this member.
    pub slot: usize,
    /// Where the member's property is named (`as:`), in the gather's file.
    pub name_span: Span,
}

/// A gather: a synthetic grammar and its members.
#[derive(Debug, Clone)]
pub struct GatherDef {
    /// The synthetic grammar of the gathered facts.
    pub grammar: Arc<Grammar>,
    /// The groups gathered.
    pub members: Vec<Member>,
}

/// The order of subject keys in reports (grammars/report.yaml), and which compare as numbers.
#[derive(Debug, Clone, Default)]
pub struct SubjectOrder {
    /// Subject keys, in report order.
    pub keys: Vec<Arc<str>>,
    /// Keys compared as numbers (`ligne`, `pj`).
    pub numeric: Vec<Arc<str>>,
}

impl SubjectOrder {
    /// `subject`'s values in report order: two subjects compare as their keys do.
    pub fn key<'s>(&self, subject: &'s super::Subject) -> Vec<super::outcome::SubjectPart<'s>> {
        use super::outcome::SubjectPart;
        self.keys
            .iter()
            .map(|key| match subject.get(key) {
                None => SubjectPart::Absent,
                Some(v) if self.numeric.contains(key) => match v.parse() {
                    Ok(n) => SubjectPart::Number(n, v),
                    Err(_) => SubjectPart::Text(v),
                },
                Some(v) => SubjectPart::Text(v),
            })
            .collect()
    }

    /// `subject`'s key as bytes: two subjects' bytes compare as their [`SubjectOrder::key`]s.
    pub fn key_bytes(&self, subject: &super::Subject) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        for part in self.key(subject) {
            part.encode(&mut out);
        }
        out
    }

    /// Whether `key` is a subject key.
    pub fn contains(&self, key: &str) -> bool {
        self.keys.iter().any(|k| &**k == key)
    }
}

/// Every grammar of a folder, the joins between them and the report's subject order.
#[derive(Debug, Default)]
pub struct GrammarSet {
    /// Every grammar, synthetic ones (gathers) last.
    pub grammars: Vec<Arc<Grammar>>,
    /// Links between groups of two grammars (grammars/joins.yaml).
    pub links: Vec<LinkDef>,
    /// Facts gathered from several grammars, each with its synthetic grammar.
    pub gathers: Vec<GatherDef>,
    /// How reports order subjects.
    pub subjects: SubjectOrder,
}

impl GrammarSet {
    /// The grammar called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Grammar>> {
        self.grammars.iter().find(|g| g.name == name)
    }

    /// The grammars read from files (not built by a gather).
    pub fn readable(&self) -> impl Iterator<Item = &Arc<Grammar>> {
        self.grammars.iter().filter(|g| !g.synthetic)
    }

    /// Every record type of every grammar.
    pub fn records(&self) -> impl Iterator<Item = &Arc<RecordDef>> {
        self.grammars.iter().flat_map(|g| g.records.iter())
    }

    /// Every group of every grammar.
    pub fn groups<'a>(
        &'a self,
    ) -> impl Iterator<Item = (&'a Arc<Grammar>, &'a Arc<GroupDef>)> + 'a {
        self.grammars
            .iter()
            .flat_map(|g| g.groups.iter().map(move |gr| (g, gr)))
    }
}

/// Matches a file name against a pattern where `*` stands for any run of characters.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return false;
    };
    if parts.len() == 1 {
        return pattern == name;
    }
    if name.len() < first.len() + last.len() || !name.starts_with(first) || !name.ends_with(last) {
        return false;
    }
    let mut rest = name
        .get(first.len()..name.len() - last.len())
        .unwrap_or_default();
    for part in parts.iter().skip(1).take(parts.len().saturating_sub(2)) {
        match rest.find(part) {
            Some(i) => rest = rest.get(i + part.len()..).unwrap_or_default(),
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*.b2", "lot-01.b2"));
        assert!(!glob_match("*.b2", "lot-01.b22"));
        assert!(glob_match("*.rsi.csv", "cotisations-2025.rsi.csv"));
        assert!(glob_match("annuaire*.csv", "annuaire-ps.csv"));
        assert!(!glob_match("*.scor.csv", "x.csv"));
        assert!(!glob_match("a*a", "a"));
        assert!(glob_match("a*b*c", "aXbYc"));
        assert!(!glob_match("a*b*c", "aXc"));
    }
}
