//! [`Outcome`]: what one invocation produced — its output or typed error, and what the
//! runtime measured of it (peak memory, the guest's streams, how long each phase took).
//!
//! Why its own file: it is the runtime's whole answer to the engine, which copies its
//! measures into the invocation's record; keeping it apart keeps that contract in view.

use std::time::Duration;

use bytes::Bytes;
use fn_core::{Error, Result};

use crate::http::Served;

/// What an invocation produced, whether it succeeded or not.
#[derive(Debug)]
pub struct Outcome {
    /// The output, or the typed error it failed with.
    pub result: Result<Bytes>,
    /// The largest linear memory the guest had, in bytes.
    pub peak_memory_bytes: u64,
    /// What the guest wrote to stderr: its log (at most `max_log_bytes`).
    pub log: Bytes,
    /// What the guest wrote to stdout that is not in the output: everything a WASI
    /// command wrote before it failed, or what a handle-ABI guest printed.
    pub stdout: Bytes,
    /// How long the sandbox took to be made and the module instantiated (its start
    /// function included), or until the invocation ended if instantiation never
    /// finished; `None` when no sandbox was made.
    pub instantiate_duration: Option<Duration>,
    /// How long the guest's code ran after instantiation; `None` when it never got
    /// there.
    pub execute_duration: Option<Duration>,
    /// For an HTTP function, the status it answered and the body bytes delivered (its
    /// output is the body, streamed: `result` holds no bytes then).
    pub http: Option<Served>,
}

impl Outcome {
    pub(crate) fn failed(error: Error) -> Outcome {
        Outcome {
            result: Err(error),
            peak_memory_bytes: 0,
            log: Bytes::new(),
            stdout: Bytes::new(),
            instantiate_duration: None,
            execute_duration: None,
            http: None,
        }
    }
}
