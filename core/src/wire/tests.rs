use super::*;

fn sample() -> Statement {
    Statement {
        format: 1,
        origin: "example.org/pil-ledger".into(),
        author: [7; 32],
        claimed_at_ms: 1_700_000_000_000,
        nonce: [1; 16],
        case_id: "（2026）京04民初1号".into(),
        body: Body::CaseOpened { title: "t".into(), area: "ecology".into(), unit: "u".into() },
    }
}

#[test]
fn round_trip_and_layout() {
    let s = sample();
    let b = s.to_bytes();
    assert_eq!(&b[..2], &[1, 0]); // u16 LE
    assert_eq!(&b[2..10], &22u64.to_le_bytes()); // u64 length prefix
    assert_eq!(Statement::from_bytes(&b).unwrap(), s);
}

#[test]
fn trailing_bytes_rejected() {
    let mut b = sample().to_bytes();
    b.push(0);
    assert_eq!(Statement::from_bytes(&b), Err(DecodeError::TrailingBytes(1)));
}

#[test]
fn bad_option_tag_rejected() {
    let s = Statement {
        body: Body::KeyRevoked { key: [2; 32], reason: "x".into(), compromised_since_ms: None },
        ..sample()
    };
    let mut b = s.to_bytes();
    let last = b.len() - 1;
    assert_eq!(b[last], 0);
    b[last] = 2; // option tag must be 0 or 1
    assert!(Statement::from_bytes(&b).is_err());
}

#[test]
fn oversize_rejected_before_decoding() {
    let b = vec![0u8; MAX_STATEMENT_BYTES + 1];
    assert!(matches!(Statement::from_bytes(&b), Err(DecodeError::TooLarge { .. })));
}

#[test]
fn huge_length_prefix_does_not_allocate() {
    let mut b = sample().to_bytes();
    b[2..10].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(Statement::from_bytes(&b).is_err());
}

#[test]
fn header_split_matches_full_decode() {
    let s = sample();
    let b = s.to_bytes();
    let (h, body) = StatementHeader::split(&b).unwrap();
    assert_eq!(h.case_id, s.case_id);
    assert_eq!(body, &encode(&s.body)[..]);
}
