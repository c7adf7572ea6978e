//! `fnd run --record`: which allocator ran the call, then the call's record.

use crate::{fnd, guest, text};

#[test]
fn record_names_the_allocator_and_prints_the_record() {
    let hello = guest("hello");
    let out = fnd(&["run", hello.to_str().unwrap(), "--input", "x", "--record"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let mut lines = stderr.lines();
    assert_eq!(lines.next(), Some("fnd: instances: pooling allocator"));
    let record: serde_json::Value =
        serde_json::from_str(lines.next().expect("a record line")).expect("JSON");
    assert_eq!(record["status"], "success");
    assert_eq!(record["function_name"], "hello");
}
