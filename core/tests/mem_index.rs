//! `MemIndex` packs each namespace's records into one arena behind a hash
//! table of offsets, and compacts the arena when overwritten records pile
//! up. Checked against a plain map of maps (the model) over random writes,
//! with overwrites, empty values and enough garbage to force compactions.

use std::collections::HashMap;

use pil_ledger_core::state::{IndexRead, IndexWrite, MemIndex, Ns};
use proptest::prelude::*;

type Model = HashMap<(u8, Vec<u8>), Vec<u8>>;

fn ns_of(i: u8) -> Ns {
    [Ns::Nonce, Ns::Key, Ns::EntryHash, Ns::CaseEntries, Ns::Account][usize::from(i) % 5]
}

fn check(idx: &MemIndex, model: &Model) {
    assert_eq!(idx.len(), model.len());
    for ((ns, k), v) in model {
        assert_eq!(idx.get_raw(*ns, k), Some(v.as_slice()));
        assert_eq!(idx.get(Ns::from_u8(*ns).unwrap(), k).unwrap().as_deref(), Some(v.as_slice()));
    }
    let mut listed: Vec<(u8, Vec<u8>, Vec<u8>)> = idx.iter().map(|(n, k, v)| (n, k.to_vec(), v.to_vec())).collect();
    listed.sort();
    let mut want: Vec<(u8, Vec<u8>, Vec<u8>)> = model.iter().map(|((n, k), v)| (*n, k.clone(), v.clone())).collect();
    want.sort();
    assert_eq!(listed, want);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn packed_index_agrees_with_a_map(
        ops in prop::collection::vec((0u8..5, 0u8..40, 0usize..3000, any::<u8>()), 1..600)
    ) {
        let mut idx = MemIndex::default();
        let mut model = Model::new();
        for (i, (n, k, vlen, fill)) in ops.into_iter().enumerate() {
            let ns = ns_of(n);
            // Few distinct keys, so most writes overwrite; values up to 3 KB,
            // so the overwritten bytes pass the 1 MiB compaction margin.
            let key = if k == 0 { Vec::new() } else { vec![k; usize::from(k % 7) + 1] };
            let value = vec![fill; vlen];
            idx.put_all(vec![IndexWrite { ns, key: key.clone(), value: value.clone() }]);
            model.insert((ns as u8, key.clone()), value);
            prop_assert_eq!(idx.get_raw(ns as u8, &key), model.get(&(ns as u8, key)).map(Vec::as_slice));
            if i % 97 == 0 {
                check(&idx, &model);
            }
        }
        check(&idx, &model);
        // Absent keys and unknown namespaces.
        prop_assert_eq!(idx.get_raw(Ns::Case as u8, b"never written"), None);
        prop_assert_eq!(idx.get_raw(0, b""), None);
        let copy = idx.clone();
        prop_assert_eq!(&copy, &idx);
    }
}

#[test]
fn heavy_overwrites_are_compacted_and_stay_readable() {
    // 10,000 overwrites of one 4 KB record: 40 MB written, one live record.
    let mut idx = MemIndex::default();
    for i in 0..10_000u32 {
        let value = i.to_le_bytes().repeat(1024);
        idx.put_all(vec![IndexWrite { ns: Ns::Account, key: b"FUND-1".to_vec(), value }]);
    }
    assert_eq!(idx.len(), 1);
    assert_eq!(idx.get_raw(Ns::Account as u8, b"FUND-1").unwrap(), 9_999u32.to_le_bytes().repeat(1024).as_slice());
}
