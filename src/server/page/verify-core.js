// In-browser court-bundle verifier (pil-ledger-bundle/v1), part 1 of 4: bytes, hashes, strict
// Ed25519, signed notes, Merkle proofs and the canonical decoder. Written from schema/bundle.md,
// schema/wire-format.md, schema/roles.md and schema/reasons.md §6 (not from the Rust code).
// Uses only the vendored @noble/hashes (BLAKE3, SHA-256, SHA-512) and @noble/curves (ed25519);
// SM3 is written here from GB/T 32905-2016.
//
// Ed25519: verifyStrict() implements the rules of wire-format.md §6.2 (ed25519-dalek
// verify_strict): S < l; A and R decode and are not of small order; [S]B - [k]A, encoded, equals
// the signature's R byte for byte (cofactorless). noble's ed25519.verify(..., {zip215: false}) is
// run as well (it is cofactored and also checks S < l and a non-small-order A). One known
// difference from dalek: with zip215: false noble refuses non-canonical point encodings (y >= p,
// or x = 0 with the sign bit set) of A and R, which dalek's decompression accepts; for R such
// a signature fails verify_strict anyway (the re-encoded R differs), for A only a handful of
// non-canonical encodings exist, and the ledger refuses non-canonical keys at enrolment
// (roles.md, "Keys: canonical and torsion-free"), so no entry a ledger accepted is affected.
"use strict";
const Pil = {};
(() => {
  const N = (typeof window !== "undefined" ? window : globalThis).noble;
  const te = new TextEncoder();
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  const H = (ctx, bytes) => N.blake3(bytes, { context: ctx });
  const CTX = {
    entry: "pil-ledger v1 entry", node: "pil-ledger v1 node", empty: "pil-ledger v1 empty",
    statement: "pil-ledger v1 statement", registry: "pil-ledger v1 registry",
  };
  const cat = (...a) => { const o = new Uint8Array(a.reduce((n, x) => n + x.length, 0)); let i = 0; for (const x of a) { o.set(x, i); i += x.length; } return o; };
  const eq = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  const toHex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  function fromHex(s) {
    if (typeof s !== "string" || !/^(?:[0-9a-f]{2})*$/.test(s)) throw new Error("not lowercase hex");
    const o = new Uint8Array(s.length / 2);
    for (let i = 0; i < o.length; i++) o[i] = parseInt(s.substr(2 * i, 2), 16);
    return o;
  }
  function toB64(b) {
    let s = "";
    for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode.apply(null, b.subarray(i, i + 0x8000));
    return btoa(s);
  }
  const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  // Standard base64 with padding, canonical: nothing but the alphabet and final padding, and no
  // stray bits in the last character (decoding and encoding again gives the same text).
  function fromB64(s) {
    if (typeof s !== "string" || s.length % 4 || !/^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s)) throw new Error("not standard base64");
    const pad = s.endsWith("==") ? 2 : s.endsWith("=") ? 1 : 0;
    if (pad && B64.indexOf(s[s.length - pad - 1]) & (pad === 2 ? 15 : 3)) throw new Error("not canonical base64");
    const bin = atob(s), o = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) o[i] = bin.charCodeAt(i);
    return o;
  }
  const decimal = (s) => { if (!/^(0|[1-9][0-9]*)$/.test(s)) throw new Error("bad decimal"); const n = BigInt(s); if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error("too large"); return Number(n); };

  // ---- SM3 (GB/T 32905-2016) ----
  function sm3(msg) {
    const rotl = (x, n) => ((x << n) | (x >>> (32 - n))) >>> 0;
    const P0 = (x) => (x ^ rotl(x, 9) ^ rotl(x, 17)) >>> 0, P1 = (x) => (x ^ rotl(x, 15) ^ rotl(x, 23)) >>> 0;
    const V = [0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600, 0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e];
    const len = msg.length, total = Math.ceil((len + 9) / 64) * 64;
    const m = new Uint8Array(total);
    m.set(msg); m[len] = 0x80;
    const dv = new DataView(m.buffer);
    dv.setUint32(total - 8, Math.floor(len / 0x20000000)); dv.setUint32(total - 4, (len * 8) >>> 0);
    const W = new Uint32Array(68), W1 = new Uint32Array(64);
    for (let off = 0; off < total; off += 64) {
      for (let j = 0; j < 16; j++) W[j] = dv.getUint32(off + 4 * j);
      for (let j = 16; j < 68; j++) W[j] = (P1(W[j - 16] ^ W[j - 9] ^ rotl(W[j - 3], 15)) ^ rotl(W[j - 13], 7) ^ W[j - 6]) >>> 0;
      for (let j = 0; j < 64; j++) W1[j] = (W[j] ^ W[j + 4]) >>> 0;
      let [A, B, C, D, E, F, G, Hh] = V;
      for (let j = 0; j < 64; j++) {
        const T = j < 16 ? 0x79cc4519 : 0x7a879d8a;
        const SS1 = rotl((rotl(A, 12) + E + rotl(T, j % 32)) >>> 0, 7);
        const SS2 = (SS1 ^ rotl(A, 12)) >>> 0;
        const FF = j < 16 ? A ^ B ^ C : (A & B) | (A & C) | (B & C);
        const GG = j < 16 ? E ^ F ^ G : (E & F) | (~E & G);
        const TT1 = ((FF >>> 0) + D + SS2 + W1[j]) >>> 0;
        const TT2 = ((GG >>> 0) + Hh + SS1 + W[j]) >>> 0;
        D = C; C = rotl(B, 9); B = A; A = TT1; Hh = G; G = rotl(F, 19); F = E; E = P0(TT2);
      }
      [A, B, C, D, E, F, G, Hh].forEach((x, i) => { V[i] = (V[i] ^ x) >>> 0; });
    }
    const out = new Uint8Array(32), ov = new DataView(out.buffer);
    V.forEach((x, i) => ov.setUint32(4 * i, x));
    return out;
  }
  // The digests a file's registration may list (wire-format.md §4, alg indexes 0..2).
  const DIGEST = { blake3: (b) => N.blake3(b), sha256: (b) => N.sha256(b), sm3 };

  // ---- Ed25519, strict (wire-format.md §6.2) ----
  const Point = N.ed25519.ExtendedPoint;
  const L = N.ed25519.CURVE.n;
  const leInt = (b) => { let n = 0n; for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]); return n; };
  // Results are remembered (the inputs are the whole key, message and signature, so a hit is the
  // same question): a page checking many bundles of one log checks each signature once.
  const memo = new Map();
  function verifyStrict(pub, msg, sig) {
    const key = toHex(pub) + toHex(sig) + toHex(msg);
    if (memo.has(key)) return memo.get(key);
    const ok = verifyStrictOnce(pub, msg, sig);
    if (memo.size >= 8192) memo.clear();
    memo.set(key, ok);
    return ok;
  }
  function verifyStrictOnce(pub, msg, sig) {
    try {
      if (pub.length !== 32 || sig.length !== 64) return false;
      const Rb = sig.slice(0, 32), S = leInt(sig.slice(32));
      if (S >= L) return false;
      const A = Point.fromHex(pub, false), R = Point.fromHex(Rb, false);
      if (A.isSmallOrder() || R.isSmallOrder()) return false;
      const k = leInt(N.sha512(cat(Rb, pub, msg))) % L;
      const check = Point.BASE.multiplyUnsafe(S).subtract(A.multiplyUnsafe(k));
      if (!eq(check.toRawBytes(), Rb)) return false;
      return N.ed25519.verify(sig, msg, pub, { zip215: false });
    } catch (e) { return false; }
  }
  // A key that may enter the registry (roles.md, "Keys: canonical and torsion-free").
  function validKey(pub) {
    try {
      const P = Point.fromHex(pub, false);
      return !P.isSmallOrder() && P.isTorsionFree() && eq(P.toRawBytes(), pub);
    } catch (e) { return false; }
  }

  // ---- verifier key and signed notes (wire-format.md §8) ----
  const keyId = (name, pub) => N.sha256(cat(te.encode(name), Uint8Array.of(0x0a, 0x01), pub)).slice(0, 4);
  function parseVkey(s) {
    s = String(s).trim();
    const i = s.indexOf("+");
    if (i < 1 || s[i + 9] !== "+") throw new Error("verifier key: name+keyid+key");
    const name = s.slice(0, i), id = fromHex(s.slice(i + 1, i + 9)), k = fromB64(s.slice(i + 10));
    if (!validName(name)) throw new Error("verifier key: bad name");
    if (k.length !== 33 || k[0] !== 1) throw new Error("verifier key: not 0x01 + 32 bytes");
    const pub = k.slice(1);
    if (!eq(keyId(name, pub), id)) throw new Error("verifier key: key id does not match");
    const P = Point.fromHex(pub, false);
    if (P.isSmallOrder()) throw new Error("verifier key: weak key");
    return { name, pub, id, text: s };
  }
  const validName = (n) => n !== "" && !/[\p{White_Space}+\p{Cc}]/u.test(n);
  // A C2SP signed note (wire-format.md §8) verified under the trusted key: returns the note
  // text's lines (without the final "\n") or throws. Signatures of other keys are ignored.
  function verifyNote(note, vk) {
    if (typeof note !== "string" || te.encode(note).length > (1 << 20) || note.includes("\r")) throw new Error("note: not text");
    const cut = note.lastIndexOf("\n\n");
    if (cut < 0) throw new Error("note: no blank line before signatures");
    const text = note.slice(0, cut + 1), sigs = note.slice(cut + 2);
    if (text === "" || text.startsWith("\n")) throw new Error("note: empty text");
    if (sigs === "" || !sigs.endsWith("\n")) throw new Error("note: missing signature lines");
    const lines = sigs.slice(0, -1).split("\n");
    if (lines.length > 100) throw new Error("note: too many signatures");
    let ok = false;
    for (const line of lines) {
      if (!line.startsWith("\u2014 ")) throw new Error("note: malformed signature line");
      const rest = line.slice(2), sp = rest.indexOf(" ");
      if (sp < 0) throw new Error("note: signature line needs name and signature");
      const name = rest.slice(0, sp), b64 = rest.slice(sp + 1);
      if (!validName(name) || b64.includes(" ")) throw new Error("note: bad signature line");
      const b = fromB64(b64);
      if (b.length < 5) throw new Error("note: short signature");
      if (name !== vk.name || !eq(b.slice(0, 4), vk.id)) continue; // unknown signer: ignored
      if (b.length !== 68 || !verifyStrict(vk.pub, te.encode(text), b.slice(4))) throw new Error("note: signature does not verify");
      ok = true;
    }
    if (!ok) throw new Error("note: not signed by the trusted key");
    return text.slice(0, -1).split("\n");
  }
  // A checkpoint note (wire-format.md §8): origin, size, root, optional extension lines.
  function openCheckpoint(note, vk) {
    const l = verifyNote(note, vk);
    if (l.length < 3 || l[0] !== vk.name) throw new Error("not a checkpoint of " + vk.name);
    const size = decimal(l[1]), root = fromB64(l[2]);
    if (root.length !== 32) throw new Error("root is not 32 bytes");
    if (l.slice(3).some((x) => x === "")) throw new Error("empty extension line");
    return { size, root };
  }

  // ---- Merkle (wire-format.md §7.1, RFC 9162 §2.1.3.2 and §2.1.4.2 with BLAKE3 contexts) ----
  const NODE = (l, r) => H(CTX.node, cat(l, r));
  function verifyInclusion(index, size, leaf, proof, root) {
    let fn = BigInt(index), sn = BigInt(size) - 1n, r = leaf;
    if (fn > sn) return false;
    for (const p of proof) {
      if (sn === 0n) return false;
      if ((fn & 1n) === 1n || fn === sn) {
        r = NODE(p, r);
        if ((fn & 1n) === 0n) while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
      } else r = NODE(r, p);
      fn >>= 1n; sn >>= 1n;
    }
    return sn === 0n && eq(r, root);
  }
  // RFC 9162 §2.1.4.2. An empty old tree proves nothing and is refused; equal sizes need an
  // empty proof and equal roots.
  function verifyConsistency(first, second, firstHash, secondHash, path) {
    if (first > second || first === 0) return false;
    if (first === second) return path.length === 0 && eq(firstHash, secondHash);
    if (path.length === 0) return false;
    let p = path.slice();
    let fn = BigInt(first) - 1n, sn = BigInt(second) - 1n;
    if ((BigInt(first) & fn) === 0n) p = [firstHash, ...p];
    while ((fn & 1n) === 1n) { fn >>= 1n; sn >>= 1n; }
    let fr = p[0], sr = p[0];
    for (const c of p.slice(1)) {
      if (sn === 0n) return false;
      if ((fn & 1n) === 1n || fn === sn) {
        fr = NODE(c, fr); sr = NODE(c, sr);
        if ((fn & 1n) === 0n) while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
      } else sr = NODE(sr, c);
      fn >>= 1n; sn >>= 1n;
    }
    return eq(fr, firstHash) && eq(sr, secondHash) && sn === 0n;
  }

  // ---- canonical decoding (wire-format.md §1–4) ----
  class Rd {
    constructor(b) { this.b = b; this.i = 0; }
    take(n) { if (n > this.b.length - this.i) throw new Error("truncated"); const o = this.b.slice(this.i, this.i + n); this.i += n; return o; }
    u8() { return this.take(1)[0]; }
    uN(n) { return leInt(this.take(n)); }
    u16() { return Number(this.uN(2)); }
    u32() { return Number(this.uN(4)); }
    // A Number, or a BigInt beyond 2^53 (compared exactly with <, <=, >, >=; never equal to a Number).
    u64() { const v = this.uN(8); return v > BigInt(Number.MAX_SAFE_INTEGER) ? v : Number(v); }
    len() { const n = this.uN(8); if (n > 65658n) throw new Error("length over limit"); return Number(n); }
    bytes() { return this.take(this.len()); }
    str() { return utf8.decode(this.bytes()); }
    bool() { const v = this.u8(); if (v > 1) throw new Error("bad bool"); return v === 1; }
    opt(f) { const t = this.u8(); if (t > 1) throw new Error("bad option tag"); return t ? f() : null; }
    vec(f) { const n = this.len(); const o = []; for (let k = 0; k < n; k++) o.push(f()); return o; }
    enm(names) { const v = this.u32(); if (v >= names.length) throw new Error("bad enum index"); return names[v]; }
    end() { if (this.i !== this.b.length) throw new Error("trailing bytes"); }
  }
  const ROLES = ["key-officer", "prosecutor", "assistant", "custodian", "approver", "court-liaison", "finance", "finance-reviewer", "auditor", "publisher"];
  const ENUMS = {
    stage: ["pre-suit-notice", "suit-filed", "mediation-notice", "judgment", "closed"],
    seal: ["none", "intact", "broken"],
    alg: ["blake3", "sha256", "sm3", "md5", "sha1"],
    acct: ["fund", "case", "payer", "payee", "treasury"],
  };
  const T = {
    s: (r) => r.str(), h: (r) => toHex(r.take(32)), u64: (r) => r.u64(), u32: (r) => r.u32(), u8: (r) => r.u8(),
    i32: (r) => { const v = r.u32(); return v >= 2 ** 31 ? v - 2 ** 32 : v; }, bool: (r) => r.bool(),
    ou64: (r) => r.opt(() => r.u64()), oh: (r) => r.opt(() => toHex(r.take(32))),
    roles: (r) => r.vec(() => r.enm(ROLES)), stage: (r) => r.enm(ENUMS.stage), seal: (r) => r.enm(ENUMS.seal),
    acct: (r) => r.enm(ENUMS.acct), d: (r) => ({ alg: r.enm(ENUMS.alg), value: toHex(r.bytes()) }),
    vd: (r) => r.vec(() => T.d(r)), vh: (r) => r.vec(() => toHex(r.take(32))), vs: (r) => r.vec(() => r.str()),
    va: (r) => r.vec(() => ({ head: r.str(), amount_fen: r.u64(), designated_use: r.str() })),
  };
  // Body kinds in index order: name, then "field:type" in wire order (wire-format.md §4).
  const KINDS = [
    "Genesis origin:s log_key:h officer:h holder:s unit:s",
    "KeyEnrolled key:h holder:s unit:s roles:roles valid_from_ms:u64 valid_until_ms:ou64",
    "KeyRevoked key:h reason:s compromised_since_ms:ou64",
    "Endorsed entry_hash:h capacity:s",
    "Correction entry_hash:h field:s value:s reason:s",
    "CaseOpened title:s area:s unit:s",
    "CaseEvent stage:stage occurred_at_ms:u64 reference:s note:s awards:va",
    "EvidenceRegistered evidence_id:s category:s digests:vd size:u64 media_type:s physical:bool description:s source:s method:s legal_basis:s collectors:vs witness:s place:s collected_at_ms:u64 collected_tz_offset_min:i32 tool:s tool_version:s original_medium:s provenance:s prior_digests:vd",
    "EvidenceDerived evidence_id:s parent:s digests:vd size:u64 media_type:s method:s",
    "Sealed evidence_id:s seal_id:s note:s",
    "Unsealed evidence_id:s approval:h condition:seal note:s",
    "CustodyTransferred evidence_id:s to:h purpose:s seal:seal",
    "CustodyReceived evidence_id:s transfer:h digests:vd seal:seal",
    "EvidenceAccessed evidence_id:s purpose:s",
    "IntegrityChecked evidence_id:s digests:vd note:s",
    "SubmittedToCourt evidence_id:s court:s reference:s",
    "Disposed evidence_id:s method:s reason:s",
    "LegalHold evidence_id:s reason:s",
    "HoldReleased evidence_id:s reason:s",
    "AccountOpened account_id:s account_kind:acct name:s no_overdraft:bool stages:u8",
    "Obligation obligation_id:s payer:s amount_fen:u64 designated_use:s due_ms:u64 judgment:oh",
    "FundReceipt account_id:s from:s amount_fen:u64 bank_ref:s",
    "Remittance from:s to:s amount_fen:u64 bank_ref:s",
    "DisbursementRequested request_id:s from:s to:s amount_fen:u64 purpose:s note:s",
    "DisbursementApproved request_id:s stage:u8",
    "DisbursementRejected request_id:s stage:u8 reason:s",
    "DisbursementPaid request_id:s amount_fen:u64 bank_ref:s",
    "DisbursementVoided request_id:s reason:s",
    "Reversal original:h amount_fen:u64 reason:s",
    "Reconciled account_id:s period_from_ms:u64 period_to_ms:u64 statement_digest:d balance_fen:u64",
    "Published case_or_scope:s what:s location:s notice_days:u32 report:vd",
    "AuditFinding scope:s finding:s entries:vh",
  ].map((l) => { const [name, ...f] = l.split(" "); return { name, fields: f.map((x) => x.split(":")) }; });
  function decodeEntry(b) {
    if (b.length > 65658) throw new Error("entry too long");
    const r = new Rd(b);
    const e = { format: r.u16(), seq: r.u64(), prev: r.take(32), recorded_at_ms: r.u64(), statement: r.bytes(), signature: r.take(64) };
    r.end();
    if (e.format !== 1) throw new Error("format is not 1");
    if (e.statement.length > 65536) throw new Error("statement too long");
    return e;
  }
  function decodeStatement(b) {
    const r = new Rd(b);
    const s = { format: r.u16(), origin: r.str(), author: toHex(r.take(32)), claimed_at_ms: r.u64(), nonce: toHex(r.take(16)), case_id: r.str() };
    const k = r.u32();
    if (k >= KINDS.length) throw new Error("unknown body kind " + k);
    const body = { kind: KINDS[k].name };
    for (const [f, t] of KINDS[k].fields) body[f] = T[t](r);
    r.end();
    if (s.format !== 1) throw new Error("format is not 1");
    s.body = body;
    return s;
  }
  const isRegistry = (b) => b.kind === "Genesis" || b.kind === "KeyEnrolled" || b.kind === "KeyRevoked" || (b.kind === "Endorsed" && b.capacity === "key-officer");

  // Roles allowed per kind (roles.md, "Which role may sign which kind").
  const ALL = ROLES.slice();
  const ALLOWED = {
    Genesis: ["key-officer"], KeyEnrolled: ["key-officer"], KeyRevoked: ["key-officer"], Endorsed: ALL, Correction: ALL,
    CaseOpened: ["prosecutor"], CaseEvent: ["prosecutor", "assistant", "court-liaison"],
    EvidenceRegistered: ["prosecutor", "assistant", "custodian"], EvidenceDerived: ["prosecutor", "assistant", "custodian"],
    Sealed: ["custodian", "prosecutor", "assistant"], Unsealed: ["custodian", "prosecutor"],
    CustodyTransferred: ["custodian", "prosecutor", "assistant", "court-liaison"], CustodyReceived: ["custodian", "prosecutor", "assistant", "court-liaison"],
    EvidenceAccessed: ["prosecutor", "assistant", "custodian", "court-liaison", "auditor"], IntegrityChecked: ["custodian", "auditor", "prosecutor", "assistant"],
    SubmittedToCourt: ["court-liaison", "prosecutor"], Disposed: ["custodian"], LegalHold: ["prosecutor", "approver"], HoldReleased: ["prosecutor", "approver"],
    AccountOpened: ["finance"], Obligation: ["prosecutor", "court-liaison", "finance"], FundReceipt: ["finance"], Remittance: ["finance"],
    DisbursementRequested: ["prosecutor", "finance"], DisbursementApproved: ["approver", "finance-reviewer"], DisbursementRejected: ["approver", "finance-reviewer"],
    DisbursementPaid: ["finance"], DisbursementVoided: ["finance", "approver"], Reversal: ["finance"], Reconciled: ["finance", "finance-reviewer"],
    Published: ["publisher"], AuditFinding: ["auditor"],
  };
  const FINANCE_RECORDS = ["AccountOpened", "Obligation", "FundReceipt", "Remittance", "DisbursementRequested", "DisbursementPaid", "DisbursementVoided", "Reversal", "Reconciled"];

  Object.assign(Pil, {
    N, H, CTX, cat, eq, toHex, fromHex, toB64, fromB64, decimal, sm3, DIGEST, verifyStrict, validKey,
    parseVkey, verifyNote, openCheckpoint, verifyInclusion, verifyConsistency, decodeEntry, decodeStatement,
    isRegistry, ROLES, ALLOWED, FINANCE_RECORDS,
  });
})();
