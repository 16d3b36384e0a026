//! The files an analysis reads, from the paths a person gives: files as given, folders
//! walked in name order (hidden entries skipped). Each file is read once — however it is named
//! (twice, or through a link) — and a link loop is walked once; anything that is not a regular
//! file (a FIFO, a device, a socket) and any folder that cannot be read becomes an error
//! outcome instead of blocking or aborting the run.

use std::collections::HashSet;
use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::model::{ErrorCode, Outcome};

/// What the walk found.
#[derive(Debug, Default)]
pub struct Walk {
    /// The regular files, in the order given (folders: sorted by name), each once.
    pub files: Vec<PathBuf>,
    /// Inputs that cannot be read: unreadable folders, special files.
    pub errors: Vec<Outcome>,
    /// What the person should know: a file named twice, a link loop.
    pub warnings: Vec<String>,
}

impl Walk {
    fn refuse(&mut self, path: &Path, message: String) {
        self.errors.push(Outcome::error(
            ErrorCode::Parse,
            &Arc::from(path.display().to_string()),
            None,
            None,
            None,
            message,
        ));
    }

    fn add(&mut self, path: PathBuf, meta: &Metadata, seen: &mut HashSet<PathBuf>) {
        let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if !seen.insert(canonical) {
            self.warnings.push(format!(
                "{} : fichier déjà nommé, lu une seule fois",
                path.display()
            ));
        } else if meta.is_file() {
            self.files.push(path);
        } else {
            self.refuse(
                &path,
                "pas un fichier ordinaire (tube, périphérique ou socket) : ignoré".into(),
            );
        }
    }
}

/// The files named by `paths`. A path that does not exist is an error of the command (a
/// typo), not of the analysis. `-` (standard input) is refused with the reason: a format is
/// recognised by its file's name, and the joined files are read before the lots.
pub fn expand_paths(paths: &[PathBuf]) -> Result<Walk, String> {
    let mut walk = Walk::default();
    let mut seen_files = HashSet::new();
    let mut seen_dirs = HashSet::new();
    for p in paths {
        if p.as_os_str() == "-" {
            return Err("- : l'entrée standard n'est pas lue (un format se reconnaît au nom de son fichier et les fichiers joints sont lus avant les lots) ; enregistrez le flux dans un fichier nommé comme son format l'indique".into());
        }
        let meta = std::fs::metadata(p)
            .map_err(|_| format!("{} : fichier ou dossier introuvable", p.display()))?;
        if meta.is_dir() {
            folder(p, &mut walk, &mut seen_files, &mut seen_dirs);
        } else {
            walk.add(p.clone(), &meta, &mut seen_files);
        }
    }
    Ok(walk)
}

/// Walks one folder given on the command line, depth first, each folder once.
fn folder(
    root: &Path,
    walk: &mut Walk,
    seen_files: &mut HashSet<PathBuf>,
    seen_dirs: &mut HashSet<PathBuf>,
) {
    let mut stack = vec![root.to_path_buf()];
    let mut found: Vec<(PathBuf, Metadata)> = Vec::new();
    while let Some(dir) = stack.pop() {
        let canonical = std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
        if !seen_dirs.insert(canonical) {
            if dir != root {
                walk.warnings.push(format!(
                    "{} : dossier déjà parcouru (lien), ignoré",
                    dir.display()
                ));
            }
            continue;
        }
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                walk.refuse(&dir, format!("dossier illisible ({e})"));
                continue;
            }
        };
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = e.path();
            match std::fs::metadata(&path) {
                Ok(m) if m.is_dir() => stack.push(path),
                Ok(m) => found.push((path, m)),
                Err(err) => walk.refuse(&path, format!("illisible ({err})")),
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, meta) in found {
        walk.add(path, &meta, seen_files);
    }
}
