//! One invocation's store: its state (WASI context, resource limiter, deadline), built
//! fresh for every call with exactly what the function may see.
//!
//! Why fresh: nothing of one invocation (file descriptors, environment, memory) can leak
//! into the next, and dropping the store at any point tears the sandbox down and returns
//! its pool slot.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fn_core::{Config, Error, InvocationLimits, Preopen, Result};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryInputPipe;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::abi::Abi;
use crate::limits::Limits;
use crate::pipe::BoundedPipe;
use crate::runtime::Invocation;
use crate::to_usize;

/// Per-invocation store data: what host imports and the runtime's callbacks read (the
/// host services' state among it: config values, the outbound hooks).
pub(crate) struct StoreState {
    /// The WASI preview 1 context: args, env, stdio pipes, preopens.
    pub(crate) wasi: WasiP1Ctx,
    /// The resource limiter, which also records peak memory.
    pub(crate) limits: Limits,
    /// When the invocation must stop: `limits.timeout` after the store was made, with
    /// the input already in place.
    pub(crate) deadline: Instant,
    /// The epoch tick, to turn the time left into ticks.
    pub(crate) tick: Duration,
    /// When the store was made (the deadline's start).
    pub(crate) made: Instant,
    /// When instantiation ended (or failed); `None` until it has.
    pub(crate) instantiated: Option<Instant>,
    /// Whether instantiation succeeded, so the guest's code was called.
    pub(crate) called: bool,
    /// wasi:http's context (its field size limit), for HTTP components.
    pub(crate) http: wasmtime_wasi_http::WasiHttpCtx,
    /// The function's config values (`wasi:config/store`).
    pub(crate) config: wasmtime_wasi_config::WasiConfigVariables,
    /// wasi:http's hooks: outbound requests, sent or refused.
    pub(crate) hooks: crate::http::Outbound,
}

/// Components reach the same context through the preview 2 interfaces: a preview 1
/// context holds a preview 2 one and its resource table (capped alike).
impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        self.wasi.ctx()
    }
}

/// A store for one invocation under `limits`, with its WASI context, limiter, fuel and
/// host-call caps in place, and its deadline set from now; `deadline::arm` then turns on
/// its epoch checks.
pub(crate) fn new_store(
    engine: &Engine,
    config: &Config,
    wasi: WasiP1Ctx,
    limits: &InvocationLimits,
    abi: Abi,
    hooks: crate::http::Outbound,
    config_values: &BTreeMap<String, String>,
) -> Store<StoreState> {
    let made = Instant::now();
    // A component is several core instances linked together, with their tables.
    let (max_instances, max_tables) = if abi.is_component() {
        (config.max_component_instances, config.max_component_tables)
    } else {
        (config.max_instances, config.max_tables)
    };
    let mut store = Store::new(
        engine,
        StoreState {
            wasi,
            limits: Limits {
                max_memory_bytes: to_usize(limits.max_memory_bytes()),
                max_table_elements: to_usize(config.max_table_elements),
                max_instances: max_instances as usize,
                max_tables: max_tables as usize,
                max_memories: config.max_memories as usize,
                peak_memory_bytes: 0,
                memory_denied: false,
                table_denied: false,
            },
            deadline: made + limits.timeout(),
            tick: config.epoch_tick,
            made,
            instantiated: None,
            called: false,
            http: wasmtime_wasi_http::WasiHttpCtx::new(),
            config: config_values.iter().collect(),
            hooks,
        },
    );
    store.limiter(|state| &mut state.limits);
    store.set_hostcall_fuel(to_usize(config.max_hostcall_bytes));
    if let Some(fuel) = config.fuel {
        store
            .set_fuel(fuel)
            .expect("fuel is enabled in the engine when the config sets it");
    }
    store
}

