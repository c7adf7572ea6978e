//! `fnd run` of an HTTP component: one request made from the flags (`--method`,
//! `--path`, `--header`, the input as its body), served by the engine; the response's
//! body on stdout, its status and headers with `--record`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use bytes::Bytes;
use fn_core::{Function, InvocationContext, MemoryLogger};
use fn_engine::{Engine, RequestBody, full_body};
use fn_telemetry::Telemetry;
use http_body_util::BodyExt as _;

use super::RunArgs;
use crate::inert;

/// The request to serve when the module is an HTTP component; `None` for any other
/// module, which the HTTP flags are refused for.
pub(super) fn request(
    args: &RunArgs,
    wasm: &[u8],
    input: &Bytes,
) -> Result<Option<axum::http::Request<RequestBody>>> {
    if !fn_engine::serves_http(wasm) {
        let given = [
            ("--method", args.method.is_some()),
            ("--path", args.path.is_some()),
            ("--header", !args.headers.is_empty()),
        ];
        if let Some((flag, _)) = given.iter().find(|(_, given)| *given) {
            bail!(
                "{flag} is for an HTTP component (one exporting wasi:http/incoming-handler); \
                 `{}` is not one",
                args.module.display()
            );
        }
        return Ok(None);
    }
    let method = match &args.method {
        Some(method) => method.to_ascii_uppercase(),
        None if input.is_empty() => "GET".to_owned(),
        None => "POST".to_owned(),
    };
    let path = args.path.as_deref().unwrap_or("/");
    let mut request = axum::http::Request::builder()
        .method(method.as_str())
        .uri(path)
        .header(axum::http::header::HOST, "localhost");
    for header in &args.headers {
        let Some((name, value)) = header.split_once(':') else {
            bail!("--header `{header}` is not NAME:VALUE");
        };
        request = request.header(name.trim(), value.trim());
    }
    if !input.is_empty() {
        request = request.header(axum::http::header::CONTENT_LENGTH, input.len());
    }
    request
        .body(full_body(input.clone()))
        .map(Some)
        .with_context(|| format!("the request `{method} {path}` with those headers is not valid"))
}

/// Serves `request` with `function`, prints the response body, and the exchange (status,
/// headers) and the records with `--record`.
pub(super) async fn run(
    args: &RunArgs,
    engine: &Engine,
    records: &Arc<MemoryLogger>,
    telemetry: Option<Telemetry>,
    function: &Function,
    request: axum::http::Request<RequestBody>,
    ctx: InvocationContext,
) -> Result<ExitCode> {
    let request_id = ctx.request_id.clone();
    let served = engine.serve_http(function, request, Some(ctx)).await;
    let result = match served {
        Ok(response) => {
            let (head, body) = response.into_parts();
            let body = body.collect().await.map(|collected| collected.to_bytes());
            Ok((head, body))
        }
        Err(error) => Err(error),
    };
    // The exchange is recorded when its body has been delivered, in its own task.
    let waited = records.clone();
    tokio::task::spawn_blocking(move || waited.wait_for(&request_id, Duration::from_secs(30)))
        .await?;
    engine.flush_artifacts().await;
    fn_server::telemetry::finish(telemetry, engine).await;
    if args.record {
        if let Ok((head, _)) = &result {
            let headers: serde_json::Map<String, serde_json::Value> = head
                .headers
                .iter()
                .map(|(name, value)| {
                    let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                    (name.as_str().to_owned(), value.into())
                })
                .collect();
            let exchange = serde_json::json!({"status": head.status.as_u16(), "headers": headers});
            eprintln!("{exchange}");
        }
        super::print_records(engine, records)?;
    }
    match result {
        Ok((_, Ok(body))) => {
            crate::out::bytes(&body)?;
            Ok(ExitCode::SUCCESS)
        }
        Ok((_, Err(cut))) => {
            eprintln!("error: {}", inert(&cut.to_string()));
            Ok(ExitCode::from(super::FUNCTION_FAILED))
        }
        Err(error) => {
            eprintln!("error: {}", inert(&error.to_string()));
            Ok(ExitCode::from(super::failure_status(&error)))
        }
    }
}
