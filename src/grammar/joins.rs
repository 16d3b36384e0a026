//! Joins: facts that span files, declared in `grammars/joins.yaml` (no Rust for a new join).
//!
//! - A **link** pairs the nodes of two groups that share a key: each invoice with its PJ lines,
//!   each PJ line with its invoice. The `from` side is streamed (B2 lots go by without being
//!   kept); the `to` side is read first and indexed by key. Only the first `from` node of a key
//!   (in file order) takes part: a repeated invoice gets no PJ.
//! - A **gather** builds one new fact for every combination of the key values seen (every
//!   doctor and every year analysed) from several groups: a synthetic grammar with one group
//!   whose properties are the first record of each member, `()` where it has none. A member
//!   whose key lacks a part (the adherents list has no year) joins every value of that part.

use std::sync::Arc;

use super::compile::{parse_path, Ids, LinkSlots};
use super::spec::{GatherSpec, JoinsSpec, LinkSpec, SideSpec};
use crate::diag::{Doc, Fault, FaultKind, Spanned};
use crate::model::{
    Encoding, FieldDef, FieldType, GatherDef, Grammar, GroupDef, Layout, LinkDef, Member,
    RecordDef, Side, Span, ValuePath,
};

/// A joins file, parsed.
pub struct JoinsFile {
    pub doc: Doc,
    pub links: Vec<LinkSpec>,
    pub gathers: Vec<GatherSpec>,
}

impl JoinsFile {
    /// Splits a parsed joins spec into its good entries (faults for the others).
    pub fn new(doc: Doc, spec: JoinsSpec, faults: &mut Vec<Fault>) -> JoinsFile {
        let links = doc.sort_out(spec.links, faults);
        let gathers = doc.sort_out(spec.gathers, faults);
        JoinsFile {
            doc,
            links,
            gathers,
        }
    }
}

/// Link property names per (grammar, group) of the file grammars, in declaration order.
pub fn slots(files: &[JoinsFile]) -> LinkSlots {
    let mut slots = LinkSlots::new();
    for f in files {
        for l in &f.links {
            for side in [&l.from, &l.to] {
                if let Some(n) = &side.name {
                    slots
                        .entry((side.grammar.value.clone(), side.group.value.clone()))
                        .or_default()
                        .push(n.value.clone());
                }
            }
        }
    }
    slots
}

/// Resolves every join against the compiled grammars.
pub fn compile(
    files: &[JoinsFile],
    grammars: &[Arc<Grammar>],
    refused: &[String],
    ids: &mut Ids,
    faults: &mut Vec<Fault>,
) -> (Vec<LinkDef>, Vec<GatherDef>) {
    let mut links = Vec::new();
    let mut gathers = Vec::new();
    for f in files {
        let known = Known { grammars, refused };
        for l in &f.links {
            if let Some(def) = link(&f.doc, &known, l, faults) {
                links.push(def);
            }
        }
        for g in &f.gathers {
            if let Some(def) = gather(&f.doc, &known, g, ids, faults) {
                gathers.push(def);
            }
        }
    }
    (links, gathers)
}

/// The grammars a join may name: those compiled, and those refused (already reported, so a
/// join on them is skipped without a fault of its own).
struct Known<'g> {
    grammars: &'g [Arc<Grammar>],
    refused: &'g [String],
}

fn link(doc: &Doc, grammars: &Known, l: &LinkSpec, faults: &mut Vec<Fault>) -> Option<LinkDef> {
    let from = side(doc, grammars, &l.from, faults);
    let to = side(doc, grammars, &l.to, faults);
    let (from, to) = (from?, to?);
    let every = l.every.as_ref().is_some_and(|e| e.value);
    if from.key.len() != to.key.len() {
        faults.push(doc.fault(
            FaultKind::BadValue,
            l.to.key.span,
            "les deux côtés d'une jointure ont des clés de même longueur",
        ));
        return None;
    }
    if let (true, Some(name)) = (every, &l.to.name) {
        faults.push(doc.fault(
            FaultKind::BadValue,
            name.span,
            "`every` : plusieurs nœuds par clé, le côté `to` ne peut pas en nommer un seul (`as`)",
        ));
        return None;
    }
    Some(LinkDef {
        from,
        to,
        every,
        file: doc.path.clone(),
    })
}

fn find<'g>(
    doc: &Doc,
    known: &Known<'g>,
    grammar: &Spanned<String>,
    group: &Spanned<String>,
    faults: &mut Vec<Fault>,
) -> Option<(&'g Arc<Grammar>, &'g Arc<GroupDef>)> {
    let Some(g) = known.grammars.iter().find(|g| g.name == grammar.value) else {
        if known.refused.contains(&grammar.value) {
            return None;
        }
        faults.push(doc.fault(
            FaultKind::UnknownName,
            grammar.span,
            format!("grammaire « {} » inconnue", grammar.value),
        ));
        return None;
    };
    let Some(gr) = g.group(group) else {
        faults.push(doc.fault(
            FaultKind::UnknownName,
            group.span,
            format!(
                "groupe « {} » absent de la grammaire {}",
                group.value, g.name
            ),
        ));
        return None;
    };
    Some((g, gr))
}

/// A path read from a node of `group` of `g`.
fn path_in(g: &Grammar, group: &GroupDef, p: &str) -> Result<ValuePath, String> {
    let ancestry = g.ancestry(group);
    let own = group.open.and_then(|o| g.record_at(o));
    parse_path(p, &ancestry, &|f| {
        own.is_some_and(|r| r.field_index(f).is_some())
    })
}

