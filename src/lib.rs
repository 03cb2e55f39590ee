//! The library half of the `nslab` package: what the CLI (`src/main.rs`), the cross-crate
//! tests (`tests/`) and the benchmarks (`benches/`) share. It is the only crate that knows
//! both backends and the judge, so running one thing on the kernel and on the model and
//! judging their agreement is written here, once ([`both`]); so is the case space of `nslab
//! check` and its parallel runner ([`check`]), and choosing the machines a user's property
//! runs on ([`property`]).

pub mod both;
pub mod check;
pub mod property;
pub mod quiz;
pub mod session;
