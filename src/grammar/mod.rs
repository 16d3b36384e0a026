//! Grammars: the data files of `grammars/` that describe each exchange format. This module loads
//! and validates them into tables the generic decoder ([`decode`]) interprets.

pub mod decode;
pub mod field;
pub mod joins;

use std::collections::{HashMap, HashSet};
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::diag::{Fault, Faults};
use crate::record::Value;
pub use field::{DatePattern, FieldType};
pub use joins::{GatherDef, LinkDef, Member, Side};

/// Properties every node has besides its fields, readable from rules.
pub const COMPUTED_PROPS: [&str; 4] = ["records", "occurrence", "line", "intact"];

/// The property table every group starts from: the computed properties, nothing else.
pub fn computed_props(len: usize) -> Vec<GroupProp> {
    let mut props = vec![GroupProp::None; len];
    props[0] = GroupProp::Records;
    props[1] = GroupProp::Occurrence;
    props[2] = GroupProp::Line;
    props[3] = GroupProp::Intact;
    props
}

// ---------------------------------------------------------------- the YAML shape

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrammarSpec {
    format: String,
    title: String,
    /// File-name patterns (`*.b2`) by which a file of this format is recognised.
    #[serde(default)]
    files: Vec<String>,
    encoding: String,
    layout: String,
    record_length: Option<usize>,
    record_type: Option<ZoneSpec>,
    separator: Option<char>,
    #[serde(default)]
    header: bool,
    records: Vec<RecordSpec>,
    structure: GroupSpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ZoneSpec {
    pos: usize,
    len: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordSpec {
    name: String,
    #[serde(rename = "type")]
    code: Option<String>,
    fields: Vec<FieldSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldSpec {
    name: String,
    pos: Option<usize>,
    len: Option<usize>,
    #[serde(rename = "type")]
    ty: String,
    pattern: Option<String>,
    decimals: Option<u32>,
    separator: Option<char>,
    values: Option<Vec<String>>,
    yes: Option<Vec<String>>,
    no: Option<Vec<String>>,
    #[serde(default)]
    optional: bool,
    /// An empty zone reads as 0 (RSI amounts: « empty means 0 »).
    #[serde(default)]
    zero_if_empty: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupSpec {
    group: String,
    plural: Option<String>,
    open: Option<String>,
    close: Option<String>,
    close_as: Option<String>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    fragile: bool,
    #[serde(default)]
    single: bool,
    #[serde(default, rename = "match")]
    match_fields: Vec<String>,
    #[serde(default)]
    key: Vec<String>,
    #[serde(default)]
    subject: serde_yaml::Mapping,
    date: Option<String>,
    #[serde(default)]
    children: Vec<GroupSpec>,
}

// ---------------------------------------------------------------- the compiled tables

/// How records are laid out in a file.
#[derive(Debug, Clone)]
pub enum Layout {
    /// Fixed-width records, the type in a zone (`start`, `len`, 0-based) when there are several.
    Fixed {
        record_length: usize,
        type_zone: Option<(usize, usize)>,
    },
    /// One record per line, columns split on `separator`, a header line naming them.
    Delimited { separator: u8, header: bool },
}

/// One field of a record type.
#[derive(Debug, Clone)]
pub struct FieldDef {
    pub name: String,
    /// 0-based start (fixed width) or column index (delimited).
    pub start: usize,
    /// Zone width (fixed width); exact digit count when set (delimited).
    pub len: usize,
    pub ty: FieldType,
    pub optional: bool,
    /// An empty zone reads as 0 instead of absent.
    pub zero_if_empty: bool,
}

impl FieldDef {
    /// The 1-based column an error points at: the zone's first position, or the CSV column.
    pub fn column(&self) -> u32 {
        self.start as u32 + 1
    }

    /// A decoded value, with an empty zone read as 0 when the grammar says so.
    pub fn settle(&self, v: Value) -> Value {
        match v {
            Value::Absent if self.zero_if_empty => Value::Int(0),
            v => v,
        }
    }
}

/// One record type.
#[derive(Debug)]
pub struct RecordDef {
    pub name: String,
    /// The type code (`"2 "`), for formats with several record types.
    pub code: Option<Vec<u8>>,
    /// Decoded fields (fillers left out).
    pub fields: Vec<FieldDef>,
    /// Field index per global property id (`u32::MAX` when this record has no such field).
    slots: Vec<u32>,
}

impl RecordDef {
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// The field index for a global property id, if this record has that field.
    #[inline]
    pub fn slot(&self, prop: usize) -> Option<usize> {
        match self.slots.get(prop) {
            Some(&i) if i != u32::MAX => Some(i as usize),
            _ => None,
        }
    }
}

/// Where a subject key, a duplicate key or a fact date is read.
#[derive(Debug, Clone, PartialEq)]
pub enum ValuePath {
    /// A field of the opening record of the group at this depth (0 = root).
    Field { depth: usize, field: String },
    /// The 1-based rank of the node among its siblings of the same group (`#`).
    Index,
    /// The physical line of the node's first record (`#ligne`).
    Line,
    /// A fixed text (`=ACOSS`).
    Const(Arc<str>),
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

/// What a property name means on a node of one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupProp {
    None,
    Children(usize),
    Single(usize),
    Close,
    Records,
    Occurrence,
    Line,
    /// Whether the node was read without fault (`facture.intact`).
    Intact,
    /// A join (`facture.pieces`, `pj.facture`): the node's link slot.
    Link(usize),
}

/// One level of nesting (file, lot, invoice, line).
#[derive(Debug)]
pub struct GroupDef {
    pub name: String,
    /// Name of the list of these nodes on their parent (`factures`).
    pub plural: String,
    pub index: usize,
    pub parent: Option<usize>,
    pub depth: usize,
    /// Record index of the opening record; `None` for a virtual root (flat files).
    pub open: Option<usize>,
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
    pub key: Vec<ValuePath>,
    pub subject: Vec<(Arc<str>, ValuePath)>,
    pub date: Option<ValuePath>,
    /// Child group indexes.
    pub children: Vec<usize>,
    /// Names of the join properties, by link slot (grammars/joins.yaml).
    pub links: Vec<String>,
    /// Property meaning per global property id.
    props: Vec<GroupProp>,
}

impl GroupDef {
    #[inline]
    pub fn prop(&self, id: usize) -> GroupProp {
        self.props.get(id).copied().unwrap_or(GroupProp::None)
    }
}

/// A validated grammar.
#[derive(Debug)]
pub struct Grammar {
    pub name: String,
    pub title: String,
    pub path: PathBuf,
    pub file_patterns: Vec<String>,
    pub latin1: bool,
    pub layout: Layout,
    pub records: Vec<Arc<RecordDef>>,
    /// Groups in depth-first order; index 0 is the root.
    pub groups: Vec<Arc<GroupDef>>,
    /// Column names of the header line (delimited formats).
    pub header: Vec<String>,
    /// Built by a join (`gathers` of grammars/joins.yaml), never read from a file.
    pub synthetic: bool,
}

impl Grammar {
    /// The group a record type opens, if any.
    pub fn group_opened_by(&self, record: usize) -> Option<usize> {
        self.groups.iter().position(|g| g.open == Some(record))
    }

    /// The group a record type closes, if any.
    pub fn group_closed_by(&self, record: usize) -> Option<usize> {
        self.groups.iter().position(|g| g.close == Some(record))
    }

    /// The group by name.
    pub fn group(&self, name: &str) -> Option<&Arc<GroupDef>> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// Whether a file name matches one of the grammar's patterns.
    pub fn matches_name(&self, file_name: &str) -> bool {
        self.file_patterns.iter().any(|p| glob_match(p, file_name))
    }
}

/// Every grammar of a folder, with the property ids shared by all of them (one Rhai getter per
/// distinct property name).
#[derive(Debug, Default)]
pub struct GrammarSet {
    pub grammars: Vec<Arc<Grammar>>,
    /// Property names by global id.
    pub props: Vec<String>,
    /// Links between groups of two grammars (grammars/joins.yaml).
    pub links: Vec<LinkDef>,
    /// Facts gathered from several grammars, each with its synthetic grammar.
    pub gathers: Vec<GatherDef>,
}

impl GrammarSet {
    /// Loads every `*.yaml` of `dir`. All faults of all files are gathered; any fault refuses
    /// the whole set.
    pub fn load(dir: &FsPath) -> Result<GrammarSet, Faults> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| {
                Faults(vec![Fault::new(
                    dir,
                    None,
                    None,
                    format!("dossier de grammaires illisible : {e}"),
                )])
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        paths.sort();
        if paths.is_empty() {
            return Err(Faults(vec![Fault::new(
                dir,
                None,
                None,
                "aucune grammaire (*.yaml) dans ce dossier",
            )]));
        }
        let mut sources = Vec::new();
        for p in paths {
            match std::fs::read_to_string(&p) {
                Ok(t) => sources.push((p, t)),
                Err(e) => {
                    return Err(Faults(vec![Fault::new(
                        &p,
                        None,
                        None,
                        format!("illisible : {e}"),
                    )]))
                }
            }
        }
        GrammarSet::from_sources(sources)
    }

    /// Builds the set from `(path, text)` pairs: grammar files and join files.
    pub fn from_sources(sources: Vec<(PathBuf, String)>) -> Result<GrammarSet, Faults> {
        let mut faults = Vec::new();
        let mut specs = Vec::new();
        let mut joins = joins::JoinSources { specs: Vec::new() };
        for (path, text) in &sources {
            if joins::is_join_file(text) {
                match joins::parse(path, text) {
                    Ok(spec) => joins.specs.push((path.clone(), text.as_str(), spec)),
                    Err(f) => faults.push(f),
                }
                continue;
            }
            match serde_yaml::from_str::<GrammarSpec>(text) {
                Ok(spec) => specs.push((path.clone(), text.as_str(), spec)),
                Err(e) => faults.push(Fault::yaml(path, &e)),
            }
        }
        // Global property ids: every field name, list name, closing-record name, join name and
        // computed name.
        let mut props: Vec<String> = COMPUTED_PROPS.iter().map(|s| s.to_string()).collect();
        let mut ids: HashMap<String, usize> = props
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, n)| (n, i))
            .collect();
        let mut intern = |name: &str| {
            if !ids.contains_key(name) {
                ids.insert(name.to_string(), props.len());
                props.push(name.to_string());
            }
        };
        for (_, _, spec) in &specs {
            for r in &spec.records {
                for f in &r.fields {
                    if f.ty != "filler" {
                        intern(&f.name);
                    }
                }
            }
            let mut stack = vec![&spec.structure];
            while let Some(g) = stack.pop() {
                intern(g.plural.as_deref().unwrap_or(&g.group));
                intern(g.close_as.as_deref().unwrap_or("fin"));
                stack.extend(g.children.iter());
            }
        }
        for name in joins.prop_names() {
            intern(&name);
        }
        let slots = joins.slots();
        let mut grammars = Vec::new();
        let mut names = HashSet::new();
        for (path, text, spec) in specs {
            if !names.insert(spec.format.clone()) {
                faults.push(Fault::at(
                    &path,
                    text,
                    &["format:"],
                    format!(
                        "format « {} » déjà défini par une autre grammaire",
                        spec.format
                    ),
                ));
            }
            match compile(&path, text, spec, &ids, &slots) {
                Ok(g) => grammars.push(Arc::new(g)),
                Err(mut f) => faults.append(&mut f),
            }
        }
        let (links, gathers) = joins.compile(&grammars, &ids, &mut faults);
        for g in &gathers {
            if !names.insert(g.grammar.name.clone()) {
                faults.push(Fault::new(
                    &g.grammar.path,
                    None,
                    None,
                    format!(
                        "format « {} » déjà défini par une grammaire",
                        g.grammar.name
                    ),
                ));
            }
        }
        grammars.extend(gathers.iter().map(|g| Arc::clone(&g.grammar)));
        if faults.is_empty() {
            Ok(GrammarSet {
                grammars,
                props,
                links,
                gathers,
            })
        } else {
            Err(Faults(faults))
        }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Grammar>> {
        self.grammars.iter().find(|g| g.name == name)
    }
}

/// Whether `name` can be read with dot syntax in a Rhai script.
fn is_rhai_property(name: &str) -> bool {
    let ok_chars = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    ok_chars
        && rhai::Engine::new_raw()
            .compile_expression(format!("x.{name}"))
            .is_ok()
}

fn field_type(spec: &FieldSpec) -> Result<FieldType, String> {
    Ok(match spec.ty.as_str() {
        "text" => FieldType::Text,
        "digits" => FieldType::Digits,
        "integer" => FieldType::Integer,
        "amount" => FieldType::Amount {
            decimals: spec.decimals.ok_or("un montant (amount) doit donner `decimals`")?,
            separator: match spec.separator {
                Some(c) if c.is_ascii() => Some(c as u8),
                Some(_) => return Err("séparateur décimal non ASCII".into()),
                None => None,
            },
        },
        "date" => {
            let p = spec.pattern.as_deref().ok_or("une date doit donner `pattern`")?;
            FieldType::Date(DatePattern::parse(p).ok_or_else(|| {
                format!("motif de date inconnu « {p} » (JJMMAA, JJMMAAAA, AAAAMMJJ, AAAA-MM-JJ, JJ/MM/AAAA)")
            })?)
        }
        "bool" => FieldType::Bool {
            yes: spec.yes.clone().ok_or("un booléen doit donner `yes` et `no`")?,
            no: spec.no.clone().ok_or("un booléen doit donner `yes` et `no`")?,
        },
        "enum" => FieldType::Enum(spec.values.clone().ok_or("une énumération doit donner `values`")?),
        "hex" => FieldType::Hex,
        "filler" => FieldType::Filler,
        other => {
            return Err(format!(
                "type inconnu « {other} » (text, digits, integer, amount, date, bool, enum, hex, filler)"
            ))
        }
    })
}

fn compile(
    path: &FsPath,
    text: &str,
    spec: GrammarSpec,
    ids: &HashMap<String, usize>,
    link_slots: &HashMap<(String, String), Vec<String>>,
) -> Result<Grammar, Vec<Fault>> {
    let mut faults = Vec::new();
    let fault_at = |anchors: &[&str], msg: String| Fault::at(path, text, anchors, msg);
    let latin1 = match spec.encoding.as_str() {
        "iso-8859-1" | "latin1" => true,
        "utf-8" => false,
        other => {
            faults.push(fault_at(
                &["encoding:"],
                format!("encodage inconnu « {other} » (iso-8859-1, utf-8)"),
            ));
            false
        }
    };
    let layout = match spec.layout.as_str() {
        "fixed" => {
            let Some(record_length) = spec.record_length else {
                return Err(vec![fault_at(
                    &["layout:"],
                    "un format à largeur fixe doit donner `record_length`".into(),
                )]);
            };
            if let Some(z) = &spec.record_type {
                if z.pos == 0 || z.pos + z.len - 1 > record_length {
                    faults.push(fault_at(
                        &["record_type:"],
                        "zone du type d'enregistrement hors de l'enregistrement".into(),
                    ));
                }
            }
            Layout::Fixed {
                record_length,
                type_zone: spec
                    .record_type
                    .as_ref()
                    .map(|z| (z.pos.saturating_sub(1), z.len)),
            }
        }
        "delimited" => Layout::Delimited {
            separator: spec.separator.unwrap_or(';') as u8,
            header: spec.header,
        },
        other => {
            return Err(vec![fault_at(
                &["layout:"],
                format!("disposition inconnue « {other} » (fixed, delimited)"),
            )])
        }
    };
    let mut header = Vec::new();
    let mut records = Vec::new();
    let mut record_names = HashSet::new();
    for r in &spec.records {
        let rec_anchor = format!("name: {}", r.name);
        if !record_names.insert(r.name.clone()) {
            faults.push(fault_at(
                &[&rec_anchor],
                format!("enregistrement « {} » défini deux fois", r.name),
            ));
        }
        let code = r.code.as_ref().map(|c| c.as_bytes().to_vec());
        match (&layout, &code) {
            (
                Layout::Fixed {
                    type_zone: Some((_, len)),
                    ..
                },
                Some(c),
            ) if c.len() != *len => faults.push(fault_at(
                &[&rec_anchor],
                format!(
                    "le type « {} » n'a pas la longueur de la zone de type ({len})",
                    r.code.as_deref().unwrap_or("")
                ),
            )),
            (
                Layout::Fixed {
                    type_zone: Some(_), ..
                },
                None,
            ) => faults.push(fault_at(
                &[&rec_anchor],
                "un enregistrement doit donner son `type`".into(),
            )),
            _ => {}
        }
        let mut fields: Vec<FieldDef> = Vec::new();
        let mut zones: Vec<(usize, usize, &str)> = Vec::new();
        let mut seen = HashSet::new();
        for (col, f) in r.fields.iter().enumerate() {
            let anchors = [rec_anchor.as_str(), &format!("name: {}", f.name)];
            let ty = match field_type(f) {
                Ok(t) => t,
                Err(m) => {
                    faults.push(fault_at(&anchors, format!("champ « {} » : {m}", f.name)));
                    continue;
                }
            };
            if ty != FieldType::Filler {
                if !seen.insert(f.name.clone()) {
                    faults.push(fault_at(
                        &anchors,
                        format!("champ « {} » défini deux fois", f.name),
                    ));
                }
                if !is_rhai_property(&f.name) {
                    faults.push(fault_at(
                        &anchors,
                        format!("le nom de champ « {} » n'est pas utilisable dans une règle (mot réservé de Rhai, ou ne commence pas par une lettre)", f.name),
                    ));
                }
                if COMPUTED_PROPS.contains(&f.name.as_str()) {
                    faults.push(fault_at(
                        &anchors,
                        format!("« {} » est un nom réservé aux propriétés calculées", f.name),
                    ));
                }
            }
            let (start, len) = match &layout {
                Layout::Fixed { record_length, .. } => {
                    let (Some(pos), Some(len)) = (f.pos, f.len) else {
                        faults.push(fault_at(
                            &anchors,
                            format!(
                                "champ « {} » : `pos` et `len` sont requis en largeur fixe",
                                f.name
                            ),
                        ));
                        continue;
                    };
                    if pos == 0 || len == 0 {
                        faults.push(fault_at(
                            &anchors,
                            format!("champ « {} » : positions 1-based et longueur > 0", f.name),
                        ));
                        continue;
                    }
                    if pos + len - 1 > *record_length {
                        faults.push(fault_at(
                            &anchors,
                            format!("champ « {} » : la zone {}–{} dépasse la fin de l'enregistrement ({record_length})", f.name, pos, pos + len - 1),
                        ));
                        continue;
                    }
                    if let Some((s, l, other)) = zones
                        .iter()
                        .find(|(s, l, _)| pos - 1 < s + l && *s < pos - 1 + len)
                    {
                        faults.push(fault_at(
                            &anchors,
                            format!("champ « {} » : la zone {}–{} chevauche le champ « {other} » ({}–{})", f.name, pos, pos + len - 1, s + 1, s + l),
                        ));
                        continue;
                    }
                    zones.push((pos - 1, len, &f.name));
                    (pos - 1, len)
                }
                Layout::Delimited { .. } => {
                    header.push(f.name.clone());
                    (col, f.len.unwrap_or(0))
                }
            };
            if ty != FieldType::Filler {
                fields.push(FieldDef {
                    name: f.name.clone(),
                    start,
                    len,
                    ty,
                    optional: f.optional || f.zero_if_empty,
                    zero_if_empty: f.zero_if_empty,
                });
            }
        }
        let mut slots = vec![u32::MAX; ids.len()];
        for (i, f) in fields.iter().enumerate() {
            slots[ids[&f.name]] = i as u32;
        }
        records.push(Arc::new(RecordDef {
            name: r.name.clone(),
            code,
            fields,
            slots,
        }));
    }
    if matches!(layout, Layout::Delimited { .. }) && records.len() != 1 {
        faults.push(fault_at(
            &["records:"],
            "un format délimité décrit exactement un enregistrement".into(),
        ));
        header.clear();
    }
    if matches!(
        layout,
        Layout::Fixed {
            type_zone: None,
            ..
        }
    ) && records.len() != 1
    {
        faults.push(fault_at(
            &["records:"],
            "plusieurs enregistrements exigent `record_type`".into(),
        ));
    }
    // Groups, depth first.
    let mut groups: Vec<GroupDef> = Vec::new();
    let mut ancestry: Vec<String> = Vec::new();
    flatten(
        &spec.structure,
        None,
        &mut ancestry,
        &mut groups,
        &records,
        path,
        text,
        &mut faults,
    );
    // Children lists and property tables.
    for i in 0..groups.len() {
        if let Some(p) = groups[i].parent {
            groups[p].children.push(i);
        }
    }
    let mut group_names = HashSet::new();
    for g in &groups {
        if !group_names.insert(g.name.clone()) {
            faults.push(fault_at(
                &[&format!("group: {}", g.name)],
                format!("groupe « {} » défini deux fois", g.name),
            ));
        }
    }
    for i in 0..groups.len() {
        let mut props = computed_props(ids.len());
        for (ci, &c) in groups[i].children.iter().enumerate() {
            let child = &groups[c];
            props[ids[&child.plural]] = if child.single {
                GroupProp::Single(ci)
            } else {
                GroupProp::Children(ci)
            };
        }
        if groups[i].close.is_some() {
            props[ids[&groups[i].close_as]] = GroupProp::Close;
        }
        if let Some(names) = link_slots.get(&(spec.format.clone(), groups[i].name.clone())) {
            for (slot, n) in names.iter().enumerate() {
                props[ids[n]] = GroupProp::Link(slot);
            }
            groups[i].links = names.clone();
        }
        groups[i].props = props;
    }
    if faults.is_empty() {
        Ok(Grammar {
            name: spec.format,
            title: spec.title,
            path: path.to_path_buf(),
            file_patterns: spec.files,
            latin1,
            layout,
            records,
            groups: groups.into_iter().map(Arc::new).collect(),
            header,
            synthetic: false,
        })
    } else {
        Err(faults)
    }
}

#[allow(clippy::too_many_arguments)]
fn flatten(
    spec: &GroupSpec,
    parent: Option<usize>,
    ancestry: &mut Vec<String>,
    out: &mut Vec<GroupDef>,
    records: &[Arc<RecordDef>],
    path: &FsPath,
    text: &str,
    faults: &mut Vec<Fault>,
) {
    let anchor = format!("group: {}", spec.group);
    let find_record =
        |name: &Option<String>, what: &str, faults: &mut Vec<Fault>| -> Option<usize> {
            let name = name.as_ref()?;
            let found = records.iter().position(|r| &r.name == name);
            if found.is_none() {
                faults.push(Fault::at(
                    path,
                    text,
                    &[&anchor, &format!("{what}:")],
                    format!(
                        "groupe « {} » : enregistrement « {name} » inconnu",
                        spec.group
                    ),
                ));
            }
            found
        };
    let open = find_record(&spec.open, "open", faults);
    let close = find_record(&spec.close, "close", faults);
    if spec.open.is_none() && parent.is_some() {
        faults.push(Fault::at(
            path,
            text,
            &[&anchor],
            format!(
                "groupe « {} » : seul le groupe racine peut omettre `open`",
                spec.group
            ),
        ));
    }
    let depth = ancestry.len();
    ancestry.push(spec.group.clone());
    let own_fields: Vec<String> = open
        .map(|o| records[o].fields.iter().map(|f| f.name.clone()).collect())
        .unwrap_or_default();
    // Paths read `field` (own opening record) or `group.field` (an ancestor's, or its own).
    let resolve = |p: &str, what: &str, faults: &mut Vec<Fault>| -> Option<ValuePath> {
        let names: Vec<&str> = ancestry.iter().map(String::as_str).collect();
        parse_path(p, &names, &|f| own_fields.iter().any(|o| o == f))
            .map_err(|m| {
                faults.push(Fault::at(
                    path,
                    text,
                    &[&anchor, what],
                    format!("groupe « {} » : {m}", spec.group),
                ))
            })
            .ok()
    };
    let key = spec
        .key
        .iter()
        .filter_map(|k| resolve(k, "key:", faults))
        .collect();
    let date = spec
        .date
        .as_deref()
        .and_then(|d| resolve(d, "date:", faults));
    let mut subject = Vec::new();
    for (k, v) in &spec.subject {
        match (k.as_str(), v.as_str()) {
            (Some(k), Some(v)) => {
                if let Some(p) = resolve(v, "subject:", faults) {
                    subject.push((Arc::from(k), p));
                }
            }
            _ => faults.push(Fault::at(
                path,
                text,
                &[&anchor, "subject:"],
                "`subject` associe des clés à des chemins (texte)",
            )),
        }
    }
    for m in &spec.match_fields {
        if !own_fields.contains(m) {
            faults.push(Fault::at(
                path,
                text,
                &[&anchor, "match:"],
                format!(
                    "groupe « {} » : champ « {m} » absent de son enregistrement d'ouverture",
                    spec.group
                ),
            ));
        }
    }
    let index = out.len();
    out.push(GroupDef {
        name: spec.group.clone(),
        plural: spec.plural.clone().unwrap_or_else(|| spec.group.clone()),
        index,
        parent,
        depth,
        open,
        close,
        close_as: spec.close_as.clone().unwrap_or_else(|| "fin".into()),
        stream: spec.stream,
        fragile: spec.fragile,
        single: spec.single,
        match_fields: spec.match_fields.clone(),
        key,
        subject,
        date,
        children: Vec::new(),
        links: Vec::new(),
        props: Vec::new(),
    });
    for c in &spec.children {
        flatten(c, Some(index), ancestry, out, records, path, text, faults);
    }
    ancestry.pop();
}

/// Matches a file name against a pattern where `*` stands for any run of characters.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first)
        || !name[first.len()..].ends_with(last)
        || name.len() < first.len() + last.len()
    {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
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
    }

    fn load(text: &str) -> Result<GrammarSet, Faults> {
        GrammarSet::from_sources(vec![(PathBuf::from("g.yaml"), text.to_string())])
    }

    const BASE: &str = r#"format: t
title: test
encoding: iso-8859-1
layout: fixed
record_length: 10
records:
  - name: r
    fields:
      - { name: a, pos: 1, len: 4, type: digits }
      - { name: b, pos: 5, len: 6, type: date, pattern: JJMMAA }
structure:
  group: g
  children:
    - { group: e, open: r }
"#;

    #[test]
    fn a_valid_grammar_loads() {
        let set = load(BASE).unwrap();
        assert_eq!(set.grammars[0].records[0].fields.len(), 2);
    }

    #[test]
    fn overlapping_zones_are_refused_with_their_line() {
        let err = load(&BASE.replace("pos: 5, len: 6", "pos: 4, len: 6")).unwrap_err();
        let f = &err.0[0];
        assert!(f.message.contains("chevauche"), "{f}");
        assert_eq!(f.line, Some(10));
    }

    #[test]
    fn a_zone_past_the_end_is_refused() {
        let err = load(&BASE.replace("pos: 5, len: 6", "pos: 5, len: 7")).unwrap_err();
        assert!(err.0[0].message.contains("dépasse"), "{}", err);
        assert_eq!(err.0[0].line, Some(10));
    }

    #[test]
    fn an_unknown_type_is_refused() {
        let err = load(&BASE.replace("type: digits", "type: chiffres")).unwrap_err();
        assert!(err.0[0].message.contains("type inconnu"), "{}", err);
        assert_eq!(err.0[0].line, Some(9));
    }

    #[test]
    fn a_keyword_field_name_is_refused() {
        let err = load(&BASE.replace("name: a,", "name: in,")).unwrap_err();
        assert!(err.0[0].message.contains("réservé"), "{}", err);
        let err = load(&BASE.replace("name: a,", "name: 1a,")).unwrap_err();
        assert!(err.0[0].message.contains("réservé"), "{}", err);
    }

    #[test]
    fn an_unknown_key_is_refused_with_its_position() {
        let err =
            load(&BASE.replace("layout: fixed", "layout: fixed\nrecord_lenght: 3")).unwrap_err();
        assert_eq!(err.0[0].line, Some(5), "{}", err);
    }
}
