//! The runner end to end, on suites made in a temporary folder from this repository's
//! guests (built by `cargo xtask guests`) and small WAT modules.

mod hostile;
mod support;

use fn_conformance::{Expectations, Runner, Verdict};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn every_field_of_a_specification_is_honoured() {
    let suite = SuiteDir::new("fields");
    suite
        .case(
            "env",
            json!({
                "module": module(&guest("env")),
                "args": ["one", "two words"],
                "env": { "B": "2", "A": "1" },
                "stdout": "arg0=env\narg1=one\narg2=two words\nenv A=1\nenv B=2\nfs=none\n",
                "stderr": ""
            }),
        )
        .case(
            "exit",
            json!({
                "module": module(&guest("exit_code")),
                "input": "7",
                "exit_code": 7,
                "stdout": "",
                "stderr": "giving up with code 7\n"
            }),
        )
        .case(
            "handle",
            json!({
                "module": module(&guest("handle_upper")),
                "input": "shout",
                "stdout": "SHOUT",
                "record": { "input_size": 5, "output_size": 5, "status": "success" }
            }),
        );
    let report = suite.run("").await;
    for name in ["env", "exit", "handle"] {
        let case = case(&report, name);
        assert_eq!(case.verdict, Verdict::Pass, "{case:#?}");
    }
    assert_eq!(case(&report, "exit").exit_code, Some(7));
    assert!(report.ok);
}

#[tokio::test]
async fn each_case_gets_a_fresh_copy_of_its_root() {
    let suite = SuiteDir::new("roots");
    suite
        .file("data/greeting.txt", "hello")
        .file("data/old.cleanup", "left behind")
        .case(
            "a_write",
            json!({
                "module": module(&guest("files")),
                "args": ["write", "/greeting.txt"],
                "input": "overwritten",
                "root": "data"
            }),
        )
        .case(
            "b_read",
            json!({
                "module": module(&guest("files")),
                "args": ["cat", "/greeting.txt"],
                "root": "data",
                "stdout": "hello"
            }),
        )
        .case(
            "c_list",
            json!({
                "module": module(&guest("files")),
                "args": ["ls", "/"],
                "root": "data",
                "stdout": "greeting.txt\n"
            }),
        );
    let report = suite.run("").await;
    assert!(report.ok, "{}", report.to_text());
    assert_eq!(
        std::fs::read_to_string(suite.dir.join("data/greeting.txt")).unwrap(),
        "hello",
        "the suite's folder is never written"
    );
    assert!(
        !suite.dir.join("data/old.cleanup").exists(),
        "leftovers are deleted first"
    );
}

#[tokio::test]
async fn differences_fail_the_case_and_say_what_differs() {
    let suite = SuiteDir::new("differences");
    suite
        .case(
            "wrong_stdout",
            json!({ "module": module(&guest("hello")), "stdout": "hello, world?\n" }),
        )
        .case(
            "wrong_exit",
            json!({ "module": module(&guest("exit_code")), "input": "3" }),
        )
        .case(
            "wrong_stderr",
            json!({
                "module": module(&guest("exit_code")),
                "input": "3",
                "exit_code": 3,
                "stderr": "something else\n"
            }),
        )
        .case(
            "wrong_record",
            json!({ "module": module(&guest("hello")), "record": { "output_size": 1 } }),
        );
    let report = suite.run("").await;
    assert!(!report.ok);
    let problems = |name| case(&report, name).problems.join("; ");
    assert!(
        problems("wrong_stdout").starts_with("stdout differs at byte 12"),
        "{}",
        problems("wrong_stdout")
    );
    assert!(
        problems("wrong_exit").starts_with("exit code 3, expected 0"),
        "{}",
        problems("wrong_exit")
    );
    assert!(
        problems("wrong_stderr").starts_with("stderr differs at byte 0"),
        "{}",
        problems("wrong_stderr")
    );
    assert_eq!(
        problems("wrong_record"),
        "record `output_size` is 14, expected 1"
    );
    for name in ["wrong_stdout", "wrong_exit", "wrong_stderr", "wrong_record"] {
        assert_eq!(case(&report, name).verdict, Verdict::Fail, "{name}");
    }
}

#[tokio::test]
async fn the_engine_suites_error_and_record_fields_pass_when_they_hold() {
    let suite = SuiteDir::new("contract");
    suite
        .case(
            "loop",
            json!({
                "module": module(&guest("infinite_loop")),
                "timeout_ms": 100,
                "error": "timeout",
                "record": { "status": "timeout", "namespace": "conformance", "function_name": "loop" }
            }),
        )
        .case(
            "exit",
            json!({
                "module": module(&guest("exit_code")),
                "input": "4",
                "error": "exit",
                "exit_code": 4,
                "record": { "status": "error", "cold_start": false, "input_size": 1 }
            }),
        )
        .case(
            "wrong_kind",
            json!({ "module": module(&guest("trap")), "error": "timeout" }),
        )
        .case(
            "no_error",
            json!({ "module": module(&guest("hello")), "error": "trap" }),
        );
    let report = suite.run("").await;
    assert_eq!(case(&report, "loop").verdict, Verdict::Pass);
    assert_eq!(case(&report, "exit").verdict, Verdict::Pass);
    assert!(
        case(&report, "wrong_kind").problems[0]
            .starts_with("ended with a `trap` error, expected `timeout`"),
        "{:?}",
        case(&report, "wrong_kind").problems
    );
    assert_eq!(
        case(&report, "no_error").problems,
        ["succeeded, expected a `trap` error"]
    );
}

