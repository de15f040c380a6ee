//! Storage format 2 against an independent model: random group commits of
//! random entries go through `SledStore::apply` (bundles and hash tiles, the
//! unfinished lowest tile held in memory); after every commit, after a
//! reopen (which rebuilds the unfinished tile from the entries) and through
//! a read-only copy, every entry and every Merkle node the store answers
//! must equal the model: the entries as given, and `MemTree`, the in-memory
//! tree that `verify` uses, which knows nothing of tiles.

use pil_ledger::store::{Commit, SledStore, Store, StoreNodes};
use pil_ledger_core::hash::entry_hash;
use pil_ledger_core::merkle::{self, Blake3Tree, MemTree};
use proptest::prelude::*;

/// Every node (level, index) of a tree of `n` leaves, complete or not.
fn check(store: &SledStore, entries: &[Vec<u8>], tree: &MemTree<Blake3Tree>, when: &str) {
    let n = entries.len() as u64;
    for (seq, e) in entries.iter().enumerate() {
        assert_eq!(store.entry(seq as u64).unwrap().as_ref(), Some(e), "{when}: entry {seq}");
    }
    assert_eq!(store.entry(n).unwrap(), None, "{when}: nothing beyond");
    let listed: Vec<Vec<u8>> = store.entries(0, n).map(|r| r.unwrap().1).collect();
    assert_eq!(listed, entries, "{when}: entries()");
    if n > 3 {
        let mid: Vec<u64> = store.entries(n / 3, 2 * n / 3).map(|r| r.unwrap().0).collect();
        assert_eq!(mid, (n / 3..2 * n / 3).collect::<Vec<_>>(), "{when}: a middle range");
    }
    for level in 0..12u8 {
        let width = n >> level;
        for i in 0..width + 2 {
            let want = if i < width { tree.get(level, i) } else { None };
            assert_eq!(store.node(level, i).unwrap(), want, "{when}: node ({level}, {i}) of {n}");
        }
    }
    if n > 0 {
        assert_eq!(merkle::root(&Blake3Tree, &StoreNodes(store), n).unwrap(), tree.root(), "{when}: root");
        let seq = n / 2;
        let p = merkle::inclusion_proof(&Blake3Tree, &StoreNodes(store), seq, n).unwrap();
        assert_eq!(p, tree.inclusion_proof(seq, n).unwrap(), "{when}: proof of {seq}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn bundles_and_tiles_answer_what_the_model_says(
        groups in proptest::collection::vec(1usize..300, 1..8),
        sizes in proptest::collection::vec(1usize..9000, 1..40),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger");
        let mut entries: Vec<Vec<u8>> = Vec::new();
        let mut tree = MemTree::new(Blake3Tree);
        {
            let store = SledStore::open(&path).unwrap();
            for (g, &count) in groups.iter().enumerate() {
                let mut c = Commit::default();
                for _ in 0..count {
                    let seq = entries.len() as u64;
                    // Sizes cycle through the drawn ones, so bundles get cut by
                    // count and by bytes.
                    let len = sizes[seq as usize % sizes.len()];
                    let e: Vec<u8> = (0..len).map(|i| (seq as usize * 31 + i) as u8).collect();
                    tree.push(entry_hash(&e));
                    // The nodes the new leaf completes, from the model.
                    let mut level = 0u8;
                    while (seq + 1) % (1u64 << level) == 0 {
                        let index = seq >> level;
                        c.nodes.push((level, index, tree.get(level, index).unwrap()));
                        level += 1;
                    }
                    c.entries.push((seq, e.clone()));
                    entries.push(e);
                }
                store.apply(c).unwrap();
                check(&store, &entries, &tree, &format!("after group {g}"));
            }
            store.sync().unwrap();
        }
        let store = SledStore::open(&path).unwrap();
        check(&store, &entries, &tree, "after reopen");
        drop(store);
        let ro = SledStore::open_read_only(&path).unwrap();
        check(&ro, &entries, &tree, "read-only copy");
        let unstored = ro.unstored_nodes();
        prop_assert!(unstored.len() < 128, "only the unfinished lowest tile is held in memory");
        prop_assert_eq!(unstored.is_empty(), entries.len() % 64 == 0);
    }
}
