//! The exchange formats documented from the grammars themselves (`vigie grammars doc`): one
//! Markdown page per format — its records, zones, types and nesting — and one for the joins,
//! so that the documentation cannot drift from the files vigie reads.

use std::fmt::Write;

use crate::model::{
    Encoding, FieldType, Grammar, GrammarSet, GroupDef, Layout, RecordDef, ValuePath,
};

/// The pages, as (file name, Markdown text): one per readable format, then `joins.md`.
pub fn pages(set: &GrammarSet) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = set
        .readable()
        .map(|g| (format!("{}.md", g.name), grammar_page(g)))
        .collect();
    out.push(("joins.md".into(), joins_page(set)));
    out
}

const GENERATED: &str =
    "<!-- Écrit par `vigie grammars doc` à partir de grammars/ : ne pas modifier à la main. -->";

fn type_text(f: &FieldType, len: usize, fixed: bool) -> String {
    match f {
        FieldType::Text => "texte".into(),
        FieldType::Digits => "chiffres (gardés tels qu'écrits)".into(),
        FieldType::Integer => "entier".into(),
        FieldType::Amount {
            decimals,
            separator: None,
        } if fixed => {
            format!(
                "montant N {}+{decimals}",
                len.saturating_sub(*decimals as usize)
            )
        }
        FieldType::Amount {
            decimals,
            separator: None,
        } => format!("montant, {decimals} décimales implicites"),
        FieldType::Amount {
            decimals,
            separator: Some(s),
        } => {
            format!(
                "montant décimal, séparateur « {} », au plus {decimals} décimales",
                char::from(*s)
            )
        }
        FieldType::Date(p) => format!("date {}", p.name()),
        FieldType::Bool { yes, no } => format!("oui : {} ; non : {}", yes.join("/"), no.join("/")),
        FieldType::Enum(v) => format!("code parmi {}", v.join(", ")),
        FieldType::Hex => "hexadécimal".into(),
        FieldType::Filler => "remplissage".into(),
    }
}

fn record_table(g: &Grammar, r: &RecordDef, out: &mut String) {
    let fixed = matches!(g.layout, Layout::Fixed { .. });
    if fixed {
        let _ = writeln!(out, "| champ | positions | longueur | type | vide permis |");
        let _ = writeln!(out, "|---|---|---:|---|---|");
    } else {
        let _ = writeln!(out, "| champ | colonne | longueur | type | vide permis |");
        let _ = writeln!(out, "|---|---:|---:|---|---|");
    }
    for f in &r.fields {
        let place = if fixed {
            format!("{}–{}", f.start + 1, f.start + f.len)
        } else {
            (f.start + 1).to_string()
        };
        let len = if f.len > 0 {
            f.len.to_string()
        } else {
            "—".into()
        };
        let empty = match (f.optional, f.zero_if_empty) {
            (_, true) => "oui (vaut 0)",
            (true, _) => "oui",
            _ => "non",
        };
        let _ = writeln!(
            out,
            "| `{}` | {place} | {len} | {} | {empty} |",
            f.name,
            type_text(&f.ty, f.len, fixed)
        );
    }
}

fn path_text(g: &Grammar, group: &GroupDef, p: &ValuePath) -> String {
    match p {
        ValuePath::Field { depth, field } => {
            let chain = g.ancestry(group);
            match chain.get(*depth) {
                Some(owner) if *depth + 1 < chain.len() => format!("`{owner}.{field}`"),
                _ => format!("`{field}`"),
            }
        }
        ValuePath::Index => "son rang (`#`)".into(),
        ValuePath::Line => "sa ligne physique (`#ligne`)".into(),
        ValuePath::Const(c) => format!("« {c} »"),
    }
}

