use super::*;
use proptest::prelude::*;
use std::cell::{Cell, RefCell};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// Published known answers: (alg, input, digest).
/// BLAKE3: the reference implementation's test vectors; SHA-256: FIPS 180-2
/// examples; SM3: GB/T 32905-2016 appendix A; MD5: RFC 1321 §A.5;
/// SHA-1: FIPS 180-1 / RFC 3174.
const KAT: &[(DigestAlg, &[u8], &str)] = &[
    (DigestAlg::Blake3, b"", "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"),
    (DigestAlg::Blake3, b"abc", "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"),
    (DigestAlg::Sha256, b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (DigestAlg::Sha256, b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (
        DigestAlg::Sha256,
        b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    ),
    (DigestAlg::Sm3, b"", "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"),
    (DigestAlg::Sm3, b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
    (
        DigestAlg::Sm3,
        b"abcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcd",
        "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732",
    ),
    (DigestAlg::Md5, b"", "d41d8cd98f00b204e9800998ecf8427e"),
    (DigestAlg::Md5, b"abc", "900150983cd24fb0d6963f7d28e17f72"),
    (DigestAlg::Sha1, b"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    (DigestAlg::Sha1, b"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
];

#[test]
fn known_answers_one_algorithm() {
    for &(alg, input, want) in KAT {
        assert_eq!(hex::encode(hash_bytes(alg, input)), want, "{alg} of {input:?} (hash_bytes)");
        assert_eq!(hex::encode(hash_with(alg, input).unwrap()), want, "{alg} of {input:?} (hash_with)");
        assert!(check_prior(input, &Digest::new(alg, h(want)).unwrap()).unwrap());
    }
}

#[test]
fn known_answers_three_at_once() {
    for &(alg, input, want) in KAT {
        let fd = hash_reader(input, &|_| {}).unwrap();
        assert_eq!(fd.size, input.len() as u64);
        match fd.get(alg) {
            Some(v) => assert_eq!(hex::encode(v), want, "{alg} of {input:?}"),
            None => assert!(alg.is_weak()),
        }
    }
}

/// A pattern that is not periodic at any buffer size.
fn pattern(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The oracle: each raw hasher run alone, one call over the whole input.
fn oracle(data: &[u8]) -> FileDigests {
    FileDigests {
        size: data.len() as u64,
        blake3: *blake3::hash(data).as_bytes(),
        sha256: sha2::Sha256::digest(data).into(),
        sm3: sm3::Sm3::digest(data).into(),
    }
}

#[test]
fn one_mib_and_17_bytes_across_buffer_boundaries() {
    let data = pattern(CHUNK + 17);
    let fd = hash_reader(data.as_slice(), &|_| {}).unwrap();
    assert_eq!(fd, oracle(&data));
    for alg in DigestAlg::ALL {
        assert_eq!(hash_with(alg, data.as_slice()).unwrap(), hash_bytes(alg, &data), "{alg}");
    }
}

#[test]
fn sizes_around_the_buffer_and_past_the_pool() {
    // Past POOL * CHUNK the buffers must be recycled.
    let data = pattern((POOL + 3) * CHUNK + 5);
    for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 17, data.len()] {
        let d = &data[..len];
        assert_eq!(hash_reader(d, &|_| {}).unwrap(), oracle(d), "len {len}");
    }
}

#[test]
fn progress_is_monotonic_sparse_and_ends_at_the_total() {
    let len = 13 * CHUNK + 3;
    let data = pattern(len);
    let calls = RefCell::new(Vec::new());
    let fd = hash_reader(data.as_slice(), &|n| calls.borrow_mut().push(n)).unwrap();
    let calls = calls.into_inner();
    assert_eq!(fd.size, len as u64);
    assert_eq!(calls.last(), Some(&(len as u64)));
    assert!(calls.windows(2).all(|w| w[0] < w[1]), "{calls:?}");
    // Every gap but the last one (up to the total) is at least PROGRESS_EVERY.
    assert!(calls[..calls.len() - 1].windows(2).all(|w| w[1] - w[0] >= PROGRESS_EVERY), "{calls:?}");
    assert!(calls.len() as u64 <= len as u64 / PROGRESS_EVERY + 1, "{calls:?}");

    let small = Cell::new(0);
    hash_reader(&b"abc"[..], &|n| small.set(small.get() + n + 1)).unwrap();
    assert_eq!(small.get(), 4, "one call with 3");
}

/// Yields `data` in reads of the given sizes (cycled), returning
/// `Interrupted` where `interrupt` says so, and failing at `fail_at`.
struct ChoppyReader<'a> {
    data: &'a [u8],
    pos: usize,
    sizes: Vec<usize>,
    interrupt: Vec<bool>,
    calls: usize,
    fail_at: Option<usize>,
}

impl Read for ChoppyReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let call = self.calls;
        self.calls += 1;
        if !self.interrupt.is_empty() && self.interrupt[call % self.interrupt.len()] {
            return Err(io::Error::from(io::ErrorKind::Interrupted));
        }
        if self.fail_at.is_some_and(|f| self.pos >= f) {
            return Err(io::Error::other("disk on fire"));
        }
        let want = self.sizes[call % self.sizes.len()].max(1);
        let n = want.min(buf.len()).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[test]
fn read_error_is_returned_not_hung() {
    let data = pattern(9 * CHUNK);
    for fail_at in [10, CHUNK - 1, CHUNK + 1, 7 * CHUNK + 3] {
        let r = ChoppyReader {
            data: &data,
            pos: 0,
            sizes: vec![100_000],
            interrupt: vec![],
            calls: 0,
            fail_at: Some(fail_at),
        };
        let err = hash_reader(r, &|_| {}).unwrap_err();
        assert_eq!(err.to_string(), "disk on fire");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random short reads and interruptions give the one-shot hashes.
    #[test]
    fn random_chunkings_equal_one_shot(
        len in prop_oneof![0usize..4096, 0usize..(3 * CHUNK + 100)],
        skew in 0usize..65_536,
        sizes in prop::collection::vec(prop_oneof![1usize..64, 1usize..300_000], 1..24),
        interrupt in prop::collection::vec(prop::bool::weighted(0.1), 0..8),
    ) {
        let data = pattern(len + skew);
        let data = &data[skew..];
        // At least one call in each cycle of the pattern makes progress.
        let mut interrupt = interrupt;
        interrupt.push(false);
        let r = ChoppyReader { data, pos: 0, sizes, interrupt, calls: 0, fail_at: None };
        let fd = hash_reader(r, &|_| {}).unwrap();
        prop_assert_eq!(fd, oracle(data));
    }
}

#[test]
fn hash_file_reads_regular_files() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(hash_file(&path, &|_| {}).unwrap(), oracle(&bytes));
}

#[test]
fn hash_file_refuses_what_is_not_a_regular_file() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let err = hash_file(Path::new(dir), &|_| {}).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
    for dev in ["/dev/zero", "/dev/null", "/dev/urandom"] {
        if Path::new(dev).exists() {
            let err = hash_file(Path::new(dev), &|_| {}).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{dev}: {err}");
        }
    }
    let missing = hash_file(Path::new("/nonexistent/pil-ledger-digest"), &|_| {}).unwrap_err();
    assert_eq!(missing.kind(), io::ErrorKind::NotFound);
}

#[test]
fn file_digests_list_and_match() {
    let fd = hash_reader(&b"abc"[..], &|_| {}).unwrap();
    let ds = fd.digests();
    assert_eq!(ds.iter().map(|d| d.alg).collect::<Vec<_>>(), DigestAlg::COMPUTED.to_vec());
    for d in &ds {
        assert_eq!(fd.matches(d), Some(true));
        let mut wrong = d.clone();
        wrong.value[0] ^= 1;
        assert_eq!(fd.matches(&wrong), Some(false));
    }
    let sm3 = Digest::parse("sm3:66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0").unwrap();
    assert_eq!(fd.matches(&sm3), Some(true));
    let md5 = Digest::parse("md5:900150983cd24fb0d6963f7d28e17f72").unwrap();
    assert_eq!(fd.matches(&md5), None);
    assert!(check_prior(&b"abc"[..], &md5).unwrap());
    assert!(!check_prior(&b"abd"[..], &md5).unwrap());
}

#[test]
fn alg_names_lengths_weakness() {
    let names = ["blake3", "sha256", "sm3", "md5", "sha1"];
    let lens = [32, 32, 32, 16, 20];
    for (i, alg) in DigestAlg::ALL.into_iter().enumerate() {
        assert_eq!(alg.as_str(), names[i]);
        assert_eq!(alg.to_string(), names[i]);
        assert_eq!(alg.output_len(), lens[i]);
        assert_eq!(alg.output_len(), hash_bytes(alg, b"").len());
        assert_eq!(alg.is_weak(), matches!(alg, DigestAlg::Md5 | DigestAlg::Sha1));
        assert_eq!(names[i].parse::<DigestAlg>(), Ok(alg));
        assert_eq!(names[i].to_uppercase().parse::<DigestAlg>(), Ok(alg));
        assert_eq!(serde_json::to_string(&alg).unwrap(), format!("\"{}\"", names[i]));
        assert_eq!(serde_json::from_str::<DigestAlg>(&format!("\"{}\"", names[i])).unwrap(), alg);
    }
    assert_eq!("SHA-256".parse::<DigestAlg>(), Ok(DigestAlg::Sha256));
    assert_eq!("sha-1".parse::<DigestAlg>(), Ok(DigestAlg::Sha1));
    assert_eq!("Sm3".parse::<DigestAlg>(), Ok(DigestAlg::Sm3));
    for bad in ["", "sha512", "sha-512", "blake2b", "sm-3", " sha256", "md4"] {
        assert_eq!(bad.parse::<DigestAlg>(), Err(DigestParseError::UnknownAlg(bad.to_owned())), "{bad:?}");
    }
}

#[test]
fn wire_tags_are_declaration_order() {
    for (tag, alg) in DigestAlg::ALL.into_iter().enumerate() {
        let bytes = bincode::encode_to_vec(alg, bincode::config::legacy()).unwrap();
        assert_eq!(bytes, (tag as u32).to_le_bytes(), "{alg}");
        let (back, _): (DigestAlg, usize) = bincode::decode_from_slice(&bytes, bincode::config::legacy()).unwrap();
        assert_eq!(back, alg);
    }
    let d = Digest::parse("md5:900150983cd24fb0d6963f7d28e17f72").unwrap();
    let bytes = bincode::encode_to_vec(&d, bincode::config::legacy()).unwrap();
    let mut want = 3u32.to_le_bytes().to_vec();
    want.extend_from_slice(&16u64.to_le_bytes());
    want.extend_from_slice(&d.value);
    assert_eq!(bytes, want);
    let (back, _): (Digest, usize) = bincode::decode_from_slice(&bytes, bincode::config::legacy()).unwrap();
    assert_eq!(back, d);
}

#[test]
fn digest_text_and_json_round_trip() {
    for alg in DigestAlg::ALL {
        let d = Digest::new(alg, pattern(alg.output_len())).unwrap();
        let text = d.to_string();
        assert_eq!(text, format!("{}:{}", alg.as_str(), hex::encode(&d.value)));
        assert_eq!(Digest::parse(&text), Ok(d.clone()));
        assert_eq!(text.parse::<Digest>(), Ok(d.clone()));
        assert_eq!(Digest::parse(&text.to_uppercase()), Ok(d.clone()));
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, format!("{{\"alg\":\"{}\",\"value\":\"{}\"}}", alg.as_str(), d.hex()));
        assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), d);
    }
    let sha = Digest::parse("SHA-256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD").unwrap();
    assert_eq!(sha.to_string(), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

#[test]
fn digest_parse_refusals() {
    use DigestParseError as E;
    let sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    assert_eq!(Digest::parse(sha256), Err(E::MissingSeparator(sha256.to_owned())));
    assert_eq!(Digest::parse(""), Err(E::MissingSeparator(String::new())));
    assert_eq!(Digest::parse(&format!("sha512:{sha256}")), Err(E::UnknownAlg("sha512".into())));
    assert_eq!(Digest::parse(&format!(":{sha256}")), Err(E::UnknownAlg(String::new())));
    assert!(matches!(Digest::parse("sha256:zz"), Err(E::BadHex(_))));
    assert!(matches!(Digest::parse("md5:900150983cd24fb0d6963f7d28e17f7"), Err(E::BadHex(_))), "odd length");
    assert!(matches!(Digest::parse(&format!("sha256: {sha256}")), Err(E::BadHex(_))), "space");
    assert!(matches!(Digest::parse(&format!("sha256:{sha256}:00")), Err(E::BadHex(_))), "second colon");
    assert_eq!(Digest::parse("sha256:"), Err(E::WrongLength { alg: DigestAlg::Sha256, expected: 32, got: 0 }));
    assert_eq!(
        Digest::parse(&format!("sha256:{}", &sha256[..62])),
        Err(E::WrongLength { alg: DigestAlg::Sha256, expected: 32, got: 31 })
    );
    assert_eq!(
        Digest::parse(&format!("md5:{sha256}")),
        Err(E::WrongLength { alg: DigestAlg::Md5, expected: 16, got: 32 })
    );
    assert_eq!(
        Digest::parse("sha1:900150983cd24fb0d6963f7d28e17f72"),
        Err(E::WrongLength { alg: DigestAlg::Sha1, expected: 20, got: 16 })
    );
    assert_eq!(
        Digest::new(DigestAlg::Blake3, vec![0; 33]),
        Err(E::WrongLength { alg: DigestAlg::Blake3, expected: 32, got: 33 })
    );
}
