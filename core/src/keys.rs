//! Keys and signatures: PKCS#8 PEM key files, statement signing, and strict
//! (RFC 8032 + `verify_strict`) signature checks, one by one (never by batch
//! equation; see `verify_many`).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use crate::hash::statement_digest;
use crate::wire::{PublicKey, SignatureBytes};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("not a PKCS#8 PEM Ed25519 private key: {0}")]
    BadPem(String),
    #[error("public key is not a valid Ed25519 point")]
    BadPublicKey,
    #[error("public key is weak (small order)")]
    WeakKey,
    #[error("public key must be 64 hex digits")]
    BadHex,
    #[error("public key is not canonically encoded (another encoding of the same point)")]
    NonCanonical,
    #[error("public key has a torsion (small-order) component")]
    Torsion,
}

/// Fresh key from the OS RNG.
pub fn generate() -> SigningKey {
    SigningKey::generate(&mut rand_core::OsRng)
}

/// The DER of a PKCS#8 v1 (RFC 5208) Ed25519 `PrivateKeyInfo` before the
/// 32-byte seed: SEQUENCE (46 bytes) { INTEGER 0, SEQUENCE { OID 1.3.101.112 },
/// OCTET STRING { OCTET STRING (32 bytes) } } (RFC 8410 §7).
const PKCS8_V1_PREFIX: [u8; 16] =
    [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

/// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), byte for byte as `openssl
/// genpkey -algorithm ed25519` writes it: PKCS#8 v1, seed only, no public
/// key. (ed25519-dalek's `to_pkcs8_pem` writes v2 with the public key,
/// which OpenSSL 3.0 refuses to read.)
pub fn to_pem(key: &SigningKey) -> String {
    let mut der = [0u8; 48];
    der[..16].copy_from_slice(&PKCS8_V1_PREFIX);
    der[16..].copy_from_slice(key.as_bytes());
    let b64 = B64.encode(der);
    der.fill(0);
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    pem
}

/// Read a PKCS#8 PEM Ed25519 private key, v1 (as OpenSSL and `to_pem`
/// write it) or v2 (with the public key, as ed25519-dalek writes it).
pub fn from_pem(pem: &str) -> Result<SigningKey, KeyError> {
    SigningKey::from_pkcs8_pem(pem).map_err(|e| KeyError::BadPem(e.to_string()))
}

/// Parse and check a public key: a valid point, canonically encoded, not
/// of small order, and torsion-free (in the prime-order subgroup).
///
/// Why all four: a key `A + T` (T of small order) is a different byte
/// string from `A`, yet under `verify_strict` the secret of `A` can sign for
/// it; so a revoked key could come back as "a new key". And one point with
/// two encodings would be two registry entries for one key. Every key that
/// enters the registry (the genesis keys too) passes this check.
pub fn parse_public(pk: &PublicKey) -> Result<VerifyingKey, KeyError> {
    let vk = VerifyingKey::from_bytes(pk).map_err(|_| KeyError::BadPublicKey)?;
    if vk.is_weak() {
        return Err(KeyError::WeakKey);
    }
    let point = vk.to_edwards();
    if point.compress().as_bytes() != pk {
        return Err(KeyError::NonCanonical);
    }
    if !point.is_torsion_free() {
        return Err(KeyError::Torsion);
    }
    Ok(vk)
}

pub fn parse_public_hex(s: &str) -> Result<PublicKey, KeyError> {
    let v = hex::decode(s.trim()).map_err(|_| KeyError::BadHex)?;
    let pk: PublicKey = v.try_into().map_err(|_| KeyError::BadHex)?;
    parse_public(&pk)?;
    Ok(pk)
}

/// Sign canonical statement bytes: Ed25519 over the 32-byte statement digest.
pub fn sign_statement(key: &SigningKey, statement_bytes: &[u8]) -> SignatureBytes {
    key.sign(&statement_digest(statement_bytes)).to_bytes()
}

/// One signature to check: the author's key, the signed 32-byte digest and
/// the signature.
#[derive(Clone, Copy, Debug)]
pub struct SigItem {
    pub author: PublicKey,
    pub digest: [u8; 32],
    pub signature: SignatureBytes,
}

/// `verify_strict` of one item.
pub fn verify_one(item: &SigItem) -> bool {
    let Ok(vk) = parse_public(&item.author) else { return false };
    vk.verify_strict(&item.digest, &Signature::from_bytes(&item.signature)).is_ok()
}

/// Check many signatures; one bool per item, each exactly what
/// `verify_strict` says.
///
/// Deliberately no batch verification on this path: ed25519-dalek's
/// `verify_batch` is cofactorless with transcript-derived (so predictable)
/// coefficients, and accepts, about half the time, a signature whose R
/// carries a small-order torsion component that `verify_strict` rejects. A
/// key holder could grind such a signature into the log and make verifiers
/// disagree. Rejecting torsion in R costs a scalar multiplication, as much
/// as a strict check. So: strict checks, spread over cores by the caller.
pub fn verify_many(items: &[SigItem]) -> Vec<bool> {
    verify_many_cached(items, &mut KeyCache::default())
}

/// Parsed public keys by their bytes (`None`: refused by
/// [`parse_public`]). Parsing costs a decompression and a torsion check
/// (a full scalar multiplication), about as much as a signature check, and
/// authors repeat, so a verifier keeps one cache across all its chunks. Bounded:
/// it is emptied when it reaches [`KeyCache::MAX`] keys.
#[derive(Default)]
pub struct KeyCache(std::collections::HashMap<PublicKey, Option<VerifyingKey>>);

impl KeyCache {
    pub const MAX: usize = 1 << 16;

    fn get(&mut self, key: &PublicKey) -> Option<VerifyingKey> {
        self.get_bounded(key, Self::MAX)
    }

    fn get_bounded(&mut self, key: &PublicKey, max: usize) -> Option<VerifyingKey> {
        if let Some(vk) = self.0.get(key) {
            return *vk;
        }
        if self.0.len() >= max {
            self.0.clear();
        }
        *self.0.entry(*key).or_insert_with(|| parse_public(key).ok())
    }
}

/// Keys per thread for [`verify_one_cached`]: the blocking pool that checks
/// submissions can have many threads.
const THREAD_KEYS: usize = 4096;

thread_local! {
    static THREAD_CACHE: std::cell::RefCell<KeyCache> = std::cell::RefCell::new(KeyCache::default());
}

/// [`verify_one`], with the author's parsed key cached per thread (authors
/// repeat; parsing costs about as much as the check). Same answer.
pub fn verify_one_cached(item: &SigItem) -> bool {
    let vk = THREAD_CACHE.with(|c| c.borrow_mut().get_bounded(&item.author, THREAD_KEYS));
    vk.is_some_and(|vk| vk.verify_strict(&item.digest, &Signature::from_bytes(&item.signature)).is_ok())
}

/// [`verify_many`] with a cache of parsed keys kept by the caller.
pub fn verify_many_cached(items: &[SigItem], cache: &mut KeyCache) -> Vec<bool> {
    items
        .iter()
        .map(|item| {
            cache
                .get(&item.author)
                .is_some_and(|vk| vk.verify_strict(&item.digest, &Signature::from_bytes(&item.signature)).is_ok())
        })
        .collect()
}

/// Raw batch verification, for benchmarks only (the physical limit the
/// design brief quotes); never used to accept anything.
pub fn batch_verify_raw(items: &[SigItem]) -> bool {
    let keys: Vec<VerifyingKey> = match items.iter().map(|i| parse_public(&i.author)).collect() {
        Ok(k) => k,
        Err(_) => return false,
    };
    let sigs: Vec<Signature> = items.iter().map(|i| Signature::from_bytes(&i.signature)).collect();
    let msgs: Vec<&[u8]> = items.iter().map(|i| &i.digest[..]).collect();
    ed25519_dalek::verify_batch(&msgs, &sigs, &keys).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key written by `openssl genpkey -algorithm ed25519` (RFC 8410 §10.3).
    const OPENSSL_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n";
    const OPENSSL_SEED: &str = "d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842";

    #[test]
    fn pem_round_trip_and_openssl_format() {
        let k = generate();
        let pem = to_pem(&k);
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(pem.ends_with("-----END PRIVATE KEY-----\n"));
        assert_eq!(from_pem(&pem).unwrap().to_bytes(), k.to_bytes());
        let k2 = from_pem(OPENSSL_PEM).unwrap();
        assert_eq!(hex::encode(k2.to_bytes()), OPENSSL_SEED);
    }

    /// Writing the RFC 8410 §10.3 seed gives exactly the text OpenSSL wrote.
    #[test]
    fn pem_is_byte_for_byte_what_openssl_writes() {
        let seed: [u8; 32] = hex::decode(OPENSSL_SEED).unwrap().try_into().unwrap();
        assert_eq!(to_pem(&SigningKey::from_bytes(&seed)), OPENSSL_PEM);
    }

    /// PKCS#8 v2 (with the public key, as ed25519-dalek writes it) is still read.
    #[test]
    fn pkcs8_v2_is_still_read() {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let k = generate();
        let v2 = k.to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF).unwrap();
        assert_ne!(v2.as_str(), to_pem(&k));
        assert_eq!(from_pem(&v2).unwrap().to_bytes(), k.to_bytes());
    }

    /// OpenSSL reads the key files we write (skipped when `openssl` is not on PATH).
    #[test]
    fn openssl_reads_our_pem() {
        let Ok(v) = std::process::Command::new("openssl").arg("version").output() else {
            eprintln!("skipped: openssl is not on PATH");
            return;
        };
        assert!(v.status.success());
        let path = std::env::temp_dir().join(format!("pil-ledger-keys-test-{}.pem", std::process::id()));
        std::fs::write(&path, to_pem(&generate())).unwrap();
        let out =
            std::process::Command::new("openssl").arg("pkey").arg("-in").arg(&path).arg("-noout").output().unwrap();
        let _ = std::fs::remove_file(&path);
        assert!(out.status.success(), "openssl pkey refused our PEM: {}", String::from_utf8_lossy(&out.stderr));
    }

    #[test]
    fn many_agrees_with_single_checks() {
        let keys: Vec<SigningKey> = (0..100).map(|_| generate()).collect();
        let mut items: Vec<SigItem> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let st = format!("statement {i}").into_bytes();
                SigItem {
                    author: k.verifying_key().to_bytes(),
                    digest: statement_digest(&st),
                    signature: sign_statement(k, &st),
                }
            })
            .collect();
        assert!(verify_many(&items).iter().all(|&b| b));
        assert!(batch_verify_raw(&items));
        items[70].signature[5] ^= 1;
        items[3].digest[0] ^= 1;
        let got = verify_many(&items);
        for (i, ok) in got.iter().enumerate() {
            assert_eq!(*ok, i != 70 && i != 3, "item {i}");
            assert_eq!(*ok, verify_one(&items[i]));
        }
    }

    #[test]
    fn weak_key_refused() {
        // The identity point (small order) encodes as 1 followed by zeros.
        let mut pk = [0u8; 32];
        pk[0] = 1;
        assert_eq!(parse_public(&pk), Err(KeyError::WeakKey));
    }
}

