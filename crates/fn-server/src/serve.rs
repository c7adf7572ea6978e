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

use anyhow::{Context as _, Result, bail};
use bytes::Bytes;
use fn_core::{Cid, CompileWorker, Config, FunctionStore, InvocationLogger};
use fn_engine::Engine;
use fn_registry::{RecordWriter, SqliteStore, WriterOptions};
use fn_server::api::DeploySpec;
use fn_server::gateway::Gateway;
use fn_telemetry::{OtelEnv, RecordFigures, Telemetry};

#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    /// The address to listen on.
    #[arg(long, env = "FND_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Where the store keeps its database (`fn.db`), modules and compiled artifacts;
    /// default `$XDG_DATA_HOME/fnd`, else `$HOME/.local/share/fnd`.
    #[arg(long, env = "FND_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Deploy this module at start as a public function named after its file, in the
    /// `default` namespace, unless its active version already runs that module; repeat
    /// for more.
    #[arg(long = "deploy-public", value_name = "FILE")]
    deploy_public: Vec<PathBuf>,
    /// Delete invocation records older than this many days (checked hourly); 0 keeps
    /// them for ever.
    #[arg(long, default_value_t = 7)]
    retention_days: u32,
    /// On SIGTERM or SIGINT, how long the invocations under way may take to finish
    /// before they are cancelled, in seconds.
    #[arg(long, default_value_t = 30)]
    drain_seconds: u64,
}

