//! Invocations: their context, status and record.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Cid, Config, Error, ErrorKind, Function, FunctionDefinition, TraceContext};

/// What triggered an invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TriggerType {
    /// An HTTP request (the default).
    Http,
    /// A WebSocket message.
    Websocket,
    /// A cron schedule.
    Cron,
    /// A database change.
    Database,
    /// A pub/sub message.
    Pubsub,
    /// A one-off timer.
    Timer,
    /// A background job.
    Job,
}

impl TriggerType {
    /// The trigger's name as stored in records (`http`, `cron`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerType::Http => "http",
            TriggerType::Websocket => "websocket",
            TriggerType::Cron => "cron",
            TriggerType::Database => "database",
            TriggerType::Pubsub => "pubsub",
            TriggerType::Timer => "timer",
            TriggerType::Job => "job",
        }
    }

    /// The OpenTelemetry FaaS `faas.trigger` value: `datasource`, `http`, `pubsub`,
    /// `timer` or `other`.
    pub fn faas_trigger(self) -> &'static str {
        match self {
            TriggerType::Http | TriggerType::Websocket => "http",
            TriggerType::Cron | TriggerType::Timer => "timer",
            TriggerType::Database => "datasource",
            TriggerType::Pubsub => "pubsub",
            TriggerType::Job => "other",
        }
    }
}

impl fmt::Display for TriggerType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who asked for an invocation and why: the part of an invocation the caller supplies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvocationContext {
    /// The request id, unique per invocation request; carried into errors and records.
    pub request_id: String,
    /// What triggered the invocation.
    pub trigger: TriggerType,
    /// The authenticated caller, when there is one (the Go engine's `CallerWallet`).
    pub caller: Option<String>,
    /// The caller's W3C trace context, when it gave a valid one: the invocation's span
    /// joins that trace. Default none (a new trace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<crate::TraceContext>,
}

impl InvocationContext {
    /// A context with a fresh request id (a UUIDv7, so ids sort by time) and the given
    /// trigger.
    pub fn new(trigger: TriggerType) -> InvocationContext {
        InvocationContext {
            request_id: new_id(),
            trigger,
            caller: None,
            trace: None,
        }
    }

    /// This context in the caller's trace.
    pub fn with_trace(mut self, trace: crate::TraceContext) -> InvocationContext {
        self.trace = Some(trace);
        self
    }

    /// This context with `caller` set.
    pub fn with_caller(mut self, caller: impl Into<String>) -> InvocationContext {
        self.caller = Some(caller.into());
        self
    }
}

impl Default for InvocationContext {
    /// A fresh request id and the HTTP trigger, as the Go engine built when the caller
    /// gave none.
    fn default() -> InvocationContext {
        InvocationContext::new(TriggerType::Http)
    }
}

/// A fresh, time-ordered unique id (UUIDv7), for requests, invocations and functions.
pub fn new_id() -> String {
    // Encoded into a buffer rather than through `Display`: the formatting machinery
    // costs more than the id (two per invocation).
    let mut buffer = uuid::Uuid::encode_buffer();
    let id: &str = uuid::Uuid::now_v7().hyphenated().encode_lower(&mut buffer);
    id.to_owned()
}

/// The limits one invocation runs under: the function's own, capped by the engine's
/// [`Config`]. The engine computes them once, at its entry, after validating the
/// function; the sandbox applies them as given. The only ways to make one cap them, so a
/// value of this type is always within the config it was made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvocationLimits {
    timeout: Duration,
    max_memory_bytes: u64,
}

impl InvocationLimits {
    /// The limits of `definition` under `config`: each of its own, capped by the
    /// config's maximum (a definition valid for deploy is already within them).
    pub fn new(definition: &FunctionDefinition, config: &Config) -> InvocationLimits {
        InvocationLimits::capped(definition.timeout, definition.max_memory_bytes, config)
    }

    /// A deadline of `timeout` and a memory limit of `max_memory_bytes`, each capped by
    /// `config`'s maximum.
    pub fn capped(timeout: Duration, max_memory_bytes: u64, config: &Config) -> InvocationLimits {
        InvocationLimits {
            timeout: timeout.min(config.max_timeout),
            max_memory_bytes: max_memory_bytes.min(config.max_memory_bytes),
        }
    }

    /// How long the invocation may run, instantiation included.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The most linear memory the guest may have, in bytes.
    pub fn max_memory_bytes(&self) -> u64 {
        self.max_memory_bytes
    }
}

/// How an invocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InvocationStatus {
    /// The function returned output.
    Success,
    /// The function, or the engine on its behalf, failed.
    Error,
    /// The function ran past its deadline.
    Timeout,
    /// A rate limit refused the call before it ran.
    RateLimited,
    /// No slot to run it in came free within the wait allowed (a concurrency limit).
    Overloaded,
    /// The caller went away (dropped the invocation) before it ended.
    Cancelled,
}

