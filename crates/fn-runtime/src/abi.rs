//! The ABIs a function can speak, detected at compile time: a core module's two from its
//! exports here (`call.rs` beside it calls a module through them), a component's in
//! `component.rs`.
//!
//! docs/abi.md is the guest author's view of this file; keep the two in step.

pub(crate) mod call;

use std::ops::Range;

use wasmtime::{ExternType, FuncType, Module, ModuleExport, ValType};

/// How the engine talks to a module, decided once when it is compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Abi {
    /// A WASI command exporting `_start`: input on stdin, output on stdout, log on stderr.
    WasiCommand,
    /// `handle(ptr: i32, len: i32) -> i64` over the exported `memory`, with optional
    /// `malloc(size: i32) -> i32` (needed for non-empty input), `free` and `_initialize`.
    Handle {
        /// Whether the module exports `malloc`.
        has_malloc: bool,
        /// Whether the module exports `_initialize` (a WASI reactor), run first.
        has_initialize: bool,
    },
    /// A WASI preview 2 component exporting `wasi:cli/run@0.2.x`: the same contract as
    /// [`Abi::WasiCommand`] (input on stdin, output on stdout, log on stderr).
    ComponentCommand,
    /// A WASI preview 2 component exporting `wasi:http/incoming-handler@0.2.x`: it is
    /// given an HTTP request and answers a response, both streamed
    /// ([`Runtime::serve_http`](crate::Runtime::serve_http)).
    ComponentHttp,
}

impl Abi {
    /// Whether the input goes on stdin (a command) rather than into memory.
    pub(crate) fn reads_stdin(self) -> bool {
        matches!(self, Abi::WasiCommand | Abi::ComponentCommand)
    }

    /// Whether it is a component's (several core instances linked together, with their
    /// tables) rather than a core module's.
    pub(crate) fn is_component(self) -> bool {
        matches!(self, Abi::ComponentCommand | Abi::ComponentHttp)
    }

    /// Whether the function serves HTTP requests rather than taking an input.
    pub fn serves_http(self) -> bool {
        self == Abi::ComponentHttp
    }
}

/// The exports an invocation needs, looked up once per module so that each call finds
/// them by index instead of by name.
#[derive(Clone)]
pub(crate) enum Entry {
    Command {
        start: ModuleExport,
    },
    Handle {
        handle: ModuleExport,
        memory: ModuleExport,
        malloc: Option<ModuleExport>,
        initialize: Option<ModuleExport>,
    },
}

/// Detects the module's ABI and checks the signatures of the exports it relies on.
///
/// # Errors
///
/// A message (the caller wraps it in `Error::Deploy`) naming the export that is
/// missing or has the wrong type.
pub(crate) fn detect(module: &Module) -> Result<(Abi, Entry), String> {
    let func = |name: &str| -> Option<FuncType> {
        match module.get_export(name)? {
            ExternType::Func(ty) => Some(ty),
            _ => None,
        }
    };
    let index = |name: &str| {
        module
            .get_export_index(name)
            .expect("the export was just found by name")
    };
    if module.get_export("_start").is_some() && module.get_export("handle").is_some() {
        // Which one would run is a guess the author did not make: refuse rather than
        // silently run one of them.
        return Err(
            "module exports both `_start` (WASI command ABI) and `handle` (handle ABI); \
             a module speaks exactly one: remove one of the two exports"
                .to_string(),
        );
    }
    if module.get_export("_start").is_some() {
        let ty = func("_start").ok_or("export `_start` is not a function")?;
        check_signature("_start", &ty, &[], &[])?;
        return Ok((
            Abi::WasiCommand,
            Entry::Command {
                start: index("_start"),
            },
        ));
    }
    let Some(handle_export) = module.get_export("handle") else {
        return Err(
            "module exports neither `_start` (WASI command ABI) nor `handle` (handle ABI)"
                .to_string(),
        );
    };
    let ExternType::Func(handle_ty) = handle_export else {
        return Err("export `handle` is not a function".to_string());
    };
    check_signature(
        "handle",
        &handle_ty,
        &[ValType::I32, ValType::I32],
        &[ValType::I64],
    )?;
    match module.get_export("memory") {
        Some(ExternType::Memory(ty)) if !ty.is_64() && !ty.is_shared() => {}
        Some(ExternType::Memory(_)) => {
            return Err("export `memory` must be a plain 32-bit memory".to_string());
        }
        _ => return Err("the handle ABI needs an exported memory named `memory`".to_string()),
    }
    let malloc = match func("malloc") {
        Some(ty) => {
            check_signature("malloc", &ty, &[ValType::I32], &[ValType::I32])?;
            Some(index("malloc"))
        }
        None if module.get_export("malloc").is_some() => {
            return Err("export `malloc` is not a function".to_string());
        }
        None => None,
    };
    if let Some(ty) = func("free") {
        check_signature("free", &ty, &[ValType::I32], &[])?;
    }
    let initialize = match func("_initialize") {
        Some(ty) => {
            check_signature("_initialize", &ty, &[], &[])?;
            Some(index("_initialize"))
        }
        None => None,
    };
    Ok((
        Abi::Handle {
            has_malloc: malloc.is_some(),
            has_initialize: initialize.is_some(),
        },
        Entry::Handle {
            handle: index("handle"),
            memory: index("memory"),
            malloc,
            initialize,
        },
    ))
}

fn check_signature(
    name: &str,
    ty: &FuncType,
    params: &[ValType],
    results: &[ValType],
) -> Result<(), String> {
    let same = |got: &mut dyn ExactSizeIterator<Item = ValType>, want: &[ValType]| {
        got.len() == want.len() && got.zip(want).all(|(g, w)| ValType::eq(&g, w))
    };
    if same(&mut ty.params(), params) && same(&mut ty.results(), results) {
        return Ok(());
    }
    Err(format!(
        "export `{name}` has type {} but the ABI needs {}",
        show(ty.params(), ty.results()),
        show(params.iter().cloned(), results.iter().cloned())
    ))
}

fn show(params: impl Iterator<Item = ValType>, results: impl Iterator<Item = ValType>) -> String {
    let join = |it: &mut dyn Iterator<Item = ValType>| {
        it.map(|t| t.to_string()).collect::<Vec<_>>().join(", ")
    };
    format!(
        "({}) -> ({})",
        join(&mut { params }),
        join(&mut { results })
    )
}

/// Splits `handle`'s packed result into `(ptr, len)`: `len << 32 | ptr`.
pub(crate) fn unpack_result(packed: i64) -> (u32, u32) {
    let bits = packed as u64;
    (bits as u32, (bits >> 32) as u32)
}

/// The byte range `ptr..ptr + len` if it lies inside a memory of `memory_size` bytes.
///
/// # Errors
///
/// The reason (for an `Error::Abi`), naming `what` (e.g. "the handle result"), when the
/// range is out of bounds.
pub(crate) fn guest_range(
    what: &str,
    ptr: u32,
    len: u32,
    memory_size: usize,
) -> Result<Range<usize>, String> {
    let start = ptr as usize;
    match start.checked_add(len as usize) {
        Some(end) if end <= memory_size => Ok(start..end),
        _ => Err(format!(
            "{what} at {ptr:#x} of {len} bytes lies outside the guest's {memory_size}-byte memory"
        )),
    }
}

#[cfg(test)]
mod tests;
