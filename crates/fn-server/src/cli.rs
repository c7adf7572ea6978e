//! The client commands (`deploy`, `invoke`, `ls`, `versions`, `rollback`, `logs`, `rm`):
//! each a call of the gateway's API through [`fn_server::client::Client`], printed for a
//! person or, with `--output json`, as one envelope `{"ok", "data", "error"}` a script
//! can rely on.
//!
//! Exit status, the same for every client command: 0 success; 1 the function failed, or
//! the server did (an HTTP 5xx); 2 a usage error (clap's); 3 no gateway answered at
//! FND_URL; 4 refused (HTTP 4xx: a missing or wrong token, an invalid definition, a
//! refused module, an unknown function, a rate limit).

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use base64::Engine as _;
use bytes::Bytes;
use fn_core::{InvocationRecord, InvocationStatus, RateQuota};
use fn_server::api::DeploySpec;
use fn_server::client::{Client, ClientError, DEFAULT_URL, RecordFilter};
use serde::Serialize;
use serde_json::{Value, json};

use crate::inert;

/// The exit status of a function (or server) failure.
const FAILED: u8 = 1;
/// The exit status when no gateway answered.
const UNREACHABLE: u8 = 3;
/// The exit status of a refused request.
const REFUSED: u8 = 4;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Output {
    /// For a person.
    Text,
    /// One JSON envelope `{"ok", "data", "error"}` on stdout.
    Json,
}

/// What every client command takes.
#[derive(clap::Args)]
pub(crate) struct Common {
    /// How to print the result.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// The gateway's address.
    #[arg(long, env = "FND_URL", default_value = DEFAULT_URL, hide_env_values = true)]
    url: String,
    /// The namespace of the function.
    #[arg(long, short = 'n', default_value = "default")]
    namespace: String,
}

