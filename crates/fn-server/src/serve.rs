//! `fnd serve`: the gateway on the embedded SQLite store, with the records written in
//! batches, the Prometheus exposition (and OTLP when the `OTEL_*` variables ask), the
//! records' retention, and a graceful shutdown on SIGTERM or SIGINT.
//!
//! Why a token always: whoever may deploy may run code on this machine, so management
//! always needs the admin token, on loopback too (another user of the machine is not the
//! operator). It is `FND_TOKEN`, else one made at the first start and kept in
//! `DATA_DIR/admin-token` (mode 0600), never printed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use bytes::Bytes;
use fn_core::{Cid, CompileWorker, FunctionStore};
use fn_engine::Engine;
use fn_registry::{RecordWriter, SqliteStore, WriterOptions};
use fn_server::api::DeploySpec;
use fn_server::config::{ConfigError, ServeConfig};
use fn_server::gateway::Gateway;
use fn_telemetry::{OtelEnv, RecordFigures, Telemetry};

use self::data::{TOKEN_FILE, data_dir, kept_token, private_folder};

mod data;

#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    /// A configuration file (TOML): the server's, telemetry's and the engine's
    /// settings; flags and variables come before it (`fnd config default` prints one
    /// with every default).
    #[arg(long, env = "FND_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// The address to listen on (default 127.0.0.1:8080).
    #[arg(long, env = "FND_LISTEN")]
    listen: Option<SocketAddr>,
    /// Where the store keeps its database (`fn.db`), modules and compiled artifacts;
    /// default `$XDG_DATA_HOME/fnd`, else `$HOME/.local/share/fnd`.
    #[arg(long, env = "FND_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Deploy this module at start as a public function named after its file, in the
    /// `default` namespace, unless its active version already runs that module; repeat
    /// for more (added to the file's `deploy_public`).
    #[arg(long = "deploy-public", value_name = "FILE")]
    deploy_public: Vec<PathBuf>,
    /// Delete invocation records older than this many days (checked hourly); 0 keeps
    /// them for ever (default 7).
    #[arg(long)]
    retention_days: Option<u32>,
    /// On SIGTERM or SIGINT, how long the invocations under way may take to finish
    /// before they are cancelled: `30s`, `500ms` (default 30s).
    #[arg(long, value_name = "DURATION", value_parser = crate::units::duration)]
    drain: Option<Duration>,
    /// `--drain` in whole seconds (the older spelling).
    #[arg(long, value_name = "SECONDS", conflicts_with = "drain", hide = true)]
    drain_seconds: Option<u64>,
}

/// The exit status of a configuration that cannot be used (as clap's usage errors).
const BAD_CONFIG: u8 = 2;

/// The configuration `args` and the environment ask for: the file's (or the defaults),
/// the `FND__*` variables above it, the flags above both.
fn configuration(args: &ServeArgs) -> Result<ServeConfig, ConfigError> {
    let mut config = ServeConfig::load(args.config.as_deref(), crate::fnd_variables())?;
    let server = &mut config.server;
    if let Some(listen) = args.listen {
        server.listen = listen;
    }
    if let Some(dir) = &args.data_dir {
        server.data_dir = Some(dir.clone());
    }
    server
        .deploy_public
        .extend(args.deploy_public.iter().cloned());
    if let Some(days) = args.retention_days {
        server.retention_days = days;
    }
    if let Some(drain) = args.drain.or(args.drain_seconds.map(Duration::from_secs)) {
        server.drain = drain;
    }
    Ok(config)
}

