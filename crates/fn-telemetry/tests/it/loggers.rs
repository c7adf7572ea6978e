//! The invocation loggers: what each keeps or writes, read back.

use std::io::Write as _;
use std::sync::{Arc, Mutex};

use fn_core::{
    Cid, Error, Function, FunctionDefinition, InvocationContext, InvocationLogger,
    InvocationRecord, InvocationStatus, MemoryLogger,
};
use fn_telemetry::{FanOut, JsonLinesLogger, Rotation, TracingLogger};

/// The record of invocation `n` (its request id is `r{n}`).
fn record(n: usize) -> InvocationRecord {
    let function = Function::new(FunctionDefinition::new("acme", "resize"), Cid::of(b"wasm"));
    let ctx = InvocationContext {
        request_id: format!("r{n}"),
        ..InvocationContext::default()
    };
    InvocationRecord::start(&function, &ctx, n as u64, chrono::Utc::now())
}

fn request_ids(records: &[InvocationRecord]) -> Vec<String> {
    records.iter().map(|r| r.request_id.clone()).collect()
}

/// A logger that always fails.
#[derive(Debug)]
struct Failing;

impl InvocationLogger for Failing {
    fn log(&self, _: InvocationRecord) -> fn_core::Result<()> {
        Err(Error::Unavailable {
            reason: "down".into(),
        })
    }
}

#[test]
fn a_fan_out_gives_every_logger_the_record_whatever_one_does() {
    let first = Arc::new(MemoryLogger::new());
    let last = Arc::new(MemoryLogger::bounded(10));
    let fan = FanOut::new(vec![first.clone(), Arc::new(Failing), last.clone()]);
    let error = fan.log(record(1)).unwrap_err();
    assert_eq!(error.to_string(), "unavailable: down");
    assert_eq!(request_ids(&first.records()), ["r1"]);
    assert_eq!(request_ids(&last.records()), ["r1"]);
    fan.flush().unwrap();
    FanOut::new(Vec::new()).log(record(2)).unwrap();
}

fn lines(path: &std::path::Path) -> Vec<InvocationRecord> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .lines()
            .map(|line| serde_json::from_str(line).expect("each line is a record"))
            .collect(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(error) => panic!("{error}"),
    }
}

#[test]
fn json_lines_rotate_by_size_and_keep_the_newest_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("invocations.jsonl");
    let line_len = serde_json::to_vec(&record(10)).unwrap().len() as u64 + 1;
    // Three records a file.
    let rotation = Rotation {
        max_bytes: line_len * 3 + line_len / 2,
        keep: 2,
    };
    let logger = JsonLinesLogger::open(&path, rotation).unwrap();
    for n in 10..20 {
        logger.log(record(n)).unwrap();
    }
    logger.flush().unwrap();
    let numbered = |n: usize| dir.path().join(format!("invocations.jsonl.{n}"));
    let mut kept = lines(&numbered(2));
    kept.extend(lines(&numbered(1)));
    kept.extend(lines(&path));
    // 10 records, 3 a file: r10..r12 were rotated out of the two files kept.
    assert_eq!(
        request_ids(&kept),
        ["r13", "r14", "r15", "r16", "r17", "r18", "r19"]
    );
    assert!(!numbered(3).exists());
    assert!(std::fs::metadata(&path).unwrap().len() <= rotation.max_bytes);
    assert_eq!(logger.dropped(), 0);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "records name callers: private");
    }
}

#[test]
fn dropping_the_json_lines_logger_writes_what_is_queued_and_appends_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("records.jsonl");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(&[serde_json::to_vec(&record(0)).unwrap(), b"\n".to_vec()].concat())
        .unwrap();
    let logger = JsonLinesLogger::open(&path, Rotation::default()).unwrap();
    for n in 1..=100 {
        logger.log(record(n)).unwrap();
    }
    drop(logger);
    let written = lines(&path);
    assert_eq!(written.len(), 101);
    assert_eq!(written[100].request_id, "r100");
}

#[test]
fn a_file_that_cannot_be_opened_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing").join("records.jsonl");
    match JsonLinesLogger::open(&path, Rotation::default()) {
        Err(Error::Unavailable { reason }) => {
            assert!(reason.contains("missing/records.jsonl"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

/// Where the test subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_tracing_logger_makes_one_event_a_record_warning_of_failures() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer({
            let captured = captured.clone();
            move || captured.clone()
        })
        .with_ansi(false)
        .finish();
    let mut timeout = record(2);
    timeout.status = InvocationStatus::Timeout;
    timeout.error_kind = Some(fn_core::ErrorKind::Timeout);
    tracing::subscriber::with_default(subscriber, || {
        TracingLogger.log(record(1)).unwrap();
        TracingLogger.log(timeout).unwrap();
    });
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains(" INFO ") && lines[0].contains("request_id=r1"),
        "{text}"
    );
    assert!(lines[0].contains("status=success"), "{text}");
    assert!(
        lines[1].contains(" WARN ") && lines[1].contains("status=timeout"),
        "{text}"
    );
    assert!(lines[1].contains("error_kind=\"timeout\""), "{text}");
}
