//! Compiling a module: Cranelift on a blocking thread, and the checks that make a module
//! this engine can run (an ABI, imports it provides, memories and tables within the
//! config) — the same checks for a module loaded from a cached artifact.
//!
//! In a compile worker (`worker.rs`), only `new_wasm` runs in the child; the checks run
//! here when its artifact is loaded.
//!
//! Remembering failures is the cache's (fn-cache's negative entries): this file only
//! says what failed.

use fn_core::{Cid, Config, Error, Result};
use wasmtime::component::Component;
use wasmtime::{Engine, Module, Precompiled, ResourcesRequired};
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use crate::abi;
use crate::runtime::{Code, CompiledModule, Linkers};

/// Bytes of a module shown when it is neither wasm nor text.
const SHOWN_PREFIX_BYTES: usize = 8;

/// Compiles `bytes` with `engine`, detects the ABI and resolves imports with `linkers`.
pub(crate) fn compile_blocking(
    engine: &Engine,
    linkers: &Linkers,
    config: &Config,
    cid: Cid,
    bytes: &[u8],
) -> Result<CompiledModule> {
    let deploy = |message: String| Error::Deploy { cid, message };
    let wasm = new_wasm(engine, bytes).map_err(deploy)?;
    prepare(engine, linkers, config, cid, wasm).map_err(deploy)
}

/// What Cranelift made of some bytes: a core module or a component.
pub(crate) enum Wasm {
    Module(Module),
    Component(Component),
}

impl Wasm {
    /// The artifact: the compiled code as wasmtime serializes it.
    pub(crate) fn serialize(&self) -> wasmtime::Result<Vec<u8>> {
        match self {
            Wasm::Module(module) => module.serialize(),
            Wasm::Component(component) => component.serialize(),
        }
    }
}

/// Cranelift's run alone: `bytes` (binary or text, a module or a component) compiled, or
/// the compiler's whole message. The compile worker calls it too.
pub(crate) fn new_wasm(engine: &Engine, bytes: &[u8]) -> Result<Wasm, String> {
    if crate::component::is_component(bytes) {
        return Component::new(engine, bytes)
            .map(Wasm::Component)
            .map_err(|e| format!("{e:?}"));
    }
    new_module(engine, bytes).map(Wasm::Module)
}

fn new_module(engine: &Engine, bytes: &[u8]) -> Result<Module, String> {
    Module::new(engine, bytes).map_err(|e| {
        if bytes.starts_with(b"\0asm") || looks_like_text(bytes) {
            format!("{e:?}")
        } else {
            // wasmtime read it as the text format, and its complaint would quote the
            // bytes (raw, whatever they are); name the first few instead.
            format!(
                "not a wasm binary (it begins with the bytes {}, not the `\\0asm` magic) \
                 and not WebAssembly text either",
                hex_prefix(bytes)
            )
        }
    })
}

/// Loads a module from an artifact an earlier [`compile_blocking`] serialized, and runs
/// the same checks on it.
///
/// The bytes must be exactly what `Module::serialize` wrote under this engine: the
/// artifact tier (fn-cache's `ArtifactStore`) hands them over only after checking their
/// sha2-256 digest and the engine fingerprint stored with them.
pub(crate) fn deserialize_blocking(
    engine: &Engine,
    linkers: &Linkers,
    config: &Config,
    cid: Cid,
    bytes: &[u8],
) -> Result<CompiledModule, String> {
    // SAFETY: `Module::deserialize` maps `bytes` as machine code and trusts it. They come
    // from one of two places. The artifact tier gives out a file's payload only when its
    // sha2-256 digest, format version, engine fingerprint (wasmtime version,
    // compatibility hash) and CID all match what a `Module::serialize` of this build
    // wrote; the folder is private (0700). A compile worker's answer comes over the
    // pipes of a child this runtime started, after a handshake that proved the same
    // protocol version and engine fingerprint: the same code compiled the same bytes
    // there as would have here. wasmtime itself checks its header and engine
    // compatibility again.
    #[allow(unsafe_code, reason = "the one deserialize of a verified artifact")]
    let wasm = match Engine::detect_precompiled(bytes) {
        Some(Precompiled::Component) => {
            unsafe { Component::deserialize(engine, bytes) }.map(Wasm::Component)
        }
        _ => unsafe { Module::deserialize(engine, bytes) }.map(Wasm::Module),
    }
    .map_err(|e| format!("{e:#}"))?;
    prepare(engine, linkers, config, cid, wasm)
}

