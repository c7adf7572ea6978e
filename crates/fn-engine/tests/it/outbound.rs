//! Outbound HTTP from a real wasi:http guest (`http-routes`' `/fetch`) through an
//! engine given fn-host's sender: a loopback destination its rules name is reached,
//! anything else is refused with wasi:http's own error code and never connects, at most
//! `max_outbound_requests` an invocation; rules are refused at deploy by an engine
//! without a sender and on a function that is not an HTTP one.

use std::sync::Arc;

use bytes::Bytes;
use fn_core::{Error, FunctionDefinition, FunctionStore as _, Page};
use fn_host::{Guard, Sender, SenderOptions};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::support::*;

/// A loopback server answering `pong` to every request, sending each request's line on
/// the channel as it arrives.
async fn pong_server() -> (u16, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (seen, arrivals) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let _ = seen.send(head.lines().next().unwrap_or_default().to_owned());
                let answer =
                    "HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\npong";
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    (port, arrivals)
}

fn sending() -> Harness {
    harness_with(|builder| {
        builder.outbound(Arc::new(Sender::new(
            Guard::default(),
            SenderOptions::default(),
        )))
    })
}

async fn fetcher(h: &Harness, rules: &[String]) -> fn_engine::Function {
    let rules = rules.iter().map(|rule| rule.parse().unwrap()).collect();
    h.deploy_with("fetcher", component(), |d| d.allow_outbound = rules)
        .await
}

fn component() -> Bytes {
    Bytes::from(fn_guests::component("http-routes"))
}

/// What the guest says of fetching `url`: its status and body.
async fn fetch(h: &Harness, function: &fn_engine::Function, url: &str) -> (u16, String) {
    ask(h, function, &format!("url={url}")).await
}

/// What the guest's `/fetch` says given `query`.
async fn ask(h: &Harness, function: &fn_engine::Function, query: &str) -> (u16, String) {
    h.get(function, &format!("/fetch?{query}")).await
}

#[tokio::test]
async fn a_destination_the_rules_name_is_reached_and_others_refused_unconnected() {
    let (port, mut arrivals) = pong_server().await;
    let h = sending();
    let function = fetcher(&h, &[format!("http://127.0.0.1:{port}")]).await;
    let (status, said) = fetch(&h, &function, &format!("http://127.0.0.1:{port}/hi")).await;
    assert_eq!((status, said.as_str()), (200, "fetched: 200 OK pong\n"));
    assert_eq!(arrivals.recv().await.unwrap(), "GET /hi HTTP/1.1");

    // wstd reports a refusal either as its error code or, when the refusal lands after
    // it has written the (empty) body, as the connection reset: what is asserted is the
    // refusal, and below that nothing of it reached the server.
    for url in [
        // Not among the rules.
        format!("http://127.0.0.1:{}/", port + 1),
        // The metadata address.
        "http://169.254.169.254/latest".to_owned(),
        "http://localhost/".to_owned(),
    ] {
        let (status, said) = fetch(&h, &function, &url).await;
        assert_eq!(status, 502, "{url}: {said}");
        assert!(said.starts_with("refused:"), "{url}: {said}");
    }
    // Allowed by a wildcard rule but prohibited by the guard.
    let any = h
        .deploy_with("any", component(), |d| {
            d.allow_outbound = vec!["http://*:*".parse().unwrap()];
        })
        .await;
    let (status, said) = fetch(&h, &any, &format!("http://[::ffff:127.0.0.1]:{port}/")).await;
    assert_eq!(status, 502, "{said}");
    assert!(said.starts_with("refused:"), "{said}");
    // Nothing refused reached the server: the next arrival is this one.
    let (_, said) = fetch(&h, &function, &format!("http://127.0.0.1:{port}/last")).await;
    assert_eq!(said, "fetched: 200 OK pong\n");
    assert_eq!(arrivals.recv().await.unwrap(), "GET /last HTTP/1.1");
}

#[tokio::test]
async fn an_invocation_sends_at_most_max_outbound_requests() {
    let (port, mut arrivals) = pong_server().await;
    let h = harness_with(|builder| {
        let mut config = test_config();
        config.max_outbound_requests = 1;
        builder.config(config).outbound(Arc::new(Sender::new(
            Guard::default(),
            SenderOptions::default(),
        )))
    });
    let function = fetcher(&h, &[format!("http://127.0.0.1:{port}")]).await;
    // Two requests in one invocation: the first is sent, the second refused.
    let query = format!("n=2&url=http://127.0.0.1:{port}/first");
    let (status, said) = ask(&h, &function, &query).await;
    assert_eq!(status, 502, "{said}");
    assert!(said.starts_with("fetched: 200 OK pong\nrefused:"), "{said}");
    assert_eq!(arrivals.recv().await.unwrap(), "GET /first HTTP/1.1");
    // The limit is per invocation: the next one sends again, and it is the next to
    // arrive (the refused second never did).
    let (status, said) = fetch(&h, &function, &format!("http://127.0.0.1:{port}/next")).await;
    assert_eq!((status, said.as_str()), (200, "fetched: 200 OK pong\n"));
    assert_eq!(arrivals.recv().await.unwrap(), "GET /next HTTP/1.1");
}

#[tokio::test]
async fn rules_are_refused_at_deploy_without_a_sender_or_on_a_module() {
    let without = harness();
    let mut definition = FunctionDefinition::new("test", "fetcher");
    definition.allow_outbound = vec!["https://api.example.com".parse().unwrap()];
    let error = without
        .engine
        .deploy(without.registry.as_ref(), definition.clone(), component())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Validation { field, reason } if field == "allow_outbound" && reason.contains("without a sender")),
        "{error}"
    );
    let with = sending();
    let module = Bytes::from(fn_guests::bytes("upper"));
    let error = with
        .engine
        .deploy(with.registry.as_ref(), definition, module)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Validation { field, reason } if field == "allow_outbound" && reason.contains("only an HTTP function")),
        "{error}"
    );
    for h in [&without, &with] {
        let kept = h.registry.list("test", &Page::first(10)).await.unwrap();
        assert!(kept.items.is_empty(), "a refused deploy keeps nothing");
    }
}
