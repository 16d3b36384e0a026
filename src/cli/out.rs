//! Standard output for commands: a reader that stops early (`vigie rules list | head -1`)
//! ends the command quietly; any other write error is reported. Standard error too may be
//! closed early: messages to it never fail the command.

/// `eprintln!` that ignores a closed standard error.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

use std::io::{self, BufWriter, ErrorKind, Write};
use std::process::ExitCode;

use super::EXIT_CANNOT_RUN;

/// Runs `write` on a buffered, locked standard output and flushes it. A closed pipe is not an
/// error (the reader has what it wanted); another I/O error gives exit code 1.
pub fn to_stdout(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<(), ExitCode> {
    let stdout = io::stdout();
    let mut w = BufWriter::new(stdout.lock());
    match write(&mut w).and_then(|()| w.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => {
            // Drop the buffer without flushing it again into the closed pipe.
            let _ = w.into_parts();
            Ok(())
        }
        Err(e) => {
            say!("vigie: écriture sur la sortie standard impossible : {e}");
            Err(ExitCode::from(EXIT_CANNOT_RUN))
        }
    }
}
