//! The library half of the `nslab` package: what the CLI (`src/main.rs`), the cross-crate
//! tests (`tests/`) and the benchmarks (`benches/`) share. It is the only crate that knows
//! both backends and the judge, so running one thing on the kernel and on the model and
//! judging their agreement is written here, once ([`both`]).

pub mod both;
pub mod quiz;
pub mod session;