#[cfg(test)]
mod torsion {
    use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;

    /// The attack: after key A is revoked, A + T (T of order 8) is
    /// offered as a new key. It must not parse, though A's secret would
    /// sign for it under `verify_strict`.
    #[test]
    fn key_plus_torsion_point_is_refused() {
        let k = SigningKey::from_bytes(&[9; 32]);
        let a = k.verifying_key().to_edwards();
        for t in &EIGHT_TORSION[1..] {
            let bytes = (a + t).compress().to_bytes();
            assert_eq!(parse_public(&bytes), Err(KeyError::Torsion));
        }
        assert!(parse_public(&k.verifying_key().to_bytes()).is_ok());
        assert!(parse_public(&(ED25519_BASEPOINT_POINT * curve25519_dalek::Scalar::from(7u8)).compress().to_bytes())
            .is_ok());
    }

    /// The cached checks answer exactly what the uncached ones do, also for
    /// a refused key asked about again and again, and for a good key with a
    /// bad signature after a good one.
    #[test]
    fn cached_checks_agree_with_uncached_ones() {
        let k = SigningKey::from_bytes(&[9; 32]);
        let st = b"statement".to_vec();
        let good = SigItem {
            author: k.verifying_key().to_bytes(),
            digest: statement_digest(&st),
            signature: sign_statement(&k, &st),
        };
        let mut bad = good;
        bad.signature[0] ^= 1;
        let mut torsion = good;
        torsion.author = (k.verifying_key().to_edwards() + EIGHT_TORSION[1]).compress().to_bytes();
        let items = [good, bad, torsion, good, torsion, bad];
        let mut cache = KeyCache::default();
        let many = verify_many_cached(&items, &mut cache);
        for (i, item) in items.iter().enumerate() {
            assert_eq!(verify_one_cached(item), verify_one(item), "item {i}");
            assert_eq!(many[i], verify_one(item), "item {i}");
        }
        assert_eq!(many, [true, false, false, true, false, false]);
    }

