//! `fnd deploy` and `fnd invoke`.

use std::io::{IsTerminal as _, Read as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use fn_core::RateQuota;
use fn_server::api::DeploySpec;
use serde_json::json;

use super::{Common, FAILED, Failure, Output, client, finish, to_value};

#[derive(clap::Args)]
pub(crate) struct DeployArgs {
    /// The module (`.wasm`).
    file: PathBuf,
    /// The function's name.
    #[arg(long, value_parser = clap::builder::NonEmptyStringValueParser::new())]
    name: String,
    /// Its memory limit: `32MiB`, `1GiB` (a bare number is MiB); default 64MiB.
    #[arg(long, value_name = "SIZE", value_parser = crate::units::memory)]
    memory: Option<u64>,
    /// One invocation's deadline: `300ms`, `2s` (a bare number is seconds); default 5s.
    #[arg(long, value_name = "DURATION", value_parser = crate::units::timeout)]
    timeout: Option<Duration>,
    /// An environment variable, KEY=VALUE; repeat for more.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Anyone may invoke it without a token.
    #[arg(long)]
    public: bool,
    /// Its own rate limit: invocations a second (and a burst of as many).
    #[arg(long, value_name = "PER_SECOND")]
    rate: Option<u32>,
    /// The most invocations of it at once.
    #[arg(long, value_name = "N")]
    max_concurrency: Option<u32>,
    /// For an HTTP function: a path prefix it is served at, at the server's root
    /// (`/shop` serves `/shop` and everything under it); unique on the server.
    #[arg(long, value_name = "PREFIX")]
    route: Option<String>,
    /// For an HTTP function: a destination it may send requests to,
    /// `scheme://host[:port]` (`*` for any host or port, `*.example.com` for
    /// subdomains; a private address only when written literally); repeat for more.
    /// Default none: every outbound request is refused.
    #[arg(long = "allow-outbound", value_name = "PATTERN")]
    allow_outbound: Vec<fn_core::OutboundRule>,
    /// A config value a component reads by key (`wasi:config/store`), KEY=VALUE; repeat
    /// for more.
    #[arg(long = "config", value_name = "KEY=VALUE")]
    config: Vec<String>,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
pub(crate) struct InvokeArgs {
    /// The function's name.
    #[arg(value_parser = clap::builder::NonEmptyStringValueParser::new())]
    name: String,
    /// The input; without it, stdin is read (nothing when stdin is a terminal).
    #[arg(long)]
    data: Option<String>,
    #[command(flatten)]
    common: Common,
}

pub(crate) async fn deploy(args: DeployArgs) -> ExitCode {
    let outcome = async {
        let spec = spec(&args)?;
        let module = std::fs::read(&args.file).map_err(|e| {
            Failure::local(format!("reading the module {}: {e}", args.file.display()))
        })?;
        let client = client(&args.common)?;
        let spinner = Spinner::after(Duration::from_millis(500), "compiling and deploying");
        let deployed = client
            .deploy(&args.common.namespace, &args.name, &spec, module)
            .await;
        spinner.stop();
        Ok(to_value(&deployed?))
    }
    .await;
    finish(&args.common, outcome, |d| {
        format!(
            "deployed {}/{} version {} ({}) in {:.1} ms",
            d["namespace"].as_str().unwrap_or_default(),
            d["name"].as_str().unwrap_or_default(),
            d["version"],
            d["wasm_cid"].as_str().unwrap_or_default(),
            d["compile_ms"].as_f64().unwrap_or_default()
        )
    })
}

/// `KEY=VALUE` arguments of `flag`, split at the first `=`.
fn pairs<'a>(
    flag: &'a str,
    given: &'a [String],
) -> Result<impl Iterator<Item = (String, String)> + 'a, Failure> {
    if let Some(bad) = given.iter().find(|pair| !pair.contains('=')) {
        return Err(Failure::local(format!("{flag} `{bad}` is not KEY=VALUE")));
    }
    Ok(given.iter().filter_map(|pair| {
        pair.split_once('=')
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
    }))
}

fn spec(args: &DeployArgs) -> Result<DeploySpec, Failure> {
    let mut spec = DeploySpec::new();
    spec.public = args.public;
    spec.max_concurrency = args.max_concurrency;
    spec.route.clone_from(&args.route);
    spec.allow_outbound.clone_from(&args.allow_outbound);
    spec.rate = args.rate.map(RateQuota::per_second);
    if let Some(bytes) = args.memory {
        spec.max_memory_bytes = bytes;
    }
    if let Some(timeout) = args.timeout {
        // Whole milliseconds (what a definition keeps), rounded up: never shorter than
        // asked.
        let ms = u64::try_from(timeout.as_micros().div_ceil(1000)).unwrap_or(u64::MAX);
        spec.timeout = Duration::from_millis(ms);
    }
    spec.env.extend(pairs("--env", &args.env)?);
    spec.config.extend(pairs("--config", &args.config)?);
    Ok(spec)
}

pub(crate) async fn invoke(args: InvokeArgs) -> ExitCode {
    let outcome = async {
        let input = match &args.data {
            Some(data) => Bytes::from(data.clone()),
            None => read_stdin()?,
        };
        let client = client(&args.common)?;
        Ok(client
            .invoke(&args.common.namespace, &args.name, input)
            .await?)
    }
    .await;
    match (args.common.output, outcome) {
        // The output's bytes exactly, as `cat` writes a file.
        // A reader that went away wanted no more: the call still succeeded.
        (Output::Text, Ok(output)) => match crate::out::bytes(&output) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::from(FAILED),
        },
        (_, outcome) => {
            let outcome = outcome.map(|output| {
                json!({
                    "output": std::str::from_utf8(&output).ok(),
                    "output_base64": base64::engine::general_purpose::STANDARD.encode(&output),
                    "output_bytes": output.len(),
                })
            });
            finish(&args.common, outcome, |_| String::new())
        }
    }
}

fn read_stdin() -> Result<Bytes, Failure> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(Bytes::new());
    }
    let mut input = Vec::new();
    stdin
        .lock()
        .read_to_end(&mut input)
        .map_err(|e| Failure::local(format!("reading the input from stdin: {e}")))?;
    Ok(Bytes::from(input))
}

/// A spinner on stderr, shown only when stderr is a terminal and the work takes longer
/// than the delay.
struct Spinner {
    task: Option<tokio::task::JoinHandle<()>>,
    bar: indicatif::ProgressBar,
}

impl Spinner {
    fn after(delay: Duration, message: &'static str) -> Spinner {
        let bar = indicatif::ProgressBar::hidden();
        if !std::io::stderr().is_terminal() {
            return Spinner { task: None, bar };
        }
        let shown = bar.clone();
        let task = tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            shown.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            shown.set_message(message);
            shown.enable_steady_tick(Duration::from_millis(100));
        });
        Spinner {
            task: Some(task),
            bar,
        }
    }

    fn stop(self) {
        if let Some(task) = self.task {
            task.abort();
        }
        self.bar.finish_and_clear();
    }
}
