//! A wasi:http function that answers its config values, read through
//! `wasi:config/store` (`fnd deploy --config KEY=VALUE`):
//! - `/KEY`: the value of KEY and a newline, or 404 when it has none;
//! - `/`: every key and value, a `KEY=VALUE` line each, in key order.

wit_bindgen::generate!({
    path: "wit",
    world: "reader",
    generate_all,
});

use wasi::config::store;
use wstd::http::{Body, Error, Request, Response, StatusCode};

#[wstd::http_server]
async fn main(request: Request<Body>) -> Result<Response<Body>, Error> {
    let key = request.uri().path().trim_start_matches('/').to_owned();
    let answer = |status: StatusCode, text: String| {
        Response::builder()
            .status(status)
            .header("content-type", "text/plain")
            .body(Body::from(text))
    };
    if key.is_empty() {
        let mut all = match store::get_all() {
            Ok(all) => all,
            Err(error) => return Ok(answer(StatusCode::BAD_GATEWAY, format!("{error:?}\n"))?),
        };
        all.sort();
        let lines: String = all.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        return Ok(answer(StatusCode::OK, lines)?);
    }
    Ok(match store::get(&key) {
        Ok(Some(value)) => answer(StatusCode::OK, format!("{value}\n"))?,
        Ok(None) => answer(StatusCode::NOT_FOUND, format!("no config value {key}\n"))?,
        Err(error) => answer(StatusCode::BAD_GATEWAY, format!("{error:?}\n"))?,
    })
}
