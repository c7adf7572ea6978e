//! The sender against loopback servers that record what reaches them: a destination a
//! rule names literally is reached with the request intact; a refused one never
//! connects; TLS verifies the destination's certificate; the bodies, the waits and
//! redirects are bounded as documented.

use std::time::Duration;

use bytes::Bytes;
use fn_core::{OutboundBody, OutboundError, OutboundHttp, OutboundRule, OutboundTimeouts};
use fn_host::{Guard, Sender, SenderOptions};
use http_body_util::BodyExt as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A loopback server answering every connection with `answer` (after the request's
/// head, or never when `None`), sending each request's head on the channel as it
/// arrives.
async fn server(answer: Option<Vec<u8>>) -> (u16, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (seen, arrivals) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let (seen, answer) = (seen.clone(), answer.clone());
            tokio::spawn(async move {
                let Some(head) = read_head(&mut stream).await else {
                    return;
                };
                let _ = seen.send(head);
                match answer {
                    Some(answer) => drop(stream.write_all(&answer).await),
                    // Never answers; holds the connection until the client leaves.
                    None => drop(stream.read(&mut [0u8; 1]).await),
                }
            });
        }
    });
    (port, arrivals)
}

/// A request's head, read a byte at a time up to its blank line; none when the client
/// left before it ended.
async fn read_head<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.unwrap_or(0) == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

fn ok(body: &str) -> Option<Vec<u8>> {
    Some(
        format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

fn get(url: &str) -> http::Request<OutboundBody> {
    let empty = http_body_util::Empty::<Bytes>::new().map_err(|never| match never {});
    http::Request::get(url)
        .header("host", url.split('/').nth(2).unwrap())
        .body(empty.boxed_unsync())
        .unwrap()
}

fn rules(text: &[&str]) -> Vec<OutboundRule> {
    text.iter().map(|rule| rule.parse().unwrap()).collect()
}

fn sender(options: SenderOptions) -> Sender {
    Sender::new(Guard::default(), options)
}

#[tokio::test]
async fn a_loopback_address_a_rule_names_is_reached_with_the_request_intact() {
    let (port, mut arrivals) = server(ok("pong")).await;
    let rules = rules(&[&format!("http://127.0.0.1:{port}")]);
    let (response, connection) = sender(SenderOptions::default())
        .send(
            &rules,
            get(&format!("http://127.0.0.1:{port}/ping?x=1")),
            OutboundTimeouts::default(),
        )
        .await
        .unwrap();
    tokio::spawn(connection);
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "pong");
    let head = arrivals.recv().await.unwrap();
    assert!(head.starts_with("GET /ping?x=1 HTTP/1.1\r\n"), "{head}");
    assert!(head.contains(&format!("host: 127.0.0.1:{port}")), "{head}");
}

#[tokio::test]
async fn a_refused_request_never_connects() {
    let (port, mut arrivals) = server(ok("pong")).await;
    let send = sender(SenderOptions::default());
    let url = format!("http://127.0.0.1:{port}/secret");
    for (rules, expect) in [
        // Nothing allowed.
        (rules(&[]), "denied"),
        // Any host, but loopback is prohibited unless named.
        (rules(&["http://*:*"]), "prohibited"),
        // Named, but for another port.
        (rules(&["http://*:*", "http://127.0.0.1:1"]), "prohibited"),
        // A rule naming `localhost` does not allow its address written out.
        (rules(&[&format!("http://localhost:{port}")]), "denied"),
    ] {
        let error = send
            .send(&rules, get(&url), OutboundTimeouts::default())
            .await
            .map(|_| ())
            .unwrap_err();
        match (expect, &error) {
            ("denied", OutboundError::Denied(_)) | ("prohibited", OutboundError::Prohibited(_)) => {
            }
            _ => panic!("{expect}: {error:?}"),
        }
    }
    // A name resolving to loopback is refused even when a rule names the name.
    let localhost = format!("http://localhost:{port}/secret");
    let error = send
        .send(
            &rules(&[&format!("http://localhost:{port}")]),
            get(&localhost),
            OutboundTimeouts::default(),
        )
        .await
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(error, OutboundError::Prohibited(_)), "{error:?}");
    // What arrives first is the sentinel sent after every refusal: none of them
    // reached the server.
    let sentinel = rules(&[&format!("http://127.0.0.1:{port}")]);
    let (_, connection) = send
        .send(
            &sentinel,
            get(&format!("http://127.0.0.1:{port}/sentinel")),
            OutboundTimeouts::default(),
        )
        .await
        .unwrap();
    tokio::spawn(connection);
    let first = arrivals.recv().await.unwrap();
    assert!(first.starts_with("GET /sentinel "), "{first}");
}

