//! `verify`'s rebuild in bounded memory (`schema/storage.md` §7.1): the
//! spilled index against a sorted map (the model), over random writes with
//! overwrites across runs and a budget small enough to spill many times;
//! the signer log against the list of what was pushed.

use std::collections::BTreeMap;

use pil_ledger_core::state::{IndexRead, IndexWrite, Ns};
use pil_ledger_core::verify::{AuthorLog, SpillConfig, SpillIndex};
use proptest::prelude::*;

type Model = BTreeMap<(u8, Vec<u8>), Vec<u8>>;

fn ns_of(i: u8) -> Ns {
    [Ns::Nonce, Ns::Key, Ns::EntryHash, Ns::CaseEntries, Ns::Account][usize::from(i) % 5]
}

fn check(idx: &SpillIndex, model: &Model) {
    for ((ns, k), v) in model {
        assert_eq!(idx.get(Ns::from_u8(*ns).unwrap(), k).unwrap().as_deref(), Some(v.as_slice()), "({ns}, {k:?})");
    }
    // Keys never written, in and between the written ones.
    for n in 0..5u8 {
        for probe in [b"".to_vec(), vec![0xff; 3], b"absent".to_vec(), vec![7u8; 9]] {
            let ns = ns_of(n);
            assert_eq!(idx.get(ns, &probe).unwrap(), model.get(&(ns as u8, probe.clone())).cloned());
        }
    }
    let listed: Vec<(u8, Vec<u8>, Vec<u8>)> = idx.sorted().map(|r| r.unwrap()).collect();
    let want: Vec<(u8, Vec<u8>, Vec<u8>)> = model.iter().map(|((n, k), v)| (*n, k.clone(), v.clone())).collect();
    assert_eq!(listed, want, "the merged runs must be the model, in key order");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn spilled_index_agrees_with_a_sorted_map(
        ops in prop::collection::vec((0u8..5, 0u16..300, 0usize..2500, any::<u8>()), 1..700)
    ) {
        let dir = tempfile::tempdir().unwrap();
        // The smallest budget: a run every few dozen writes.
        let cfg = SpillConfig { dir: Some(dir.path().to_path_buf()), budget: 0 };
        let mut idx = SpillIndex::new(cfg);
        let mut model = Model::new();
        for (i, (n, k, vlen, fill)) in ops.into_iter().enumerate() {
            let ns = ns_of(n);
            // Keys of varied lengths sharing prefixes; most writes overwrite.
            let key = format!("{}", k % 97).repeat(usize::from(k % 4) + 1).into_bytes();
            let value = vec![fill; vlen];
            idx.put_all(vec![IndexWrite { ns, key: key.clone(), value: value.clone() }]);
            model.insert((ns as u8, key), value);
            if i % 97 == 0 {
                check(&idx, &model);
            }
        }
        check(&idx, &model);
        prop_assert!(idx.error().is_none());
    }
}

#[test]
fn a_small_budget_spills_and_reads_agree_after_every_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut idx = SpillIndex::new(SpillConfig { dir: Some(dir.path().to_path_buf()), budget: 0 });
    let mut model = Model::new();
    for i in 0..60_000u32 {
        let key = (i % 21_000).to_be_bytes().to_vec();
        let value = i.to_le_bytes().repeat(8);
        idx.put_all(vec![IndexWrite { ns: Ns::EntryHash, key: key.clone(), value: value.clone() }]);
        model.insert((Ns::EntryHash as u8, key), value);
    }
    // Well over 16 spills: the runs were merged into one on the way, so
    // there are never more than 17.
    assert!((2..=17).contains(&idx.runs()), "a 64 KiB budget must have spilled: {} runs", idx.runs());
    check(&idx, &model);
}

#[test]
fn without_a_directory_nothing_spills() {
    let mut idx = SpillIndex::new(SpillConfig { dir: None, budget: 0 });
    for i in 0..5_000u32 {
        idx.put_all(vec![IndexWrite { ns: Ns::Nonce, key: i.to_be_bytes().to_vec(), value: vec![1; 64] }]);
    }
    assert_eq!(idx.runs(), 0);
    assert_eq!(idx.sorted().count(), 5_000);
}

#[test]
fn an_unusable_directory_keeps_the_index_in_memory_and_says_why() {
    let cfg = SpillConfig { dir: Some("/nonexistent/pil-spill".into()), budget: 0 };
    let mut idx = SpillIndex::new(cfg);
    for i in 0..5_000u32 {
        idx.put_all(vec![IndexWrite { ns: Ns::Nonce, key: i.to_be_bytes().to_vec(), value: vec![1; 64] }]);
    }
    assert_eq!(idx.runs(), 0);
    assert!(idx.degraded().is_some_and(|w| w.contains("/nonexistent/pil-spill")));
    assert_eq!(idx.get(Ns::Nonce, &77u32.to_be_bytes()).unwrap(), Some(vec![1; 64]));
    assert!(idx.error().is_none());
}

#[test]
fn the_signer_log_gives_back_every_entry_in_order_from_memory_and_file() {
    let dir = tempfile::tempdir().unwrap();
    for spill in [None, Some(dir.path().to_path_buf())] {
        let mut log = AuthorLog::new(spill);
        let keys: Vec<[u8; 32]> = (0..5u8).map(|i| [i; 32]).collect();
        let mut want = Vec::new();
        // Past 262,144 records the log goes to its file (when it has one).
        for seq in 0..600_000u64 {
            let k = keys[(seq * 7 % 5) as usize];
            let at = 1_700_000_000_000 + seq / 3;
            log.push(&k, seq, at);
            if seq % 1_000 == 0 {
                want.push((k, seq, at));
            }
        }
        assert_eq!(log.authors().len(), 5);
        let mut got = Vec::new();
        let mut n = 0u64;
        log.for_each(|k, seq, at| {
            assert_eq!(seq, n, "in seq order");
            n += 1;
            if seq % 1_000 == 0 {
                got.push((*k, seq, at));
            }
        })
        .unwrap();
        assert_eq!(n, 600_000);
        assert_eq!(got, want);
        assert!(log.degraded().is_none());
    }
}
