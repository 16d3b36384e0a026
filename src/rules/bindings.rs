//! What scripts can read on a fact: one property id per distinct name over the grammar set
//! (field names, list names, closing-record names, join names, computed properties), and for
//! each record type and group what an id means there. The engine registers one getter per
//! name, so a new grammar field is readable without recompiling, and the static check knows
//! every property of every scope.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::diag::{Fault, FaultKind};
use crate::model::{Grammar, GrammarSet, GroupDef, Span, COMPUTED_PROPERTIES};

/// What a property name means on a node of one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupProp {
    None,
    /// A list of children (child slot).
    Children(usize),
    /// The single child of a `single` group (child slot).
    Single(usize),
    /// The closing record.
    Close,
    /// Physical records from the opening to the closing record.
    Records,
    /// Duplicate occurrence of the node's key.
    Occurrence,
    /// Physical line of the opening record.
    Line,
    /// Whether the node was read without fault (`facture.intact`).
    Intact,
    /// A join (`facture.pieces`, `pj.facture`): the node's link slot.
    Link(usize),
}

/// The property table of a grammar set.
#[derive(Debug, Default)]
pub struct Bindings {
    /// Property names by id.
    pub names: Vec<String>,
    ids: HashMap<String, usize>,
    /// Field index per property id, per record type id (`u32::MAX`: no such field).
    slots: Vec<Vec<u32>>,
    /// Meaning of each property id, per group id.
    props: Vec<Vec<GroupProp>>,
    /// The record type id of each group's opening record, per group id.
    open_records: Vec<Option<usize>>,
}

impl Bindings {
    /// Builds the table of `set`.
    pub fn new(set: &GrammarSet) -> Bindings {
        let mut b = Bindings::default();
        for name in COMPUTED_PROPERTIES {
            b.intern(name);
        }
        for (g, group) in set.groups() {
            if let Some(r) = group.open.and_then(|o| g.record_at(o)) {
                r.fields.iter().for_each(|f| b.intern(&f.name));
            }
            if let Some(r) = group.close.and_then(|c| g.record_at(c)) {
                r.fields.iter().for_each(|f| b.intern(&f.name));
            }
            b.intern(&group.plural);
            b.intern(&group.close_as);
            group.links.iter().for_each(|l| b.intern(l));
        }
        for r in set.records() {
            r.fields.iter().for_each(|f| b.intern(&f.name));
        }
        let records = set.records().map(|r| r.id).max().map_or(0, |m| m + 1);
        b.slots = vec![Vec::new(); records];
        for r in set.records() {
            let mut slots = vec![u32::MAX; b.names.len()];
            for (i, f) in r.fields.iter().enumerate() {
                if let (Some(&id), Ok(i)) = (b.ids.get(&f.name), u32::try_from(i)) {
                    if let Some(s) = slots.get_mut(id) {
                        *s = i;
                    }
                }
            }
            if let Some(s) = b.slots.get_mut(r.id) {
                *s = slots;
            }
        }
        let groups = set.groups().map(|(_, g)| g.id).max().map_or(0, |m| m + 1);
        b.props = vec![Vec::new(); groups];
        b.open_records = vec![None; groups];
        for (g, group) in set.groups() {
            let props = b.group_props(g, group);
            if let Some(p) = b.props.get_mut(group.id) {
                *p = props;
            }
            if let Some(slot) = b.open_records.get_mut(group.id) {
                *slot = group.open.and_then(|o| g.record_at(o)).map(|r| r.id);
            }
        }
        b
    }

    fn intern(&mut self, name: &str) {
        if !self.ids.contains_key(name) {
            self.ids.insert(name.to_string(), self.names.len());
            self.names.push(name.to_string());
        }
    }

    fn group_props(&self, g: &Grammar, group: &GroupDef) -> Vec<GroupProp> {
        let mut props = vec![GroupProp::None; self.names.len()];
        let mut set = |name: &str, p: GroupProp| {
            if let Some(slot) = self.ids.get(name).and_then(|&id| props.get_mut(id)) {
                *slot = p;
            }
        };
        set("records", GroupProp::Records);
        set("occurrence", GroupProp::Occurrence);
        set("line", GroupProp::Line);
        set("intact", GroupProp::Intact);
        for (ci, child) in group
            .children
            .iter()
            .filter_map(|&c| g.group_at(c))
            .enumerate()
        {
            let p = if child.single {
                GroupProp::Single(ci)
            } else {
                GroupProp::Children(ci)
            };
            set(&child.plural, p);
        }
        if group.close.is_some() {
            set(&group.close_as, GroupProp::Close);
        }
        for (slot, name) in group.links.iter().enumerate() {
            set(name, GroupProp::Link(slot));
        }
        props
    }

    /// The id of property `name`.
    pub fn id(&self, name: &str) -> Option<usize> {
        self.ids.get(name).copied()
    }

