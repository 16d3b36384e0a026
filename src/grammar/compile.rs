//! One grammar file → its compiled tables: record types and their zones, the nesting of
//! groups with their keys, subjects and dates. Every fault is gathered, located on the value
//! it is about.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::spec::{FieldSpec, GrammarSpec, GroupSpec, LayoutKind, TypeName};
use crate::diag::{Doc, Fault, FaultKind, Spanned};
use crate::model::{
    FieldDef, FieldType, Grammar, GroupDef, Layout, RecordDef, Span, SubjectOrder, ValuePath,
    COMPUTED_PROPERTIES,
};

/// Names a case file gives besides fields: a grammar may not use them for a field.
pub const CASE_KEYWORDS: [&str; 1] = ["faulty"];

/// Global ids handed out while the grammars of a set are compiled.
#[derive(Debug, Default)]
pub struct Ids {
    pub records: usize,
    pub groups: usize,
}

/// Link property names per (grammar, group), in slot order (from the joins file).
pub type LinkSlots = HashMap<(String, String), Vec<String>>;

/// Compiles one grammar file.
pub fn grammar(
    doc: &Doc,
    mut spec: GrammarSpec,
    subjects: &SubjectOrder,
    ids: &mut Ids,
    link_slots: &LinkSlots,
    faults: &mut Vec<Fault>,
) -> Option<Grammar> {
    let before = faults.len();
    let layout = layout(doc, &spec, faults)?;
    let records = doc.sort_out(std::mem::take(&mut spec.records), faults);
    // Records whose entry was refused (already reported): references to them are not faulted.
    let refused: HashSet<String> = written_names(doc)
        .into_iter()
        .filter(|n| !records.iter().any(|r| r.name.value == *n))
        .collect();
    let mut header = Vec::new();
    let mut defs: Vec<Arc<RecordDef>> = Vec::new();
    let mut names = HashSet::new();
    // Records with a faulty field: a path to one of their fields is not faulted again.
    let mut incomplete = HashSet::new();
    for r in records {
        let before_fields = faults.len();
        if !names.insert(r.name.value.clone()) {
            faults.push(doc.fault(
                FaultKind::Duplicate,
                r.name.span,
                format!("enregistrement « {} » défini deux fois", *r.name),
            ));
        }
        let code = r.code.as_ref().map(|c| c.as_bytes().to_vec());
        check_code(doc, &layout, &r.name, r.code.as_ref(), faults);
        let fields = doc.sort_out(r.fields, faults);
        let fields = record_fields(doc, &layout, &fields, &mut header, faults);
        if faults.len() > before_fields {
            incomplete.insert(defs.len());
        }
        defs.push(Arc::new(RecordDef {
            id: ids.records,
            name: r.name.value,
            code,
            fields,
            span: r.name.span,
        }));
        ids.records += 1;
    }
    match &layout {
        _ if !refused.is_empty() => {}
        Layout::Delimited { .. } if defs.len() != 1 => faults.push(doc.fault(
            FaultKind::BadValue,
            spec.layout.span,
            "un format délimité décrit exactement un enregistrement",
        )),
        Layout::Fixed {
            type_zone: None, ..
        } if defs.len() != 1 => faults.push(doc.fault(
            FaultKind::MissingKey,
            spec.layout.span,
            "plusieurs enregistrements exigent `record_type`",
        )),
        _ => {}
    }
    let known = Known {
        records: &defs,
        incomplete: &incomplete,
        refused: &refused,
    };
    let groups = groups(doc, subjects, &spec, &known, ids, link_slots, faults);
    (faults.len() == before).then(|| Grammar {
        name: spec.format.value,
        title: spec.title,
        path: doc.path.clone(),
        file_patterns: spec.files,
        encoding: spec.encoding.value,
        layout,
        records: defs,
        groups,
        header,
        synthetic: false,
    })
}

