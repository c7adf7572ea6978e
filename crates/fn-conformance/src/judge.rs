//! Judging a case: how what the engine did (its result, streams and record) differs
//! from the case's specification and from the engine's record contract.

use bytes::Bytes;
use fn_core::{Error, Function, InvocationRecord, InvocationStatus};
use fn_engine::Execution;
use serde_json::Value;

use crate::spec::CaseSpec;

/// What one run produced.
pub(crate) struct Observed {
    pub(crate) execution: Option<Execution>,
    pub(crate) deploy_error: Option<Error>,
    pub(crate) records: Vec<InvocationRecord>,
    pub(crate) function: Option<Function>,
    pub(crate) input_size: u64,
}

impl Observed {
    pub(crate) fn result(&self) -> Result<&Bytes, &Error> {
        match (&self.execution, &self.deploy_error) {
            (Some(execution), _) => execution.result.as_ref(),
            (None, Some(error)) => Err(error),
            (None, None) => unreachable!("a case is observed after it ran or failed to deploy"),
        }
    }

    pub(crate) fn error(&self) -> Option<&Error> {
        self.result().err()
    }

    /// A command's whole stdout, or what a function returned, when it succeeded; what it
    /// wrote to stdout otherwise.
    fn stdout(&self) -> &[u8] {
        match (&self.execution, self.result()) {
            (_, Ok(output)) => output,
            (Some(execution), Err(_)) => &execution.stdout,
            (None, Err(_)) => &[],
        }
    }

    fn stderr(&self) -> &[u8] {
        self.execution.as_ref().map_or(&[], |e| &e.log)
    }
}

/// The exit status a result stands for: 0 for output, the code of a non-zero exit.
pub(crate) fn exit_code(result: Result<&Bytes, &Error>) -> Option<i32> {
    match result {
        Ok(_) => Some(0),
        Err(error) => match error.root() {
            Error::Exit { code, .. } => Some(*code),
            _ => None,
        },
    }
}

/// Every way `observed` differs from `spec` and from the engine's record contract.
pub(crate) fn judge(spec: &CaseSpec, observed: &Observed) -> Vec<String> {
    let mut problems = Vec::new();
    let result = observed.result();
    let actual_exit = exit_code(result);
    match (&spec.error, result) {
        (Some(kind), Ok(_)) => problems.push(format!("succeeded, expected a `{kind}` error")),
        (Some(kind), Err(error)) if error.kind() != *kind => problems.push(format!(
            "ended with a `{}` error, expected `{kind}`: {error}",
            error.kind()
        )),
        (Some(_), Err(_)) => {
            if let (Some(expected), Some(actual)) = (spec.exit_code, actual_exit)
                && expected != actual
            {
                problems.push(format!("exit code {actual}, expected {expected}"));
            }
        }
        (None, result) => {
            let expected = spec.exit_code.unwrap_or(0);
            match (actual_exit, result) {
                (Some(actual), _) if actual == expected => {}
                (Some(actual), Err(error)) => {
                    problems.push(format!("exit code {actual}, expected {expected}: {error}"));
                }
                (Some(actual), Ok(_)) => {
                    problems.push(format!("exit code {actual}, expected {expected}"));
                }
                (None, Err(error)) => problems.push(format!(
                    "ended with a `{}` error instead of exit code {expected}: {error}",
                    error.kind()
                )),
                (None, Ok(_)) => unreachable!("output always has an exit code"),
            }
        }
    }
    if let Some(expected) = &spec.stdout {
        compare(
            "stdout",
            expected.as_bytes(),
            observed.stdout(),
            &mut problems,
        );
    }
    if let Some(expected) = &spec.stderr {
        compare(
            "stderr",
            expected.as_bytes(),
            observed.stderr(),
            &mut problems,
        );
    }
    if observed.execution.is_some() {
        check_record(spec, observed, &mut problems);
    } else if spec.record.is_some() {
        problems.push("the function was not deployed, so there is no record to check".into());
    }
    problems
}

