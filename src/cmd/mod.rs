//! One module per subcommand.

pub mod check;
pub mod graph;
pub mod html;
pub mod lsns;
pub mod netns;
pub mod out;
pub mod quiz;
pub mod run;
pub mod step;
pub mod trace;

/// Input the user must fix (a bad flag name, an unknown call): the binary exits with 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}
