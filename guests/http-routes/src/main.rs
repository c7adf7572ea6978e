//! A wasi:http function written with `wstd`, built for `wasm32-wasip2`: what a guest
//! author writes to serve HTTP through the gateway (`/`, `/json`, `/stream`, `/echo`),
//! and the behaviours the engine's tests drive through real requests.
//!
//! Routes (the path the guest sees, after `/v1/functions/{ns}/{name}/http`; served at a
//! route of its own, the guest sees the whole path, and strips the prefix its
//! environment names in `BASE_PATH`):
//! - `/`: a line of text.
//! - `/json`: the request's method, path, query, authority and headers as JSON.
//! - `/stream?chunks=N&size=B`: N chunks of B bytes each (default 5 lines), streamed.
//! - `/echo`: the request body streamed back as it arrives.
//! - `/count`: the request body's length, read as a stream without keeping it.
//! - `/status/N`: an empty response with status N and an `x-status` header.
//! - `/sleep?ms=N`: answers after N ms.
//! - `/slow-body?ms=N`: answers at once, then sends the rest of the body after N ms.
//! - `/trap`: panics before answering; `/trap-in-body`: after the head and one chunk.
//! - `/fail`: returns an error instead of a response.
//! - `/fetch?[n=N&]url=U`: tries N outbound requests (one by default) and tells what
//!   happened, a line each: `fetched:` with the status and the body, or `refused:` with
//!   the error (then a 502).
//! - `/flood`: makes wasi:http resources (header fields) without end, keeping them all.

use std::convert::Infallible;

use futures_lite::stream;
use http_body_util::BodyExt as _;
use wstd::http::body::Bytes;
use wstd::http::{Body, Client, Error, Request, Response, StatusCode};
use wstd::time::Duration;

#[wstd::http_server]
async fn main(request: Request<Body>) -> Result<Response<Body>, Error> {
    let full = request.uri().path().to_owned();
    let base = std::env::var("BASE_PATH").unwrap_or_default();
    let path = match full.strip_prefix(base.as_str()) {
        Some("") => "/".to_owned(),
        Some(rest) if rest.starts_with('/') => rest.to_owned(),
        _ => full.clone(),
    };
    let query = request.uri().query().unwrap_or("").to_owned();
    let number = |name: &str, default: u64| {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == name)
            .and_then(|(_, value)| value.parse().ok())
            .unwrap_or(default)
    };
    match path.as_str() {
        "/" => Ok(text(StatusCode::OK, "Hello from a wasi:http function\n")),
        "/json" => json(request),
        "/stream" => Ok(stream_of(number("chunks", 5), number("size", 0))),
        "/echo" => Ok(Response::new(request.into_body())),
        "/count" => count(request).await,
        "/sleep" => {
            wstd::task::sleep(Duration::from_millis(number("ms", 0))).await;
            Ok(text(StatusCode::OK, "awake\n"))
        }
        "/slow-body" => Ok(slow_body(number("ms", 0))),
        "/trap" => panic!("the guest trapped before answering"),
        "/trap-in-body" => Ok(trap_in_body()),
        "/fail" => Err(wstd::http::Error::msg("the handler failed on purpose")),
        "/fetch" => fetch(&query).await,
        "/flood" => {
            // Each one a handle in the host's resource table, never given back.
            let mut kept = Vec::new();
            loop {
                kept.push(wasip2::http::types::Fields::new());
            }
        }
        _ => match path.strip_prefix("/status/").and_then(|n| n.parse::<u16>().ok()) {
            Some(code) => Ok(Response::builder()
                .status(code)
                .header("x-status", code.to_string())
                .body(Body::empty())?),
            None => Ok(text(StatusCode::NOT_FOUND, &format!("no such route: {full}\n"))),
        },
    }
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .body(Body::from(body.to_owned()))
        .expect("a valid response")
}

fn json(request: Request<Body>) -> Result<Response<Body>, Error> {
    let headers: serde_json::Map<String, serde_json::Value> = request
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value.into())
        })
        .collect();
    let body = serde_json::json!({
        "method": request.method().as_str(),
        "path": request.uri().path(),
        "query": request.uri().query(),
        "authority": request.uri().authority().map(|a| a.as_str()),
        "headers": headers,
    });
    Ok(Response::builder()
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))?)
}

/// `chunks` chunks of `size` bytes, or numbered lines when `size` is 0.
fn stream_of(chunks: u64, size: u64) -> Response<Body> {
    let chunk = move |i: u64| {
        if size == 0 {
            Bytes::from(format!("line {i}\n"))
        } else {
            Bytes::from(vec![b'x'; size as usize])
        }
    };
    let body = stream::unfold(0, move |i| async move {
        (i < chunks).then(|| (Ok::<_, Infallible>(chunk(i)), i + 1))
    });
    Response::new(Body::from_try_stream(body))
}

async fn count(request: Request<Body>) -> Result<Response<Body>, Error> {
    let mut body = request.into_body().into_boxed_body();
    let mut total = 0u64;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            total += data.len() as u64;
        }
    }
    Ok(text(StatusCode::OK, &format!("{total}\n")))
}

fn slow_body(ms: u64) -> Response<Body> {
    let body = stream::unfold(0, move |i| async move {
        match i {
            0 => Some((Ok::<_, Infallible>(Bytes::from("first\n")), 1)),
            1 => {
                wstd::task::sleep(Duration::from_millis(ms)).await;
                Some((Ok(Bytes::from("second\n")), 2))
            }
            _ => None,
        }
    });
    Response::new(Body::from_try_stream(body))
}

fn trap_in_body() -> Response<Body> {
    let body = stream::unfold(0, |i| async move {
        match i {
            0 => Some((Ok::<_, Infallible>(Bytes::from("first\n")), 1)),
            _ => panic!("the guest trapped in the middle of its body"),
        }
    });
    Response::new(Body::from_try_stream(body))
}

async fn fetch(query: &str) -> Result<Response<Body>, Error> {
    // `n=N&` may come first; the URL is the rest, after `url=`.
    let (times, rest) = match query.strip_prefix("n=").and_then(|q| q.split_once('&')) {
        Some((n, rest)) => (n.parse().unwrap_or(1), rest),
        None => (1, query),
    };
    let url = rest.strip_prefix("url=").unwrap_or("http://example.com/");
    let mut said = String::new();
    let mut failed = false;
    for _ in 0..times {
        let request = Request::get(url).body(Body::empty())?;
        match Client::new().send(request).await {
            Ok(response) => {
                let status = response.status();
                let mut body = response.into_body();
                let text_of = match body.bytes_contents().await {
                    Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                    Err(error) => format!("(the body failed: {error:?})"),
                };
                said.push_str(&format!("fetched: {status} {text_of}\n"));
            }
            Err(error) => {
                failed = true;
                said.push_str(&format!("refused: {error:?}\n"));
            }
        }
    }
    let status = if failed {
        StatusCode::BAD_GATEWAY
    } else {
        StatusCode::OK
    };
    Ok(text(status, &said))
}
