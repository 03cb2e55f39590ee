//! The case space of `nslab check` and its parallel runner.
//!
//! Case `i` of seed `s` is the random operation sequence drawn by a ChaCha generator seeded
//! with the bytes of `s` and `i` alone, so a case does not depend on the ones before it:
//! cases run in any order, on any number of threads, split across machines by `--shard`, or
//! alone by `--case I`, and case `i` is always the same sequence. A run's result is the
//! *lowest-numbered* failing case, shrunk afterwards on the calling thread by proptest's own
//! shrinker (`TestRunner::run_one`), which is deterministic: the same seed and case count
//! give the same report for any number of jobs.
//!
//! Threads: each job is a thread that runs whole cases with [`run`]'s `case` function; a
//! case that uses the real backend starts its `RealMachine` on that thread and drops it there
//! before the next (the root helper's death signal is tied to the thread that started it).
//! Nothing here creates a namespace: helpers are separate processes.

use nslab_scenario::random::{ops, RandOp, SequenceResult};
use proptest::strategy::{BoxedStrategy, Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use std::cell::RefCell;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Mutex;

/// How many shrinking steps the first failing case gets.
pub(crate) const MAX_SHRINK_ITERS: u32 = 2048;

/// Part `k` (1-based) of `n` of the case space: the cases whose index is `k - 1` modulo `n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which part, from 1 to `n`.
    pub k: u32,
    /// How many parts.
    pub n: u32,
}

impl Shard {
    /// The whole case space.
    pub const ALL: Shard = Shard { k: 1, n: 1 };

    /// Whether case `index` belongs to this part.
    pub(crate) fn holds(self, index: u32) -> bool {
        index % self.n == self.k - 1
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("shard must be K/N with 1 <= K <= N (got {s:?})");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (k, n): (u32, u32) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if k == 0 || n == 0 || k > n {
            return Err(bad());
        }
        Ok(Shard { k, n })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// Which cases a run draws and runs.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The size of the case space: cases `0..cases`.
    pub cases: u32,
    /// The seed every case is drawn from.
    pub seed: u64,
    /// The longest sequence, in operations.
    pub max_steps: usize,
    /// The part of the case space this run takes.
    pub shard: Shard,
    /// Run this one case only (a replay), whatever `cases` and `shard` say.
    pub only: Option<u32>,
}

impl Plan {
    /// The whole space of `cases` cases of `seed`.
    pub fn new(cases: u32, seed: u64, max_steps: usize) -> Plan {
        Plan {
            cases,
            seed,
            max_steps,
            shard: Shard::ALL,
            only: None,
        }
    }

    /// The indices this run takes, in increasing order.
    pub fn indices(&self) -> Vec<u32> {
        match self.only {
            Some(i) => vec![i],
            None => (0..self.cases).filter(|&i| self.shard.holds(i)).collect(),
        }
    }

    fn strategy(&self) -> BoxedStrategy<Vec<RandOp>> {
        ops(self.max_steps).boxed()
    }

    /// A runner whose generator depends on the seed and the case index only.
    fn runner(&self, index: u32) -> TestRunner {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&self.seed.to_le_bytes());
        bytes[8..12].copy_from_slice(&index.to_le_bytes());
        // A tag, so that no other use of ChaCha with the seed's bytes draws the same stream.
        bytes[12..16].copy_from_slice(b"case");
        let config = Config {
            cases: 1,
            failure_persistence: None,
            max_shrink_iters: MAX_SHRINK_ITERS,
            ..Config::default()
        };
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
    }

    fn tree(&self, runner: &mut TestRunner) -> Box<dyn ValueTree<Value = Vec<RandOp>>> {
        // A vector of operations has no filter, so drawing one never fails.
        self.strategy()
            .new_tree(runner)
            .unwrap_or_else(|why| unreachable!("a random sequence was rejected: {why}"))
    }

    /// The operation sequence of case `index`.
    pub fn case(&self, index: u32) -> Vec<RandOp> {
        self.tree(&mut self.runner(index)).current()
    }
}

/// A stable digest of a sequence (64-bit FNV-1a of its debug form), for listing cases.
pub fn case_hash(ops: &[RandOp]) -> u64 {
    struct Fnv(u64);
    impl Hasher for Fnv {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for b in bytes {
                self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
            }
        }
    }
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    format!("{ops:?}").hash(&mut h);
    h.finish()
}

/// The lowest-numbered failing case, shrunk.
#[derive(Clone, Debug)]
pub struct Failure {
    /// Its index.
    pub index: u32,
    /// The first disagreement of the case as drawn.
    pub first: String,
    /// The first disagreement of the shrunk sequence.
    pub reason: String,
    /// The shrunk sequence.
    pub minimal: Vec<RandOp>,
    /// The shrunk sequence run once more: its scenario and disagreement.
    pub result: SequenceResult,
}