#[derive(clap::Args)]
pub(crate) struct DeployArgs {
    /// The module (`.wasm`).
    file: PathBuf,
    /// The function's name.
    #[arg(long)]
    name: String,
    /// Its memory limit in MiB (default 64).
    #[arg(long, value_name = "MB")]
    memory: Option<u64>,
    /// One invocation's deadline in seconds (default 5; fractions allowed).
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<f64>,
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
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
pub(crate) struct InvokeArgs {
    /// The function's name.
    name: String,
    /// The input; without it, stdin is read (nothing when stdin is a terminal).
    #[arg(long)]
    data: Option<String>,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
pub(crate) struct NameArgs {
    /// The function's name.
    name: String,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
pub(crate) struct RollbackArgs {
    /// The function's name.
    name: String,
    /// The version to run from now on.
    version: u32,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
pub(crate) struct LogsArgs {
    /// The function's name.
    name: String,
    /// The most records, newest first.
    #[arg(long, default_value_t = 20)]
    limit: u32,
    /// Only records with this status.
    #[arg(long, value_parser = parse_status)]
    status: Option<InvocationStatus>,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
pub(crate) struct LsArgs {
    #[command(flatten)]
    common: Common,
}

fn parse_status(text: &str) -> Result<InvocationStatus, String> {
    serde_json::from_value(Value::String(text.to_owned())).map_err(|_| {
        "one of success, error, timeout, rate_limited, overloaded, cancelled".to_owned()
    })
}

/// A command's outcome before it is printed: data, or the failure with its exit status.
type Outcome = Result<Value, Failure>;

struct Failure {
    code: u8,
    error: Value,
    text: String,
}

impl From<ClientError> for Failure {
    fn from(error: ClientError) -> Failure {
        let text = inert(&error.to_string());
        match &error {
            ClientError::Api {
                status,
                kind,
                message,
                request_id,
                retry_after,
            } => Failure {
                code: if *status >= 500 { FAILED } else { REFUSED },
                error: json!({
                    "kind": kind,
                    "message": message,
                    "status": status,
                    "request_id": request_id,
                    "retry_after_s": retry_after.map(|d| d.as_secs()),
                }),
                text,
            },
            ClientError::Unreachable { .. } | ClientError::Protocol { .. } => Failure {
                code: UNREACHABLE,
                error: json!({ "kind": "unreachable", "message": error.to_string() }),
                text,
            },
        }
    }
}

impl Failure {
    /// A request the client itself refuses (an unreadable file, a bad value).
    fn local(message: impl Into<String>) -> Failure {
        let message = message.into();
        Failure {
            code: REFUSED,
            error: json!({ "kind": "validation", "message": message }),
            text: inert(&message),
        }
    }
}

fn client(common: &Common) -> Result<Client, Failure> {
    let token = std::env::var("FND_TOKEN").ok().filter(|t| !t.is_empty());
    Ok(Client::new(&common.url, token)?)
}

/// Prints `outcome` as `common.output` asks, `text` making the success's text; the exit
/// status.
#[expect(clippy::print_stdout, reason = "a command's result")]
fn finish(common: &Common, outcome: Outcome, text: impl FnOnce(&Value) -> String) -> ExitCode {
    match (common.output, outcome) {
        (Output::Json, Ok(data)) => {
            println!("{}", json!({ "ok": true, "data": data, "error": null }));
            ExitCode::SUCCESS
        }
        (Output::Json, Err(failure)) => {
            println!(
                "{}",
                json!({ "ok": false, "data": null, "error": failure.error })
            );
            ExitCode::from(failure.code)
        }
        (Output::Text, Ok(data)) => {
            let text = text(&data);
            if !text.is_empty() {
                println!("{text}");
            }
            ExitCode::SUCCESS
        }
        (Output::Text, Err(failure)) => {
            eprintln!("error: {}", failure.text);
            ExitCode::from(failure.code)
        }
    }
}

fn to_value(value: &impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
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

fn spec(args: &DeployArgs) -> Result<DeploySpec, Failure> {
    let mut spec = DeploySpec {
        public: args.public,
        max_concurrency: args.max_concurrency,
        rate: args.rate.map(RateQuota::per_second),
        ..DeploySpec::default()
    };
    if let Some(mb) = args.memory {
        spec.max_memory_bytes = Some(
            mb.checked_mul(1 << 20)
                .ok_or_else(|| Failure::local(format!("--memory {mb} MB is too large")))?,
        );
    }
    if let Some(seconds) = args.timeout {
        if !(seconds.is_finite() && seconds > 0.0 && seconds <= 86_400.0) {
            return Err(Failure::local(format!(
                "--timeout {seconds} is not a number of seconds within (0, 86400]"
            )));
        }
        spec.timeout_ms = Some((seconds * 1000.0).ceil() as u64);
    }
    for pair in &args.env {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(Failure::local(format!("--env `{pair}` is not KEY=VALUE")));
        };
        spec.env.insert(key.to_owned(), value.to_owned());
    }
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
        (Output::Text, Ok(output)) => {
            let mut stdout = std::io::stdout().lock();
            if stdout
                .write_all(&output)
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return ExitCode::from(FAILED);
            }
            ExitCode::SUCCESS
        }
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

pub(crate) async fn ls(args: LsArgs) -> ExitCode {
    let outcome = async {
        let client = client(&args.common)?;
        let mut items = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = client
                .list(&args.common.namespace, None, after.as_deref())
                .await?;
            items.extend(page.items);
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(to_value(&items))
    }
    .await;
    finish(&args.common, outcome, |data| {
        let mut lines = vec![format!(
            "{:<24} {:>6} {:>6}  {:<60} {}",
            "NAME", "ACTIVE", "LATEST", "CID", "UPDATED"
        )];
        for f in data.as_array().into_iter().flatten() {
            lines.push(format!(
                "{:<24} {:>6} {:>6}  {:<60} {}",
                f["name"].as_str().unwrap_or_default(),
                f["active_version"].to_string(),
                f["latest_version"].to_string(),
                f["wasm_cid"].as_str().unwrap_or_default(),
                f["updated_at"].as_str().unwrap_or_default()
            ));
        }
        lines.join("\n")
    })
}

pub(crate) async fn versions(args: NameArgs) -> ExitCode {
    let outcome = async {
        let client = client(&args.common)?;
        Ok(to_value(
            &client.versions(&args.common.namespace, &args.name).await?,
        ))
    }
    .await;
    finish(&args.common, outcome, |data| {
        let mut lines = vec![format!(
            "{:>7}  {:<6} {:<60} {}",
            "VERSION", "ACTIVE", "CID", "CREATED"
        )];
        for v in data.as_array().into_iter().flatten() {
            lines.push(format!(
                "{:>7}  {:<6} {:<60} {}",
                v["version"].to_string(),
                if v["active"].as_bool() == Some(true) {
                    "*"
                } else {
                    ""
                },
                v["wasm_cid"].as_str().unwrap_or_default(),
                v["created_at"].as_str().unwrap_or_default()
            ));
        }
        lines.join("\n")
    })
}

pub(crate) async fn rollback(args: RollbackArgs) -> ExitCode {
    let outcome = async {
        let client = client(&args.common)?;
        Ok(to_value(
            &client
                .activate(&args.common.namespace, &args.name, args.version)
                .await?,
        ))
    }
    .await;
    finish(&args.common, outcome, |f| {
        format!(
            "{}/{} now runs version {} ({})",
            f["namespace"].as_str().unwrap_or_default(),
            f["name"].as_str().unwrap_or_default(),
            f["version"].as_str().unwrap_or_default(),
            f["wasm_cid"].as_str().unwrap_or_default()
        )
    })
}

pub(crate) async fn rm(args: NameArgs) -> ExitCode {
    let outcome = async {
        let client = client(&args.common)?;
        client.delete(&args.common.namespace, &args.name).await?;
        Ok(json!({ "namespace": args.common.namespace, "name": args.name }))
    }
    .await;
    finish(&args.common, outcome, |d| {
        format!(
            "deleted {}/{}",
            d["namespace"].as_str().unwrap_or_default(),
            d["name"].as_str().unwrap_or_default()
        )
    })
}

pub(crate) async fn logs(args: LogsArgs) -> ExitCode {
    let outcome = async {
        let client = client(&args.common)?;
        let filter = RecordFilter {
            limit: Some(args.limit),
            status: args.status,
            after: None,
        };
        let page = client
            .records(&args.common.namespace, &args.name, &filter)
            .await?;
        Ok(to_value(&page.items))
    }
    .await;
    finish(&args.common, outcome, |data| {
        let records: Vec<InvocationRecord> =
            serde_json::from_value(data.clone()).unwrap_or_default();
        log_lines(&records)
    })
}

/// One line a record: when, version, status, duration, request id, and the error. What
/// a guest wrote (in the error's stderr tail) has its control characters made inert.
fn log_lines(records: &[InvocationRecord]) -> String {
    let mut lines = vec![format!(
        "{:<27} {:>4} {:<12} {:>11}  {:<36} {}",
        "STARTED", "VER", "STATUS", "DURATION", "REQUEST", "ERROR"
    )];
    for record in records {
        lines.push(format!(
            "{:<27} {:>4} {:<12} {:>9}µs  {:<36} {}",
            record
                .started_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            record.version,
            record.status.as_str(),
            record.duration.as_micros(),
            inert(&record.request_id),
            inert(record.error_message.as_deref().unwrap_or("")).replace('\n', "\\n"),
        ));
    }
    lines.join("\n")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_line_makes_what_the_guest_wrote_inert() {
        let mut record: InvocationRecord = serde_json::from_value(json!({
            "id": "r", "function_id": "f", "function_name": "x", "namespace": "default",
            "version": "1", "request_id": "req", "trigger": "http", "caller": null,
            "input_size": 0, "output_size": 0,
            "started_at": "2026-12-03T00:00:00Z", "completed_at": "2026-12-03T00:00:00Z",
            "duration": 5, "status": "error", "error_message": null,
            "peak_memory_bytes": 0, "cold_start": false,
            "wasm_cid": fn_core::Cid::of(b"x").to_string()
        }))
        .unwrap();
        record.error_message =
            Some("exited with code 3: \u{1b}[2J\u{1b}]0;owned\u{7}\nnext".into());
        let text = log_lines(&[record]);
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text:?}"
        );
        assert!(text.contains("\\u{1b}[2J"), "{text}");
        assert_eq!(text.lines().count(), 2, "one line a record: {text}");
    }

    #[test]
    fn statuses_parse_as_the_records_spell_them() {
        assert_eq!(parse_status("timeout"), Ok(InvocationStatus::Timeout));
        assert_eq!(
            parse_status("rate_limited"),
            Ok(InvocationStatus::RateLimited)
        );
        assert!(parse_status("nope").is_err());
    }
}
