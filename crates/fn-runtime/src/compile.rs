//! Compiling a module: Cranelift on a blocking thread, the checks that make a module this
//! engine can run (an ABI, imports it provides, memories and tables within the config),
//! and the memory of compiles that failed.
//!
//! Why a memory of failures: a module that does not compile never will, and compiling is
//! the most expensive thing a caller can make the engine do; a hostile or broken module
//! must cost one compile, not one per call. A compile that timed out depends on the
//! machine's load, so it is refused only for `compile_timeout_retry_after`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use fn_core::{Cid, Config, Error, Result};
use wasmtime::{Engine, Linker, Module};

use crate::abi;
use crate::runtime::CompiledModule;
use crate::store::StoreState;

/// How many failed compiles are remembered at most; past it, expired entries go first,
/// then any one (which costs one more compile of that module, if it comes back).
const MAX_REMEMBERED_FAILURES: usize = 4096;
/// Bytes of a module shown when it is neither wasm nor text.
const SHOWN_PREFIX_BYTES: usize = 8;

/// Compiles `bytes` with `engine`, detects the ABI and resolves imports with `linker`.
pub(crate) fn compile_blocking(
    engine: &Engine,
    linker: &Linker<StoreState>,
    config: &Config,
    cid: Cid,
    bytes: &[u8],
) -> Result<CompiledModule> {
    let deploy = |message: String| Error::Deploy { cid, message };
    let module = Module::new(engine, bytes).map_err(|e| {
        if bytes.starts_with(b"\0asm") || looks_like_text(bytes) {
            deploy(format!("{e:?}"))
        } else {
            // wasmtime read it as the text format, and its complaint would quote the
            // bytes (raw, whatever they are); name the first few instead.
            deploy(format!(
                "not a wasm binary (it begins with the bytes {}, not the `\\0asm` magic) \
                 and not WebAssembly text either",
                hex_prefix(bytes)
            ))
        }
    })?;
    check_resources(&module, config).map_err(deploy)?;
    let (abi, entry) = abi::detect(&module).map_err(deploy)?;
    let pre = linker
        .instantiate_pre(&module)
        .map_err(|e| deploy(format!("{e:#}")))?;
    let image = module.image_range();
    let size_bytes = (image.end as usize - image.start as usize) as u64;
    Ok(CompiledModule {
        cid,
        abi,
        entry,
        pre,
        size_bytes,
    })
}

