//! An invocation logger that keeps records in memory, for whoever reads back the records
//! of the invocations it made: tests, the conformance runner, `fnd run`.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::{InvocationLogger, InvocationRecord, Result};

/// An [`InvocationLogger`] that keeps the records it is given, in arrival order, until
/// they are taken: all of them ([`MemoryLogger::new`], for where the number of
/// invocations is bounded: a test, a suite run, one command), or the last `capacity`
/// ([`MemoryLogger::bounded`], the oldest dropped first: what a server may keep).
///
/// ```
/// use std::sync::Arc;
///
/// use fn_core::{InvocationLogger, MemoryLogger};
///
/// let logger = Arc::new(MemoryLogger::new());
/// // Hand `logger.clone()` to the engine, run invocations, then:
/// assert!(logger.take("some-request-id").is_empty());
/// let last = MemoryLogger::bounded(1000); // never more than 1000 records
/// assert!(last.latest(10, |_| true).is_empty());
/// ```
#[derive(Debug, Default)]
pub struct MemoryLogger {
    /// The most records kept; `None` keeps every one.
    capacity: Option<usize>,
    records: Mutex<VecDeque<InvocationRecord>>,
    /// Notified at every record logged: what [`MemoryLogger::wait_for`] waits on.
    logged: Condvar,
}

impl MemoryLogger {
    /// A logger that keeps every record.
    pub fn new() -> MemoryLogger {
        MemoryLogger::default()
    }

    /// A logger that keeps the last `capacity` records (at least one).
    pub fn bounded(capacity: usize) -> MemoryLogger {
        let capacity = capacity.max(1);
        MemoryLogger {
            capacity: Some(capacity),
            records: Mutex::new(VecDeque::with_capacity(capacity.min(4096))),
            logged: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<InvocationRecord>> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of every record kept, oldest first.
    pub fn records(&self) -> Vec<InvocationRecord> {
        self.lock().iter().cloned().collect()
    }

    /// The last `n` records kept that match `keep`, newest first.
    pub fn latest(
        &self,
        n: usize,
        keep: impl Fn(&InvocationRecord) -> bool,
    ) -> Vec<InvocationRecord> {
        self.lock()
            .iter()
            .rev()
            .filter(|record| keep(record))
            .take(n)
            .cloned()
            .collect()
    }

    /// How many records are kept.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no record is kept.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Takes out the records of `request_id`, leaving the others.
    pub fn take(&self, request_id: &str) -> Vec<InvocationRecord> {
        let mut records = self.lock();
        let (mine, others) = records
            .drain(..)
            .partition(|record: &InvocationRecord| record.request_id == request_id);
        *records = others;
        mine.into()
    }

    /// Copies of the records of `request_id`, once there is one, waiting up to
    /// `timeout` for it (empty when none came): for a record written after its caller
    /// got its answer, as an HTTP function's is when its body has been delivered.
    /// Blocking: call it off the async threads.
    pub fn wait_for(&self, request_id: &str, timeout: Duration) -> Vec<InvocationRecord> {
        let until = Instant::now() + timeout;
        let mut records = self.lock();
        loop {
            let mine: Vec<_> = records
                .iter()
                .filter(|record| record.request_id == request_id)
                .cloned()
                .collect();
            let left = until.saturating_duration_since(Instant::now());
            if !mine.is_empty() || left.is_zero() {
                return mine;
            }
            records = self
                .logged
                .wait_timeout(records, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Takes out every record.
    pub fn take_all(&self) -> Vec<InvocationRecord> {
        std::mem::take(&mut *self.lock()).into()
    }
}

impl InvocationLogger for MemoryLogger {
    fn log(&self, record: InvocationRecord) -> Result<()> {
        let mut records = self.lock();
        if self
            .capacity
            .is_some_and(|capacity| records.len() >= capacity)
        {
            records.pop_front();
        }
        records.push_back(record);
        self.logged.notify_all();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cid, Function, FunctionDefinition, InvocationContext};

    fn record(request_id: &str) -> InvocationRecord {
        let function = Function::new(FunctionDefinition::new("ns", "f"), Cid::of(b"m"));
        let ctx = InvocationContext {
            request_id: request_id.into(),
            ..InvocationContext::default()
        };
        InvocationRecord::start(&function, &ctx, 0, chrono::Utc::now())
    }

    #[test]
    fn takes_the_records_of_one_request_and_keeps_the_rest() {
        let logger = MemoryLogger::new();
        for id in ["a", "b", "a"] {
            logger.log(record(id)).unwrap();
        }
        assert_eq!(logger.len(), 3);
        let taken = logger.take("a");
        assert_eq!(taken.len(), 2);
        assert!(taken.iter().all(|r| r.request_id == "a"));
        assert_eq!(logger.records()[0].request_id, "b");
        assert_eq!(logger.take_all().len(), 1);
        assert!(logger.is_empty());
    }

    #[test]
    fn a_bounded_logger_keeps_the_last_records() {
        let ring = MemoryLogger::bounded(3);
        for id in ["r0", "r1", "r2", "r3", "r4"] {
            ring.log(record(id)).unwrap();
        }
        let ids = |records: Vec<InvocationRecord>| {
            records
                .into_iter()
                .map(|r| r.request_id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(ring.records()), ["r2", "r3", "r4"]);
        assert_eq!(
            ids(ring.latest(5, |r| r.request_id != "r4")),
            ["r3", "r2"],
            "newest first, filtered"
        );
    }
}
