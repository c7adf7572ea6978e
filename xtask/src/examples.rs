//! The example functions run as the README shows them: `cargo xtask serve` (the main
//! job: `fnd serve` with the examples deployed) and `cargo xtask demo` (each once
//! through `fnd run`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};

use crate::{cargo_bin, guests_out};

/// The example functions `cargo xtask serve` deploys.
const EXAMPLES: [&str; 6] = [
    "hello",
    "upper",
    "echo",
    "fib",
    "handle_upper",
    "json_report",
];

/// The example components `cargo xtask serve` deploys beside them.
const COMPONENTS: [&str; 1] = ["http-routes"];

/// `fnd` in release, built first when needed: `cargo run … --bin fnd --`.
fn fnd() -> Command {
    let mut command = Command::new(cargo_bin());
    command.args([
        "run",
        "--quiet",
        "--release",
        "-p",
        "fn-server",
        "--bin",
        "fnd",
        "--",
    ]);
    command
}

pub(crate) fn serve(root: &Path, listen: &str, data_dir: Option<PathBuf>) -> Result<()> {
    let out = guests_out(root);
    let data_dir = data_dir.unwrap_or_else(|| root.join("target/fnd-data"));
    let mut command = fnd();
    command
        .args(["serve", "--listen", listen, "--data-dir"])
        .arg(&data_dir);
    for example in EXAMPLES {
        command
            .arg("--deploy-public")
            .arg(out.join(format!("{example}.wasm")));
    }
    // The wasi:http example, a component: served at …/http/.
    for component in COMPONENTS {
        command
            .arg("--deploy-public")
            .arg(crate::guests::components_out(root).join(format!("{component}.wasm")));
    }
    println!(
        "$ fnd serve --listen {listen} --data-dir {} (building fnd first)",
        data_dir.display()
    );
    let status = command.status()?;
    if !status.success() {
        bail!("fnd serve failed: {status}");
    }
    Ok(())
}

pub(crate) fn demo(root: &Path) -> Result<()> {
    let out = guests_out(root);
    let runs: [(&str, &str); 5] = [
        ("hello", "fn-engine"),
        ("upper", "shout this"),
        ("fib", "25"),
        ("handle_upper", "handle abi"),
        ("exit_code", "7"),
    ];
    for (guest, input) in runs {
        let wasm = out.join(format!("{guest}.wasm"));
        println!("$ echo -n {input:?} | fnd run {}", wasm.display());
        let status = fnd()
            .arg("run")
            .arg(&wasm)
            .args(["--input", input])
            .status()?;
        println!("\n({status})\n");
    }
    Ok(())
}