#[tokio::test]
async fn the_expectations_file_excuses_known_failures_and_stays_true() {
    let suite = SuiteDir::new("expected");
    suite
        .case("fails", json!({ "module": module(&guest("trap")) }))
        .case("passes", json!({ "module": module(&guest("hello")) }));

    let known =
        "[[expected_failure]]\nsuite = \"expected\"\ncase = \"fails\"\nreason = \"a known trap\"\n";
    let report = suite.run(known).await;
    assert!(report.ok, "{}", report.to_text());
    let fails = case(&report, "fails");
    assert_eq!(fails.verdict, Verdict::ExpectedFail);
    assert_eq!(fails.expected_reason.as_deref(), Some("a known trap"));
    assert!(report.to_markdown().contains("expected: a known trap"));

    let stale_pass =
        "[[expected_failure]]\nsuite = \"expected\"\ncase = \"passes\"\nreason = \"was broken\"\n";
    let report = suite.run(stale_pass).await;
    assert!(!report.ok);
    assert_eq!(case(&report, "passes").verdict, Verdict::UnexpectedPass);

    let stale_name = format!(
        "{known}[[expected_failure]]\nsuite = \"expected\"\ncase = \"gone\"\nreason = \"r\"\n"
    );
    let report = suite.run(&stale_name).await;
    assert!(!report.ok);
    assert_eq!(report.suites[0].stale_expectations.len(), 1);
}

#[tokio::test]
async fn a_folder_without_suites_or_with_a_bad_manifest_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let runner = Runner::new(Expectations::default(), tmp.path().join("work"));
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let bad = tmp.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(bad.join("manifest.json"), "{\"nome\": 1}").unwrap();
    let report = runner.run(&[empty, bad]).await.unwrap();
    assert!(!report.ok);
    assert_eq!(
        report.suites[0].error.as_deref(),
        Some("no folder here holds a manifest.json")
    );
    let error = report.suites[1].error.as_deref().unwrap();
    assert!(error.contains("is not a suite manifest"), "{error}");
}

#[tokio::test]
async fn the_report_is_written_as_json_and_markdown() {
    let suite = SuiteDir::new("written");
    suite.case(
        "hello",
        json!({ "module": module(&guest("hello")), "stdout": "hello, world!\n" }),
    );
    let report = suite.run("").await;
    let out = suite.dir.parent().unwrap().join("out");
    report.write(&out).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["ok"], true);
    assert_eq!(json["suites"][0]["name"], "written");
    assert_eq!(json["suites"][0]["cases"][0]["verdict"], "pass");
    assert_eq!(json["totals"]["pass"], 1);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("| hello | PASS | 0 |"), "{md}");
}

#[tokio::test]
async fn a_filter_that_matches_nothing_is_not_green() {
    let suite = SuiteDir::new("filtered");
    suite.case("hello", json!({ "module": module(&guest("hello")) }));
    let work = suite.dir.parent().unwrap().join("work");
    let runner = Runner::new(Expectations::default(), &work).with_filter(Some("nope".into()));
    let report = runner.run(std::slice::from_ref(&suite.dir)).await.unwrap();
    assert!(!report.ok);
    assert_eq!(report.problems, ["the filter `nope` matched no case"]);
    let runner = Runner::new(Expectations::default(), &work).with_filter(Some("hel".into()));
    let report = runner.run(std::slice::from_ref(&suite.dir)).await.unwrap();
    assert!(report.ok, "{}", report.to_text());
}

#[tokio::test]
async fn a_work_folder_it_did_not_make_is_never_emptied() {
    let tmp = tempfile::tempdir().unwrap();
    let precious = tmp.path().join("work");
    std::fs::create_dir(&precious).unwrap();
    std::fs::write(precious.join("thesis.txt"), "years of work").unwrap();
    let runner = Runner::new(Expectations::default(), &precious);
    let error = runner.run(&[tmp.path().into()]).await.unwrap_err();
    assert!(
        error.to_string().contains("refusing to empty it"),
        "{error}"
    );
    assert!(precious.join("thesis.txt").exists());
}

#[tokio::test]
async fn expectations_for_suites_that_did_not_run_are_noted() {
    let suite = SuiteDir::new("ran");
    suite.case("hello", json!({ "module": module(&guest("hello")) }));
    let report = suite
        .run("[[expected_failure]]\nsuite = \"rann\"\ncase = \"hello\"\nreason = \"typo\"\n")
        .await;
    assert!(
        report.ok,
        "a subset run may leave other suites' entries unchecked"
    );
    assert_eq!(
        report.notes,
        ["the expected failure of `hello` in `rann` was not checked: no such suite ran"]
    );
}
