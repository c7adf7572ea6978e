//! Compile bombs: small modules that make Cranelift work for a long time or take a lot of
//! memory, written by `cargo xtask guests` beside the guests as `bomb_*.wasm` (made here,
//! not committed: the largest is 4 MB). Binary wasm, so no test depends on a text
//! parser's limits.

/// LEB128 of `n`, as wasm encodes sizes and counts.
fn leb(mut n: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn section(id: u8, body: &[u8], out: &mut Vec<u8>) {
    out.push(id);
    leb(body.len() as u64, out);
    out.extend_from_slice(body);
}

/// A module of `bodies.len()` functions of type `() -> ()`, each with the given body
/// (its locals declaration, instructions and `end`), exporting the first as `_start`.
fn module(bodies: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"\0asm\x01\0\0\0".to_vec();
    section(1, &[1, 0x60, 0, 0], &mut out);
    let mut functions = Vec::new();
    leb(bodies.len() as u64, &mut functions);
    functions.resize(functions.len() + bodies.len(), 0);
    section(3, &functions, &mut out);
    section(
        7,
        &[1, 6, b'_', b's', b't', b'a', b'r', b't', 0, 0],
        &mut out,
    );
    let mut code = Vec::new();
    leb(bodies.len() as u64, &mut code);
    for body in bodies {
        leb(body.len() as u64, &mut code);
        code.extend_from_slice(body);
    }
    section(10, &code, &mut out);
    out
}

/// The opcodes of `loop` and `block`.
const LOOP: u8 = 0x03;
const BLOCK: u8 = 0x02;

/// One function of `depth` nested `opcode`s (`loop` or `block`, of empty type), each
/// closed by an `end`: 3 bytes per level.
fn nested(opcode: u8, depth: usize) -> Vec<u8> {
    let mut body = vec![0];
    for _ in 0..depth {
        body.extend_from_slice(&[opcode, 0x40]);
    }
    body.resize(body.len() + depth + 1, 0x0b);
    module(&[body])
}

/// `count` empty functions (a million is wasmparser's limit): memory grows with each.
pub(crate) fn many_functions(count: usize) -> Vec<u8> {
    module(&vec![vec![0, 0x0b]; count])
}

/// The bombs, by the name tests and conformance cases know them (`bomb_NAME.wasm`).
pub(crate) fn all() -> [(&'static str, Vec<u8>); 3] {
    [
        // 300 KB: Cranelift's time grows faster than the nesting.
        ("bomb_nested_loops", nested(LOOP, 100_000)),
        ("bomb_nested_blocks", nested(BLOCK, 15_000)),
        ("bomb_million_functions", many_functions(1_000_000)),
    ]
}

/// Writes every bomb into `dir` (unchanged files are not rewritten); how many.
pub(crate) fn write(dir: &std::path::Path) -> std::io::Result<usize> {
    let bombs = all();
    for (name, bytes) in &bombs {
        let path = dir.join(format!("{name}.wasm"));
        if std::fs::read(&path).ok().as_deref() != Some(bytes.as_slice()) {
            std::fs::write(&path, bytes)?;
        }
    }
    Ok(bombs.len())
}
