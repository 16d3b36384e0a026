//! The facts the 12 rules read, extracted once from vigie's units (B2 lots) into plain typed
//! structs: every engine but vigie is fed from these.
//!
//! What vigie evaluates, and so what is kept: an invoice is evaluated only when its node is
//! `Sound`; the b2 grammar makes the invoice fragile (a fault in its `2`, `4` or `5` makes it
//! unreadable), so a sound invoice has its closing `5`, sound lines and no faulty field. A lot
//! whose own header is damaged (`ChecksDisabled`) still has its invoices evaluated, and a rule
//! that reads one of its faulty fields (`lot.n_ps`, `lot.date_lot`) does not run on them: that
//! is kept as a [`Mask`] of rules per lot, applied to every engine's firings the same way.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;
use vigie::model::{Node, NodeState, Unit, Value};

use crate::rules::{Firing, Mask, Rule};

/// Every lot of the corpus, with the files they came from.
pub struct Facts {
    /// Input files, by index.
    pub files: Vec<Arc<str>>,
    /// The lots, in reading order.
    pub lots: Vec<Lot>,
    /// Invoices evaluated (sound ones), over all lots.
    pub invoices: usize,
    /// Lines of those invoices.
    pub lines: usize,
}

/// A lot (`1` … `9`): what the rules read of it, and its sound invoices.
pub struct Lot {
    /// Index of its file in [`Facts::files`].
    pub file: u32,
    /// Index of its unit in the units read.
    pub unit: usize,
    /// Professional number (empty when faulty: masked).
    pub n_ps: String,
    /// Lot number.
    pub n_lot: String,
    /// Transmission date; `None` when absent (or faulty: masked).
    pub date_lot: Option<NaiveDate>,
    /// Rules that read a faulty field of the lot: they do not run on its invoices.
    pub masked: Mask,
    /// Its sound invoices, in order.
    pub invoices: Vec<Invoice>,
}

/// An invoice (`2`, its `4` lines, its `5`).
pub struct Invoice {
    /// Physical line of its `2`.
    pub line: u32,
    /// Invoice number, as written (9 digits).
    pub n_facture: String,
    /// Beneficiary's NIR, `None` when blank.
    pub nir: Option<String>,
    /// NIR key as written.
    pub cle_nir: i64,
    /// Beneficiary's birth date.
    pub date_naissance: Option<NaiveDate>,
    /// Paid by tiers payant.
    pub tiers_payant: bool,
    /// Prescriber's number.
    pub prescripteur: Option<String>,
    /// Prescription date.
    pub date_prescription: Option<NaiveDate>,
    /// Its closing `5`.
    pub fin: Fin,
    /// Its lines, in order.
    pub lines: Vec<Line>,
}

/// An invoice's closing record (`5`). Amounts in cents.
pub struct Fin {
    pub nb_lignes: i64,
    pub total: i64,
    pub total_amo: i64,
    pub total_amc: i64,
    pub part_assure: i64,
}

/// An invoice line (`4`). Amounts in cents, coefficient in hundredths.
pub struct Line {
    /// Physical line in the file.
    pub line: u32,
    /// Rank in the invoice, from 1 (the report's `ligne`).
    pub rank: u32,
    pub date_soins: Option<NaiveDate>,
    /// Medicine list (`1`, `2`, `S`).
    pub liste: Option<String>,
    /// Delivery (`P` first, `R` renewal).
    pub delivrance: Option<String>,
    pub quantite: i64,
    pub coefficient: i64,
    pub prix_unitaire: i64,
    pub montant: i64,
    pub montant_amo: i64,
    pub montant_amc: i64,
}

impl Facts {
    /// The facts of the lot units among `units` (other units, the files themselves, are
    /// skipped: none of the 12 rules reads them).
    pub fn extract(units: &[Unit]) -> Facts {
        let mut files: Vec<Arc<str>> = Vec::new();
        let mut file_index: HashMap<Arc<str>, u32> = HashMap::new();
        let mut lots = Vec::new();
        for (ui, unit) in units.iter().enumerate() {
            if unit.node.group.name != "lot" || unit.node.state == NodeState::Unreadable {
                continue;
            }
            let file = *file_index.entry(Arc::clone(&unit.file)).or_insert_with(|| {
                files.push(Arc::clone(&unit.file));
                (files.len() - 1) as u32
            });
            lots.push(lot(unit, ui, file));
        }
        let invoices = lots.iter().map(|l| l.invoices.len()).sum();
        let lines = lots
            .iter()
            .flat_map(|l| &l.invoices)
            .map(|i| i.lines.len())
            .sum();
        Facts {
            files,
            lots,
            invoices,
            lines,
        }
    }