/// The checks every module and component passes, compiled or deserialized, and what
/// an invocation instantiates.
fn prepare(
    engine: &Engine,
    linkers: &Linkers,
    config: &Config,
    cid: Cid,
    wasm: Wasm,
) -> Result<CompiledModule, String> {
    let (abi, code, image) = match wasm {
        Wasm::Module(module) => {
            check_resources(
                &module.resources_required(),
                config,
                "module",
                ("max_tables", config.max_tables),
            )?;
            let (abi, entry) = abi::detect(&module)?;
            let pre = linkers
                .modules
                .instantiate_pre(&module)
                .map_err(|e| format!("{e:#}"))?;
            (abi, Code::Module { entry, pre }, module.image_range())
        }
        Wasm::Component(component) => {
            // A component that imports core modules has no fixed needs; its instances
            // still meet the store's limiter.
            if let Some(needs) = component.resources_required() {
                check_resources(
                    &needs,
                    config,
                    "component",
                    ("max_component_tables", config.max_component_tables),
                )?;
            }
            let abi = crate::component::detect(engine, &component)?;
            let code = if abi.serves_http() {
                linkers
                    .http
                    .instantiate_pre(&component)
                    .and_then(ProxyPre::new)
                    .map(Code::Http)
            } else {
                linkers
                    .components
                    .instantiate_pre(&component)
                    .and_then(CommandPre::new)
                    .map(Code::Command)
            };
            let code = code.map_err(|e| format!("{e:#}"))?;
            (abi, code, component.image_range())
        }
    };
    let size_bytes = (image.end as usize - image.start as usize) as u64;
    Ok(CompiledModule {
        cid,
        abi,
        code,
        size_bytes,
    })
}

/// Refuses a module or component whose declared memories or tables can never fit the
/// config, so that it is a deploy error whatever the allocator (the pool refuses such a
/// module when it is compiled; on-demand allocation would only fail at its first call).
fn check_resources(
    needs: &ResourcesRequired,
    config: &Config,
    what: &str,
    (tables_field, max_tables): (&str, u32),
) -> Result<(), String> {
    if needs.num_memories > config.max_memories {
        return Err(format!(
            "the {what} defines {} memories, more than the engine's max_memories ({})",
            needs.num_memories, config.max_memories
        ));
    }
    if let Some(pages) = needs.max_initial_memory_size {
        let bytes = pages.saturating_mul(64 << 10);
        if bytes > config.max_memory_bytes {
            return Err(format!(
                "the {what}'s memory starts at {pages} pages ({bytes} bytes), over the \
                 engine's max_memory_bytes ({})",
                config.max_memory_bytes
            ));
        }
    }
    if needs.num_tables > max_tables {
        return Err(format!(
            "the {what} defines {} tables, more than the engine's {tables_field} ({max_tables})",
            needs.num_tables
        ));
    }
    if let Some(elements) = needs.max_initial_table_size
        && elements > config.max_table_elements
    {
        return Err(format!(
            "the {what}'s table starts at {elements} elements, over the engine's \
             max_table_elements ({})",
            config.max_table_elements
        ));
    }
    Ok(())
}

/// Whether `bytes` look like the WebAssembly text format: UTF-8 opening with `(` or a
/// comment. Such a module's error is wasmtime's own; anything else is not a module.
fn looks_like_text(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|text| {
        let text = text.trim_start();
        text.starts_with('(') || text.starts_with(";;")
    })
}

fn hex_prefix(bytes: &[u8]) -> String {
    let mut shown = bytes
        .iter()
        .take(SHOWN_PREFIX_BYTES)
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ");
    if bytes.len() > SHOWN_PREFIX_BYTES {
        shown.push_str(" …");
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_wasm_bytes_are_named_in_hex_not_echoed() {
        assert_eq!(hex_prefix(b"\x1b[2J"), "1b 5b 32 4a");
        assert_eq!(hex_prefix(&[0x7f; 9]), "7f 7f 7f 7f 7f 7f 7f 7f …");
    }
}
