use super::*;

#[test]
fn known_vector() {
    // `ipfs add --cid-version 1 --raw-leaves` of "hello world\n" (a raw leaf is the bytes).
    let cid = Cid::of(b"hello world\n");
    assert_eq!(
        cid.to_string(),
        "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"
    );
}

#[test]
fn round_trips_and_verifies() {
    let cid = Cid::of(b"\0asm");
    let parsed: Cid = cid.to_string().parse().unwrap();
    assert_eq!(parsed, cid);
    cid.verify(b"\0asm").unwrap();
    match cid.verify(b"other") {
        Err(Error::Integrity { expected, actual }) => {
            assert_eq!(expected, cid);
            assert_eq!(actual, Cid::of(b"other"));
        }
        other => panic!("expected an integrity error, got {other:?}"),
    }
}

#[test]
fn rejects_other_shapes_with_reasons() {
    let cases = [
        ("", "not a CID"),
        ("bafy", "not a CID"),
        // CIDv0 (dag-pb, base58).
        ("QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", "CIDv0"),
        // CIDv1 dag-pb.
        (
            "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
            "codec 0x70",
        ),
    ];
    for (input, needle) in cases {
        match input.parse::<Cid>() {
            Err(Error::Validation { field, reason }) => {
                assert_eq!(field, "cid");
                assert!(reason.contains(needle), "{input}: {reason}");
            }
            other => panic!("{input}: expected a validation error, got {other:?}"),
        }
    }
}

#[test]
fn rejects_non_canonical_spelling() {
    let upper = Cid::of(b"x").to_string().to_uppercase();
    assert!(upper.parse::<Cid>().is_err());
}

#[test]
fn serde_as_string() {
    let cid = Cid::of(b"x");
    let json = serde_json::to_string(&cid).unwrap();
    assert_eq!(json, format!("\"{cid}\""));
    assert_eq!(serde_json::from_str::<Cid>(&json).unwrap(), cid);
    assert!(serde_json::from_str::<Cid>("\"nope\"").is_err());
}

#[test]
fn display_writes_what_the_cid_crate_writes() {
    // The crate is the reference; the direct encoder must agree on every digest.
    for n in 0u32..2000 {
        let cid = Cid::of(&n.to_le_bytes());
        assert_eq!(cid.to_string(), cid.to_inner().to_string(), "input {n}");
    }
    let ones = Cid { digest: [0xff; 32] };
    assert_eq!(ones.to_string(), ones.to_inner().to_string());
    let zeros = Cid { digest: [0; 32] };
    assert_eq!(zeros.to_string(), zeros.to_inner().to_string());
}
