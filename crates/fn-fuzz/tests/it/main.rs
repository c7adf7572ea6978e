//! Every input a fuzz target once failed on (`fuzz/regressions/TARGET/`), and the seeds
//! the fuzzers start from, through the targets' bodies: what the fuzzers found stays
//! fixed, and the oracles are checked on inputs chosen by hand.

use std::path::{Path, PathBuf};

use fn_core::ErrorKind;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The files directly in `dir` (none when it does not exist).
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str, body: fn(&[u8])) -> usize {
    let found = files(&root().join("fuzz/regressions").join(target));
    for path in &found {
        body(&std::fs::read(path).unwrap());
    }
    found.len()
}

#[test]
fn regressions_stay_fixed() {
    replay("deploy_and_invoke", fn_fuzz::deploy_and_invoke);
    replay("generated_module", |data| {
        drop(fn_fuzz::generated_module(data))
    });
    replay("handle_result", fn_fuzz::handle_result);
    replay("conformance_spec", fn_fuzz::conformance_spec);
}

#[test]
fn the_module_seeds_run_through_deploy_and_invoke() {
    let mut seeds = Vec::new();
    for dir in ["conformance/engine/modules", "conformance/hostile/modules"] {
        seeds.extend(files(&root().join(dir)));
    }
    seeds.extend(["hello", "handle_upper", "trap", "exit_code"].map(fn_guests::path));
    assert!(seeds.len() > 30, "{seeds:?}");
    for seed in seeds {
        fn_fuzz::deploy_and_invoke(&std::fs::read(seed).unwrap());
    }
}

/// splitmix64: the bytes wasm-smith draws its choices from, the same every run.
fn seeded_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        bytes.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    bytes
}

/// The wasm-smith robustness test: a few hundred generated modules through deploy and
/// one invocation, each a success or a typed error (never internal) with exactly one
/// record (the target's own checks), and most of them reach the guest.
#[test]
fn generated_modules_end_in_typed_errors_never_a_panic() {
    const MODULES: u64 = 300;
    let mut ran = 0;
    for seed in 0..MODULES {
        let result = fn_fuzz::generated_module(&seeded_bytes(seed, 4096));
        if result.is_some_and(|r| r.is_ok() || r.unwrap_err().kind() != ErrorKind::Deploy) {
            ran += 1;
        }
    }
    assert!(ran > MODULES / 3, "only {ran} of {MODULES} got past deploy");
}

#[test]
fn handle_results_meet_the_oracle() {
    let result = |ptr: u64, len: u64| ((len << 32) | ptr).to_le_bytes();
    for (ptr, len) in [
        (1024, 8),        // the input itself
        (0, 1024),        // exactly the output limit
        (0, 1025),        // one byte over it
        (65_528, 8),      // the last bytes of the page
        (65_529, 8),      // one byte past it
        (0xffff_ffff, 2), // a pointer at the end of the address space
        (0xffff_fff0, 0), // nothing, pointing nowhere
        (0, 0xffff_ffff), // 4 GiB: out of bounds before it is too large
        (60_000, 5_000),  // out of bounds and over the limit
    ] {
        fn_fuzz::handle_result(&result(ptr, len));
    }
}

#[test]
fn the_repositorys_specifications_parse_through_the_target() {
    let mut specs = vec![root().join("conformance/expectations.toml")];
    for dir in ["conformance/engine", "conformance/hostile"] {
        specs.extend(files(&root().join(dir)));
    }
    for spec in specs {
        fn_fuzz::conformance_spec(&std::fs::read(spec).unwrap());
    }
}
