//! `fnd keys create | ls | rm`: API keys, through the admin API. A key's token is
//! printed once, as the last line of `create`'s output, so a script can take it with
//! `tail -n1`; the server keeps only its hash.

use std::process::ExitCode;

use fn_core::{ApiKey, Role};
use serde_json::{Value, json};

use super::{Common, client, finish, to_value};

#[derive(clap::Subcommand)]
pub(crate) enum KeysCommand {
    /// Make a key; its token is the output's last line, shown this once.
    Create(CreateArgs),
    /// List the keys (never their tokens).
    Ls(ListArgs),
    /// Remove a key: its token is refused from the next request on.
    Rm(RemoveArgs),
}

#[derive(clap::Args)]
pub(crate) struct CreateArgs {
    /// The key's name: the caller its invocations are recorded and rate-limited as.
    #[arg(value_parser = clap::builder::NonEmptyStringValueParser::new())]
    name: String,
    /// What it may do in its namespace (`--namespace`): invoke, deploy (manage and
    /// invoke), or admin (everything, everywhere).
    #[arg(long, value_parser = parse_role)]
    role: Role,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
pub(crate) struct RemoveArgs {
    /// The key's name.
    #[arg(value_parser = clap::builder::NonEmptyStringValueParser::new())]
    name: String,
    #[command(flatten)]
    common: Common,
}

fn parse_role(text: &str) -> Result<Role, String> {
    text.parse().map_err(|e: fn_core::Error| e.to_string())
}

pub(crate) async fn keys(command: KeysCommand) -> ExitCode {
    match command {
        KeysCommand::Create(args) => create(args).await,
        KeysCommand::Ls(args) => list(args).await,
        KeysCommand::Rm(args) => remove(args).await,
    }
}

async fn create(args: CreateArgs) -> ExitCode {
    let outcome = async {
        let client = client(&args.common)?;
        let made = client
            .create_key(&args.name, &args.common.namespace, args.role)
            .await?;
        Ok(to_value(&made))
    }
    .await;
    finish(&args.common, outcome, |data| {
        format!(
            "made key {} ({} in {}); its token, shown only now:\n{}",
            data["key"]["name"].as_str().unwrap_or_default(),
            data["key"]["role"].as_str().unwrap_or_default(),
            data["key"]["namespace"].as_str().unwrap_or_default(),
            data["token"].as_str().unwrap_or_default(),
        )
    })
}

async fn list(args: ListArgs) -> ExitCode {
    let outcome = async {
        let client = client(&args.common)?;
        Ok(to_value(&client.keys().await?))
    }
    .await;
    finish(&args.common, outcome, |data| {
        let keys: Vec<ApiKey> = serde_json::from_value(data.clone()).unwrap_or_default();
        let mut lines = vec![format!(
            "{:<24} {:<24} {:<7} {}",
            "NAME", "NAMESPACE", "ROLE", "CREATED"
        )];
        for key in keys {
            lines.push(format!(
                "{:<24} {:<24} {:<7} {}",
                key.name,
                key.namespace,
                key.role,
                key.created_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ));
        }
        lines.join("\n")
    })
}

async fn remove(args: RemoveArgs) -> ExitCode {
    let outcome = async {
        let client = client(&args.common)?;
        client.delete_key(&args.name).await?;
        Ok(json!({ "name": args.name }))
    }
    .await;
    finish(&args.common, outcome, |data: &Value| {
        format!("removed key {}", data["name"].as_str().unwrap_or_default())
    })
}
