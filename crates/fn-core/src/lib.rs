//! The vocabulary of the function engine: the types, errors, configuration and traits
//! that every other crate speaks.
//!
//! fn-core deliberately knows nothing of wasmtime, moka, governor or OpenTelemetry: a
//! platform can take it alone to write its own registry, logger, admission control or host
//! services against the traits here.
//!
//! # Example
//!
//! ```
//! use fn_core::{Cid, Config, Function, FunctionDefinition};
//!
//! let config = Config::default();
//! let mut definition = FunctionDefinition::new("acme", "resize");
//! definition.env.insert("QUALITY".into(), "80".into());
//! definition.validate(&config)?;
//!
//! let wasm = b"\0asm\x01\0\0\0";
//! let function = Function::new(definition, Cid::of(wasm));
//! assert!(function.wasm_cid.to_string().starts_with("bafkrei"));
//! # Ok::<(), fn_core::Error>(())
//! ```

mod admission;
mod cid;
mod config;
mod error;
mod function;
mod invocation;
mod keys;
mod memory_logger;
mod outbound;
mod serde_duration;
mod serde_version;
mod store;
mod trace_context;
mod traits;
pub mod units;

pub use crate::admission::{Admission, AdmissionRequest, OnAdmissionError, Permit, RateQuota};
pub use crate::cid::Cid;
pub use crate::config::{
    AdmissionConfig, CompileWorker, Config, MEMORY_CEILING_BYTES, PoolingConfig,
};
pub use crate::error::{Error, ErrorKind, OutputStream, Result, TrapCode};
pub use crate::function::{
    Destination, Function, FunctionDefinition, HostPattern, MAX_ARGS, MAX_ARGS_BYTES,
    MAX_CONFIG_BYTES, MAX_CONFIG_VALUES, MAX_ENV_BYTES, MAX_ENV_VARS, MAX_NAME_LEN,
    MAX_OUTBOUND_RULE_BYTES, MAX_OUTBOUND_RULES, MAX_PREOPENS, MAX_ROUTE_BYTES, OutboundRule,
    OutboundScheme, PortPattern, Preopen, RESERVED_ROUTES, check_route, name_from, route_covers,
};
pub use crate::invocation::{
    HttpRequestLine, InvocationContext, InvocationLimits, InvocationRecord, InvocationStatus,
    TriggerType, new_id,
};
pub use crate::keys::{ApiKey, KeyStore, Role, TokenHash, key_exists, no_key};
pub use crate::memory_logger::MemoryLogger;
pub use crate::outbound::{
    OutboundBody, OutboundConnection, OutboundError, OutboundHttp, OutboundTimeouts,
};
pub use crate::store::{
    FunctionStore, FunctionSummary, MAX_PAGE, Page, Paged, PlatformStore, RecordQuery, Route,
    VersionInfo, parse_record_cursor, record_cursor, route_taken,
};
pub use crate::trace_context::{MAX_TRACESTATE_BYTES, TraceContext};
pub use crate::traits::{FunctionExecutor, FunctionRegistry, InvocationLogger, SecretValue};

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + ?Sized>() {}

    #[test]
    fn traits_are_send_sync_objects() {
        assert_send_sync::<dyn FunctionRegistry>();
        assert_send_sync::<dyn FunctionExecutor>();
        assert_send_sync::<dyn InvocationLogger>();
        assert_send_sync::<dyn Admission>();
        assert_send_sync::<Permit>();
        assert_send_sync::<dyn OutboundHttp>();
        assert_send_sync::<Error>();
    }

    #[test]
    fn status_of_errors() {
        let timeout = Error::Timeout {
            limit: std::time::Duration::from_millis(250),
        };
        let wrapped = Error::Execution {
            function: "resize".into(),
            request_id: "r1".into(),
            source: Box::new(timeout),
        };
        assert_eq!(wrapped.invocation_status(), InvocationStatus::Timeout);
        assert_eq!(wrapped.kind(), ErrorKind::Timeout, "the kind is the root's");
        assert!(matches!(wrapped.root(), Error::Timeout { .. }));
        assert_eq!(
            wrapped.to_string(),
            "function `resize` failed (request r1): exceeded its 250 ms deadline"
        );
        let limited = Error::RateLimited {
            key: "global".into(),
            retry_after: Some(std::time::Duration::from_secs(1)),
        };
        assert_eq!(limited.invocation_status(), InvocationStatus::RateLimited);
        assert_eq!(limited.kind(), ErrorKind::RateLimited);
        assert!(limited.is_retryable());
        assert!(limited.is_client_error());
        let overloaded = Error::Overloaded {
            key: "namespace:acme".into(),
            retry_after: std::time::Duration::from_secs(1),
        };
        assert_eq!(overloaded.invocation_status(), InvocationStatus::Overloaded);
        assert_eq!(overloaded.kind(), ErrorKind::Overloaded);
        assert!(overloaded.is_retryable());
        assert!(!overloaded.is_client_error(), "503, not 4xx");
        assert_eq!(
            overloaded.to_string(),
            "overloaded on `namespace:acme`, retry after 1000 ms"
        );
    }

    #[test]
    fn error_kinds_have_stable_names_both_ways() {
        for kind in ErrorKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""), "serde and Display agree");
            assert_eq!(kind.as_str().parse::<ErrorKind>().unwrap(), kind);
        }
        assert_eq!(ErrorKind::ModuleTooLarge.to_string(), "module_too_large");
        match "segfault".parse::<ErrorKind>() {
            Err(Error::Validation { field, reason }) => {
                assert_eq!(field, "error_kind");
                assert!(reason.contains("segfault"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let cancelled = Error::Cancelled {
            after: std::time::Duration::from_millis(12),
        };
        assert_eq!(cancelled.kind(), ErrorKind::Cancelled);
        assert_eq!(cancelled.invocation_status(), InvocationStatus::Cancelled);
        assert_eq!(cancelled.to_string(), "cancelled by its caller after 12 ms");
    }

    #[test]
    fn trigger_maps_to_faas_conventions() {
        assert_eq!(TriggerType::Cron.faas_trigger(), "timer");
        assert_eq!(TriggerType::Database.faas_trigger(), "datasource");
        assert_eq!(TriggerType::Job.faas_trigger(), "other");
        assert_eq!(TriggerType::Pubsub.faas_trigger(), "pubsub");
    }

    #[test]
    fn secrets_do_not_debug_print() {
        let secret = SecretValue::new(bytes::Bytes::from_static(b"hunter2"));
        assert!(!format!("{secret:?}").contains("hunter2"));
    }
}