/// Refuses a module whose declared memories or tables can never fit the config, so that
/// it is a deploy error whatever the allocator (the pool refuses such a module when it
/// is compiled; on-demand allocation would only fail at its first call).
fn check_resources(module: &Module, config: &Config) -> Result<(), String> {
    let needs = module.resources_required();
    if needs.num_memories > config.max_memories {
        return Err(format!(
            "the module defines {} memories, more than the engine's max_memories ({})",
            needs.num_memories, config.max_memories
        ));
    }
    if let Some(pages) = needs.max_initial_memory_size {
        let bytes = pages.saturating_mul(64 << 10);
        if bytes > config.max_memory_bytes {
            return Err(format!(
                "the module's memory starts at {pages} pages ({bytes} bytes), over the \
                 engine's max_memory_bytes ({})",
                config.max_memory_bytes
            ));
        }
    }
    if needs.num_tables > config.max_tables {
        return Err(format!(
            "the module defines {} tables, more than the engine's max_tables ({})",
            needs.num_tables, config.max_tables
        ));
    }
    if let Some(elements) = needs.max_initial_table_size
        && elements > config.max_table_elements
    {
        return Err(format!(
            "the module's table starts at {elements} elements, over the engine's \
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

/// The compiles that failed, by CID.
#[derive(Debug)]
pub(crate) struct FailedCompiles {
    entries: Mutex<HashMap<Cid, Failed>>,
    retry_after: Duration,
    limit: Duration,
}

#[derive(Debug, Clone)]
enum Failed {
    /// It does not compile or link: refused for good.
    Deploy(String),
    /// It took longer than the compile timeout: refused until then.
    Timeout { until: Instant },
}

impl FailedCompiles {
    /// Remembers timeouts for `retry_after`; `limit` is the compile timeout they report.
    pub(crate) fn new(retry_after: Duration, limit: Duration) -> FailedCompiles {
        FailedCompiles {
            entries: Mutex::default(),
            retry_after,
            limit,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Cid, Failed>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The error `cid` failed with, if it is still refused at `now`.
    pub(crate) fn get(&self, cid: &Cid, now: Instant) -> Option<Error> {
        let mut entries = self.lock();
        match entries.get(cid)? {
            Failed::Deploy(message) => Some(Error::Deploy {
                cid: *cid,
                message: message.clone(),
            }),
            Failed::Timeout { until } if now < *until => Some(Error::CompileTimeout {
                cid: *cid,
                limit: self.limit,
            }),
            Failed::Timeout { .. } => {
                entries.remove(cid);
                None
            }
        }
    }

    /// Remembers `error` for `cid` if it is a failure worth remembering: a deploy error
    /// for good, a compile timeout until `now + retry_after`.
    pub(crate) fn remember(&self, cid: Cid, error: &Error, now: Instant) {
        let failed = match error {
            Error::Deploy { message, .. } => Failed::Deploy(message.clone()),
            Error::CompileTimeout { .. } if !self.retry_after.is_zero() => Failed::Timeout {
                until: now + self.retry_after,
            },
            _ => return,
        };
        let mut entries = self.lock();
        if entries.len() >= MAX_REMEMBERED_FAILURES && !entries.contains_key(&cid) {
            entries.retain(|_, f| !matches!(f, Failed::Timeout { until } if *until <= now));
            if entries.len() >= MAX_REMEMBERED_FAILURES
                && let Some(victim) = entries.keys().next().copied()
            {
                entries.remove(&victim);
            }
        }
        entries.insert(cid, failed);
    }

    /// Forgets `cid`'s failure, so its next compile tries again.
    pub(crate) fn forget(&self, cid: &Cid) {
        self.lock().remove(cid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn a_module_that_does_not_compile_is_refused_for_good() {
        let failed = FailedCompiles::new(MINUTE, MINUTE);
        let cid = Cid::of(b"bad");
        let now = Instant::now();
        let error = Error::Deploy {
            cid,
            message: "unknown import".into(),
        };
        failed.remember(cid, &error, now);
        let later = now + Duration::from_secs(365 * 24 * 3600);
        match failed.get(&cid, later) {
            Some(Error::Deploy { message, .. }) => assert_eq!(message, "unknown import"),
            other => panic!("{other:?}"),
        }
        failed.forget(&cid);
        assert!(failed.get(&cid, later).is_none());
    }

    #[test]
    fn a_compile_timeout_is_refused_only_for_retry_after() {
        let failed = FailedCompiles::new(MINUTE, Duration::from_secs(30));
        let cid = Cid::of(b"slow");
        let now = Instant::now();
        failed.remember(
            cid,
            &Error::CompileTimeout {
                cid,
                limit: Duration::from_secs(30),
            },
            now,
        );
        assert!(matches!(
            failed.get(&cid, now + MINUTE - Duration::from_millis(1)),
            Some(Error::CompileTimeout { .. })
        ));
        assert!(failed.get(&cid, now + MINUTE).is_none(), "expired");
        assert!(
            failed.get(&cid, now).is_none(),
            "and forgotten once expired"
        );
    }

    #[test]
    fn zero_retry_after_remembers_no_timeout_and_other_errors_are_not_remembered() {
        let failed = FailedCompiles::new(Duration::ZERO, MINUTE);
        let cid = Cid::of(b"slow");
        let now = Instant::now();
        failed.remember(cid, &Error::CompileTimeout { cid, limit: MINUTE }, now);
        failed.remember(
            cid,
            &Error::Unavailable {
                reason: "no compile slot".into(),
            },
            now,
        );
        assert!(failed.get(&cid, now).is_none());
    }

    #[test]
    fn the_memory_is_bounded() {
        let failed = FailedCompiles::new(MINUTE, MINUTE);
        let now = Instant::now();
        for i in 0..MAX_REMEMBERED_FAILURES + 10 {
            let cid = Cid::of(&i.to_le_bytes());
            let error = Error::Deploy {
                cid,
                message: String::new(),
            };
            failed.remember(cid, &error, now);
        }
        assert_eq!(failed.lock().len(), MAX_REMEMBERED_FAILURES);
    }

    #[test]
    fn non_wasm_bytes_are_named_in_hex_not_echoed() {
        assert_eq!(hex_prefix(b"\x1b[2J"), "1b 5b 32 4a");
        assert_eq!(hex_prefix(&[0x7f; 9]), "7f 7f 7f 7f 7f 7f 7f 7f …");
    }
}
