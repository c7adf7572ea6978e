//! What `fnd run` reads: the module file and the input, each refused past its limit
//! without reading more than one byte over it.

use std::io::{IsTerminal, Read};

use anyhow::{Context, Result, bail};
use bytes::Bytes;

use super::RunArgs;

/// The input from `--input`, `--input-file` or stdin, refused once it is over `limit`
/// bytes: never more than `limit + 1` bytes are read.
pub(super) fn read_input(args: &RunArgs, limit: u64) -> Result<Bytes> {
    let over = |source: &str| {
        anyhow::anyhow!("the input from {source} is over the engine's {limit}-byte input limit")
    };
    if let Some(input) = &args.input {
        if input.len() as u64 > limit {
            return Err(over("--input"));
        }
        return Ok(Bytes::from(input.clone()));
    }
    let (source, reader): (String, Box<dyn Read>) = match &args.input_file {
        Some(path) => (
            format!("--input-file {}", path.display()),
            Box::new(
                std::fs::File::open(path)
                    .with_context(|| format!("reading the input {}", path.display()))?,
            ),
        ),
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Ok(Bytes::new());
            }
            ("stdin".to_string(), Box::new(stdin))
        }
    };
    let mut input = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut input)
        .with_context(|| format!("reading the input from {source}"))?;
    if input.len() as u64 > limit {
        return Err(over(&source));
    }
    Ok(Bytes::from(input))
}

/// The module at `path`: a regular file (not a FIFO or a device, which could block or
/// never end) of at most `limit` bytes, never reading more than `limit + 1`.
pub(crate) fn read_module(path: &std::path::Path, limit: u64) -> Result<Vec<u8>> {
    let context = || format!("reading the module {}", path.display());
    let file = std::fs::File::open(path).with_context(context)?;
    let metadata = file.metadata().with_context(context)?;
    if !metadata.is_file() {
        bail!("the module {} is not a regular file", path.display());
    }
    let mut wasm = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut wasm)
        .with_context(context)?;
    if wasm.len() as u64 > limit {
        bail!(
            "the module {} is over the engine's {limit}-byte module limit",
            path.display()
        );
    }
    Ok(wasm)
}
