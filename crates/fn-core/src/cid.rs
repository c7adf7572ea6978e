//! Content identifiers of WebAssembly modules.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Error;

/// Multicodec code of the `raw` codec: the CID addresses the exact bytes.
const RAW_CODEC: u64 = 0x55;
/// Multihash code of sha2-256.
const SHA2_256: u64 = 0x12;

type Inner = cid::CidGeneric<64>;

/// The content address of a module: CIDv1, `raw` codec, sha2-256 multihash, shown in
/// lower-case base32 (`bafkrei…`).
///
/// A `Cid` can only hold that one shape: parsing rejects other versions, codecs and hash
/// functions with an error naming what was found, so two equal modules always have equal
/// `Cid`s and equal strings.
///
/// ```
/// use fn_core::Cid;
///
/// let cid = Cid::of(b"hello");
/// assert!(cid.to_string().starts_with("bafkrei"));
/// assert_eq!(cid.to_string().parse::<Cid>().unwrap(), cid);
/// assert!(cid.verify(b"hello").is_ok());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cid {
    digest: [u8; 32],
}

impl Cid {
    /// The CID of `bytes`: the sha2-256 digest of exactly these bytes.
    pub fn of(bytes: &[u8]) -> Cid {
        Cid {
            digest: Sha256::digest(bytes).into(),
        }
    }

    /// The sha2-256 digest this CID carries.
    pub fn digest(&self) -> &[u8; 32] {
        &self.digest
    }

    /// Checks that `bytes` are the content this CID addresses.
    ///
    /// # Errors
    ///
    /// [`Error::Integrity`] with both CIDs when the bytes hash to another CID.
    pub fn verify(&self, bytes: &[u8]) -> Result<(), Error> {
        let actual = Cid::of(bytes);
        if actual == *self {
            Ok(())
        } else {
            Err(Error::Integrity {
                expected: *self,
                actual,
            })
        }
    }

    /// The `cid` crate's value: the reference the tests check `Display` against.
    #[cfg(test)]
    fn to_inner(self) -> Inner {
        let hash = cid::multihash::Multihash::<64>::wrap(SHA2_256, &self.digest)
            .expect("a 32-byte digest fits a 64-byte multihash");
        Inner::new_v1(RAW_CODEC, hash)
    }
}

impl fmt::Display for Cid {
    /// The CIDv1 in base32 lower case (multibase `b`), as the `cid` crate writes it:
    /// encoded here directly, on the stack, because records and spans write a CID per
    /// invocation and the generic path allocates and costs thousands of instructions
    /// (the tests check both agree).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
        // Version 1, raw codec, sha2-256 multihash of 32 bytes, then the digest.
        let mut bytes = [0u8; 36];
        bytes[..4].copy_from_slice(&[0x01, RAW_CODEC as u8, SHA2_256 as u8, 32]);
        bytes[4..].copy_from_slice(&self.digest);
        let mut text = [0u8; 1 + (36usize * 8).div_ceil(5)];
        text[0] = b'b';
        // Five bytes are eight characters: seven groups, then the last byte's two.
        for (group, chunk) in bytes.chunks(5).enumerate() {
            let mut value = 0u64;
            for (i, byte) in chunk.iter().enumerate() {
                value |= u64::from(*byte) << (32 - 8 * i);
            }
            let chars = (chunk.len() * 8).div_ceil(5);
            for (i, slot) in text[1 + group * 8..][..chars].iter_mut().enumerate() {
                *slot = ALPHABET[((value >> (35 - 5 * i)) & 31) as usize];
            }
        }
        f.write_str(std::str::from_utf8(&text).expect("the alphabet is ASCII"))
    }
}

impl fmt::Debug for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cid({self})")
    }
}

impl FromStr for Cid {
    type Err = Error;

    fn from_str(s: &str) -> Result<Cid, Error> {
        let invalid = |reason: String| Error::Validation {
            field: "cid".into(),
            reason,
        };
        let inner = Inner::try_from(s).map_err(|e| invalid(format!("`{s}` is not a CID: {e}")))?;
        if inner.version() != cid::Version::V1 {
            return Err(invalid(format!("`{s}` is a CIDv0; only CIDv1 is accepted")));
        }
        if inner.codec() != RAW_CODEC {
            return Err(invalid(format!(
                "`{s}` uses codec 0x{:x}; only raw (0x55) is accepted",
                inner.codec()
            )));
        }
        let hash = inner.hash();
        if hash.code() != SHA2_256 || hash.size() != 32 {
            return Err(invalid(format!(
                "`{s}` uses multihash 0x{:x} of {} bytes; only sha2-256 is accepted",
                hash.code(),
                hash.size()
            )));
        }
        let digest = hash.digest().try_into().expect("size checked above");
        let cid = Cid { digest };
        // Only the canonical spelling is accepted, so that one module has one string.
        if cid.to_string() != s {
            return Err(invalid(format!(
                "`{s}` is not in canonical base32 lower-case form; use `{cid}`"
            )));
        }
        Ok(cid)
    }
}

impl Serialize for Cid {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cid {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Cid, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
