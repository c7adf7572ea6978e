//! HTTP functions measured in process: `Engine::serve_http` as shipped (admission, the
//! record, the exchange's task, the streamed body) against a bare `ProxyPre` embedding
//! doing the same per request — a fresh store with WASI and wasi:http contexts, the
//! request and the response outparam made, the proxy instantiated from the pool and its
//! handler called, the body collected — and nothing of the engine's.
//!
//! Both serve `GET /` to the same guest and must answer its line of text: `http-hello`
//! (on the `wasip2` bindings alone) by default, or `http-routes` (a wstd component, whose
//! async runtime starts on every request); the rounds alternate, so that the machine's
//! noise falls on both alike.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, ensure};
use bytes::Bytes;
use fn_core::{Config, Function, FunctionDefinition};
use fn_engine::{Engine, full_body};
use fn_registry::InMemoryRegistry;
use http_body_util::BodyExt as _;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

/// What every measured request must answer.
pub const HELLO: &str = "Hello from a wasi:http function\n";

/// The guests that answer `GET /` with [`HELLO`], either of which the bench may serve.
pub const GUESTS: [&str; 2] = ["http-hello", "http-routes"];

/// The bare embedding's store data.
struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    hooks: NoOutbound,
}

/// No outbound requests in the bare embedding either (the guest makes none here).
struct NoOutbound;

type Io = Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>;
type Sent = wasmtime_wasi_http::Result<(http::Response<wasmtime_wasi_http::WasiBody>, Io)>;

impl WasiHttpHooks for NoOutbound {
    fn send_request(
        &mut self,
        _request: http::Request<wasmtime_wasi_http::WasiBody>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _io: Io,
    ) -> Box<dyn Future<Output = Sent> + Send> {
        Box::new(async { Sent::Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

fn w<T>(result: wasmtime::Result<T>) -> Result<T> {
    result.map_err(|error| anyhow::anyhow!("{error:?}"))
}

/// The bare `ProxyPre` embedding: the pooling allocator with the engine's slots, memory
/// size and memory kept resident (as the module baseline, `embed::Bare`), component
/// instances allowed, epoch interruption, and the full WASI and wasi:http linkers (as
/// `wasmtime serve -Scli` links them).
pub struct BareHttp {
    engine: wasmtime::Engine,
    pre: ProxyPre<State>,
}

impl std::fmt::Debug for BareHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BareHttp").finish_non_exhaustive()
    }
}

impl BareHttp {
    /// Compiles `guest` (one of [`GUESTS`]) with the pool of `config`.
    ///
    /// # Errors
    ///
    /// When wasmtime refuses the configuration or the guest.
    pub fn new(config: &Config, guest: &str) -> Result<BareHttp> {
        let slots = config.pooling.slots;
        let keep = usize::try_from(config.pooling.keep_resident_bytes).unwrap_or(usize::MAX);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(slots)
            .total_core_instances(slots * 16)
            .total_memories(slots)
            .total_tables(slots * 8)
            .total_stacks(slots)
            .max_memory_size(usize::try_from(config.max_memory_bytes).unwrap_or(usize::MAX))
            .linear_memory_keep_resident(keep)
            .table_keep_resident(keep);
        let mut wasmtime = wasmtime::Config::new();
        wasmtime
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
            .memory_init_cow(true)
            .epoch_interruption(true);
        let engine = w(wasmtime::Engine::new(&wasmtime))?;
        let component = w(Component::new(&engine, fn_guests::component(guest)))?;
        let mut linker = Linker::new(&engine);
        w(wasmtime_wasi::p2::add_to_linker_async(&mut linker))?;
        w(wasmtime_wasi_http::p2::add_only_http_to_linker_async(
            &mut linker,
        ))?;
        let pre = w(ProxyPre::new(w(linker.instantiate_pre(&component))?))?;
        Ok(BareHttp { engine, pre })
    }

    /// One request, `GET /`: its body.
    async fn serve(&self) -> Result<Bytes> {
        let mut store = Store::new(
            &self.engine,
            State {
                wasi: WasiCtxBuilder::new().build(),
                table: ResourceTable::new(),
                http: WasiHttpCtx::new(),
                hooks: NoOutbound,
            },
        );
        store.set_epoch_deadline(3_000);
        // `Infallible` errors: wasi-http takes them as its own.
        let empty = http_body_util::Empty::<Bytes>::new();
        let request = http::Request::get("http://localhost/").body(empty)?;
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let request = w(store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request))?;
        let out = w(store.data_mut().http().new_response_outparam(sender))?;
        let pre = self.pre.clone();
        let task = tokio::spawn(async move {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, request, out)
                .await
        });
        let response = receiver
            .await
            .context("no response")?
            .map_err(|code| anyhow::anyhow!("{code:?}"))?;
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .to_bytes();
        w(task.await?)?;
        Ok(body)
    }
}

/// `Engine::serve_http` as shipped, the guest deployed (warm: compiled at deploy).
#[derive(Debug)]
pub struct EngineHttp {
    engine: Engine,
    function: Arc<Function>,
}

impl EngineHttp {
    /// Builds the engine with `config` and deploys `guest` (one of [`GUESTS`]).
    ///
    /// # Errors
    ///
    /// When the config is invalid or the guest does not deploy.
    pub async fn new(config: &Config, guest: &str) -> Result<EngineHttp> {
        let registry = Arc::new(InMemoryRegistry::new());
        let engine = Engine::builder(registry.clone())
            .config(config.clone())
            .build()?;
        let definition = FunctionDefinition::new("bench", guest);
        let bytes = Bytes::from(fn_guests::component(guest));
        let function = Arc::new(engine.deploy(registry.as_ref(), definition, bytes).await?);
        Ok(EngineHttp { engine, function })
    }

    /// One request, `GET /`: its body.
    async fn serve(&self) -> Result<Bytes> {
        let request = http::Request::get("/").body(full_body(Bytes::new()))?;
        let response = self
            .engine
            .serve_http(&self.function, request, None)
            .await?;
        Ok(response
            .into_body()
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .to_bytes())
    }
}

/// The medians of `rounds` alternating rounds of `calls` requests each, after a warm-up,
/// on the current executor: (bare, engine) in nanoseconds per request.
///
/// # Errors
///
/// When a request fails or answers other than [`HELLO`].
pub async fn compare(
    bare: &BareHttp,
    engine: &EngineHttp,
    calls: usize,
    rounds: usize,
) -> Result<(u64, u64)> {
    for _ in 0..calls.min(200) {
        ensure!(
            bare.serve().await? == HELLO,
            "the bare embedding answered wrongly"
        );
        ensure!(
            engine.serve().await? == HELLO,
            "the engine answered wrongly"
        );
    }
    let (mut bare_ns, mut engine_ns) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        for _ in 0..calls {
            let at = Instant::now();
            ensure!(
                bare.serve().await? == HELLO,
                "the bare embedding answered wrongly"
            );
            bare_ns.push(nanos(at.elapsed()));
        }
        for _ in 0..calls {
            let at = Instant::now();
            ensure!(
                engine.serve().await? == HELLO,
                "the engine answered wrongly"
            );
            engine_ns.push(nanos(at.elapsed()));
        }
    }
    Ok((median(&mut bare_ns), median(&mut engine_ns)))
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

fn median(values: &mut [u64]) -> u64 {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or_default()
}
