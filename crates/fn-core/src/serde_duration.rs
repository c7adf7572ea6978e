//! Durations in serde as whole milliseconds or microseconds, the units records and the
//! API use; on input also as people write them (`"500ms"`, `"1s"`, `"2m"`: a config
//! file), through [`crate::units::parse_duration`].

/// A duration given as a number (in the field's unit) or as text with a unit.
#[derive(serde::Deserialize)]
#[serde(untagged)]
pub(crate) enum Given {
    Number(u64),
    Text(String),
}

impl Given {
    pub(crate) fn duration<E: serde::de::Error>(
        self,
        unit: fn(u64) -> std::time::Duration,
    ) -> Result<std::time::Duration, E> {
        match self {
            Given::Number(n) => Ok(unit(n)),
            Given::Text(text) => crate::units::parse_duration(&text).map_err(E::custom),
        }
    }
}

macro_rules! duration_as {
    ($name:ident, $as:ident, $from:ident) => {
        pub(crate) mod $name {
            use std::time::Duration;

            use serde::{Deserialize, Deserializer, Serializer};

            pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_u64(u64::try_from(d.$as()).unwrap_or(u64::MAX))
            }

            pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
                d: D,
            ) -> Result<Duration, D::Error> {
                super::Given::deserialize(d)?.duration(Duration::$from)
            }
        }
    };
}
duration_as!(millis, as_millis, from_millis);
duration_as!(micros, as_micros, from_micros);

/// An optional duration as whole microseconds, or `null`.
pub(crate) mod option_micros {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::micros::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_micros))
    }
}