fn group_lines(g: &Grammar, group: &GroupDef, level: usize, out: &mut String) {
    let indent = "  ".repeat(level);
    let record = |i: Option<usize>| {
        i.and_then(|i| g.record_at(i))
            .map(|r| format!("`{}`", r.name))
    };
    let mut traits = Vec::new();
    match record(group.open) {
        Some(r) => traits.push(format!("ouvert par {r}")),
        None => traits.push("racine sans enregistrement".into()),
    }
    if let Some(r) = record(group.close) {
        traits.push(format!("fermé par {r} (lu comme `{}`)", group.close_as));
    }
    if group.stream {
        traits.push("ses enfants sont analysés au fil de la lecture".into());
    }
    if group.fragile {
        traits.push("illisible en entier au moindre défaut".into());
    }
    if group.single {
        traits.push("au plus un par parent".into());
    }
    let _ = writeln!(
        out,
        "{indent}- **{}** (liste `{}`) : {}.",
        group.name,
        group.plural,
        traits.join(", ")
    );
    if !group.key.is_empty() {
        let key: Vec<String> = group.key.iter().map(|p| path_text(g, group, p)).collect();
        let _ = writeln!(out, "{indent}  Clé de doublon : {}.", key.join(", "));
    }
    if !group.subject.is_empty() {
        let subject: Vec<String> = group
            .subject
            .iter()
            .map(|(k, p)| format!("`{k}` = {}", path_text(g, group, p)))
            .collect();
        let _ = writeln!(out, "{indent}  Sujet : {}.", subject.join(", "));
    }
    if let Some(d) = &group.date {
        let _ = writeln!(
            out,
            "{indent}  Date des règles en vigueur : {}.",
            path_text(g, group, d)
        );
    }
    if !group.match_fields.is_empty() {
        let _ = writeln!(
            out,
            "{indent}  Ses autres enregistrements répètent : {}.",
            group
                .match_fields
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for c in group.children.iter().filter_map(|&c| g.group_at(c)) {
        group_lines(g, c, level + 1, out);
    }
}

fn grammar_page(g: &Grammar) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{GENERATED}\n");
    let _ = writeln!(out, "# {} (`{}`)\n", g.title, g.name);
    let source = g
        .path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let _ = writeln!(out, "Grammaire : `grammars/{source}`.\n");
    if !g.file_patterns.is_empty() {
        let _ = writeln!(
            out,
            "- Fichiers reconnus à leur nom : {}.",
            g.file_patterns
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let _ = writeln!(
        out,
        "- Encodage : {}.",
        match g.encoding {
            Encoding::Latin1 => "ISO-8859-1",
            Encoding::Utf8 => "UTF-8",
        }
    );
    match &g.layout {
        Layout::Fixed {
            record_length,
            type_zone,
        } => {
            let _ = writeln!(out, "- Enregistrements de largeur fixe : {record_length} caractères, fin de ligne exclue.");
            if let Some((start, len)) = type_zone {
                let _ = writeln!(
                    out,
                    "- Type d'enregistrement : positions {}–{}.",
                    start + 1,
                    start + len
                );
            }
        }
        Layout::Delimited { separator, header } => {
            let _ = writeln!(
                out,
                "- Une ligne par enregistrement, colonnes séparées par « {} ».",
                char::from(*separator)
            );
            if *header {
                let _ = writeln!(
                    out,
                    "- Première ligne : l'en-tête `{}`.",
                    g.header.join(&char::from(*separator).to_string())
                );
            }
        }
    }
    let _ = writeln!(out, "\n## Enregistrements\n");
    for r in &g.records {
        match &r.code {
            Some(code) => {
                let _ = writeln!(
                    out,
                    "### `{}` (type `\"{}\"`)\n",
                    r.name,
                    String::from_utf8_lossy(code)
                );
            }
            None => {
                let _ = writeln!(out, "### `{}`\n", r.name);
            }
        }
        record_table(g, r, &mut out);
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "## Imbrication\n");
    if let Some(root) = g.root() {
        group_lines(g, root, 0, &mut out);
    }
    out
}

fn joins_page(set: &GrammarSet) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{GENERATED}\n");
    let _ = writeln!(out, "# Jointures entre formats\n");
    let _ = writeln!(
        out,
        "Déclarées dans `grammars/joins.yaml` ; les règles les lisent comme des champs.\n"
    );
    let _ = writeln!(out, "## Liens\n");
    let _ = writeln!(
        out,
        "| depuis (défile) | vers (lu d'abord, indexé) | clé | propriétés | chaque nœud |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    let side_name = |grammar: &str, group: usize| {
        set.get(grammar)
            .and_then(|g| g.group_at(group).map(|gr| (g, gr)))
            .map_or_else(
                || grammar.to_string(),
                |(g, gr)| format!("{}.{}", g.name, gr.name),
            )
    };
    let prop = |grammar: &str, group: usize, slot: Option<usize>| {
        slot.and_then(|s| set.get(grammar)?.group_at(group)?.links.get(s).cloned())
    };
    for l in &set.links {
        let key = |grammar: &str, group: usize, key: &[ValuePath]| {
            set.get(grammar)
                .and_then(|g| {
                    g.group_at(group).map(|gr| {
                        key.iter()
                            .map(|p| path_text(g, gr, p))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                })
                .unwrap_or_default()
        };
        let mut props = Vec::new();
        if let Some(p) = prop(&l.from.grammar, l.from.group, l.from.slot) {
            props.push(format!(
                "`{}.{p}` : ses nœuds liés",
                side_name(&l.from.grammar, l.from.group)
            ));
        }
        if let Some(p) = prop(&l.to.grammar, l.to.group, l.to.slot) {
            props.push(format!(
                "`{}.{p}` : son nœud lié",
                side_name(&l.to.grammar, l.to.group)
            ));
        }
        let _ = writeln!(
            out,
            "| {} | {} | {} ↔ {} | {} | {} |",
            side_name(&l.from.grammar, l.from.group),
            side_name(&l.to.grammar, l.to.group),
            key(&l.from.grammar, l.from.group, &l.from.key),
            key(&l.to.grammar, l.to.group, &l.to.key),
            if props.is_empty() {
                "—".into()
            } else {
                props.join(" ; ")
            },
            if l.every {
                "oui"
            } else {
                "le premier de sa clé"
            },
        );
    }
    let _ = writeln!(out, "\n## Regroupements\n");
    for g in &set.gathers {
        let Some(group) = g.grammar.root() else {
            continue;
        };
        let key: Vec<String> = g
            .grammar
            .records
            .first()
            .map(|r| r.fields.iter().map(|f| format!("`{}`", f.name)).collect())
            .unwrap_or_default();
        let _ = writeln!(out, "### `{}` — {}\n", g.grammar.name, g.grammar.title);
        let _ = writeln!(
            out,
            "Un fait `{}` par combinaison de {} vue dans les fichiers :\n",
            group.name,
            key.join(", ")
        );
        for (m, name) in g.members.iter().zip(&group.links) {
            let _ = writeln!(
                out,
                "- `{}.{name}` : le premier enregistrement de {}",
                group.name,
                side_name(&m.grammar, m.group)
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "## Ordre des sujets dans les rapports\n");
    let _ = writeln!(
        out,
        "{} (`grammars/report.yaml`) ; comparées comme des nombres : {}.",
        set.subjects
            .keys
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", "),
        set.subjects
            .numeric
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    out
}
