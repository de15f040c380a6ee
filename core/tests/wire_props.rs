//! Property tests for the canonical codec: every statement round-trips, and
//! any byte string the decoder accepts is canonical (re-encodes to itself)
//! and means exactly one value.

use pil_ledger_core::authority::{Role, ALL_ROLES};
use pil_ledger_core::wire::{Body, Entry, Statement};
use proptest::prelude::*;

fn role() -> impl Strategy<Value = Role> {
    (0..ALL_ROLES.len()).prop_map(|i| ALL_ROLES[i])
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![".{0,24}", "[a-z（）京0-9号]{0,12}"]
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        (text(), any::<[u8; 32]>(), any::<[u8; 32]>(), text(), text()).prop_map(
            |(origin, log_key, officer, holder, unit)| Body::Genesis { origin, log_key, officer, holder, unit }
        ),
        (any::<[u8; 32]>(), text(), text(), prop::collection::vec(role(), 0..4), any::<u64>(), any::<Option<u64>>())
            .prop_map(|(key, holder, unit, roles, valid_from_ms, valid_until_ms)| Body::KeyEnrolled {
                key,
                holder,
                unit,
                roles,
                valid_from_ms,
                valid_until_ms
            }),
        (any::<[u8; 32]>(), text(), any::<Option<u64>>())
            .prop_map(|(key, reason, compromised_since_ms)| Body::KeyRevoked { key, reason, compromised_since_ms }),
        (any::<[u8; 32]>(), text()).prop_map(|(entry_hash, capacity)| Body::Endorsed { entry_hash, capacity }),
        (any::<[u8; 32]>(), text(), text(), text()).prop_map(|(entry_hash, field, value, reason)| Body::Correction {
            entry_hash,
            field,
            value,
            reason
        }),
        (text(), text(), text()).prop_map(|(title, area, unit)| Body::CaseOpened { title, area, unit }),
    ]
}

fn statement() -> impl Strategy<Value = Statement> {
    (text(), any::<[u8; 32]>(), any::<u64>(), any::<[u8; 16]>(), text(), body()).prop_map(
        |(origin, author, claimed_at_ms, nonce, case_id, body)| Statement {
            format: 1,
            origin,
            author,
            claimed_at_ms,
            nonce,
            case_id,
            body,
        },
    )
}

proptest! {
    #[test]
    fn statement_round_trips(st in statement()) {
        let b = st.to_bytes();
        prop_assert_eq!(Statement::from_bytes(&b).unwrap(), st);
    }

    #[test]
    fn accepted_mutations_are_canonical_and_distinct(st in statement(), pos in any::<usize>(), x in 1u8..=255) {
        let b = st.to_bytes();
        let mut m = b.clone();
        let i = pos % m.len();
        m[i] ^= x;
        if let Ok(decoded) = Statement::from_bytes(&m) {
            prop_assert_eq!(decoded.to_bytes(), m);
            prop_assert_ne!(decoded, st);
        }
        // truncation and extension are always refused
        prop_assert!(Statement::from_bytes(&b[..i]).is_err());
        let mut longer = b.clone();
        longer.push(x);
        prop_assert!(Statement::from_bytes(&longer).is_err());
    }

    #[test]
    fn entry_round_trips(st in statement(), seq in any::<u64>(), prev in any::<[u8; 32]>(), at in any::<u64>(), sig in prop::collection::vec(any::<u8>(), 64)) {
        let e = Entry { format: 1, seq, prev, recorded_at_ms: at, statement: st.to_bytes(), signature: sig.try_into().unwrap() };
        let b = e.to_bytes();
        prop_assert_eq!(b.len(), 2 + 8 + 32 + 8 + 8 + e.statement.len() + 64);
        prop_assert_eq!(Entry::from_bytes(&b).unwrap(), e);
    }
}