/// The record contract, for every case: exactly one record, agreeing with the run.
fn check_record(spec: &CaseSpec, observed: &Observed, problems: &mut Vec<String>) {
    let [record] = observed.records.as_slice() else {
        problems.push(format!(
            "the engine logged {} records for the invocation, expected exactly one",
            observed.records.len()
        ));
        return;
    };
    let function = observed
        .function
        .as_ref()
        .expect("a function that ran was deployed");
    let result = observed.result();
    let status = result.map_or_else(Error::invocation_status, |_| InvocationStatus::Success);
    let mut wrong = |field: &str, detail: String| {
        problems.push(format!("record `{field}`: {detail}"));
    };
    if record.function_id != function.id {
        wrong(
            "function_id",
            format!("{}, not {}", record.function_id, function.id),
        );
    }
    if record.function_name != function.definition.name {
        wrong("function_name", record.function_name.clone());
    }
    if record.namespace != function.definition.namespace {
        wrong("namespace", record.namespace.clone());
    }
    if record.status != status {
        wrong(
            "status",
            format!("{}, the run says {status}", record.status),
        );
    }
    if record.input_size != observed.input_size {
        wrong(
            "input_size",
            format!(
                "{}, the input was {}",
                record.input_size, observed.input_size
            ),
        );
    }
    match result {
        Ok(output) => {
            if record.output_size != output.len() as u64 {
                wrong(
                    "output_size",
                    format!("{}, the output was {}", record.output_size, output.len()),
                );
            }
            if record.error_message.is_some() {
                wrong("error_message", "set on a success".into());
            }
            if let Some(kind) = record.error_kind {
                wrong("error_kind", format!("`{kind}` on a success"));
            }
        }
        Err(error) => {
            if record.error_message.as_deref().is_none_or(str::is_empty) {
                wrong("error_message", "missing on a failure".into());
            }
            if record.error_kind != Some(error.kind()) {
                wrong(
                    "error_kind",
                    format!("{:?}, the error is `{}`", record.error_kind, error.kind()),
                );
            }
        }
    }
    if record.completed_at < record.started_at {
        wrong("completed_at", "before started_at".into());
    }
    if let Some(expected) = &spec.record {
        check_fields(expected, record, problems);
    }
}

/// The fields a case names in its `record`, each against the record's own.
fn check_fields(
    expected: &serde_json::Map<String, Value>,
    record: &InvocationRecord,
    problems: &mut Vec<String>,
) {
    let actual = match serde_json::to_value(record) {
        Ok(Value::Object(fields)) => fields,
        other => {
            problems.push(format!(
                "the record does not serialize to an object: {other:?}"
            ));
            return;
        }
    };
    for (field, value) in expected {
        match actual.get(field) {
            Some(actual) if actual == value => {}
            Some(actual) => {
                problems.push(format!("record `{field}` is {actual}, expected {value}"))
            }
            None => problems.push(format!("the record has no field `{field}`")),
        }
    }
}

/// Notes a difference between two byte strings, showing where they part.
fn compare(stream: &str, expected: &[u8], actual: &[u8], problems: &mut Vec<String>) {
    if expected == actual {
        return;
    }
    let at = expected
        .iter()
        .zip(actual)
        .position(|(a, b)| a != b)
        .unwrap_or(expected.len().min(actual.len()));
    problems.push(format!(
        "{stream} differs at byte {at}: expected {} bytes {}, got {} bytes {}",
        expected.len(),
        preview(expected, at),
        actual.len(),
        preview(actual, at)
    ));
}

fn preview(bytes: &[u8], at: usize) -> String {
    const CONTEXT: usize = 40;
    let start = at.saturating_sub(CONTEXT / 2);
    let end = (start + CONTEXT).min(bytes.len());
    let text = String::from_utf8_lossy(&bytes[start.min(end)..end]);
    let ellipsis = |show: bool| if show { "…" } else { "" };
    format!(
        "\"{}{}{}\"",
        ellipsis(start > 0),
        text.escape_debug(),
        ellipsis(end < bytes.len())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_difference_shows_where_it_starts() {
        let mut problems = vec![];
        compare("stdout", b"hello world\n", b"hello there\n", &mut problems);
        assert_eq!(
            problems,
            [
                "stdout differs at byte 6: expected 12 bytes \"hello world\\n\", got 12 bytes \"hello there\\n\""
            ]
        );
        problems.clear();
        compare("stderr", b"abc", b"abc", &mut problems);
        assert!(problems.is_empty());
        compare("stderr", b"abc", b"ab", &mut problems);
        assert!(problems[0].contains("at byte 2"), "{problems:?}");
    }
}
