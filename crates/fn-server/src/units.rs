//! The values of `fnd`'s flags with units: `--timeout 300ms`, `--memory 32MiB`,
//! `--drain 30s`, read by fn-core's [`fn_core::units`] as the config file reads them.
//! A bare number keeps the meaning the flag had before it took units: seconds for a
//! timeout, MiB for a memory limit.

use std::time::Duration;

/// A duration with its unit (`500ms`, `30s`).
pub(crate) fn duration(text: &str) -> Result<Duration, String> {
    fn_core::units::parse_duration(text)
}

/// A timeout: a duration with its unit, or a bare number of seconds (`2.5`).
pub(crate) fn timeout(text: &str) -> Result<Duration, String> {
    match text.trim().parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds > 0.0 => {
            Duration::try_from_secs_f64(seconds).map_err(|e| format!("`{text}`: {e}"))
        }
        Ok(_) => Err(format!(
            "`{text}` is not a timeout: it must be more than zero"
        )),
        Err(_) => duration(text),
    }
}

/// A memory limit in bytes: a size with its unit (`32MiB`), or a bare number of MiB.
pub(crate) fn memory(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(mib) => mib
            .checked_mul(1 << 20)
            .ok_or_else(|| format!("`{text}` MiB is too large")),
        Err(_) => fn_core::units::parse_size(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_or_the_old_bare_numbers() {
        assert_eq!(timeout("300ms").unwrap(), Duration::from_millis(300));
        assert_eq!(timeout("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(timeout("2.5").unwrap(), Duration::from_millis(2500));
        assert!(timeout("0").is_err());
        assert!(timeout("soon").unwrap_err().contains("soon"));
        assert_eq!(memory("32MiB").unwrap(), 32 << 20);
        assert_eq!(memory("64").unwrap(), 64 << 20);
        assert!(memory("lots").unwrap_err().contains("lots"));
        assert!(duration("30").is_err(), "a duration flag needs its unit");
    }
}
