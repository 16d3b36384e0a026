//! The CAS files vigie writes (docs/formats/cas.md): the participations and the returns to the
//! organisms for the published samples, byte for byte against `expected-cas/` (the message of
//! norm lines excepted: that text is the rule set's), and the return shapes the samples do not
//! show, on damaged copies of them.

mod common;

use std::path::PathBuf;

use vigie::{CasOutputs, Options};

fn cas(files: &[PathBuf]) -> CasOutputs {
    let opts = Options {
        jobs: 2,
        as_of: Some(common::date("2026-11-20")),
        ..Options::default()
    };
    common::setup().cas(vigie::files(files), &opts).1
}

fn file<'a>(outputs: &'a CasOutputs, name: &str) -> &'a vigie::CasFile {
    outputs
        .files
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("{name} not written"))
}

/// A return file's lines with the message of norm lines (`CAS-N-…`) left out.
fn without_norm_messages(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            if l.starts_with("CAS-N-") {
                l.rsplit_once(";").map_or(l, |x| x.0).to_string()
            } else {
                l.to_string()
            }
        })
        .collect()
}

#[test]
fn the_samples_give_the_expected_files() {
    let outputs = cas(&common::sample_files());
    let expected = common::path("tests/data/expected-cas");
    let names: Vec<&str> = outputs.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "participations-2025.csv",
            "retour-ACOSS-2025.csv",
            "retour-RSI-2025.csv",
            "retour-CARMF-2025.csv"
        ]
    );
    let participations = std::fs::read(expected.join("participations-2025.csv")).unwrap();
    assert!(
        file(&outputs, "participations-2025.csv").bytes() == participations,
        "participations differ:\n{}",
        String::from_utf8_lossy(&file(&outputs, "participations-2025.csv").bytes())
    );
    for org in ["ACOSS", "RSI", "CARMF"] {
        let name = format!("retour-{org}-2025.csv");
        let want = std::fs::read_to_string(expected.join(&name)).unwrap();
        let got = String::from_utf8(file(&outputs, &name).bytes()).unwrap();
        assert!(got.ends_with('\n') && !got.contains('\r') && !got.starts_with('\u{feff}'));
        assert_eq!(
            without_norm_messages(&got),
            without_norm_messages(&want),
            "{name}"
        );
    }
    // Written to a folder, the files are these bytes.
    let dir = std::env::temp_dir().join(format!("vigie-cas-{}", std::process::id()));
    let written = outputs.write(&dir).unwrap();
    assert_eq!(written.len(), 4);
    assert_eq!(
        std::fs::read(dir.join("participations-2025.csv")).unwrap(),
        participations
    );
    std::fs::remove_dir_all(dir).ok();
}

/// The sample set in a fresh folder with the Acoss file's lines rewritten by `edit`.
fn with_acoss(tag: &str, edit: impl Fn(Vec<String>) -> Vec<String>) -> (Vec<PathBuf>, PathBuf) {
    let dir = std::env::temp_dir().join(format!("vigie-cas-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for f in common::sample_files() {
        let dest = dir.join(f.file_name().unwrap());
        if dest.extension().is_some_and(|e| e == "acoss") {
            let text = std::fs::read(&f).unwrap();
            let lines: Vec<String> = text
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| l.iter().map(|&b| b as char).collect()) // ISO-8859-1
                .collect();
            let out: Vec<u8> = edit(lines)
                .iter()
                .flat_map(|l| l.chars().map(|c| c as u8).chain([b'\n']))
                .collect();
            std::fs::write(&dest, out).unwrap();
        } else {
            std::fs::copy(&f, &dest).unwrap();
        }
        files.push(dest);
    }
    (files, dir)
}

