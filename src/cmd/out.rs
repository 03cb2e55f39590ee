//! Standard output of the commands: every line goes through [`line`], which escapes the
//! non-printable characters a scenario file, a hostname or an error could carry (so a file
//! cannot send control sequences to the terminal) and returns the write's error instead of
//! panicking as `println!` does when the reader has gone (`nslab run ... | head`). `main`
//! ends quietly on a closed pipe, as other Unix tools do.

use nslab_scenario::printable;
use std::io::{self, Write};

/// Writes a text and a newline to standard output, non-printable characters escaped.
pub fn line(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(printable(text).as_bytes())?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Writes a text as it is, non-printable characters escaped (no newline added).
pub fn text(text: &str) -> io::Result<()> {
    io::stdout().lock().write_all(printable(text).as_bytes())
}

/// Whether an error is a write to a pipe whose reader has gone.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// `println!` that returns the write's error to the caller (a function returning
/// `anyhow::Result`) and escapes non-printable characters.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cmd::out::line(&format!($($arg)*))?
    };
}
pub(crate) use outln;
