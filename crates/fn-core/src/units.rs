//! Durations and sizes as people write them: `"300ms"`, `"2s"`, `"1m30s"`; `"64MiB"`,
//! `"1.5 GiB"`, `"512KB"`. A config file, `fnd`'s flags and the API's JSON (which also
//! takes plain numbers in each field's unit) read them here, so every place spells
//! them the same way.
//!
//! Durations are humantime's (`ms`, `s`, `m`, `h`, `d`, and more, combined); sizes are
//! bytesize's (`B`, `KiB`/`MiB`/`GiB` are powers of 1024, `KB`/`MB`/`GB` of 1000).

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// `text` as a duration. A number needs its unit: `"300"` is refused, `"300ms"` is not.
///
/// # Errors
///
/// What is wrong, quoting `text`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        format!(
            "`{}` is not a duration ({e}): write it with a unit, as 300ms, 2s or 1m",
            text.escape_debug()
        )
    })
}

/// `text` as a number of bytes. A bare number is bytes.
///
/// # Errors
///
/// What is wrong, quoting `text`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|e| {
            format!(
                "`{}` is not a size ({e}): write it as 64MiB, 512KiB or 1GiB",
                text.escape_debug()
            )
        })
}

/// A duration in serde, for a field of a program's own configuration: a number of
/// milliseconds, or text with a unit (`"30s"`), as the engine's config reads its own.
///
/// # Errors
///
/// The deserializer's, naming what is not a duration.
pub fn deserialize_millis<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    crate::serde_duration::millis::deserialize(d)
}

/// A size in serde: a number of bytes, or on input also text with a unit (`"64MiB"`).
pub(crate) mod size {
    use super::*;

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        Number(u64),
        Text(String),
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        match Given::deserialize(d)? {
            Given::Number(n) => Ok(n),
            Given::Text(text) => parse_size(&text).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_unit_and_combine() {
        assert_eq!(parse_duration("300ms").unwrap(), Duration::from_millis(300));
        assert_eq!(parse_duration(" 2s ").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        let error = parse_duration("300").unwrap_err();
        assert!(error.contains("`300`") && error.contains("unit"), "{error}");
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn sizes_take_binary_and_decimal_units() {
        assert_eq!(parse_size("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_size("1.5 GiB").unwrap(), 3 << 29);
        assert_eq!(parse_size("512KB").unwrap(), 512_000);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        let error = parse_size("lots").unwrap_err();
        assert!(error.contains("`lots`"), "{error}");
    }

    #[test]
    fn config_values_read_as_numbers_or_text() {
        #[derive(Debug, Deserialize)]
        struct Both {
            #[serde(deserialize_with = "size::deserialize")]
            size: u64,
            #[serde(with = "crate::serde_duration::millis")]
            wait: Duration,
        }
        let text: Both = serde_json::from_str(r#"{"size": "2MiB", "wait": "1s"}"#).unwrap();
        assert_eq!((text.size, text.wait), (2 << 20, Duration::from_secs(1)));
        let numbers: Both = serde_json::from_str(r#"{"size": 7, "wait": 250}"#).unwrap();
        assert_eq!(
            (numbers.size, numbers.wait),
            (7, Duration::from_millis(250))
        );
        let bad = serde_json::from_str::<Both>(r#"{"size": 1, "wait": "3 fortnights"}"#);
        assert!(bad.unwrap_err().to_string().contains("3 fortnights"));
    }
}