    /// Splits the lots into `parts` contiguous ranges of about as many invoices each.
    pub fn split(&self, parts: usize) -> Vec<std::ops::Range<usize>> {
        let mut ranges = Vec::new();
        let mut start = 0;
        let mut seen = 0;
        for part in 1..=parts {
            let goal = self.invoices * part / parts;
            let mut end = start;
            while end < self.lots.len() && (seen < goal || part == parts) {
                seen += self.lots[end].invoices.len();
                end += 1;
            }
            ranges.push(start..end);
            start = end;
        }
        ranges
    }

    /// Keeps the firings a rule could give: a rule that reads a faulty lot field does not run.
    pub fn unmasked(&self, firings: &mut Vec<Firing>) {
        firings.retain(|f| self.lots[f.lot as usize].masked & f.rule.bit() == 0);
    }

    /// The fact a firing is about, as `file n_ps/n_lot facture N [ligne R]`.
    pub fn describe(&self, f: &Firing) -> String {
        let lot = &self.lots[f.lot as usize];
        let inv = &lot.invoices[f.invoice as usize];
        let line = f
            .line
            .map(|l| {
                let l = &inv.lines[l as usize];
                format!(" ligne {} (line {})", l.rank, l.line)
            })
            .unwrap_or_default();
        format!(
            "{} {} n_ps={} n_lot={} n_facture={} (line {}){line}",
            self.files[lot.file as usize], f.rule, lot.n_ps, lot.n_lot, inv.n_facture, inv.line
        )
    }
}

/// The facts of one lot unit.
fn lot(unit: &Unit, ui: usize, file: u32) -> Lot {
    let node = &unit.node;
    let mut masked = 0;
    if node.field_faulty("n_ps") {
        masked |= Rule::PrescAbs.bit();
    }
    if node.field_faulty("date_lot") {
        masked |= Rule::DatFutur.bit() | Rule::FseTard.bit();
    }
    let invoices = children(unit, node, "facture")
        .filter(|f| f.state == NodeState::Sound)
        .map(|f| invoice(unit, f))
        .collect();
    Lot {
        file,
        unit: ui,
        n_ps: text(node.field("n_ps")).unwrap_or_default(),
        n_lot: text(node.field("n_lot")).unwrap_or_default(),
        date_lot: date(node.field("date_lot")),
        masked,
        invoices,
    }
}

/// The facts of a sound invoice.
fn invoice(unit: &Unit, node: &Node) -> Invoice {
    let close = node
        .close
        .as_ref()
        .expect("a sound invoice has its 5 (the b2 grammar's facture is fragile)");
    let fin = |name: &str| -> i64 { int(close.get(name).unwrap_or(&Value::Absent), name) };
    let lines = children(unit, node, "ligne")
        .map(|l| {
            assert!(
                l.state == NodeState::Sound,
                "a sound invoice has sound lines (the b2 grammar's facture is fragile)"
            );
            let f = |name: &str| int(l.field(name), name);
            Line {
                line: l.line,
                rank: l.rank,
                date_soins: date(l.field("date_soins")),
                liste: text(l.field("liste")),
                delivrance: text(l.field("delivrance")),
                quantite: f("quantite"),
                coefficient: f("coefficient"),
                prix_unitaire: f("prix_unitaire"),
                montant: f("montant"),
                montant_amo: f("montant_amo"),
                montant_amc: f("montant_amc"),
            }
        })
        .collect();
    Invoice {
        line: node.line,
        n_facture: text(node.field("n_facture")).expect("n_facture is a required field"),
        nir: text(node.field("nir")),
        cle_nir: int(node.field("cle_nir"), "cle_nir"),
        date_naissance: date(node.field("date_naissance")),
        tiers_payant: match node.field("tiers_payant") {
            Value::Bool(b) => *b,
            _ => panic!("tiers_payant is a required yes/no field"),
        },
        prescripteur: text(node.field("prescripteur")),
        date_prescription: date(node.field("date_prescription")),
        fin: Fin {
            nb_lignes: fin("nb_lignes"),
            total: fin("total"),
            total_amo: fin("total_amo"),
            total_amc: fin("total_amc"),
            part_assure: fin("part_assure"),
        },
        lines,
    }
}

/// The children of `node` in group `group`.
fn children<'a>(unit: &'a Unit, node: &'a Node, group: &str) -> impl Iterator<Item = &'a Node> {
    let slot = node
        .group
        .children
        .iter()
        .position(|&c| unit.grammar.group_at(c).is_some_and(|g| g.name == group));
    slot.and_then(|s| node.children.get(s))
        .into_iter()
        .flatten()
        .map(|n| &**n)
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Text(s) => Some(s.to_string()),
        _ => None,
    }
}

fn date(v: &Value) -> Option<NaiveDate> {
    match v {
        Value::Date(d) => Some(*d),
        _ => None,
    }
}

/// A required integer or amount field (the grammar makes it present on a sound record).
fn int(v: &Value, name: &str) -> i64 {
    match v {
        Value::Int(i) => *i,
        _ => panic!("{name} is a required number in the b2 grammar"),
    }
}
