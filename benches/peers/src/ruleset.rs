//! A rule-set folder holding the 12 rules alone, written from `rules/flux-tiers/`: its
//! manifest with the other rules and the decision tables (`choices:`) left out, and the
//! scripts of the 12 copied as they are. vigie loads it as it loads any rule set.

use std::path::{Path, PathBuf};

use serde_yaml::Value;

use crate::rules::{Params, Rule};

/// The manifest's file name in a rule-set folder.
const MANIFEST: &str = "ruleset.yaml";

/// Writes the 12-rule set of `source` (a rule-set folder) into `dir`, which must not exist.
/// Gives the parameters the 12 rules read.
pub fn write(source: &Path, dir: &Path) -> Result<Params, String> {
    let manifest = source.join(MANIFEST);
    let text =
        std::fs::read_to_string(&manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
    // Anchors and aliases (`guidance: *nir`) are resolved by the reader: each kept rule
    // carries its own texts.
    let mut doc: Value =
        serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let map = doc
        .as_mapping_mut()
        .ok_or_else(|| format!("{}: not a mapping", manifest.display()))?;
    map.remove("choices");
    map.remove("participation");
    let rules = map
        .get_mut("rules")
        .and_then(Value::as_sequence_mut)
        .ok_or_else(|| format!("{}: no rules", manifest.display()))?;
    rules.retain(|r| {
        r.get("code")
            .and_then(Value::as_str)
            .is_some_and(|c| Rule::from_code(c).is_some())
    });
    let scripts: Vec<PathBuf> = rules
        .iter()
        .filter_map(|r| r.get("script").and_then(Value::as_str).map(PathBuf::from))
        .collect();
    let kept: Vec<&str> = rules
        .iter()
        .filter_map(|r| r.get("code").and_then(Value::as_str))
        .collect();
    if kept.len() != Rule::ALL.len() {
        return Err(format!(
            "{}: found {} of the 12 rules ({})",
            manifest.display(),
            kept.len(),
            kept.join(", ")
        ));
    }
    let params: Vec<(String, String)> = map
        .get("params")
        .and_then(Value::as_mapping)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| {
                    let value = match v {
                        Value::Number(n) => n.to_string(),
                        Value::String(s) => s.clone(),
                        _ => return None,
                    };
                    Some((k.as_str()?.to_string(), value))
                })
                .collect()
        })
        .unwrap_or_default();
    let params = Params::from_named(&params)?;
    for script in &scripts {
        let to = dir.join(script);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::copy(source.join(script), &to)
            .map_err(|e| format!("{}: {e}", source.join(script).display()))?;
    }
    let text = serde_yaml::to_string(&doc).map_err(|e| e.to_string())?;
    std::fs::write(dir.join(MANIFEST), text)
        .map_err(|e| format!("{}: {e}", dir.join(MANIFEST).display()))?;
    Ok(params)
}
