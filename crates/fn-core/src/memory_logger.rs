//! An invocation logger that keeps records in memory, for whoever reads back the records
//! of the invocations it made: tests, the conformance runner, `fnd run`.

use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::{InvocationLogger, InvocationRecord, Result};

/// An [`InvocationLogger`] that keeps every record it is given, in arrival order, until
/// it is taken. It grows without bound: use it where the number of invocations is
/// bounded (a test, a suite run, one command), never in a server.
///
/// ```
/// use std::sync::Arc;
///
/// use fn_core::{InvocationLogger, MemoryLogger};
///
/// let logger = Arc::new(MemoryLogger::new());
/// // Hand `logger.clone()` to the engine, run invocations, then:
/// assert!(logger.take("some-request-id").is_empty());
/// ```
#[derive(Debug, Default)]
pub struct MemoryLogger {
    records: Mutex<Vec<InvocationRecord>>,
}

impl MemoryLogger {
    /// An empty logger.
    pub fn new() -> MemoryLogger {
        MemoryLogger::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<InvocationRecord>> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of every record kept so far.
    pub fn records(&self) -> Vec<InvocationRecord> {
        self.lock().clone()
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
        mine
    }

    /// Takes out every record.
    pub fn take_all(&self) -> Vec<InvocationRecord> {
        std::mem::take(&mut *self.lock())
    }
}

impl InvocationLogger for MemoryLogger {
    fn log(&self, record: InvocationRecord) -> Result<()> {
        self.lock().push(record);
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
}