/// A loopback TLS server for `127.0.0.1` with a self-signed certificate, answering
/// `pong` after each request's head (sent on the channel): its port and its
/// certificate (DER).
async fn tls_server() -> (u16, Vec<u8>, mpsc::UnboundedReceiver<String>) {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert = certified.cert.der().to_vec();
    let key =
        rustls::pki_types::PrivateKeyDer::try_from(certified.signing_key.serialize_der()).unwrap();
    #[expect(deprecated, reason = "the test server, as the sender, runs on ring")]
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone().into()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (seen, arrivals) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, seen) = (acceptor.clone(), seen.clone());
            tokio::spawn(async move {
                // A client that does not trust the certificate ends here.
                let Ok(mut stream) = acceptor.accept(stream).await else {
                    return;
                };
                let Some(head) = read_head(&mut stream).await else {
                    return;
                };
                let _ = seen.send(head);
                let answer =
                    "HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\npong";
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (port, cert, arrivals)
}

#[tokio::test]
async fn https_verifies_the_destination_against_the_trusted_roots() {
    let (port, cert, mut arrivals) = tls_server().await;
    let rules = rules(&[&format!("https://127.0.0.1:{port}")]);
    let url = format!("https://127.0.0.1:{port}/secure");
    // The Mozilla roots alone do not vouch for a self-signed certificate.
    let error = sender(SenderOptions::default())
        .send(&rules, get(&url), OutboundTimeouts::default())
        .await
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(&error, OutboundError::Tls(why) if why.contains("UnknownIssuer")),
        "{error:?}"
    );
    // Trusted as an extra root, it serves the request.
    let trusting = sender(SenderOptions {
        extra_roots: vec![cert],
        ..SenderOptions::default()
    });
    let (response, connection) = trusting
        .send(&rules, get(&url), OutboundTimeouts::default())
        .await
        .unwrap();
    tokio::spawn(connection);
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "pong");
    // The refused handshake sent no request: the first to arrive is the trusted one.
    let head = arrivals.recv().await.unwrap();
    assert!(head.starts_with("GET /secure HTTP/1.1\r\n"), "{head}");
}

#[tokio::test]
async fn a_redirect_is_handed_to_the_guest_not_followed() {
    let answer = b"HTTP/1.1 302 Found\r\nlocation: http://169.254.169.254/latest\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
    let (port, mut arrivals) = server(Some(answer.to_vec())).await;
    let (response, connection) = sender(SenderOptions::default())
        .send(
            &rules(&[&format!("http://127.0.0.1:{port}")]),
            get(&format!("http://127.0.0.1:{port}/go")),
            OutboundTimeouts::default(),
        )
        .await
        .unwrap();
    tokio::spawn(connection);
    assert_eq!(response.status(), 302);
    assert_eq!(
        response.headers()["location"],
        "http://169.254.169.254/latest"
    );
    assert!(arrivals.recv().await.unwrap().starts_with("GET /go "));
}

#[tokio::test]
async fn a_response_body_over_the_limit_fails_typed() {
    let (port, _arrivals) = server(ok(&"x".repeat(5000))).await;
    let options = SenderOptions {
        max_response_body_bytes: 1000,
        ..SenderOptions::default()
    };
    let (response, connection) = sender(options)
        .send(
            &rules(&[&format!("http://127.0.0.1:{port}")]),
            get(&format!("http://127.0.0.1:{port}/big")),
            OutboundTimeouts::default(),
        )
        .await
        .unwrap();
    tokio::spawn(connection);
    let error = response.into_body().collect().await.unwrap_err();
    assert_eq!(error, OutboundError::ResponseTooLarge { limit: 1000 });
}

#[tokio::test]
async fn a_request_body_over_the_limit_is_refused_before_it_is_sent() {
    let (port, _arrivals) = server(ok("")).await;
    let options = SenderOptions {
        max_request_body_bytes: 10,
        ..SenderOptions::default()
    };
    let body = http_body_util::Full::new(Bytes::from(vec![b'x'; 100]))
        .map_err(|never| match never {})
        .boxed_unsync();
    let request = http::Request::post(format!("http://127.0.0.1:{port}/up"))
        .body(body)
        .unwrap();
    let error = sender(options)
        .send(
            &rules(&[&format!("http://127.0.0.1:{port}")]),
            request,
            OutboundTimeouts::default(),
        )
        .await
        .map(|_| ())
        .unwrap_err();
    assert_eq!(error, OutboundError::RequestTooLarge { limit: 10 });
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_first_byte_timeout() {
    let (port, mut arrivals) = server(None).await;
    let timeouts = OutboundTimeouts {
        first_byte: Some(Duration::from_millis(100)),
        ..OutboundTimeouts::default()
    };
    let error = sender(SenderOptions::default())
        .send(
            &rules(&[&format!("http://127.0.0.1:{port}")]),
            get(&format!("http://127.0.0.1:{port}/slow")),
            timeouts,
        )
        .await
        .map(|_| ())
        .unwrap_err();
    assert_eq!(error, OutboundError::FirstByteTimeout);
    assert!(arrivals.recv().await.unwrap().starts_with("GET /slow "));
}

/// A resolver that never answers.
#[derive(Debug)]
struct Stuck;

#[async_trait::async_trait]
impl fn_host::Resolve for Stuck {
    async fn resolve(&self, _name: &str) -> std::io::Result<Vec<std::net::IpAddr>> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_lookup_that_never_answers_is_a_connect_timeout() {
    let sender = Sender::with_resolver(
        Guard::default(),
        std::sync::Arc::new(Stuck),
        SenderOptions {
            connect_timeout: Duration::from_millis(100),
            ..SenderOptions::default()
        },
    );
    let error = sender
        .send(
            &rules(&["http://*.example.com"]),
            get("http://api.example.com/"),
            OutboundTimeouts::default(),
        )
        .await
        .map(|_| ())
        .unwrap_err();
    assert_eq!(error, OutboundError::ConnectionTimeout);
}