pub(crate) async fn serve(args: ServeArgs) -> Result<ExitCode> {
    let settings = match configuration(&args) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("error: {}", crate::inert(&error.to_string()));
            return Ok(ExitCode::from(BAD_CONFIG));
        }
    };
    let server = &settings.server;
    let data_dir = data_dir(server.data_dir.as_deref())?;
    private_folder(&data_dir)?;
    let store = Arc::new(SqliteStore::open(&data_dir).await?);
    let (token, kept_in) = admin_token(&data_dir)?;
    let telemetry = telemetry(&settings)?;
    let writer = Arc::new(RecordWriter::start(
        store.clone(),
        WriterOptions::default(),
    )?);
    let engine = Engine::builder(store.clone())
        .config(engine_config(&settings, &data_dir))
        .invocation_logger(fn_server::telemetry::logger(
            writer.clone(),
            Some(&telemetry),
        ))
        .outbound(Arc::new(fn_host::Sender::new(
            fn_host::Guard::new(server.outbound_allowed_ranges.clone()),
            fn_host::SenderOptions::default(),
        )))
        .build()?;
    let mut deployed = Vec::new();
    for file in &server.deploy_public {
        deployed.push(deploy_public(&engine, store.as_ref(), file).await?);
    }

    let gateway = Gateway::new(
        engine.clone(),
        store.clone(),
        Some(telemetry.clone()),
        Some(token),
    );
    let figures = writer.clone();
    gateway.set_record_figures(move || {
        let stats = figures.stats();
        RecordFigures {
            written: stats.written,
            dropped: stats.dropped(),
        }
    });
    let listener = tokio::net::TcpListener::bind(server.listen)
        .await
        .with_context(|| format!("listening on {}", server.listen))?;
    let address = listener.local_addr()?;
    let retention = (server.retention_days > 0).then(|| {
        tokio::spawn(retain(
            store.clone(),
            chrono::Duration::days(i64::from(server.retention_days)),
        ))
    });
    banner(
        address,
        store.database(),
        fn_server::gateway::allocator(&engine),
        kept_in.as_deref(),
        &deployed,
    );
    if !engine.uses_pooling() {
        tracing::warn!(
            "instances use on-demand allocation, several times slower than the pool, which \
             could not be reserved (see the warning above; a raised RLIMIT_AS or fewer \
             pooling.slots)"
        );
    }

    let left =
        fn_server::gateway::serve(listener, gateway, shutdown_signal(), server.drain).await?;
    eprintln!("fnd: shutting down: writing the records and the telemetry");
    if let Some(retention) = retention {
        retention.abort();
    }
    shut_down(&engine, &writer, &store, telemetry).await;
    if left > 0 {
        eprintln!("fnd: {left} invocations were cancelled at the drain deadline");
    }
    Ok(ExitCode::SUCCESS)
}

/// The admin token: `FND_TOKEN`, or the one kept in the data folder (made on the first
/// start), with the file it is kept in.
fn admin_token(data_dir: &Path) -> Result<(String, Option<PathBuf>)> {
    match std::env::var("FND_TOKEN").ok().filter(|t| !t.is_empty()) {
        Some(token) => Ok((token, None)),
        None => {
            let path = data_dir.join(TOKEN_FILE);
            Ok((kept_token(&path)?, Some(path)))
        }
    }
}

/// The configured engine, with the artifact tier in the data folder and this program
/// as its compile worker unless the configuration says otherwise.
fn engine_config(settings: &ServeConfig, data_dir: &Path) -> fn_core::Config {
    let mut config = settings.engine.clone();
    if config.artifact_cache_dir.is_none() {
        config.artifact_cache_dir = Some(data_dir.join("artifacts"));
    }
    if config.compile_worker.is_none() {
        config.compile_worker = CompileWorker::this_program()
            .inspect_err(|error| tracing::warn!(%error, "compiling in process"))
            .ok();
    }
    config
}

/// After the drain: no invocation starts from here on; then the records of every one
/// that ended are put in the store (the writer answering when they are, no worker
/// thread parked), the telemetry exported and the store closed.
async fn shut_down(
    engine: &Engine,
    writer: &RecordWriter,
    store: &SqliteStore,
    telemetry: Telemetry,
) {
    engine.close_without_flush();
    engine.flush_artifacts().await;
    if let Err(error) = writer.flush_async().await {
        tracing::warn!(%error, "records not written");
    }
    fn_server::telemetry::finish(Some(telemetry), engine).await;
    if tokio::time::timeout(Duration::from_secs(10), store.close())
        .await
        .is_err()
    {
        tracing::warn!("the store did not close within 10 s");
    }
}

/// A Prometheus exposition for `/metrics`, and OTLP export when the `OTEL_*` variables
/// or the configuration's `[telemetry]` ask.
fn telemetry(settings: &ServeConfig) -> Result<Telemetry> {
    let env = OtelEnv::from_lookup(|name| settings.otel_variable(name, |n| std::env::var(n).ok()));
    for warning in &env.warnings {
        tracing::warn!("{warning}");
    }
    let mut builder = Telemetry::builder(fn_server::telemetry::SERVICE_NAME).prometheus()?;
    if env.exports() {
        builder = builder.otlp(&env).context("OpenTelemetry export")?;
    }
    Ok(builder.build())
}