/// What a run found.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// How many cases the run took (all of them when none failed).
    pub planned: usize,
    /// How many cases ran to the end (when one failed, those after it may have been skipped).
    pub completed: usize,
    /// The lowest-numbered failing case, if any.
    pub failure: Option<Failure>,
}

/// A case the backend could not run (the real backend did not start).
#[derive(Debug)]
pub struct SetupError<E> {
    /// The case.
    pub index: u32,
    /// Why.
    pub error: E,
}

/// Runs the plan's cases on `jobs` threads (at least one) with `case`, which runs one
/// sequence on a fresh pair of machines on the thread that calls it; `done` is called once
/// per case that ran to the end. Every case below the lowest failing one runs, so which one
/// that is does not depend on `jobs`; the failing case is then shrunk on this thread.
pub fn run<E: Send>(
    plan: &Plan,
    jobs: usize,
    case: &(dyn Fn(&[RandOp]) -> Result<SequenceResult, E> + Sync),
    done: &(dyn Fn() + Sync),
) -> Result<Outcome, SetupError<E>> {
    let indices = plan.indices();
    let next = AtomicUsize::new(0);
    // The lowest index known to fail or to be unable to run; cases above it are skipped.
    let stop = AtomicU32::new(u32::MAX);
    let failures: Mutex<Vec<(u32, String)>> = Mutex::new(Vec::new());
    let errors: Mutex<Vec<SetupError<E>>> = Mutex::new(Vec::new());
    let completed = AtomicUsize::new(0);
    let worker = || {
        while let Some(&index) = indices.get(next.fetch_add(1, Ordering::Relaxed)) {
            if index > stop.load(Ordering::Acquire) {
                // Indices are taken in increasing order: every later one is higher still.
                break;
            }
            let ops = plan.case(index);
            match case(&ops) {
                Ok(r) if r.disagreement.is_empty() => {
                    completed.fetch_add(1, Ordering::Relaxed);
                    done();
                }
                Ok(r) => {
                    completed.fetch_add(1, Ordering::Relaxed);
                    stop.fetch_min(index, Ordering::AcqRel);
                    lock(&failures).push((index, r.disagreement[0].to_string()));
                }
                Err(error) => {
                    stop.fetch_min(index, Ordering::AcqRel);
                    lock(&errors).push(SetupError { index, error });
                }
            }
        }
    };
    let jobs = jobs.clamp(1, indices.len().max(1));
    if jobs == 1 {
        worker();
    } else {
        std::thread::scope(|s| {
            for _ in 0..jobs {
                s.spawn(worker);
            }
        });
    }
    let lowest_error = errors
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .min_by_key(|e| e.index);
    let lowest_failure = failures
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .min_by_key(|f| f.0);
    // A case the backend could not run, below any failure, ends the run: its result is
    // unknown, so the lowest failure is not known either.
    if let Some(e) = lowest_error {
        if lowest_failure.as_ref().is_none_or(|f| e.index < f.0) {
            return Err(e);
        }
    }
    let completed = completed.into_inner();
    let Some((index, first)) = lowest_failure else {
        return Ok(Outcome {
            planned: indices.len(),
            completed,
            failure: None,
        });
    };
    let failure = shrink(plan, index, first, case)?;
    Ok(Outcome {
        planned: indices.len(),
        completed,
        failure: Some(failure),
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Shrinks failing case `index` with proptest's shrinker, on this thread.
fn shrink<E>(
    plan: &Plan,
    index: u32,
    first: String,
    case: &(dyn Fn(&[RandOp]) -> Result<SequenceResult, E> + Sync),
) -> Result<Failure, SetupError<E>> {
    let mut runner = plan.runner(index);
    let tree = plan.tree(&mut runner);
    let error = RefCell::new(None);
    let result = runner.run_one(tree, |ops| match case(&ops) {
        Ok(r) if r.disagreement.is_empty() => Ok(()),
        Ok(r) => Err(TestCaseError::fail(r.disagreement[0].to_string())),
        Err(e) => {
            error.borrow_mut().get_or_insert(e);
            Err(TestCaseError::fail("the backend could not run the case"))
        }
    });
    if let Some(error) = error.into_inner() {
        return Err(SetupError { index, error });
    }
    let (reason, minimal) = match result {
        Err(TestError::Fail(reason, minimal)) => (reason.to_string(), minimal),
        // The case failed once and passed when run again: keep it as drawn.
        Ok(_) | Err(TestError::Abort(_)) => (first.clone(), plan.case(index)),
    };
    let result = case(&minimal).map_err(|error| SetupError { index, error })?;
    Ok(Failure {
        index,
        first,
        reason,
        minimal,
        result,
    })
}

/// The number of jobs when none is given: the cores this process may run on.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
