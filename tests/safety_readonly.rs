//! Reading and verifying change no byte of the ledger (issue 6, item 8): a
//! court's check works on a copy and leaves it exactly as it was.

mod common;

use common::{s, tree_hashes, Env};

fn build(e: &Env) {
    e.init();
    let (pros, _) = e.enroll("p.key", "prosecutor");
    for i in 0..4 {
        e.run(&["case", "open", "--key", s(&pros), "--case", &format!("C-{i}"), "--title", "t"]).ok();
    }
}

const READS: &[&[&str]] = &[
    &["vkey"],
    &["checkpoint"],
    &["--json", "checkpoint"],
    &["checkpoint", "--size", "3"],
    &["entries"],
    &["entries", "--from", "1", "--to", "3"],
    &["show", "2"],
    &["--json", "show", "0"],
    &["prove", "inclusion", "3"],
    &["prove", "inclusion", "1", "--size", "4"],
    &["prove", "consistency", "2"],
    &["verify"],
    &["--json", "verify"],
];

#[test]
fn every_read_command_and_verify_leave_every_byte_unchanged() {
    let e = Env::new();
    build(&e);
    let before = tree_hashes(&e.data());
    assert!(before.keys().any(|p| p.starts_with("ledger")), "{before:?}");
    for args in READS {
        e.run(args).ok();
        assert_eq!(tree_hashes(&e.data()), before, "`{}` changed the data directory", args.join(" "));
    }
}

#[test]
fn verify_with_a_kept_checkpoint_and_the_trusted_vkey_changes_no_byte() {
    let e = Env::new();
    build(&e);
    let vkey = e.run(&["vkey"]).ok().stdout.trim().to_string();
    let kept = e.path("kept.note");
    std::fs::write(&kept, e.run(&["checkpoint", "--size", "2"]).ok().stdout).unwrap();
    let before = tree_hashes(&e.data());
    let v = e.run(&["--json", "verify", "--vkey", &vkey, "--checkpoint", s(&kept)]).ok().json();
    assert_eq!(v["verdict"], "valid");
    assert_eq!(tree_hashes(&e.data()), before);
}

#[cfg(unix)]
#[test]
fn reads_work_on_a_copy_whose_files_and_directories_are_read_only() {
    use std::os::unix::fs::PermissionsExt;
    let e = Env::new();
    build(&e);
    fn chmod_tree(p: &std::path::Path, dir_mode: u32, file_mode: u32) {
        for entry in std::fs::read_dir(p).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                chmod_tree(&entry.path(), dir_mode, file_mode);
                std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(dir_mode)).unwrap();
            } else {
                std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(file_mode)).unwrap();
            }
        }
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(dir_mode)).unwrap();
    }
    chmod_tree(&e.data(), 0o555, 0o444);
    let before = tree_hashes(&e.data());
    for args in READS {
        e.run(args).ok();
    }
    assert_eq!(tree_hashes(&e.data()), before);
    chmod_tree(&e.data(), 0o755, 0o644);
}
