//! CLI errors that are neither rules nor verdicts: each code through the
//! real binary, with its exit code.

mod common;

use common::{s, tree_hashes, Env};

#[test]
fn keygen_never_overwrites_a_key_file() {
    let e = Env::new();
    let (p, _) = e.keygen("k.key");
    let before = std::fs::read(&p).unwrap();
    let r = e.run(&["--json", "keygen", "--out", s(&p)]);
    assert_eq!((r.code, r.err_json()["error"]["code"].as_str().unwrap()), (2, "file_exists"));
    assert_eq!(std::fs::read(&p).unwrap(), before);
}

#[test]
fn checkpoint_at_a_size_never_signed_is_no_checkpoint() {
    let e = Env::new();
    e.init();
    let before = tree_hashes(&e.data());
    let r = e.run(&["--json", "checkpoint", "--size", "999"]);
    assert_eq!((r.code, r.err_json()["error"]["code"].as_str().unwrap()), (2, "no_checkpoint"));
    assert!(before == tree_hashes(&e.data()));
}

#[test]
fn a_store_of_an_unknown_storage_format_is_refused_before_anything() {
    let e = Env::new();
    e.init();
    {
        let st = pil_ledger::store::SledStore::open(&e.data().join("ledger")).unwrap();
        st.raw().insert(b"V", 2u32.to_le_bytes().to_vec()).unwrap();
        st.raw().flush().unwrap();
    }
    let officer = e.officer();
    let (_, pk) = e.keygen("p.key");
    let revoke = ["--json", "revoke", "--key", s(&officer), "--pubkey", &pk, "--reason", "r"];
    for args in [&["--json", "entries"][..], &["--json", "verify"], &revoke] {
        let r = e.run(args);
        assert_eq!(r.code, 3, "{args:?}: {}", r.stderr);
        assert_eq!(r.err_json()["error"]["code"], "unsupported_storage_format", "{args:?}");
    }
}
