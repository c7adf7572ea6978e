//! Test support (feature `testing`): an OTLP/HTTP receiver on loopback that decodes
//! what exporters send with the OTLP protobuf messages, for tests of programs that
//! export (`fnd run` with the `OTEL_*` variables pointing at it).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

pub use opentelemetry_proto;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message as _;

/// The string value of attribute `key` among `attributes`, if it is there and a string.
#[must_use]
pub fn string(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match &kv.value {
            Some(AnyValue {
                value: Some(any_value::Value::StringValue(s)),
            }) => Some(s.clone()),
            _ => None,
        })
}

/// One export that arrived.
#[derive(Debug)]
pub enum Received {
    /// A POST to `/v1/traces`.
    Traces(ExportTraceServiceRequest),
    /// A POST to `/v1/metrics`.
    Metrics(ExportMetricsServiceRequest),
    /// A request to another path, or a body that did not decode: its path.
    Unexpected(String),
}

/// An OTLP/HTTP receiver on a free loopback port, answering every export with 200;
/// it runs (on threads of its own) as long as the process.
#[derive(Debug)]
pub struct OtlpHttpReceiver {
    endpoint: String,
    received: mpsc::Receiver<Received>,
}

impl OtlpHttpReceiver {
    /// Starts a receiver.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound.
    #[must_use]
    pub fn start() -> OtlpHttpReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let endpoint = format!("http://{}", listener.local_addr().expect("bound"));
        let (sender, received) = mpsc::channel();
        std::thread::spawn(move || {
            for connection in listener.incoming().flatten() {
                let sender = sender.clone();
                std::thread::spawn(move || serve(connection, &sender));
            }
        });
        OtlpHttpReceiver { endpoint, received }
    }

    /// The base URL, for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The next export, waiting at most `within`.
    #[must_use]
    pub fn next(&self, within: Duration) -> Option<Received> {
        self.received.recv_timeout(within).ok()
    }
}

/// Serves one connection's requests (keep-alive) until it closes.
fn serve(connection: std::net::TcpStream, sender: &mpsc::Sender<Received>) {
    let Ok(mut writer) = connection.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(connection);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
        let mut length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let received = match path.as_str() {
            "/v1/traces" => ExportTraceServiceRequest::decode(&body[..]).map(Received::Traces),
            "/v1/metrics" => ExportMetricsServiceRequest::decode(&body[..]).map(Received::Metrics),
            _ => Ok(Received::Unexpected(path.clone())),
        }
        .unwrap_or(Received::Unexpected(path));
        let _ = sender.send(received);
        let answered = writer.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n",
        );
        if answered.is_err() {
            return;
        }
    }
}