/// The WASI context of one invocation: exactly the function's name as argv\[0\] and its
/// arguments, its env, the bounded pipes, its preopens (none unless it names some), and
/// every WASI cap set from the config. Returns the input when the handle ABI takes it in
/// memory instead of on stdin.
pub(crate) fn wasi_context(
    config: &Config,
    preopen_roots: &[PathBuf],
    invocation: &Invocation<'_>,
    abi: Abi,
    input: Bytes,
    [stdout, stderr]: [&BoundedPipe; 2],
) -> Result<(WasiP1Ctx, Option<Bytes>)> {
    let mut wasi = WasiCtxBuilder::new();
    wasi.arg(invocation.name)
        .args(invocation.args)
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .max_random_size(config.max_random_bytes);
    for (key, value) in invocation.env {
        wasi.env(key, value);
    }
    for preopen in invocation.preopens {
        let host = checked_preopen(preopen_roots, preopen)?;
        let perms = if preopen.writable {
            FsPerms::ReadWrite
        } else {
            FsPerms::ReadOnly
        };
        // wasmtime-wasi opens the folder as a cap-std `Dir`: the guest cannot reach out
        // of it by `..` or by a symbolic link.
        wasi.preopened_dir(&host, &preopen.guest, perms)
            .map_err(|error| Error::Unavailable {
                reason: format!(
                    "the preopened folder `{}` cannot be opened: {error}",
                    preopen.host.display()
                ),
            })?;
    }
    let handle_input = if abi.reads_stdin() {
        wasi.stdin(MemoryInputPipe::new(input));
        None
    } else {
        Some(input)
    };
    let mut wasi = wasi.build_p1();
    WasiView::ctx(&mut wasi)
        .table
        .set_max_capacity(to_usize(config.max_wasi_resources));
    Ok((wasi, handle_input))
}

/// The preopen's host folder with its symbolic links resolved, once it is known to lie
/// under one of `roots` (the config's `preopen_roots`, resolved). The definition's check is
/// lexical; this one sees the filesystem as it is now.
///
/// wasmtime-wasi opens the folder by path right after this check, so a process that can
/// rename folders above it could swap in a link in between: operators must not place
/// one function's preopen inside a folder another function may write (docs/abi.md).
fn checked_preopen(roots: &[PathBuf], preopen: &Preopen) -> Result<PathBuf> {
    let unavailable = |why: String| Error::Unavailable {
        reason: format!("the preopened folder `{}` {why}", preopen.host.display()),
    };
    let host = preopen
        .host
        .canonicalize()
        .map_err(|error| unavailable(format!("cannot be opened: {error}")))?;
    let allowed = roots.iter().any(|root| host.starts_with(root));
    if !allowed {
        // A policy refusal, not a passing condition: retrying will not help.
        return Err(Error::validation(
            "preopens.host",
            format!(
                "`{}` is not under any of the engine's preopen_roots",
                preopen.host.display()
            ),
        ));
    }
    Ok(host)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn wasi_resource_table_is_capped_from_the_config() {
        let config = Config {
            max_wasi_resources: 7,
            ..Config::default()
        };
        let env = BTreeMap::new();
        let invocation = Invocation {
            name: "f",
            env: &env,
            args: &[],
            preopens: &[],
            limits: InvocationLimits::capped(Duration::from_secs(1), 1 << 20, &config),
            allow_outbound: &[],
            config: &std::collections::BTreeMap::new(),
        };
        let pipe = BoundedPipe::new(16);
        let (mut wasi, handle_input) = wasi_context(
            &config,
            &[],
            &invocation,
            Abi::WasiCommand,
            Bytes::from_static(b"in"),
            [&pipe, &pipe],
        )
        .expect("no preopens to fail");
        assert_eq!(wasi.ctx().table.max_capacity(), 7);
        assert!(handle_input.is_none(), "a command takes its input on stdin");
        let (_, handle_input) = wasi_context(
            &config,
            &[],
            &invocation,
            Abi::Handle {
                has_malloc: true,
                has_initialize: false,
            },
            Bytes::from_static(b"in"),
            [&pipe, &pipe],
        )
        .expect("no preopens to fail");
        assert_eq!(handle_input.as_deref(), Some(&b"in"[..]));
    }
}
