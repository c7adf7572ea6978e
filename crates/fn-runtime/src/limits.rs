//! The per-invocation resource limiter: memory, tables and instances, with the peak
//! memory the guest reached.

use wasmtime::ResourceLimiter;

/// Limits one store's instances, and records what the guest asked for.
#[derive(Debug)]
pub(crate) struct Limits {
    pub(crate) max_memory_bytes: usize,
    pub(crate) max_table_elements: usize,
    pub(crate) max_instances: usize,
    pub(crate) max_tables: usize,
    pub(crate) max_memories: usize,
    /// The largest size any memory reached, in bytes.
    pub(crate) peak_memory_bytes: usize,
    /// Set when a memory was refused growth (or creation) past `max_memory_bytes`.
    pub(crate) memory_denied: bool,
    /// Set when a table was refused growth past `max_table_elements`.
    pub(crate) table_denied: bool,
}

impl ResourceLimiter for Limits {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Refusing (rather than trapping) keeps wasm semantics: `memory.grow` returns -1
        // and a careful guest can recover. The flag lets the runtime report a memory-limit
        // error when the guest then fails.
        if desired > self.max_memory_bytes {
            self.memory_denied = true;
            return Ok(false);
        }
        self.peak_memory_bytes = self.peak_memory_bytes.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_table_elements {
            self.table_denied = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.max_instances
    }

    fn tables(&self) -> usize {
        self.max_tables
    }

    fn memories(&self) -> usize {
        self.max_memories
    }
}
