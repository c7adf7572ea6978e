//! A function's version in serde: a number, and on input also the string of digits
//! that records and definitions kept before versions were numbers (`"3"`) hold, so a
//! store written by an older `fnd` still reads.

use serde::{Deserialize, Deserializer};

#[derive(Deserialize)]
#[serde(untagged)]
enum Either {
    Number(u32),
    Text(String),
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    match Either::deserialize(d)? {
        Either::Number(n) => Ok(n),
        Either::Text(text) => text.parse().map_err(|_| {
            serde::de::Error::custom(format!(
                "a version is a number, not `{}`",
                text.escape_debug()
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize)]
    struct Kept {
        #[serde(deserialize_with = "super::deserialize")]
        version: u32,
    }

    #[test]
    fn numbers_and_the_old_strings_of_digits_read_and_nothing_else() {
        let read = |json: &str| serde_json::from_str::<Kept>(json).map(|k| k.version);
        assert_eq!(read(r#"{"version": 3}"#).unwrap(), 3);
        assert_eq!(read(r#"{"version": "12"}"#).unwrap(), 12);
        let error = read(r#"{"version": "1.4.2"}"#).unwrap_err().to_string();
        assert!(
            error.contains("data did not match") || error.contains("1.4.2"),
            "{error}"
        );
        assert!(read(r#"{"version": -1}"#).is_err());
    }
}