/// A function deployed by `--deploy-public`: its name and version, and whether this start
/// made the version.
struct Started {
    name: String,
    version: u32,
    new: bool,
    /// Whether it is an HTTP function (served at `…/http/`).
    http: bool,
}

async fn deploy_public(engine: &Engine, store: &dyn FunctionStore, file: &Path) -> Result<Started> {
    let bytes = crate::run::read_module(file, engine.config().max_module_bytes)?;
    let name = crate::run::default_name(file);
    let http = fn_engine::serves_http(&bytes);
    let cid = Cid::of(&bytes);
    if let Ok(function) = store.function_by_name("default", &name).await
        && function.wasm_cid == cid
        && function.definition.public
    {
        return Ok(Started {
            name,
            version: function.definition.version,
            new: false,
            http,
        });
    }
    let spec = DeploySpec::public();
    let function = engine
        .deploy(store, spec.definition("default", &name), Bytes::from(bytes))
        .await
        .with_context(|| format!("deploying {}", file.display()))?;
    Ok(Started {
        name,
        version: function.definition.version,
        new: true,
        http,
    })
}

/// The operator's first view of the server, on stdout.
fn banner(
    address: SocketAddr,
    database: &Path,
    allocator: &str,
    kept_in: Option<&Path>,
    deployed: &[Started],
) {
    let url = format!("http://{address}");
    outln!("fnd serving on {url} (store: {})", database.display());
    outln!("  instances: {allocator} allocator");
    match kept_in {
        Some(path) => outln!(
            "  admin token: in {} (FND_TOKEN unset; set it to choose one)",
            path.display()
        ),
        None => outln!("  admin token: FND_TOKEN"),
    }
    for started in deployed {
        let how = if started.new { "deployed" } else { "kept" };
        outln!(
            "  {how} default/{} version {} (public)",
            started.name,
            started.version
        );
    }
    // The client as the operator can run it from here: this very program, and the
    // server's address when it is not the client's default.
    let program = std::env::current_exe()
        .map(|path| path.display().to_string())
        .unwrap_or_else(|_| "fnd".into());
    let client = if url == fn_server::client::DEFAULT_URL {
        program
    } else {
        format!("FND_URL={url} {program}")
    };
    if let Some(first) = deployed.iter().find(|started| !started.http) {
        outln!("invoke them:");
        outln!(
            "  curl --data 'you' {url}/v1/functions/default/{}/invoke",
            first.name
        );
        outln!("  {client} invoke {} --data you", first.name);
    }
    if let Some(first) = deployed.iter().find(|started| started.http) {
        outln!("an HTTP function is served the request itself, any method and path under /http/:");
        outln!("  curl -i {url}/v1/functions/default/{}/http/", first.name);
        outln!(
            "  curl '{url}/v1/functions/default/{}/http/json?q=1'",
            first.name
        );
    }
    let admin = match kept_in {
        Some(path) => format!("FND_TOKEN=$(cat {}) {client}", path.display()),
        None => client.clone(),
    };
    outln!("deploy and invoke your own WASI module (public: invoking it needs no token):");
    outln!("  {admin} deploy FILE.wasm --name NAME --public");
    outln!("  {client} invoke NAME --data hi");
    outln!("stop with Ctrl-C: the invocations under way finish first");
}

/// Deletes the records older than `keep`, now and then every hour.
async fn retain(store: Arc<SqliteStore>, keep: chrono::Duration) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    loop {
        every.tick().await;
        match store.delete_records_before(chrono::Utc::now() - keep).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "old invocation records deleted"),
            Err(error) => tracing::warn!(%error, "deleting old invocation records"),
        }
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(terminate) => terminate,
            Err(error) => {
                tracing::warn!(%error, "cannot watch SIGTERM; only Ctrl-C stops the server");
                let _ = interrupt.await;
                return;
            }
        };
    tokio::select! {
        _ = interrupt => {}
        _ = terminate.recv() => {}
    }
    eprintln!("fnd: stopping: no new connections; finishing the invocations under way");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_dir_is_the_one_given_else_a_standard_place() {
        assert_eq!(
            data_dir(Some(Path::new("/srv/fnd"))).unwrap(),
            PathBuf::from("/srv/fnd")
        );
        let dir = data_dir(None).unwrap();
        assert!(
            dir.is_absolute() && dir.ends_with("fnd"),
            "{}",
            dir.display()
        );
    }
}
