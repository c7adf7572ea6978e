//! Helpers shared by the tests.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use bytes::Bytes;
use fn_core::{Config, InvocationLimits};
use fn_runtime::{CompiledModule, Invocation, Outcome, Runtime};

/// The bytes of a guest built by `cargo xtask guests`.
pub(crate) fn guest(name: &str) -> Bytes {
    Bytes::from(fn_guests::bytes(name))
}

/// A config for tests: a small pool, so tests start quickly.
pub(crate) fn test_config() -> Config {
    let mut config = Config::default();
    config.pooling.slots = 32;
    config.max_memory_bytes = 128 << 20;
    config
}

/// A runtime with `test_config()` changed by `change`.
pub(crate) fn runtime_with(change: impl FnOnce(&mut Config)) -> Runtime {
    let mut config = test_config();
    change(&mut config);
    Runtime::new(&config).expect("test config is valid")
}

static NO_ENV: LazyLock<BTreeMap<String, String>> = LazyLock::new(BTreeMap::new);

/// An invocation named `test` with no env, a 5 s timeout and 64 MiB of memory.
pub(crate) fn invocation() -> Invocation<'static> {
    Invocation {
        name: "test",
        env: &NO_ENV,
        args: &[],
        preopens: &[],
        limits: InvocationLimits::capped(Duration::from_secs(5), 64 << 20, &test_config()),
        allow_outbound: &[],
        config: &NO_ENV,
    }
}

/// [`invocation`] with a deadline of `timeout` (capped by `test_config()`).
pub(crate) fn with_timeout(timeout: Duration) -> Invocation<'static> {
    Invocation {
        limits: InvocationLimits::capped(timeout, 64 << 20, &test_config()),
        ..invocation()
    }
}

/// [`invocation`] with a memory limit of `bytes` (capped by `test_config()`).
pub(crate) fn with_memory(bytes: u64) -> Invocation<'static> {
    Invocation {
        limits: InvocationLimits::capped(Duration::from_secs(5), bytes, &test_config()),
        ..invocation()
    }
}

pub(crate) async fn compile(runtime: &Runtime, bytes: impl Into<Bytes>) -> CompiledModule {
    runtime
        .compile(bytes.into())
        .await
        .expect("module compiles")
}

/// Compiles `bytes` and runs them once with the default invocation.
pub(crate) async fn run_once(
    runtime: &Runtime,
    bytes: impl Into<Bytes>,
    input: &'static [u8],
) -> Outcome {
    let module = compile(runtime, bytes).await;
    runtime
        .invoke(&module, invocation(), Bytes::from_static(input))
        .await
}
