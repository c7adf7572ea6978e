//! Host services as an operator sets them up on a running `fnd serve`: `fnd deploy
//! --allow-outbound`, the function reaching a loopback destination its rule names
//! literally (and nothing else), a malformed pattern refused by `fnd` itself; and
//! `fnd deploy --config`, the values a component reads by key.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;

use crate::cli::{fnd, serve, text};

/// A loopback server answering `pong`, sending each request line on the channel.
fn pong_server() -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (seen, arrivals) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                    break;
                }
            }
            let _ = seen.send(line.trim_end().to_owned());
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\npong",
            );
        }
    });
    (port, arrivals)
}

/// `GET url` over a plain connection: the status line and the body.
fn get(url: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    // The body may come chunked: keep the chunks' text only.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body.split("\r\n")
            .enumerate()
            .filter(|(i, _)| i % 2 == 1)
            .map(|(_, chunk)| chunk)
            .collect()
    } else {
        body.to_owned()
    };
    (head.lines().next().unwrap().to_owned(), body)
}

#[test]
fn a_function_deployed_with_allow_outbound_reaches_what_it_names_only() {
    let (port, arrivals) = pong_server();
    let data = tempfile::tempdir().unwrap();
    let served = serve(data.path(), &[]);
    let guest = fn_guests::components_dir().join("http-routes.wasm");
    let rule = format!("http://127.0.0.1:{port}");
    let out = fnd(
        &served,
        &[
            "deploy",
            guest.to_str().unwrap(),
            "--name",
            "fetcher",
            "--public",
            "--allow-outbound",
            &rule,
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let base = format!("{}/v1/functions/default/fetcher/http", served.url);
    let (status, body) = get(&format!("{base}/fetch?url=http://127.0.0.1:{port}/hello"));
    assert!(status.contains(" 200 "), "{status}: {body}");
    assert_eq!(body, "fetched: 200 OK pong\n");
    assert_eq!(arrivals.recv().unwrap(), "GET /hello HTTP/1.1");
    // Another port of the same address is not named: refused, and never arrives.
    let (status, body) = get(&format!(
        "{base}/fetch?url=http://127.0.0.1:{}/no",
        port + 1
    ));
    assert!(status.contains(" 502 "), "{status}: {body}");
    let (_, body) = get(&format!("{base}/fetch?url=http://127.0.0.1:{port}/after"));
    assert_eq!(body, "fetched: 200 OK pong\n");
    assert_eq!(arrivals.recv().unwrap(), "GET /after HTTP/1.1");
}

#[test]
fn a_malformed_pattern_is_refused_by_fnd_naming_it() {
    let data = tempfile::tempdir().unwrap();
    let served = serve(data.path(), &[]);
    let guest = fn_guests::components_dir().join("http-routes.wasm");
    let out = fnd(
        &served,
        &[
            "deploy",
            guest.to_str().unwrap(),
            "--name",
            "fetcher",
            "--allow-outbound",
            "ftp://files.example.com",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "usage");
    let said = text(&out.stderr);
    assert!(
        said.contains("`ftp://files.example.com`: the scheme `ftp` is not http or https"),
        "{said}"
    );
}

#[test]
fn config_values_given_at_deploy_are_read_by_the_component() {
    let data = tempfile::tempdir().unwrap();
    let served = serve(data.path(), &[]);
    let guest = fn_guests::components_dir().join("config-reader.wasm");
    let out = fnd(
        &served,
        &[
            "deploy",
            guest.to_str().unwrap(),
            "--name",
            "reader",
            "--public",
            "--config",
            "greeting=hello=world",
            "--config",
            "mode=test",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let base = format!("{}/v1/functions/default/reader/http", served.url);
    assert_eq!(get(&format!("{base}/greeting")).1, "hello=world\n");
    assert_eq!(
        get(&format!("{base}/")).1,
        "greeting=hello=world\nmode=test\n"
    );
    let out = fnd(
        &served,
        &[
            "deploy",
            guest.to_str().unwrap(),
            "--name",
            "bad",
            "--config",
            "novalue",
        ],
    );
    // A bad value the client itself refuses: exit 4, as for `--env`.
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--config `novalue` is not KEY=VALUE"));
}