pub(crate) async fn serve(args: ServeArgs) -> Result<ExitCode> {
    let data_dir = data_dir(args.data_dir.as_deref())?;
    private_folder(&data_dir)?;
    let store = Arc::new(SqliteStore::open(&data_dir).await?);
    let (token, kept_in) = match std::env::var("FND_TOKEN").ok().filter(|t| !t.is_empty()) {
        Some(token) => (token, None),
        None => {
            let path = data_dir.join(TOKEN_FILE);
            (kept_token(&path)?, Some(path))
        }
    };
    let telemetry = telemetry()?;
    let writer = Arc::new(RecordWriter::start(
        store.clone(),
        WriterOptions::default(),
    )?);
    let config = Config {
        artifact_cache_dir: Some(data_dir.join("artifacts")),
        compile_worker: CompileWorker::this_program()
            .inspect_err(|error| tracing::warn!(%error, "compiling in process"))
            .ok(),
        ..Config::default()
    };
    let engine = Engine::builder(store.clone())
        .config(config)
        .invocation_logger(fn_server::telemetry::logger(
            writer.clone(),
            Some(&telemetry),
        ))
        .build()?;
    let mut deployed = Vec::new();
    for file in &args.deploy_public {
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
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let address = listener.local_addr()?;
    let retention = (args.retention_days > 0).then(|| {
        tokio::spawn(retain(
            store.clone(),
            chrono::Duration::days(i64::from(args.retention_days)),
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

    let left = fn_server::gateway::serve(
        listener,
        gateway,
        shutdown_signal(),
        Duration::from_secs(args.drain_seconds),
    )
    .await?;
    eprintln!("fnd: shutting down: writing the records and the telemetry");
    if let Some(retention) = retention {
        retention.abort();
    }
    // Closing flushes the invocation logger: the records of every invocation that ended
    // are in the store when this returns.
    engine.close();
    engine.flush_artifacts().await;
    if let Err(error) = writer.flush() {
        tracing::warn!(%error, "records not written");
    }
    fn_server::telemetry::finish(Some(telemetry), &engine).await;
    if tokio::time::timeout(Duration::from_secs(10), store.close())
        .await
        .is_err()
    {
        tracing::warn!("the store did not close within 10 s");
    }
    if left > 0 {
        eprintln!("fnd: {left} invocations were cancelled at the drain deadline");
    }
    Ok(ExitCode::SUCCESS)
}

/// Makes `dir` (mode 0700) when it is missing, and warns when an existing one is open to
/// other users: the store holds every function's environment (its secrets) and records.
fn private_folder(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating the data folder {}", dir.display()))?;
    }
    let mode = std::fs::metadata(dir)
        .with_context(|| format!("the data folder {}", dir.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            folder = %dir.display(),
            mode = format!("{:o}", mode & 0o777),
            "the data folder is open to other users; it holds functions' environments: chmod 700 it"
        );
    }
    Ok(())
}

/// The file in the data folder holding the admin token when `FND_TOKEN` is not set.
pub(crate) const TOKEN_FILE: &str = "admin-token";

/// The token kept at `path`, made there first (32 random bytes as hex, the file created
/// new with mode 0600) when there is none.
fn kept_token(path: &Path) -> Result<String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    match std::fs::read_to_string(path) {
        Ok(token) if !token.trim().is_empty() => return Ok(token.trim().to_owned()),
        Ok(_) => bail!("the admin token file {} is empty", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("making a token: {e}"))?;
    let token: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(token.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(token)
}

/// `--data-dir`, else `$XDG_DATA_HOME/fnd`, else `$HOME/.local/share/fnd`.
fn data_dir(given: Option<&Path>) -> Result<PathBuf> {
    if let Some(dir) = given {
        return Ok(std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned()));
    }
    crate::xdg_dir("XDG_DATA_HOME", ".local/share")
        .context("no --data-dir, and neither XDG_DATA_HOME nor HOME is set")
}

/// A Prometheus exposition for `/metrics`, and OTLP export when the environment asks.
fn telemetry() -> Result<Telemetry> {
    let env = OtelEnv::from_process();
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
    version: String,
    new: bool,
}

async fn deploy_public(engine: &Engine, store: &dyn FunctionStore, file: &Path) -> Result<Started> {
    let bytes = crate::run::read_module(file, engine.config().max_module_bytes)?;
    let name = crate::run::default_name(file);
    let cid = Cid::of(&bytes);
    if let Ok(function) = store.function_by_name("default", &name).await
        && function.wasm_cid == cid
        && function.definition.public
    {
        return Ok(Started {
            name,
            version: function.definition.version,
            new: false,
        });
    }
    let spec = DeploySpec {
        public: true,
        ..DeploySpec::default()
    };
    let function = engine
        .deploy(store, spec.definition("default", &name), Bytes::from(bytes))
        .await
        .with_context(|| format!("deploying {}", file.display()))?;
    Ok(Started {
        name,
        version: function.definition.version,
        new: true,
    })
}

#[expect(
    clippy::print_stdout,
    reason = "the operator's first view of the server"
)]
fn banner(
    address: SocketAddr,
    database: &Path,
    allocator: &str,
    kept_in: Option<&Path>,
    deployed: &[Started],
) {
    let url = format!("http://{address}");
    println!("fnd serving on {url} (store: {})", database.display());
    println!("  instances: {allocator} allocator");
    match kept_in {
        Some(path) => println!(
            "  admin token: in {} (FND_TOKEN unset; set it to choose one)",
            path.display()
        ),
        None => println!("  admin token: FND_TOKEN"),
    }
    for started in deployed {
        let how = if started.new { "deployed" } else { "kept" };
        println!(
            "  {how} default/{} version {} (public)",
            started.name, started.version
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
    if let Some(first) = deployed.first() {
        println!("invoke them:");
        println!(
            "  curl --data 'you' {url}/v1/functions/default/{}/invoke",
            first.name
        );
        println!("  {client} invoke {} --data you", first.name);
    }
    let admin = match kept_in {
        Some(path) => format!("FND_TOKEN=$(cat {}) {client}", path.display()),
        None => client.clone(),
    };
    println!("deploy and invoke your own WASI module (public: invoking it needs no token):");
    println!("  {admin} deploy FILE.wasm --name NAME --public");
    println!("  {client} invoke NAME --data hi");
    println!("stop with Ctrl-C: the invocations under way finish first");
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