fn layout(doc: &Doc, spec: &GrammarSpec, faults: &mut Vec<Fault>) -> Option<Layout> {
    match spec.layout.value {
        LayoutKind::Fixed => {
            let Some(record_length) = &spec.record_length else {
                faults.push(doc.fault(
                    FaultKind::MissingKey,
                    spec.layout.span,
                    "un format à largeur fixe doit donner `record_length`",
                ));
                return None;
            };
            let length = record_length.value;
            let type_zone = match &spec.record_type {
                Some(z) if z.pos == 0 || z.len == 0 || z.pos.saturating_add(z.len) - 1 > length => {
                    faults.push(doc.fault(
                        FaultKind::Zone,
                        z.span,
                        "zone du type d'enregistrement hors de l'enregistrement",
                    ));
                    None
                }
                Some(z) => Some((z.pos - 1, z.len)),
                None => None,
            };
            Some(Layout::Fixed {
                record_length: length,
                type_zone,
            })
        }
        LayoutKind::Delimited => {
            let separator = match &spec.separator {
                Some(s) if !s.is_ascii() => {
                    faults.push(doc.fault(
                        FaultKind::BadValue,
                        s.span,
                        "le séparateur est un caractère ASCII",
                    ));
                    b';'
                }
                Some(s) => u8::try_from(u32::from(s.value)).unwrap_or(b';'),
                None => b';',
            };
            Some(Layout::Delimited {
                separator,
                header: spec.header,
            })
        }
    }
}

fn check_code(
    doc: &Doc,
    layout: &Layout,
    name: &Spanned<String>,
    code: Option<&Spanned<String>>,
    faults: &mut Vec<Fault>,
) {
    let Layout::Fixed {
        type_zone: Some((_, len)),
        ..
    } = layout
    else {
        return;
    };
    match code {
        Some(c) if c.len() != *len => faults.push(doc.fault(
            FaultKind::Zone,
            c.span,
            format!(
                "le type « {} » n'a pas la longueur de la zone de type ({len})",
                c.value
            ),
        )),
        None => faults.push(doc.fault(
            FaultKind::MissingKey,
            name.span,
            format!("l'enregistrement « {} » doit donner son `type`", name.value),
        )),
        _ => {}
    }
}

/// The decoded fields of a record type (fillers left out), with their zones checked.
fn record_fields(
    doc: &Doc,
    layout: &Layout,
    specs: &[Spanned<FieldSpec>],
    header: &mut Vec<String>,
    faults: &mut Vec<Fault>,
) -> Vec<FieldDef> {
    let mut out = Vec::new();
    let mut zones: Vec<(usize, usize, &str)> = Vec::new();
    let mut seen = HashSet::new();
    for (column, f) in specs.iter().enumerate() {
        let ty = match field_type(f) {
            Ok(t) => t,
            Err((span, msg)) => {
                faults.push(doc.fault(FaultKind::MissingKey, span, msg));
                continue;
            }
        };
        if ty != FieldType::Filler {
            check_name(doc, &f.name, &mut seen, faults);
        }
        let (start, len) = match layout {
            Layout::Fixed { record_length, .. } => match zone(f, *record_length, &zones) {
                Ok(z) => {
                    zones.push((z.0, z.1, f.name.as_str()));
                    z
                }
                Err((kind, span, msg)) => {
                    faults.push(doc.fault(kind, span, msg));
                    continue;
                }
            },
            Layout::Delimited { .. } => {
                header.push(f.name.value.clone());
                (column, f.len.as_ref().map_or(0, |l| l.value))
            }
        };
        if ty != FieldType::Filler {
            out.push(FieldDef {
                name: f.name.value.clone(),
                start,
                len,
                ty,
                optional: f.optional || f.zero_if_empty,
                zero_if_empty: f.zero_if_empty,
                span: f.name.span,
            });
        }
    }
    out
}