impl InvocationStatus {
    /// The status as stored in records.
    pub fn as_str(self) -> &'static str {
        match self {
            InvocationStatus::Success => "success",
            InvocationStatus::Error => "error",
            InvocationStatus::Timeout => "timeout",
            InvocationStatus::RateLimited => "rate_limited",
            InvocationStatus::Overloaded => "overloaded",
            InvocationStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for InvocationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The request an HTTP function was served, as its record keeps it (no headers, no
/// body: they may hold secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRequestLine {
    /// The method, as sent (`GET`, `POST`, …).
    pub method: String,
    /// The path the guest saw, without the query.
    pub path: String,
    /// The query, without its `?`, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

/// What the engine records of every invocation, success or failure, exactly once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvocationRecord {
    /// This record's (and invocation's) unique id.
    pub id: String,
    /// The function's id.
    pub function_id: String,
    /// The function's name.
    pub function_name: String,
    /// The function's namespace.
    pub namespace: String,
    /// The function's version (records written before versions were numbers hold a
    /// string of digits, read as the number).
    #[serde(deserialize_with = "crate::serde_version::deserialize")]
    pub version: u32,
    /// The request id from the [`InvocationContext`].
    pub request_id: String,
    /// What triggered the invocation.
    pub trigger: TriggerType,
    /// The caller, when known.
    pub caller: Option<String>,
    /// Bytes of input given to the function.
    pub input_size: u64,
    /// Bytes of output returned (0 on failure).
    pub output_size: u64,
    /// When the engine took the call.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub completed_at: DateTime<Utc>,
    /// How long it took, end to end.
    #[serde(with = "crate::serde_duration::micros")]
    pub duration: Duration,
    /// How it ended.
    pub status: InvocationStatus,
    /// The error's full message when it failed.
    pub error_message: Option<String>,
    /// The error's kind when it failed ([`crate::Error::kind`]).
    #[serde(default)]
    pub error_kind: Option<ErrorKind>,
    /// The largest linear memory the guest had, in bytes (0 when it never ran).
    pub peak_memory_bytes: u64,
    /// Whether the module was compiled for this call (not found in the cache).
    pub cold_start: bool,
    /// The memory limit the invocation ran under, in bytes: the function's, capped by
    /// the config (`faas.max_memory`). 0 for a call refused before it was computed.
    #[serde(default)]
    pub max_memory_bytes: u64,
    /// For a cold start, how long the module took to be ready (fetched and compiled, or
    /// loaded from disk, or waited for while another call compiled it); zero otherwise.
    #[serde(default, with = "crate::serde_duration::micros")]
    pub compile_duration: Duration,
    /// How long the sandbox took to be made and the module instantiated in it (its start
    /// function included); `None` when no sandbox was made.
    #[serde(default, with = "crate::serde_duration::option_micros")]
    pub instantiate_duration: Option<Duration>,
    /// How long the guest's code ran after instantiation; `None` when it never ran.
    #[serde(default, with = "crate::serde_duration::option_micros")]
    pub execute_duration: Option<Duration>,
    /// The compiled module's CID (the function's `wasm_cid`).
    pub wasm_cid: Cid,
    /// For an HTTP function, the request it was served; `None` for any other call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_request: Option<HttpRequestLine>,
    /// For an HTTP function, the status it answered with; `None` when it set no
    /// response (or is no HTTP function).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// The caller's W3C trace context, when one was given: the invocation's span is its
    /// child.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<TraceContext>,
}

impl InvocationRecord {
    /// A record of `function` being invoked in `ctx`, started at `started_at`, with the
    /// outcome fields still to be filled.
    pub fn start(
        function: &Function,
        ctx: &InvocationContext,
        input_size: u64,
        started_at: DateTime<Utc>,
    ) -> InvocationRecord {
        InvocationRecord {
            id: new_id(),
            function_id: function.id.clone(),
            function_name: function.definition.name.clone(),
            namespace: function.definition.namespace.clone(),
            version: function.definition.version,
            request_id: ctx.request_id.clone(),
            trigger: ctx.trigger,
            caller: ctx.caller.clone(),
            input_size,
            output_size: 0,
            started_at,
            completed_at: started_at,
            duration: Duration::ZERO,
            status: InvocationStatus::Success,
            error_message: None,
            error_kind: None,
            peak_memory_bytes: 0,
            cold_start: false,
            max_memory_bytes: 0,
            compile_duration: Duration::ZERO,
            instantiate_duration: None,
            execute_duration: None,
            wasm_cid: function.wasm_cid,
            http_request: None,
            http_status: None,
            trace: ctx.trace.clone(),
        }
    }

    /// Fills in how the invocation ended: its status, and the error's kind and message
    /// or the output's size.
    pub fn set_outcome(&mut self, result: Result<u64, &Error>) {
        match result {
            Ok(output_size) => {
                self.output_size = output_size;
                self.status = InvocationStatus::Success;
                self.error_kind = None;
                self.error_message = None;
            }
            Err(error) => {
                self.status = error.invocation_status();
                self.error_kind = Some(error.kind());
                self.error_message = Some(error.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_lowercase_hyphenated_uuid_v7s_in_the_order_they_were_made() {
        let ids: Vec<String> = (0..1_000).map(|_| new_id()).collect();
        for id in &ids {
            let parsed = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(parsed.get_version_num(), 7, "{id}");
            assert_eq!(*id, parsed.hyphenated().to_string(), "{id}");
        }
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, ids, "unique and time-ordered");
    }
}
