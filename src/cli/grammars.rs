//! `vigie grammars doc`: the exchange formats documented from the grammar files.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{resolve, shown, EXIT_CANNOT_RUN};
use vigie::Setup;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Writes one Markdown page per format (records, zones, types, nesting) and one for the
    /// joins, from the grammar files, so that the documentation cannot drift from them.
    #[command(
        after_help = "Examples:\n  vigie grammars doc                 # rewrites docs/formats/\n  vigie grammars doc --check         # exit 1 if docs/formats/ is not up to date"
    )]
    Doc(DocArgs),
}

#[derive(Debug, clap::Args)]
pub struct DocArgs {
    /// Folder of grammar files [default: ./grammars, else beside the vigie binary].
    #[arg(long, value_name = "DIR", env = "VIGIE_GRAMMARS")]
    grammars: Option<PathBuf>,
    /// Where the pages go.
    #[arg(long, value_name = "DIR", default_value = "docs/formats")]
    out: PathBuf,
    /// Writes nothing; exits with 1 when a page differs from what the grammars give.
    #[arg(long)]
    check: bool,
}

pub fn run(c: Command) -> ExitCode {
    let Command::Doc(a) = c;
    let fail = |m: String| {
        say!("vigie: {m}");
        ExitCode::from(EXIT_CANNOT_RUN)
    };
    let dir = match resolve(&a.grammars, "grammars", "--grammars") {
        Ok(d) => d,
        Err(m) => return fail(m),
    };
    let set = match Setup::grammars(&dir) {
        Ok(s) => s,
        Err(f) => return fail(format!("grammaires refusées ({}) :\n{f}", shown(&dir))),
    };
    let mut stale = Vec::new();
    for (name, text) in vigie::format_pages(&set) {
        let path = a.out.join(&name);
        if std::fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
            continue;
        }
        if a.check {
            stale.push(path.display().to_string());
            continue;
        }
        let written = std::fs::create_dir_all(&a.out).and_then(|()| {
            let tmp = path.with_extension("md.tmp");
            std::fs::write(&tmp, &text).and_then(|()| std::fs::rename(&tmp, &path))
        });
        match written {
            Ok(()) => say!("vigie: {} écrit", path.display()),
            Err(e) => return fail(format!("{} : écriture impossible : {e}", path.display())),
        }
    }
    if stale.is_empty() {
        ExitCode::SUCCESS
    } else {
        fail(format!(
            "pages à regénérer avec `vigie grammars doc` : {}",
            stale.join(", ")
        ))
    }
}