fn lines_of(outputs: &CasOutputs, name: &str) -> Vec<String> {
    String::from_utf8(file(outputs, name).bytes())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_health_base_compared_within_acoss_is_returned_as_maladie_and_famille() {
    // Doctor 19675154124 is affiliated to Acoss for health, with equal bases (75571.71): a
    // family base 5.00 € higher is a CAS-X-ASS returned to Acoss alone.
    let (files, dir) = with_acoss("xass", |lines| {
        lines
            .into_iter()
            .map(|l| {
                if l.starts_with("202519675154124") {
                    format!("{}{}{}", &l[..59], "0007558171", &l[69..])
                } else {
                    l
                }
            })
            .collect()
    });
    let outputs = cas(&files);
    let acoss = lines_of(&outputs, "retour-ACOSS-2025.csv");
    assert!(
        acoss.contains(&"CAS-X-ASS;19675154124;2025;assiette_maladie_famille;maladie=75571.71,famille=75581.71;;\"Les assiettes maladie et famille diffèrent ; vérifiez les revenus déclarés.\"".to_string()),
        "{acoss:#?}"
    );
    let rsi = lines_of(&outputs, "retour-RSI-2025.csv");
    assert!(
        !rsi.iter().any(|l| l.contains("19675154124")),
        "not returned to RSI"
    );
    let paid = lines_of(&outputs, "participations-2025.csv");
    assert!(
        paid.iter().any(
            |l| l.starts_with("19675154124;2025;BLOQUEE;75571.71;75581.71;")
                && l.ends_with(";;CAS-X-ASS")
        ),
        "{paid:#?}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_failing_rpps_key_is_returned_on_rpps_and_each_repeat_on_its_own_line() {
    // The second Acoss record gets a wrong RPPS key (its last digit); the third is sent three
    // times in all.
    let (files, dir) = with_acoss("nid", |lines| {
        let mut out = Vec::new();
        for (i, l) in lines.into_iter().enumerate() {
            if i == 1 {
                let last = l.as_bytes()[14];
                let wrong = if last == b'9' {
                    '0'
                } else {
                    (last + 1) as char
                };
                out.push(format!("{}{wrong}{}", &l[..14], &l[15..]));
            } else if i == 2 {
                out.extend([l.clone(), l.clone(), l]);
            } else {
                out.push(l);
            }
        }
        out
    });
    let outputs = cas(&files);
    let acoss = lines_of(&outputs, "retour-ACOSS-2025.csv");
    let id: Vec<&String> = acoss
        .iter()
        .filter(|l| l.starts_with("CAS-N-ID;"))
        .collect();
    assert!(
        id.iter().any(|l| {
            let cells: Vec<&str> = l.split(';').collect();
            cells[3] == "rpps" && cells[4] == cells[1]
        }),
        "champ rpps, valeur the RPPS as sent: {id:#?}"
    );
    let dup: Vec<&String> = acoss
        .iter()
        .filter(|l| l.starts_with("CAS-N-DUP;"))
        .collect();
    assert_eq!(dup.len(), 2, "each repeat is its own line: {dup:#?}");
    let cells = |l: &str| l.rsplit_once(";").unwrap().0.to_string();
    assert_eq!(
        cells(dup[0]),
        cells(dup[1]),
        "the same cells but the message"
    );
    assert!(
        dup[0].contains("n° 2") && dup[1].contains("n° 3"),
        "in the order of their source lines: {dup:#?}"
    );
    assert!(dup[0].contains(";rpps;"), "{}", dup[0]);
    // Sorted by rpps, then code.
    let keys: Vec<(String, String)> = acoss
        .iter()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(';').collect();
            (c[1].to_string(), c[0].to_string())
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn an_organism_with_nothing_to_correct_gets_the_header_alone() {
    // One doctor, present and consistent everywhere: three returns with the header alone, and
    // his participation line as in the samples' expected file.
    let rpps = "12009155743";
    let dir = std::env::temp_dir().join(format!("vigie-cas-one-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for f in common::sample_files() {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let csv = name.ends_with(".csv");
        if !(name.starts_with("cotisations") || name.starts_with("cas-adherents")) {
            continue;
        }
        let bytes = std::fs::read(&f).unwrap();
        let kept: Vec<&[u8]> = bytes
            .split_inclusive(|&b| b == b'\n')
            .enumerate()
            .filter(|(i, l)| {
                (csv && *i == 0) || l.windows(rpps.len()).any(|w| w == rpps.as_bytes())
            })
            .map(|(_, l)| l)
            .collect();
        std::fs::write(dir.join(&name), kept.concat()).unwrap();
        files.push(dir.join(&name));
    }
    let outputs = cas(&files);
    for org in ["ACOSS", "RSI", "CARMF"] {
        assert_eq!(
            lines_of(&outputs, &format!("retour-{org}-2025.csv")),
            ["code;rpps;annee;champ;valeur_organisme;valeurs_autres;message"],
            "{org}"
        );
    }
    let expected = std::fs::read_to_string(common::path(
        "tests/data/expected-cas/participations-2025.csv",
    ))
    .unwrap();
    let line = expected.lines().find(|l| l.starts_with(rpps)).unwrap();
    assert_eq!(lines_of(&outputs, "participations-2025.csv")[1], line);
    std::fs::remove_dir_all(dir).ok();
}