fn side(doc: &Doc, grammars: &Known, s: &SideSpec, faults: &mut Vec<Fault>) -> Option<Side> {
    let (g, group) = find(doc, grammars, &s.grammar, &s.group, faults)?;
    if s.key.is_empty() {
        faults.push(doc.fault(
            FaultKind::MissingKey,
            s.key.span,
            format!("{} : une jointure a une clé (`key`)", group.name),
        ));
        return None;
    }
    if let Some(n) = &s.name {
        let taken = group
            .open
            .and_then(|o| g.record_at(o))
            .is_some_and(|r| r.field_index(n).is_some())
            || group
                .children
                .iter()
                .filter_map(|&c| g.group_at(c))
                .any(|c| c.plural == n.value)
            || group.links.iter().filter(|l| **l == n.value).count() > 1;
        if taken {
            faults.push(doc.fault(
                FaultKind::Duplicate,
                n.span,
                format!(
                    "{} : « {} » nomme déjà un champ, une liste ou une autre jointure de ce groupe",
                    group.name, n.value
                ),
            ));
            return None;
        }
    }
    let mut key = Vec::new();
    for k in s.key.iter() {
        match path_in(g, group, k) {
            Ok(p) => key.push(p),
            Err(m) => {
                faults.push(doc.fault(
                    FaultKind::UnknownName,
                    k.span,
                    format!("{} : {m}", group.name),
                ));
                return None;
            }
        }
    }
    let slot = s
        .name
        .as_ref()
        .and_then(|n| group.links.iter().position(|l| *l == n.value));
    Some(Side {
        grammar: g.name.clone(),
        group: group.index,
        key,
        slot,
        name_span: s.name.as_ref().map(|n| n.span),
    })
}

fn gather(
    doc: &Doc,
    grammars: &Known,
    spec: &GatherSpec,
    ids: &mut Ids,
    faults: &mut Vec<Fault>,
) -> Option<GatherDef> {
    let before = faults.len();
    let mut members = Vec::new();
    for (slot, m) in spec.members.iter().enumerate() {
        let Some((g, group)) = find(doc, grammars, &m.grammar, &m.group, faults) else {
            continue;
        };
        let mut key = vec![None; spec.key.len()];
        for (k, v) in &m.key.0 {
            let Some(pos) = spec.key.iter().position(|x| x.value == k.value) else {
                faults.push(doc.fault(
                    FaultKind::UnknownName,
                    k.span,
                    format!(
                        "« {} » n'est pas une partie de la clé ({})",
                        k.value,
                        spec.key.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                ));
                continue;
            };
            match path_in(g, group, v) {
                Ok(p) => {
                    if let Some(slot) = key.get_mut(pos) {
                        *slot = Some(p);
                    }
                }
                Err(msg) => faults.push(doc.fault(
                    FaultKind::UnknownName,
                    v.span,
                    format!("{} : {msg}", group.name),
                )),
            }
        }
        if key.iter().all(Option::is_none) {
            faults.push(doc.fault(
                FaultKind::MissingKey,
                m.span,
                "un membre donne au moins une partie de la clé",
            ));
        }
        members.push(Member {
            grammar: g.name.clone(),
            group: group.index,
            key,
            slot,
            name_span: m.name.span,
        });
    }
    if faults.len() != before {
        return None;
    }
    Some(GatherDef {
        grammar: Arc::new(synthetic(doc, spec, ids)),
        members,
    })
}

/// The grammar of a gather: one group whose record holds the key parts, as text, and whose
/// link slots read each member.
fn synthetic(doc: &Doc, spec: &GatherSpec, ids: &mut Ids) -> Grammar {
    let fields: Vec<FieldDef> = spec
        .key
        .iter()
        .enumerate()
        .map(|(i, k)| FieldDef {
            name: k.value.clone(),
            start: i,
            len: 0,
            ty: FieldType::Text,
            optional: false,
            zero_if_empty: false,
            span: k.span,
        })
        .collect();
    let record = Arc::new(RecordDef {
        id: ids.records,
        name: spec.group.value.clone(),
        code: None,
        fields,
        span: spec.group.span,
    });
    ids.records += 1;
    let group = GroupDef {
        id: ids.groups,
        index: 0,
        name: spec.group.value.clone(),
        plural: spec.group.value.clone(),
        parent: None,
        depth: 0,
        open: Some(0),
        close: None,
        close_as: "fin".into(),
        stream: false,
        fragile: false,
        single: false,
        match_fields: Vec::new(),
        key: Vec::new(),
        subject: spec
            .key
            .iter()
            .map(|k| {
                (
                    Arc::from(k.as_str()),
                    ValuePath::Field {
                        depth: 0,
                        field: k.value.clone(),
                    },
                )
            })
            .collect(),
        date: None,
        children: Vec::new(),
        links: spec.members.iter().map(|m| m.name.value.clone()).collect(),
        span: spec.group.span,
    };
    ids.groups += 1;
    Grammar {
        name: spec.format.value.clone(),
        title: spec.title.clone(),
        path: doc.path.clone(),
        file_patterns: Vec::new(),
        encoding: Encoding::Utf8,
        layout: Layout::Delimited {
            separator: b';',
            header: false,
        },
        records: vec![record],
        groups: vec![Arc::new(group)],
        header: Vec::new(),
        synthetic: true,
    }
}

/// Where a gather's format is named (for a duplicate-format fault).
pub fn gather_span(files: &[JoinsFile], format: &str) -> Option<(usize, Span)> {
    files.iter().enumerate().find_map(|(i, f)| {
        f.gathers
            .iter()
            .find(|g| g.format.value == format)
            .map(|g| (i, g.format.span))
    })
}
