//! The client commands (`deploy`, `invoke`, `ls`, `versions`, `rollback`, `logs`, `rm`,
//! `keys`):
//! each a call of the gateway's API through [`fn_server::client::Client`], printed for a
//! person or, with `--output json`, as one envelope `{"ok", "data", "error"}` a script
//! can rely on.
//!
//! Exit status, the same for every client command: 0 success; 1 the function failed, or
//! the server did (an HTTP 5xx); 2 a usage error (clap's); 3 no gateway answered at
//! FND_URL; 4 refused (HTTP 4xx: a missing or wrong token, an invalid definition, a
//! refused module, an unknown function, a rate limit).

mod functions;
mod keys;
mod listing;

use std::process::ExitCode;

use fn_server::client::{Client, ClientError, DEFAULT_URL};
use serde::Serialize;
use serde_json::{Value, json};

use crate::inert;

pub(crate) use self::functions::{DeployArgs, InvokeArgs, deploy, invoke};
pub(crate) use self::keys::{KeysCommand, keys};
pub(crate) use self::listing::{
    LogsArgs, LsArgs, NameArgs, RollbackArgs, logs, ls, rm, rollback, versions,
};

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
    #[arg(long, short = 'n', default_value = "default", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    namespace: String,
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
fn finish(common: &Common, outcome: Outcome, text: impl FnOnce(&Value) -> String) -> ExitCode {
    match (common.output, outcome) {
        (Output::Json, Ok(data)) => {
            crate::out::line(&json!({ "ok": true, "data": data, "error": null }).to_string());
            ExitCode::SUCCESS
        }
        (Output::Json, Err(failure)) => {
            crate::out::line(
                &json!({ "ok": false, "data": null, "error": failure.error }).to_string(),
            );
            ExitCode::from(failure.code)
        }
        (Output::Text, Ok(data)) => {
            // Whatever the server sent (names, versions, a guest's words) cannot drive
            // the terminal.
            let text = inert(&text(&data));
            if !text.is_empty() {
                crate::out::line(&text);
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