    /// The field index of property `prop` in record type `record` (an id).
    #[inline]
    pub fn field_slot(&self, record: usize, prop: usize) -> Option<usize> {
        match self.slots.get(record).and_then(|s| s.get(prop)) {
            Some(&i) if i != u32::MAX => usize::try_from(i).ok(),
            _ => None,
        }
    }

    /// Whether `prop` is a field of the opening record of group `group` (an id): read on a node
    /// whose opening record could not be read, it is unreadable, not absent.
    pub fn is_open_field(&self, group: usize, prop: usize) -> bool {
        self.open_records
            .get(group)
            .copied()
            .flatten()
            .is_some_and(|r| self.field_slot(r, prop).is_some())
    }

    /// What property `prop` means on a node of group `group` (an id).
    #[inline]
    pub fn group_prop(&self, group: usize, prop: usize) -> GroupProp {
        self.props
            .get(group)
            .and_then(|p| p.get(prop))
            .copied()
            .unwrap_or(GroupProp::None)
    }

    /// Faults for the names a script could not read with dot syntax (a Rhai keyword, a
    /// leading digit), located where the grammar or the joins file defines them.
    pub fn check_names(set: &GrammarSet) -> Vec<Fault> {
        // Every name a script reads with dot syntax, with where it is written.
        let mut named: Vec<(PathBuf, String, Span)> = Vec::new();
        for (g, group) in set.groups() {
            for r in [group.open, group.close]
                .into_iter()
                .flatten()
                .filter_map(|i| g.record_at(i))
            {
                for f in &r.fields {
                    named.push((g.path.clone(), f.name.clone(), f.span));
                }
            }
            named.push((g.path.clone(), group.plural.clone(), group.span));
        }
        for l in &set.links {
            for side in [&l.from, &l.to] {
                if let (Some(slot), Some(span)) = (side.slot, side.name_span) {
                    let name = set
                        .get(&side.grammar)
                        .and_then(|g| g.group_at(side.group))
                        .and_then(|g| g.links.get(slot).cloned());
                    named.extend(name.map(|n| (l.file.clone(), n, span)));
                }
            }
        }
        for g in &set.gathers {
            let names = g
                .grammar
                .root()
                .map(|r| r.links.clone())
                .unwrap_or_default();
            for (m, name) in g.members.iter().zip(names) {
                named.push((g.grammar.path.clone(), name, m.name_span));
            }
        }
        let parser = rhai::Engine::new_raw();
        let mut faults: Vec<Fault> = named
            .into_iter()
            .filter(|(_, name, _)| !is_property(&parser, name))
            .map(|(file, name, span)| {
                // Read only for a fault, to show its source line.
                let text = std::fs::read_to_string(&file).unwrap_or_default();
                Fault::at(
                    FaultKind::BadValue,
                    &file,
                    &text,
                    span,
                    format!("« {name} » ne peut pas se lire dans une règle (mot réservé de Rhai, ou ne commence pas par une lettre)"),
                )
            })
            .collect();
        faults.sort_by(|a, b| {
            (&a.file, a.span.map(|s| (s.line, s.column)))
                .cmp(&(&b.file, b.span.map(|s| (s.line, s.column))))
        });
        faults.dedup();
        faults
    }
}

/// Whether `name` can be read with dot syntax in a Rhai script (`parser` compiles the test).
fn is_property(parser: &rhai::Engine, name: &str) -> bool {
    let ok_chars = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    ok_chars && parser.compile_expression(format!("x.{name}")).is_ok()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::diag::FaultKind;

    #[test]
    fn names_a_script_cannot_read_are_refused_where_written() {
        let grammar = "format: t\ntitle: test\nencoding: utf-8\nlayout: delimited\nheader: true\nrecords:\n  - name: r\n    fields:\n      - { name: k, type: digits }\n      - { name: fn, type: text }\nstructure:\n  group: root\n  children:\n    - { group: e, plural: items, open: r }\n";
        let joins = "links:\n  - from: { grammar: t, group: e, key: [k], as: in }\n    to:   { grammar: t, group: e, key: [k] }\n";
        let set = crate::grammar::load::from_sources(vec![
            (PathBuf::from("/nonexistent/t.yaml"), grammar.into()),
            (PathBuf::from("/nonexistent/joins.yaml"), joins.into()),
        ])
        .unwrap();
        let faults = Bindings::check_names(&set);
        let places: Vec<_> = faults
            .iter()
            .map(|f| {
                (
                    f.kind,
                    f.file.file_name().unwrap().to_string_lossy().into_owned(),
                    f.line(),
                )
            })
            .collect();
        assert_eq!(
            places,
            [
                (FaultKind::BadValue, "joins.yaml".to_string(), Some(2)),
                (FaultKind::BadValue, "t.yaml".to_string(), Some(10)),
            ]
        );
    }
}
