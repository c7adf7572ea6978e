//! The traits the engine's crates speak to each other through.
//!
//! Each is object safe, `Send + Sync`, and used as `Arc<dyn …>`, so a platform can plug in
//! its own registry, logger, admission control ([`crate::Admission`]) or outbound sender
//! ([`crate::OutboundHttp`]).

use std::fmt;

use async_trait::async_trait;
use bytes::Bytes;

use crate::{Cid, Function, InvocationContext, InvocationRecord, Result};

/// Where functions and their modules are stored.
#[async_trait]
pub trait FunctionRegistry: Send + Sync + fmt::Debug {
    /// The function with this id.
    ///
    /// # Errors
    ///
    /// [`crate::Error::NotFound`] when there is none.
    async fn function(&self, id: &str) -> Result<Function>;

    /// The function called `name` in `namespace`.
    ///
    /// # Errors
    ///
    /// [`crate::Error::NotFound`] when there is none.
    async fn function_by_name(&self, namespace: &str, name: &str) -> Result<Function>;

    /// The bytes of the module with this CID. The caller verifies them against the CID.
    ///
    /// # Errors
    ///
    /// [`crate::Error::NotFound`] when the store has no such module.
    async fn wasm_bytes(&self, cid: &Cid) -> Result<Bytes>;
}

/// Runs functions: the engine's contract with its callers (the gateway, triggers).
#[async_trait]
pub trait FunctionExecutor: Send + Sync {
    /// Runs one invocation of `function` on `input` and returns its output. A default
    /// context (fresh request id, HTTP trigger) is used when `ctx` is `None`.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Execution`] wrapping the cause, with the function's name and the
    /// request id; the cause is [`crate::Error::Validation`] for a function that is not
    /// valid.
    async fn execute(
        &self,
        function: &Function,
        input: Bytes,
        ctx: Option<InvocationContext>,
    ) -> Result<Bytes>;
}

/// Receives the record of every invocation.
///
/// `log` is called on the invocation's path, once per invocation: implementations must
/// not block (queue the record and write in batches).
pub trait InvocationLogger: Send + Sync + fmt::Debug {
    /// Takes one record.
    ///
    /// # Errors
    ///
    /// Any error; the engine logs it as a warning and the invocation is unaffected.
    fn log(&self, record: InvocationRecord) -> Result<()>;

    /// Waits (a bounded time) until every record taken so far is written: before a
    /// program exits ([`crate::FunctionExecutor`]'s engine calls it when it is closed).
    /// The default does nothing, for loggers that write as they take.
    ///
    /// # Errors
    ///
    /// Any error: the records could not all be written in time.
    fn flush(&self) -> Result<()> {
        Ok(())
    }
}

/// A secret's value. Its `Debug` output is redacted so that it never lands in a log.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Bytes);

impl SecretValue {
    /// Wraps a secret.
    pub fn new(value: Bytes) -> SecretValue {
        SecretValue(value)
    }

    /// The secret's bytes; handle with care.
    pub fn expose(&self) -> &Bytes {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}
