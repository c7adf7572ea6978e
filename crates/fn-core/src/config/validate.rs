//! [`Config::validate`]: each group of fields (deadlines, caches, compiles, instances)
//! checked by a function of its own.

use std::time::Duration;

use super::{Config, MEMORY_CEILING_BYTES};
use crate::{Error, Result};

impl Config {
    /// Checks every field and the ones that depend on each other.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] naming the first field that is wrong.
    pub fn validate(&self) -> Result<()> {
        self.validate_times()?;
        self.validate_caches()?;
        self.validate_compiles()?;
        self.validate_instances()?;
        if self.pooling.enabled {
            nonzero("pooling.slots", self.pooling.slots.into())?;
            if self.pooling.slots > 10_000 {
                return Err(Error::validation("pooling.slots", "must be at most 10000"));
            }
        }
        self.admission
            .validate(self.pooling.enabled.then_some(self.pooling.slots))?;
        if let Some(root) = self
            .preopen_roots
            .iter()
            .find(|root| !crate::function::is_plain_absolute(root))
        {
            return Err(Error::validation(
                "preopen_roots",
                format!(
                    "`{}` must be an absolute path without `.` or `..`",
                    root.display()
                ),
            ));
        }
        Ok(())
    }

    /// The deadlines and the epoch tick that enforces them.
    fn validate_times(&self) -> Result<()> {
        nonzero_duration("max_timeout", self.max_timeout)?;
        at_most_a_day("max_timeout", self.max_timeout)?;
        nonzero_duration("compile_timeout", self.compile_timeout)?;
        at_most_a_day(
            "compile_timeout_retry_after",
            self.compile_timeout_retry_after,
        )?;
        if self.epoch_tick < Duration::from_micros(100) || self.epoch_tick > Duration::from_secs(1)
        {
            return Err(Error::validation(
                "epoch_tick",
                "must be between 100 µs and 1 s",
            ));
        }
        if self.epoch_tick > self.max_timeout {
            return Err(Error::validation(
                "epoch_tick",
                "must not be longer than max_timeout",
            ));
        }
        Ok(())
    }

    /// The module cache's tiers.
    fn validate_caches(&self) -> Result<()> {
        nonzero(
            "module_cache_capacity_bytes",
            self.module_cache_capacity_bytes,
        )?;
        nonzero(
            "artifact_cache_capacity_bytes",
            self.artifact_cache_capacity_bytes,
        )?;
        if self
            .artifact_cache_dir
            .as_ref()
            .is_some_and(|dir| dir.as_os_str().is_empty())
        {
            return Err(Error::validation(
                "artifact_cache_dir",
                "must not be empty when set",
            ));
        }
        Ok(())
    }

    /// What a module may be, and the compiles that check it.
    fn validate_compiles(&self) -> Result<()> {
        nonzero("max_module_bytes", self.max_module_bytes)?;
        nonzero(
            "max_concurrent_compiles",
            self.max_concurrent_compiles as u64,
        )?;
        if self.compile_memory_limit_bytes < 256 << 20 {
            return Err(Error::validation(
                "compile_memory_limit_bytes",
                "must be at least 256 MiB",
            ));
        }
        if self
            .compile_worker
            .as_ref()
            .is_some_and(|worker| worker.program.as_os_str().is_empty())
        {
            return Err(Error::validation(
                "compile_worker.program",
                "must not be empty",
            ));
        }
        Ok(())
    }

    /// What one instance may use: memory, stack, fuel, output, WASI resources.
    fn validate_instances(&self) -> Result<()> {
        nonzero("max_memory_bytes", self.max_memory_bytes)?;
        if self.max_memory_bytes > MEMORY_CEILING_BYTES {
            return Err(Error::validation(
                "max_memory_bytes",
                format!(
                    "{} is over the 4 GiB a wasm32 memory can address",
                    self.max_memory_bytes
                ),
            ));
        }
        nonzero("max_output_bytes", self.max_output_bytes)?;
        nonzero("max_log_bytes", self.max_log_bytes)?;
        nonzero("max_instances", self.max_instances.into())?;
        nonzero("max_memories", self.max_memories.into())?;
        nonzero(
            "max_component_instances",
            self.max_component_instances.into(),
        )?;
        nonzero("max_component_tables", self.max_component_tables.into())?;
        // Each pool slot reserves this many core instances and tables.
        at_most(
            "max_component_instances",
            self.max_component_instances,
            1_000,
        )?;
        at_most("max_component_tables", self.max_component_tables, 1_000)?;
        nonzero("max_outbound_requests", self.max_outbound_requests.into())?;
        at_most("max_outbound_requests", self.max_outbound_requests, 10_000)?;
        nonzero("max_wasm_stack_bytes", self.max_wasm_stack_bytes)?;
        if self.max_wasm_stack_bytes > 64 << 20 {
            return Err(Error::validation(
                "max_wasm_stack_bytes",
                "must be at most 64 MiB",
            ));
        }
        if self.fuel == Some(0) {
            return Err(Error::validation(
                "fuel",
                "must be greater than zero when set",
            ));
        }
        nonzero("max_wasi_resources", self.max_wasi_resources)?;
        nonzero("max_hostcall_bytes", self.max_hostcall_bytes)
    }
}

fn nonzero(field: &str, value: u64) -> Result<()> {
    if value == 0 {
        Err(Error::validation(field, "must be greater than zero"))
    } else {
        Ok(())
    }
}

fn at_most(field: &str, value: u32, max: u32) -> Result<()> {
    if value > max {
        Err(Error::validation(field, format!("must be at most {max}")))
    } else {
        Ok(())
    }
}

fn nonzero_duration(field: &str, value: Duration) -> Result<()> {
    if value.is_zero() {
        Err(Error::validation(field, "must be greater than zero"))
    } else {
        Ok(())
    }
}

fn at_most_a_day(field: &str, value: Duration) -> Result<()> {
    if value > Duration::from_secs(24 * 60 * 60) {
        Err(Error::validation(field, "must be at most 24 h"))
    } else {
        Ok(())
    }
}
