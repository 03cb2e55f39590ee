//! nslab-scenario: scenario files, run and judged on any [`Machine`], the way the LKMM litmus
//! tests run on herd7 (the model) and klitmus7 (the machine) and are judged by one script.
//!
//! This crate mirrors no kernel file. It knows the [`Machine`] trait and nothing of how a
//! backend works: [`check`] takes `&mut dyn Machine`, so the same judge runs the model, the
//! real kernel, the tests and the CLI.
//!
//! - [`parse`] reads the text format (see `scenarios/README.md` for the grammar).
//! - [`check`] runs one scenario on one machine and judges every expectation.
//! - [`agree`] compares two reports by structure: namespaces by which tasks share them,
//!   pids only inside namespaces the scenario created, errnos exactly.
//! - [`random`] builds random step sequences for the property tests and `nslab check`.

pub mod ast;
pub mod canon;
pub mod holes;
pub mod judge;
pub mod limits;
pub mod parse;
pub mod print;
pub mod random;

pub use ast::*;
pub use canon::{CanonView, Canonicalizer};
pub use judge::{agree, check, Disagreement, Outcome, Report, Run, StepRecord, Verdict};
pub use nslab_machine::machine::Machine;
pub use nslab_machine::text::{printable, quoted};
pub use parse::{parse, parse_bytes, parse_file, LoadError, ParseError};