fn check_name(
    doc: &Doc,
    name: &Spanned<String>,
    seen: &mut HashSet<String>,
    faults: &mut Vec<Fault>,
) {
    if !seen.insert(name.value.clone()) {
        faults.push(doc.fault(
            FaultKind::Duplicate,
            name.span,
            format!("champ « {} » défini deux fois", name.value),
        ));
    }
    if COMPUTED_PROPERTIES.contains(&name.as_str()) || CASE_KEYWORDS.contains(&name.as_str()) {
        faults.push(doc.fault(
            FaultKind::BadValue,
            name.span,
            format!(
                "« {} » est un nom réservé ({})",
                name.value,
                COMPUTED_PROPERTIES
                    .iter()
                    .chain(&CASE_KEYWORDS)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
}

type ZoneFault = (FaultKind, Span, String);

/// The 0-based zone of a fixed-width field, checked against the record and the zones before.
fn zone(
    f: &Spanned<FieldSpec>,
    record_length: usize,
    zones: &[(usize, usize, &str)],
) -> Result<(usize, usize), ZoneFault> {
    let (Some(pos), Some(len)) = (&f.pos, &f.len) else {
        return Err((
            FaultKind::MissingKey,
            f.name.span,
            format!(
                "champ « {} » : `pos` et `len` sont requis en largeur fixe",
                f.name.value
            ),
        ));
    };
    let (p, l) = (pos.value, len.value);
    if p == 0 || l == 0 {
        return Err((
            FaultKind::Zone,
            if p == 0 { pos.span } else { len.span },
            format!(
                "champ « {} » : positions 1-based et longueur > 0",
                f.name.value
            ),
        ));
    }
    let end = p.checked_add(l - 1).filter(|e| *e <= record_length);
    let Some(end) = end else {
        return Err((
            FaultKind::Zone,
            len.span,
            format!(
                "champ « {} » : la zone commençant en {p} sur {l} dépasse la fin de l'enregistrement ({record_length})",
                f.name.value
            ),
        ));
    };
    let start = p - 1;
    if let Some((s, zl, other)) = zones.iter().find(|(s, zl, _)| start < s + zl && *s < end) {
        return Err((
            FaultKind::Zone,
            pos.span,
            format!(
                "champ « {} » : la zone {p}–{end} chevauche le champ « {other} » ({}–{})",
                f.name.value,
                s + 1,
                s + zl
            ),
        ));
    }
    Ok((start, l))
}

/// The most decimals an amount may have: 10¹⁸ is the largest power of ten an `i64` holds.
pub const MAX_DECIMALS: u32 = 18;

fn field_type(f: &Spanned<FieldSpec>) -> Result<FieldType, (Span, String)> {
    let at = f.ty.span;
    let need = |what: &str| (at, format!("champ « {} » : {what}", f.name.value));
    Ok(match f.ty.value {
        TypeName::Text => FieldType::Text,
        TypeName::Digits => FieldType::Digits,
        TypeName::Integer => FieldType::Integer,
        TypeName::Amount => {
            let d = f
                .decimals
                .as_ref()
                .ok_or_else(|| need("un montant (amount) doit donner `decimals`"))?;
            if d.value > MAX_DECIMALS {
                return Err((d.span, format!("au plus {MAX_DECIMALS} décimales")));
            }
            let separator = match &f.separator {
                Some(s) => Some(
                    u8::try_from(u32::from(s.value))
                        .ok()
                        .filter(u8::is_ascii)
                        .ok_or((s.span, "séparateur décimal non ASCII".to_string()))?,
                ),
                None => None,
            };
            FieldType::Amount {
                decimals: d.value,
                separator,
            }
        }
        TypeName::Date => FieldType::Date(
            f.pattern
                .as_ref()
                .map(|p| p.value)
                .ok_or_else(|| need("une date doit donner `pattern` (JJMMAA, JJMMAAAA, AAAAMMJJ, AAAA-MM-JJ, JJ/MM/AAAA)"))?,
        ),
        TypeName::Bool => FieldType::Bool {
            yes: f.yes.clone().ok_or_else(|| need("un booléen doit donner `yes` et `no`"))?,
            no: f.no.clone().ok_or_else(|| need("un booléen doit donner `yes` et `no`"))?,
        },
        TypeName::Enum => FieldType::Enum(
            f.values
                .clone()
                .ok_or_else(|| need("une énumération doit donner `values`"))?,
        ),
        TypeName::Hex => FieldType::Hex,
        TypeName::Filler => FieldType::Filler,
    })
}

/// Parses a value path: `#`, `#ligne`, `=texte`, `field` (own opening record, at depth
/// `ancestry.len() - 1`) or `group.field` (that group among `ancestry`, root first).
pub fn parse_path(
    p: &str,
    ancestry: &[&str],
    own_field: &dyn Fn(&str) -> bool,
) -> Result<ValuePath, String> {
    match p {
        "#" => return Ok(ValuePath::Index),
        "#ligne" => return Ok(ValuePath::Line),
        _ => {}
    }
    if let Some(c) = p.strip_prefix('=') {
        return Ok(ValuePath::Const(Arc::from(c)));
    }
    let depth = ancestry.len().saturating_sub(1);
    let (d, field) = match p.split_once('.') {
        Some((g, f)) => match ancestry.iter().position(|a| *a == g) {
            Some(d) => (d, f),
            None => return Err(format!("« {g} » n'est ni ce groupe ni un de ses parents")),
        },
        None => (depth, p),
    };
    if d == depth && !own_field(field) {
        return Err(format!(
            "champ « {field} » absent de son enregistrement d'ouverture"
        ));
    }
    Ok(ValuePath::Field {
        depth: d,
        field: field.to_string(),
    })
}

/// What flattening the nesting needs besides the group spec.
struct Nesting<'a> {
    doc: &'a Doc,
    subjects: &'a SubjectOrder,
    known: &'a Known<'a>,
    ancestry: Vec<String>,
    out: Vec<GroupDef>,
}

/// The records groups may name: those compiled (and which of them lost a field to a fault),
/// and those whose entry was refused.
struct Known<'a> {
    records: &'a [Arc<RecordDef>],
    incomplete: &'a HashSet<usize>,
    refused: &'a HashSet<String>,
}

/// The record names a grammar file writes, whether or not their entry could be read.
fn written_names(doc: &Doc) -> Vec<String> {
    match doc.root.get("records").map(|r| &r.value) {
        Some(crate::diag::yaml::Value::Seq(items)) => items
            .iter()
            .filter_map(|i| i.get("name").and_then(|n| n.as_str()).map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn groups(
    doc: &Doc,
    subjects: &SubjectOrder,
    spec: &GrammarSpec,
    known: &Known,
    ids: &mut Ids,
    link_slots: &LinkSlots,
    faults: &mut Vec<Fault>,
) -> Vec<Arc<GroupDef>> {
    let mut n = Nesting {
        doc,
        subjects,
        known,
        ancestry: Vec::new(),
        out: Vec::new(),
    };
    n.flatten(&spec.structure, None, faults);
    let mut groups = n.out;
    let parents: Vec<(usize, Option<usize>)> = groups.iter().map(|g| (g.index, g.parent)).collect();
    for (i, parent) in parents {
        if let Some(p) = parent.and_then(|p| groups.get_mut(p)) {
            p.children.push(i);
        }
    }
    let mut names = HashSet::new();
    for g in &mut groups {
        if !names.insert(g.name.clone()) {
            faults.push(doc.fault(
                FaultKind::Duplicate,
                g.span,
                format!("groupe « {} » défini deux fois", g.name),
            ));
        }
        g.id = ids.groups;
        ids.groups += 1;
        if let Some(slots) = link_slots.get(&(spec.format.value.clone(), g.name.clone())) {
            g.links = slots.clone();
        }
    }
    groups.into_iter().map(Arc::new).collect()
}

impl Nesting<'_> {
    fn record(
        &self,
        name: &Option<Spanned<String>>,
        group: &str,
        faults: &mut Vec<Fault>,
    ) -> Option<usize> {
        let name = name.as_ref()?;
        let found = self.known.records.iter().position(|r| r.name == name.value);
        if found.is_none() && !self.known.refused.contains(&name.value) {
            faults.push(self.doc.fault(
                FaultKind::UnknownName,
                name.span,
                format!(
                    "groupe « {group} » : enregistrement « {} » inconnu",
                    name.value
                ),
            ));
        }
        found
    }

    fn flatten(&mut self, spec: &GroupSpec, parent: Option<usize>, faults: &mut Vec<Fault>) {
        let name = spec.group.value.clone();
        let open = self.record(&spec.open, &name, faults);
        let close = self.record(&spec.close, &name, faults);
        if spec.open.is_none() && parent.is_some() {
            faults.push(self.doc.fault(
                FaultKind::MissingKey,
                spec.group.span,
                format!("groupe « {name} » : seul le groupe racine peut omettre `open`"),
            ));
        }
        let depth = self.ancestry.len();
        self.ancestry.push(name.clone());
        let own: Vec<String> = open
            .and_then(|o| self.known.records.get(o))
            .map(|r| r.fields.iter().map(|f| f.name.clone()).collect())
            .unwrap_or_default();
        // A path to a field of a record whose own definition was faulty is not faulted again.
        let known_incomplete = open.is_some_and(|o| self.known.incomplete.contains(&o))
            || spec
                .open
                .as_ref()
                .is_some_and(|o| self.known.refused.contains(&o.value));
        let resolve = |p: &Spanned<String>, faults: &mut Vec<Fault>| -> Option<ValuePath> {
            let names: Vec<&str> = self.ancestry.iter().map(String::as_str).collect();
            parse_path(p, &names, &|f| own.iter().any(|o| o == f))
                .map_err(|m| {
                    if known_incomplete {
                        return;
                    }
                    faults.push(self.doc.fault(
                        FaultKind::UnknownName,
                        p.span,
                        format!("groupe « {name} » : {m}"),
                    ))
                })
                .ok()
        };
        let key = spec.key.iter().filter_map(|k| resolve(k, faults)).collect();
        let date = spec.date.as_ref().and_then(|d| resolve(d, faults));
        let mut subject = Vec::new();
        for (k, v) in &spec.subject.0 {
            if !self.subjects.contains(k) {
                faults.push(self.doc.fault(
                    FaultKind::UnknownName,
                    k.span,
                    format!(
                        "groupe « {name} » : clé de sujet « {} » absente de l'ordre des rapports (grammars/report.yaml : {})",
                        k.value,
                        self.subjects.keys.iter().map(|k| &**k).collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
            if let Some(p) = resolve(v, faults) {
                subject.push((Arc::from(k.as_str()), p));
            }
        }
        for m in &spec.match_fields {
            if !own.contains(&m.value) && !known_incomplete {
                faults.push(self.doc.fault(
                    FaultKind::UnknownName,
                    m.span,
                    format!(
                        "groupe « {name} » : champ « {} » absent de son enregistrement d'ouverture",
                        m.value
                    ),
                ));
            }
        }
        let index = self.out.len();
        self.out.push(GroupDef {
            id: 0,
            index,
            plural: spec
                .plural
                .as_ref()
                .map_or_else(|| name.clone(), |p| p.value.clone()),
            name,
            parent,
            depth,
            open,
            close,
            close_as: spec
                .close_as
                .as_ref()
                .map_or_else(|| "fin".into(), |c| c.value.clone()),
            stream: spec.stream,
            fragile: spec.fragile,
            single: spec.single,
            match_fields: spec.match_fields.iter().map(|m| m.value.clone()).collect(),
            key,
            subject,
            date,
            children: Vec::new(),
            links: Vec::new(),
            span: spec.group.span,
        });
        for c in &spec.children {
            self.flatten(c, Some(index), faults);
        }
        self.ancestry.pop();
    }
}
