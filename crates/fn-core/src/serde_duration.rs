//! Durations in serde as whole milliseconds or microseconds, the units records and
//! config files use.

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
                Ok(Duration::$from(u64::deserialize(d)?))
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