    /// The same point under a second byte encoding: y + p (when y + p <
    /// 2^255) is accepted by decompression but is not canonical.
    #[test]
    fn non_canonical_encoding_is_refused() {
        // y = 1 is the identity (weak); find a point with small y so y + p
        // fits in 255 bits: y in 0..19 are candidates.
        let p_minus: [u8; 32] = {
            // p = 2^255 - 19, little-endian.
            let mut p = [0xffu8; 32];
            p[0] = 0xed;
            p[31] = 0x7f;
            p
        };
        let mut found = false;
        for y in 2u8..19 {
            let mut canon = [0u8; 32];
            canon[0] = y;
            if CompressedEdwardsY(canon).decompress().is_none() {
                continue;
            }
            // y + p as a little-endian 255-bit number.
            let mut alt = p_minus;
            let (lo, carry) = alt[0].overflowing_add(y);
            alt[0] = lo;
            assert!(!carry || y > 0x12, "no carry for small y");
            if CompressedEdwardsY(alt).decompress().is_some() {
                found = true;
                assert!(parse_public(&alt).is_err(), "y={y}");
            }
        }
        assert!(found, "some small y gives a point with a second encoding");
    }
    use super::*;
    use curve25519_dalek::constants::EIGHT_TORSION;
    use curve25519_dalek::edwards::CompressedEdwardsY;

    /// A signature whose R carries an order-2 torsion point: verify_strict
    /// rejects it, and so must verify_many, whatever the batch would say.
    #[test]
    fn torsioned_r_is_rejected() {
        let k = SigningKey::from_bytes(&[5; 32]);
        let st = b"statement".to_vec();
        let digest = statement_digest(&st);
        let good = k.sign(&digest).to_bytes();
        let r = CompressedEdwardsY(good[..32].try_into().unwrap()).decompress().unwrap();
        let r2 = (r + EIGHT_TORSION[4]).compress();
        let mut bad = good;
        bad[..32].copy_from_slice(r2.as_bytes());
        let item = SigItem { author: k.verifying_key().to_bytes(), digest, signature: bad };
        assert!(!verify_one(&item));
        assert_eq!(verify_many(&[item, item, item]), vec![false; 3]);
    }
}
