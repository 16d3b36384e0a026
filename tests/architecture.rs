//! The tree is the flow: each module of the library imports only modules before it in
//! ARCHITECTURE.md's order, so there is no cycle and the model imports no stage.

use std::path::Path;

/// Modules in flow order; a module may import those of a lower rank only.
const ORDER: [(&str, u32); 12] = [
    ("model", 0),
    ("diag", 1),
    ("grammar", 2),
    ("walk", 3),
    ("facts", 3),
    ("rules", 4),
    ("drive", 5),
    ("report", 5),
    ("cases", 6),
    ("send", 6),
    ("store", 7),
    ("setup", 8),
];

fn rank(module: &str) -> Option<u32> {
    ORDER.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn each_module_imports_only_the_modules_before_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut wrong = Vec::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        let top = rel
            .iter()
            .next()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        let Some(own) = rank(&top) else { continue }; // lib.rs, main.rs, cli/
        let text = std::fs::read_to_string(&f).unwrap();
        // Unit tests may reach anywhere.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (i, _) in code.match_indices("crate::") {
            let used: String = code[i + 7..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if let Some(r) = rank(&used) {
                if used != top && r >= own {
                    wrong.push(format!("{} imports {used}", rel.display()));
                }
            }
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(wrong.is_empty(), "imports against the flow: {wrong:#?}");
}
