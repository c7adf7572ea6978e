//! `fnd ls`, `versions`, `rollback`, `rm` and `logs`.

use std::process::ExitCode;

use fn_core::{InvocationRecord, InvocationStatus};
use fn_server::client::RecordFilter;
use serde_json::{Value, json};

use super::{Common, client, finish, to_value};
use crate::inert;

#[derive(clap::Args)]
pub(crate) struct NameArgs {
    /// The function's name.
    #[arg(value_parser = clap::builder::NonEmptyStringValueParser::new())]
    name: String,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
pub(crate) struct RollbackArgs {
    /// The function's name.
    #[arg(value_parser = clap::builder::NonEmptyStringValueParser::new())]
    name: String,
    /// The version to run from now on.
    version: u32,
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
pub(crate) struct LogsArgs {
    /// The function's name.
    #[arg(value_parser = clap::builder::NonEmptyStringValueParser::new())]
    name: String,
    /// The most records, newest first.
    #[arg(long, default_value_t = 20)]
    limit: u32,
    /// Only records with this status.
    #[arg(long, value_parser = parse_status)]
    status: Option<InvocationStatus>,
    /// Keep printing records as they arrive, oldest first (one JSON record a line with
    /// `--output json`), until interrupted.
    #[arg(long, short = 'f')]
    follow: bool,
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
            f["version"],
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
    if args.follow {
        return follow(&args).await;
    }
    let outcome = async {
        let client = client(&args.common)?;
        let filter = RecordFilter {
            limit: Some(args.limit),
            status: args.status,
            ..RecordFilter::default()
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

/// How often `logs --follow` asks for new records.
const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// How far back `logs --follow` looks again each time: a record is written when its
/// call ends, so a long call's record can arrive after those of calls that started
/// later. Longer than any call may run (the default `max_timeout`, 30 s), with room.
const FOLLOW_LOOKBACK: chrono::TimeDelta = chrono::TimeDelta::seconds(120);

/// `logs --follow`: the newest `--limit` records oldest first, then each new record as
/// it arrives, until interrupted or the server fails.
async fn follow(args: &LogsArgs) -> ExitCode {
    let client = match client(&args.common) {
        Ok(client) => client,
        Err(failure) => return finish(&args.common, Err(failure), |_| String::new()),
    };
    let json = args.common.output == super::Output::Json;
    if !json {
        crate::out::line(LOG_HEADER);
    }
    // Ids printed, with their start: those older than the look-back are forgotten.
    let mut seen: std::collections::HashMap<String, chrono::DateTime<chrono::Utc>> =
        std::collections::HashMap::new();
    let mut since: Option<chrono::DateTime<chrono::Utc>> = None;
    loop {
        let mut fresh = Vec::new();
        let mut after = None;
        loop {
            let filter = RecordFilter {
                limit: Some(if since.is_none() {
                    args.limit
                } else {
                    fn_core::MAX_PAGE
                }),
                status: args.status,
                after,
                since,
            };
            let page = match client
                .records(&args.common.namespace, &args.name, &filter)
                .await
            {
                Ok(page) => page,
                Err(error) => return finish(&args.common, Err(error.into()), |_| String::new()),
            };
            fresh.extend(page.items.into_iter().filter(|r| !seen.contains_key(&r.id)));
            // The first time, only the newest `--limit`.
            match page.next {
                Some(next) if since.is_some() => after = Some(next),
                _ => break,
            }
        }
        fresh.reverse();
        for record in &fresh {
            seen.insert(record.id.clone(), record.started_at);
            if json {
                crate::out::line(&serde_json::to_string(record).unwrap_or_default());
            } else {
                crate::out::line(&log_line(record));
            }
        }
        let newest = seen.values().max().copied();
        if let Some(newest) = newest {
            let from = newest - FOLLOW_LOOKBACK;
            seen.retain(|_, started| *started >= from);
            since = Some(from);
        } else if since.is_none() {
            since = Some(chrono::Utc::now() - FOLLOW_LOOKBACK);
        }
        tokio::time::sleep(FOLLOW_EVERY).await;
    }
}

/// The header of [`log_lines`].
const LOG_HEADER: &str = "STARTED                      VER STATUS          DURATION  REQUEST                              ERROR";

/// One line a record: when, version, status, duration, request id, and the error. What
/// a guest wrote (in the error's stderr tail) has its control characters made inert.
fn log_lines(records: &[InvocationRecord]) -> String {
    let mut lines = vec![LOG_HEADER.to_owned()];
    lines.extend(records.iter().map(log_line));
    lines.join("\n")
}

fn log_line(record: &InvocationRecord) -> String {
    format!(
        "{:<27} {:>4} {:<12} {:>9}µs  {:<36} {}",
        record
            .started_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        record.version,
        record.status.as_str(),
        record.duration.as_micros(),
        inert(&record.request_id),
        inert(record.error_message.as_deref().unwrap_or("")).replace('\n', "\\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_line_makes_what_the_guest_wrote_inert() {
        let mut record: InvocationRecord = serde_json::from_value(json!({
            "id": "r", "function_id": "f", "function_name": "x", "namespace": "default",
            "version": 1, "request_id": "req", "trigger": "http", "caller": null,
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
