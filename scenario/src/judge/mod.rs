//! The judge: [`check`] runs a scenario on one machine and records, for every step, what the
//! machine did, whether it met the expectation and what the touched tasks saw; [`agree`]
//! compares two such reports by structure.
//!
//! Every caller (the tests, `nslab run`, `nslab check`) goes through these two functions, as
//! the LKMM litmus tests go through one judging script for herd7 and klitmus7.
//!
//! One job per module: `report` holds the report types and the agreement of two reports,
//! `run` executes statements on a machine (with its caches of observations and texts),
//! `facts` evaluates `expect` lines, and `render` writes the observed texts.

mod facts;
mod render;
pub(crate) mod report;
pub(crate) mod run;

pub use report::{
    agree, agree_records, Disagreement, NamedView, NamedViews, Outcome, Report, StepRecord, Verdict,
};
pub use run::{check, Run};
