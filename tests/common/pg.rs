//! A throwaway PostgreSQL for the store tests: `VIGIE_TEST_POSTGRES` (a server URL) when set,
//! else a server started here from the distribution's binaries (`apt install postgresql`,
//! which `.ci/run` does) in a temporary folder on a free loopback port, stopped when the last
//! test using it is done. Each test gets its own database.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

/// A running server: its URL (without database) and, when started here, its folder.
pub struct Server {
    base: String,
    started: Option<(PathBuf, PathBuf)>,
}

static SERVER: OnceLock<Mutex<Option<Server>>> = OnceLock::new();
static USERS: AtomicU32 = AtomicU32::new(0);

fn bindir() -> PathBuf {
    if let Ok(o) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
        if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
            return dir;
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
        .pop()
        .filter(|d| d.join("pg_ctl").is_file())
        .expect("PostgreSQL is needed by the store tests: apt install postgresql (or set VIGIE_TEST_POSTGRES=postgres://…)")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs a PostgreSQL binary, as the `postgres` user when the tests run as root (the server
/// refuses root).
fn pg(bin: &Path, args: &[&str]) {
    let out = if is_root() {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(bin)
            .args(args)
            .output()
    } else {
        Command::new(bin).args(args).output()
    }
    .expect("PostgreSQL binary runs");
    assert!(
        out.status.success(),
        "{} {args:?}: {}{}",
        bin.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn start() -> Server {
    if let Ok(url) = std::env::var("VIGIE_TEST_POSTGRES") {
        return Server {
            base: url
                .trim_end_matches('/')
                .rsplit_once('/')
                .map_or(url.clone(), |(b, _)| b.to_string()),
            started: None,
        };
    }
    let bin = bindir();
    let dir = std::env::temp_dir().join(format!("vigie-pg-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    if is_root() {
        let ok = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(ok.success());
    }
    let data = dir.join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    pg(
        &bin.join("initdb"),
        &[
            "-D",
            data.to_str().unwrap(),
            "-U",
            "vigie",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
    );
    let opts = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
        dir.display()
    );
    pg(
        &bin.join("pg_ctl"),
        &[
            "-D",
            data.to_str().unwrap(),
            "-o",
            &opts,
            "-l",
            dir.join("log").to_str().unwrap(),
            "-w",
            "start",
        ],
    );
    Server {
        base: format!("postgres://vigie@127.0.0.1:{port}"),
        started: Some((bin, dir)),
    }
}

/// A fresh database of the throwaway server, as a store URL. Call [`release`] when done.
pub fn database(tag: &str) -> String {
    let lock = SERVER.get_or_init(|| Mutex::new(None));
    let mut guard = lock.lock().unwrap_or_else(|e| e.into_inner());
    let server = guard.get_or_insert_with(start);
    USERS.fetch_add(1, Ordering::SeqCst);
    let name = format!("vigie_{tag}_{}", std::process::id());
    let mut admin =
        postgres::Client::connect(&format!("{}/postgres", server.base), postgres::NoTls)
            .expect("the throwaway PostgreSQL answers");
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    format!("{}/{name}", server.base)
}

/// Stops the server started here once the last test using it is done.
pub fn release() {
    if USERS.fetch_sub(1, Ordering::SeqCst) != 1 {
        return;
    }
    let lock = SERVER.get_or_init(|| Mutex::new(None));
    let mut guard = lock.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(Server {
        started: Some((bin, dir)),
        ..
    }) = guard.take()
    {
        pg(
            &bin.join("pg_ctl"),
            &[
                "-D",
                dir.join("data").to_str().unwrap(),
                "-m",
                "immediate",
                "stop",
            ],
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
