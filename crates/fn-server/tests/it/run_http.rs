//! `fnd run` of an HTTP component: one request made from `--method`, `--path`,
//! `--header` and the input, the response body on stdout, the exchange and its record
//! with `--record`; the HTTP flags refused for anything else.

use crate::{fnd, text};

#[test]
fn an_http_component_is_served_one_request_made_from_the_flags() {
    let routes = fn_guests::components_dir().join("http-routes.wasm");
    let routes = routes.to_str().unwrap();
    let args = [
        "run",
        routes,
        "--method",
        "put",
        "--path",
        "/json?x=1",
        "--header",
        "x-a: b",
        "--input",
        "body",
        "--record",
    ];
    let out = fnd(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (seen["method"].as_str(), seen["path"].as_str()),
        (Some("PUT"), Some("/json"))
    );
    assert_eq!(
        (seen["query"].as_str(), seen["headers"]["x-a"].as_str()),
        (Some("x=1"), Some("b"))
    );
    // --record: the exchange's head, then the record with the request line and status.
    let stderr = text(&out.stderr);
    let exchange: serde_json::Value = serde_json::from_str(stderr.lines().next().unwrap()).unwrap();
    assert_eq!(exchange["status"], 200);
    assert_eq!(exchange["headers"]["content-type"], "application/json");
    let record = stderr
        .lines()
        .find(|l| l.contains("\"http_status\""))
        .expect(&stderr);
    let record: serde_json::Value = serde_json::from_str(record).unwrap();
    assert_eq!(
        (
            record["http_status"].as_u64(),
            record["input_size"].as_u64()
        ),
        (Some(200), Some(4))
    );
    assert_eq!(record["http_request"]["method"], "PUT");

    // The input is a POST's body by default; a trap before the head fails the run.
    let out = fnd(&["run", routes, "--path", "/echo", "--input", "echoed"]);
    assert_eq!(text(&out.stdout), "echoed");
    let out = fnd(&["run", routes, "--path", "/trap"]);
    assert_eq!(out.status.code(), Some(124), "{}", text(&out.stderr));
    // The HTTP flags are refused for anything else, naming the flag.
    let hello = fn_guests::components_dir().join("hello.wasm");
    let out = fnd(&["run", hello.to_str().unwrap(), "--path", "/"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--path is for an HTTP component"),
        "{}",
        text(&out.stderr)
    );
}
