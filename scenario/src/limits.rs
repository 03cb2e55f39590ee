//! The limits on a scenario file, checked while it is read, before anything runs: a file
//! that passes them parses, runs and is judged in time and memory linear in its size after
//! `repeat` blocks are expanded, with no recursion deeper than [`MAX_DEPTH`], and makes at
//! most [`MAX_TASKS`] tasks (helper processes on the real backend). Each refusal is a
//! [`ParseError`](crate::ParseError) with the file, line and column of the statement that
//! crossed the limit, naming the limit. They are documented in `scenarios/README.md` and in
//! `nslab run --help`.

/// The largest scenario file read, in bytes (the set's largest file is under 2 KiB). A
/// larger file is refused after reading at most one byte more than this.
pub const MAX_FILE_BYTES: usize = 4 << 20;

/// The longest line, in bytes.
pub const MAX_LINE_BYTES: usize = 4096;

/// The largest count of one `repeat` block.
pub const MAX_REPEAT: u32 = 10_000;

/// How deeply `repeat` blocks nest.
pub const MAX_DEPTH: usize = 32;

/// Statements after `repeat` blocks are expanded, in the whole file: a block counts its body
/// (at least one statement: an empty body is still looped over) times its count
/// (`pid_levels_left` and `user_levels_left` as their largest value, 33, and at least once),
/// so that the bound holds whatever the machine and is checked as the file is read.
pub const MAX_STEPS: u64 = 200_000;

/// Clones after `repeat` blocks are expanded, counted as [`MAX_STEPS`] counts statements:
/// every task of a scenario is a helper process on the real backend, and this bounds them
/// far below any host's pid limit (`kernel.pid_max` is at least 32768 on 64-bit kernels).
pub const MAX_TASKS: u64 = 512;

/// The largest value `pid_levels_left` or `user_levels_left` takes (`MAX_USER_NS_LEVEL`).
pub const MAX_LEVELS_LEFT: u32 = crate::ast::MAX_USER_NS_LEVEL;

/// The limits as `nslab run --help` and error messages list them.
pub fn describe() -> String {
    format!(
        "a file of at most {} MiB, lines of at most {MAX_LINE_BYTES} bytes, repeat counts of \
         at most {MAX_REPEAT}, repeat blocks nested at most {MAX_DEPTH} deep, at most \
         {MAX_STEPS} statements and {MAX_TASKS} clones once repeat blocks are expanded",
        MAX_FILE_BYTES >> 20
    )
}
