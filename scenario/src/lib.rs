//! nslab-scenario: scenario files, run and judged on any [`Machine`], the way the LKMM litmus
//! tests run on herd7 (the model) and klitmus7 (the machine) and are judged by one script.
//!
//! This crate mirrors no kernel file. It knows the [`Machine`] trait and nothing of how a
//! backend works: [`check`] takes `&mut dyn Machine`, so the same judge runs the model, the
//! real kernel, the tests and the CLI.
//!
//! - [`parse()`] reads the text format (see `scenarios/README.md` for the grammar).
//! - [`check()`] runs one scenario on one machine and judges every expectation.
//! - [`agree`] compares two reports by structure: namespaces by which tasks share them,
//!   pids only inside namespaces the scenario created, errnos exactly.
//! - [`random`] builds random step sequences for the property tests and `nslab check`.
//!
//! # Guide
//!
//! Judge a scenario on a machine, and two machines' agreement:
//!
//! ```
//! use nslab_scenario::{agree, check, parse};
//! use nslab_sim::Kernel;
//!
//! let scenario = parse(
//!     "# pid-levels\n\
//!      A = init: clone CLONE_NEWPID\n\
//!      expect A.pid == 1\n\
//!      expect A.ns.net == init.ns.net\n",
//! )
//! .unwrap();
//! let model = check(&scenario, &mut Kernel::boot());
//! assert!(model.passed());
//! // The same scenario on another machine (here a second model; `nslab run --backend both`
//! // and `nslab::both` use the kernel), compared by structure.
//! let other = check(&scenario, &mut Kernel::boot());
//! assert!(agree(&model, &other).is_empty());
//! ```
//!
//! Property testing: [`property`] has the proptest strategies (operations, flag sets, whole
//! sequences over several tasks, with knobs) and [`property::check_property`], which runs a
//! rule of yours after every step on the model, the kernel or both, shrinks a failure and
//! prints it as a scenario file (see its example).

#![warn(missing_docs)]
pub mod ast;
pub mod canon;
pub mod holes;
pub mod judge;
pub mod limits;
pub mod parse;
pub mod print;
pub mod property;
pub mod random;

pub use ast::*;
pub use canon::{CanonView, Canonicalizer};
pub use judge::{agree, check, Disagreement, Outcome, Report, Run, StepRecord, Verdict};
pub use nslab_machine::machine::Machine;
pub use nslab_machine::text::{printable, quoted};
pub use parse::{parse, parse_bytes, parse_file, LoadError, ParseError};
