//! The letter templates of a rule set (`letters/*.j2`): texts business staff edit, rendered by
//! minijinja with strict undefined variables. Loading reads them and checks their syntax, so
//! that `vigie rules check` reports a template error with its file and line.

use std::path::{Path, PathBuf};

use minijinja::{Environment, UndefinedBehavior};

use crate::diag::{Fault, FaultKind};
use crate::model::Span;

/// The folder of a rule set that holds its letter templates.
pub const FOLDER: &str = "letters";

/// One template: its name (`ps.txt.j2`), file and text.
#[derive(Debug, Clone)]
pub struct Template {
    /// Its file name, by which letters ask for it.
    pub name: String,
    /// Its file.
    pub path: PathBuf,
    /// Its text.
    pub source: String,
}

/// Reads the templates of `set_dir/letters/` (none when the folder is absent), each checked.
pub fn load(set_dir: &Path, faults: &mut Vec<Fault>) -> Vec<Template> {
    let dir = set_dir.join(FOLDER);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "j2"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match std::fs::read_to_string(&path) {
            Ok(source) => {
                let t = Template { name, path, source };
                if let Err(f) = check(&t) {
                    faults.push(f);
                }
                out.push(t);
            }
            Err(e) => faults.push(Fault::file(
                FaultKind::Unreadable,
                &path,
                format!("modèle de lettre illisible : {e}"),
            )),
        }
    }
    out
}

/// An environment holding `templates`: strict about undefined variables, HTML escaping for
/// `.html.j2` templates only.
pub fn environment(templates: &[Template]) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html.j2") {
            minijinja::AutoEscape::Html
        } else {
            minijinja::AutoEscape::None
        }
    });
    env.set_keep_trailing_newline(true);
    for t in templates {
        // Checked at load: a template that does not compile was refused with its set.
        let _ = env.add_template_owned(t.name.clone(), t.source.clone());
    }
    env
}

/// The template's syntax, as a fault at its line.
fn check(t: &Template) -> Result<(), Fault> {
    let mut env = Environment::new();
    env.add_template(&t.name, &t.source)
        .map(|_| ())
        .map_err(|e| {
            let line = e.line().and_then(|l| u32::try_from(l).ok()).unwrap_or(1);
            Fault::at(
                FaultKind::Template,
                &t.path,
                &t.source,
                Span::new(line, 1, 1),
                format!(
                    "modèle de lettre : {}",
                    e.detail().unwrap_or(&e.to_string())
                ),
            )
        })
}
