//! fn-bench's embeddings answer as the engine does, so that what is measured is a
//! correct call in each.

use fn_bench::{Invoker, Kind, Summary, count_calls, embed, measure, workload};
use fn_core::Config;

/// A pool small enough for any test machine.
fn config() -> Config {
    let mut config = Config::default();
    config.pooling.slots = 8;
    config
}

#[test]
fn every_embedding_answers_every_workload() {
    for workload in workload::all() {
        for kind in Kind::ALL {
            // `build` checks one call's output against the workload's.
            let setup = kind
                .build(&workload, &config())
                .unwrap_or_else(|e| panic!("{} in {}: {e:#}", workload.name, kind.name()));
            let output = setup.invoker().invoke(&workload.input).expect("a call");
            assert_eq!(
                output,
                workload.expect,
                "{} in {}",
                workload.name,
                kind.name()
            );
        }
    }
}

#[test]
fn a_wrong_answer_is_refused() {
    let mut upper = workload::named("upper-13B").expect("upper-13B");
    let setup = Kind::Bare.build(&upper, &config()).expect("builds");
    upper.expect = bytes::Bytes::from_static(b"something else");
    let error = embed::check(setup.invoker().as_mut(), &upper).expect_err("refused");
    assert!(error.to_string().contains("not the 14 expected"), "{error}");
}

#[test]
fn measuring_on_two_threads_times_every_call() {
    let workload = workload::named("handle-upper-13B").expect("handle-upper-13B");
    let setup = Kind::Engine.build(&workload, &config()).expect("builds");
    let mut invokers: Vec<Invoker> = vec![setup.invoker(), setup.invoker()];
    let mut latencies = Vec::new();
    let wall = measure(&mut invokers, &workload, 40, &mut latencies).expect("measured");
    assert_eq!(latencies.len(), 40);
    let summary = Summary::of(&mut latencies, 40, wall);
    assert!(summary.median_ns > 0 && summary.median_ns <= summary.p99_ns);
    count_calls(invokers[0].as_mut(), &workload, 3).expect("counted calls");
}
