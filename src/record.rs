//! The data that flows from the decoder to the rules: typed values, decoded records and the
//! nodes (lot, invoice, line…) that the assembler builds from them.

use std::sync::{Arc, OnceLock};

use chrono::NaiveDate;

use crate::grammar::{GroupDef, RecordDef};

/// One typed field value. Amounts are integer hundredths (cents), as the formats require.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An empty zone where the field may be empty (spaces, zeros for a date, an empty column).
    Absent,
    /// Text, identifiers made of digits and enumeration codes, as written (trailing spaces cut).
    Text(Box<str>),
    /// Integers, and amounts in units of their last decimal (cents for `N a+2`).
    Int(i64),
    Date(NaiveDate),
    Bool(bool),
}

impl Value {
    /// The value as the report writes it: identifiers as written, dates `AAAA-MM-JJ`,
    /// booleans `O`/`N`; `None` when absent. Amounts are written by their field's type.
    pub fn display(&self) -> Option<String> {
        match self {
            Value::Absent => None,
            Value::Text(s) => Some(s.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Date(d) => Some(d.format("%Y-%m-%d").to_string()),
            Value::Bool(b) => Some(if *b { "O" } else { "N" }.to_string()),
        }
    }
}

/// One decoded line: its type's definition, its values (in the definition's field order) and
/// the physical line it came from.
#[derive(Debug, Clone)]
pub struct Record {
    pub def: Arc<RecordDef>,
    pub values: Box<[Value]>,
    pub line: u32,
}

impl Record {
    /// The value of the field called `name`, if this record type has it.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.def.field_index(name).map(|i| &self.values[i])
    }
}

/// Whether a node may be analysed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    /// Read without fault: every rule of its scope runs.
    Sound,
    /// Its own header or trailer is faulty or missing: its own rules are not evaluated, its
    /// readable children are (a lot whose `9` is damaged).
    ChecksDisabled,
    /// A fault inside makes it unreadable: no rule sees it or its children (an invoice with a
    /// bad line). It still exists for counters, duplicates and joins.
    Unreadable,
}

/// A group of records assembled following the grammar's nesting (a file, a lot, an invoice, a
/// line): its opening record, its children per child group, its closing record.
#[derive(Debug, Clone)]
pub struct Node {
    pub group: Arc<GroupDef>,
    pub open: Option<Record>,
    /// The closing record, kept only when it was read without fault.
    pub close: Option<Record>,
    /// Children per child group, in `group.children` order. Empty for a streamed group.
    pub children: Vec<Vec<Arc<Node>>>,
    /// Children opened per child group, faulty ones included (kept for streamed groups too).
    pub counts: Vec<u32>,
    /// Physical records from the opening to the closing record, both included, faulty ones too.
    pub records: u32,
    pub state: NodeState,
    /// 1 for the first node with its key over the whole run, 2 for the first repeat…; 0 when
    /// the group has no key or the key could not be read.
    pub occurrence: u32,
    /// Physical line of the opening record (or of the first record seen).
    pub line: u32,
    /// 1-based rank among the parent's children of the same group (a line's number).
    pub rank: u32,
    /// Join results per link slot of the group (`facture.pieces`, `pj.facture`); unset when
    /// the node takes no part in the join (a repeated key).
    pub links: Vec<OnceLock<Linked>>,
}

/// What a join gave a node.
#[derive(Debug, Clone)]
pub enum Linked {
    /// The indexed nodes with the same key (the PJ lines of an invoice), possibly none. Weak:
    /// the held side outlives the analysis of the streamed side, and a PJ line points back to
    /// its invoice, so strong pointers both ways would never be freed.
    Many(Vec<std::sync::Weak<Node>>),
    /// The one node this node belongs with (the invoice of a PJ line, the record of an
    /// organism for a doctor and year).
    One(Arc<Node>),
}

impl Node {
    /// A node with no records yet.
    pub fn new(group: Arc<GroupDef>, line: u32) -> Node {
        let n = group.children.len();
        let links = (0..group.links.len()).map(|_| OnceLock::new()).collect();
        Node {
            links,
            group,
            open: None,
            close: None,
            children: vec![Vec::new(); n],
            counts: vec![0; n],
            records: 0,
            state: NodeState::Sound,
            occurrence: 0,
            line,
            rank: 1,
        }
    }

    /// The value of an opening-record field, `Absent` when missing.
    pub fn field(&self, name: &str) -> &Value {
        self.open
            .as_ref()
            .and_then(|r| r.get(name))
            .unwrap_or(&Value::Absent)
    }

    /// A copy without children (an ancestor in a unit, a lot a PJ line points to).
    pub fn bare(&self) -> Node {
        Node {
            group: Arc::clone(&self.group),
            open: self.open.clone(),
            close: self.close.clone(),
            children: vec![Vec::new(); self.children.len()],
            counts: self.counts.clone(),
            records: self.records,
            state: self.state,
            occurrence: self.occurrence,
            line: self.line,
            rank: self.rank,
            links: self.links.clone(),
        }
    }

    /// Marks the node as damaged: a fragile group becomes unreadable, another one keeps its
    /// children but loses its own checks.
    pub fn damage(&mut self) {
        if self.group.fragile {
            self.state = NodeState::Unreadable;
        } else if self.state == NodeState::Sound {
            self.state = NodeState::ChecksDisabled;
        }
    }
}
