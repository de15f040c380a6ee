// In-browser court-bundle verifier (pil-ledger-bundle/v1), written from schema/bundle.md,
// schema/wire-format.md, schema/roles.md and schema/reasons.md §6 (not from the Rust code).
// Uses only the vendored @noble/hashes (BLAKE3, SHA-256, SHA-512) and @noble/curves (ed25519).
//
// Ed25519: verifyStrict() below implements the rules of wire-format.md §6.2 (ed25519-dalek
// verify_strict): S < l; A and R decode and are not of small order; [S]B - [k]A, encoded, equals
// the signature's R byte for byte (cofactorless). noble's ed25519.verify(..., {zip215: false}) is
// run as well (it is cofactored and also checks S < l and a non-small-order A). One known
// difference from dalek: with zip215: false noble refuses non-canonical point encodings (y >= p,
// or x = 0 with the sign bit set) of A and R, which dalek's decompression accepts; for R such
// a signature fails verify_strict anyway (the re-encoded R differs), for A only a handful of
// non-canonical encodings exist, and the ledger refuses non-canonical keys at enrolment
// (roles.md, "Keys: canonical and torsion-free"), so no entry a ledger accepted is affected.
"use strict";
const PilBundle = (() => {
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
  const toB64 = (b) => btoa(Array.from(b, (x) => String.fromCharCode(x)).join(""));
  function fromB64(s) { // standard, padded, canonical
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4) throw new Error("bad base64");
    const b = Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
    if (toB64(b) !== s) throw new Error("non-canonical base64");
    return b;
  }
  const decimal = (s) => { if (!/^(0|[1-9][0-9]*)$/.test(s)) throw new Error("bad decimal"); const n = BigInt(s); if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error("too large"); return Number(n); };

  // ---- Ed25519, strict (wire-format.md §6.2) ----
  const Point = N.ed25519.ExtendedPoint;
  const L = N.ed25519.CURVE.n;
  const leInt = (b) => { let n = 0n; for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]); return n; };
  function verifyStrict(pub, msg, sig) {
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

  // ---- verifier key and signed notes (wire-format.md §8) ----
  const keyId = (name, pub) => N.sha256(cat(te.encode(name), Uint8Array.of(0x0a, 0x01), pub)).slice(0, 4);
  function parseVkey(s) {
    s = String(s).trim();
    const i = s.indexOf("+");
    if (i < 1 || s[i + 9] !== "+") throw new Error("verifier key: name+keyid+key");
    const name = s.slice(0, i), id = fromHex(s.slice(i + 1, i + 9)), k = fromB64(s.slice(i + 10));
    if (/[\s+\x00-\x1f\x7f]/.test(name) || te.encode(name).length > 255) throw new Error("verifier key: bad name");
    if (k.length !== 33 || k[0] !== 1) throw new Error("verifier key: not 0x01 + 32 bytes");
    const pub = k.slice(1);
    if (!eq(keyId(name, pub), id)) throw new Error("verifier key: key id does not match");
    const P = Point.fromHex(pub, false);
    if (P.isSmallOrder()) throw new Error("verifier key: weak key");
    return { name, pub, id, text: s };
  }
  // Returns the note text's lines (without the final "\n") or throws.
  function verifyNote(note, vk) {
    if (typeof note !== "string" || note.length > (1 << 20) || note.includes("\r")) throw new Error("note: not text");
    const cut = note.lastIndexOf("\n\n");
    if (cut < 0 || !note.endsWith("\n")) throw new Error("note: no signature block");
    const text = note.slice(0, cut + 1), sigs = note.slice(cut + 2, -1).split("\n");
    if (sigs.length > 100) throw new Error("note: too many signatures");
    let ok = false;
    for (const line of sigs) {
      const m = /^\u2014 (\S+) (\S+)$/.exec(line);
      if (!m) throw new Error("note: malformed signature line");
      const b = fromB64(m[2]);
      if (b.length < 5) throw new Error("note: short signature");
      if (m[1] !== vk.name || !eq(b.slice(0, 4), vk.id)) continue; // unknown signer: ignored
      if (b.length !== 68 || !verifyStrict(vk.pub, te.encode(text), b.slice(4))) throw new Error("note: signature does not verify");
      ok = true;
    }
    if (!ok) throw new Error("note: not signed by the trusted key");
    return text.slice(0, -1).split("\n");
  }

  // ---- Merkle (wire-format.md §7.1, RFC 9162 §2.1.3.2 with BLAKE3 contexts) ----
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

  // ---- canonical decoding (wire-format.md §1–4) ----
  class Rd {
    constructor(b) { this.b = b; this.i = 0; }
    take(n) { if (n > this.b.length - this.i) throw new Error("truncated"); const o = this.b.slice(this.i, this.i + n); this.i += n; return o; }
    u8() { return this.take(1)[0]; }
    uN(n) { return leInt(this.take(n)); }
    u16() { return Number(this.uN(2)); }
    u32() { return Number(this.uN(4)); }
    u64() { const v = this.uN(8); if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error("u64 beyond 2^53 (not supported here)"); return Number(v); }
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
    vd: (r) => r.vec(() => T.d(r)), vh: (r) => r.vec(() => toHex(r.take(32))),
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
  T.vs = (r) => r.vec(() => r.str());
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
    const s = { format: r.u16(), origin: r.str(), author: toHex(r.take(32)), claimed_at_ms: r.u64(), nonce: r.take(16), case_id: r.str() };
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

  // ---- the bundle (bundle.md §3–4) ----
  const FIELDS = ["format", "vkey", "checkpoint", "registry_note", "entries", "registry", "consistency"];
  function parseBundle(text) {
    let j;
    try { j = JSON.parse(text); } catch (e) { throw new Error("not JSON: " + e.message); }
    if (!j || typeof j !== "object" || Array.isArray(j)) throw new Error("not a JSON object");
    for (const k of Object.keys(j)) if (!FIELDS.includes(k)) throw new Error("unknown field " + k);
    for (const k of FIELDS.slice(0, 6)) if (!(k in j)) throw new Error("missing field " + k);
    if (j.format !== "pil-ledger-bundle/v1") throw new Error("format is not pil-ledger-bundle/v1");
    for (const k of ["vkey", "checkpoint", "registry_note"]) if (typeof j[k] !== "string") throw new Error(k + " is not a string");
    const item = (x) => {
      if (!x || typeof x !== "object") throw new Error("bad item");
      for (const k of Object.keys(x)) if (!["seq", "entry", "proof"].includes(k)) throw new Error("unknown item field " + k);
      if (!Number.isSafeInteger(x.seq) || x.seq < 0 || !Array.isArray(x.proof)) throw new Error("bad item");
      const proof = x.proof.map((p) => { const b = fromHex(p); if (b.length !== 32) throw new Error("hash is not 32 bytes"); return b; });
      return { seq: x.seq, bytes: fromHex(x.entry), proof };
    };
    for (const k of ["entries", "registry"]) if (!Array.isArray(j[k])) throw new Error(k + " is not a list");
    const out = { vkey: j.vkey, checkpoint: j.checkpoint, registry_note: j.registry_note, entries: j.entries.map(item), registry: j.registry.map(item), consistency: null };
    if (j.consistency != null) {
      const c = j.consistency;
      if (!Number.isSafeInteger(c.old_size) || !Array.isArray(c.proof)) throw new Error("bad consistency");
      const old_root = fromHex(c.old_root);
      if (old_root.length !== 32) throw new Error("hash is not 32 bytes");
      out.consistency = { old_size: c.old_size, old_root, proof: c.proof.map(fromHex) };
    }
    return out;
  }

  const EN = {
    log_key_mismatch: "The bundle's vkey, or its genesis, names another key or origin than the trusted verifier key.",
    checkpoint_signature_invalid: "The bundle's checkpoint is not signed by the trusted key (nothing else can then be proven).",
    registry_note_invalid: "The registry note does not parse or is not signed by the trusted log key.",
    registry_note_mismatch: "The registry note is for another tree (size or root) than the checkpoint.",
    registry_incomplete: "The registry list is not the complete key registry the log key signed (an entry left out, such as a revocation, or added, repeated or reordered).",
    inclusion_proof_invalid: "The entry's proof does not lead from its hash at its seq to the checkpoint's root.",
    entry_not_canonical: "The entry does not decode canonically, or names another seq than it is listed at.",
    statement_not_canonical: "The entry's statement does not decode canonically.",
    wrong_origin: "The statement names another origin than the trusted key's.",
    signature_invalid: "The author's signature over the statement digest does not verify (strict Ed25519).",
    author_is_log_key: "The entry is signed by the log key.",
    author_not_enrolled: "The signer's key was not enrolled before this entry.",
    author_revoked: "The signer's key was revoked before this entry.",
    author_pending_endorsement: "The signer's key-officer enrolment was still waiting for a second officer.",
    author_not_yet_valid: "The signer's key was not yet valid when the entry was recorded.",
    author_expired: "The signer's key had expired when the entry was recorded.",
    role_not_allowed: "None of the signer's roles may sign this kind of entry.",
    chain_broken: "Adjacent bundled entries do not chain (prev is not the hash of the entry before).",
    clock_regressed: "A later bundled entry was recorded earlier than the one before it.",
    signed_after_compromise: "Signed at or after a time its key was later declared compromised.",
    solo_officer_appointment: "A key officer was appointed by a single officer (before dual control).",
    solo_officer_revocation: "An officer was revoked through the emergency path (fewer than two officers left).",
    custody_gap: "A bundled handover has no bundled receipt answering it, or a receipt answers a handover not in the bundle.",
  };

  function verifyBundle(text, trusted) {
    const reasons = [];
    const add = (code, seq, detail, severity) => reasons.push({ code, seq, severity: severity || "error", message: (EN[code] || code) + (detail ? " (" + detail + ")" : "") });
    const vk = parseVkey(trusted); // throws: invalid_vkey
    const b = parseBundle(text); // throws: invalid_bundle
    const result = { reasons, entries: [], origin: vk.name };
    const finish = () => {
      result.verdict = reasons.some((r) => r.severity === "error") ? "invalid" : reasons.length ? "valid-with-warnings" : "valid";
      return result;
    };
    // 1. vkey
    if (b.vkey.trim() !== vk.text) add("log_key_mismatch", null, "bundle vkey " + b.vkey.trim());
    // 2. checkpoint
    let size, root;
    try {
      const l = verifyNote(b.checkpoint, vk);
      if (l.length < 3 || l[0] !== vk.name) throw new Error("not a checkpoint of " + vk.name);
      size = decimal(l[1]); root = fromB64(l[2]);
      if (root.length !== 32) throw new Error("root is not 32 bytes");
    } catch (e) { add("checkpoint_signature_invalid", null, e.message); return finish(); }
    result.size = size; result.root = toHex(root);
    // 3. registry note
    let note = null;
    try {
      const l = verifyNote(b.registry_note, vk);
      if (l.length !== 5 || l[0] !== vk.name + "/registry") throw new Error("not a registry note of " + vk.name);
      note = { size: decimal(l[1]), root: fromB64(l[2]), count: decimal(l[3]), R: fromB64(l[4]) };
      if (note.root.length !== 32 || note.R.length !== 32) throw new Error("hash is not 32 bytes");
    } catch (e) { add("registry_note_invalid", null, e.message); }
    if (note && (note.size !== size || !eq(note.root, root))) { add("registry_note_mismatch", null, "note size " + note.size); note = null; }
    if (note) result.registry_count = note.count;
    // 4. every item of both lists
    const checked = new Map(); // seq -> decoded item (first occurrence)
    const check = (it) => {
      const key = it.seq + ":" + toHex(it.bytes);
      if (checked.has(key)) return checked.get(key);
      const d = { seq: it.seq, hash: H(CTX.entry, it.bytes), ok: false };
      checked.set(key, d);
      if (!verifyInclusion(it.seq, size, d.hash, it.proof, root)) add("inclusion_proof_invalid", it.seq);
      try { d.e = decodeEntry(it.bytes); if (d.e.seq !== it.seq) throw new Error("names seq " + d.e.seq); } catch (e) { add("entry_not_canonical", it.seq, e.message); return d; }
      try { d.s = decodeStatement(d.e.statement); } catch (e) { add("statement_not_canonical", it.seq, e.message); return d; }
      if (d.s.origin !== vk.name) add("wrong_origin", it.seq, d.s.origin);
      if (!verifyStrict(fromHex(d.s.author), H(CTX.statement, d.e.statement), d.e.signature)) add("signature_invalid", it.seq);
      d.ok = true;
      return d;
    };
    const ents = b.entries.map(check), regs = b.registry.map(check);
    // 5. registry list: kinds, order, chain
    let R = new Uint8Array(32), regOk = true, last = -1;
    for (const d of regs) {
      if (d.s && !isRegistry(d.s.body)) { add("registry_incomplete", d.seq, "not a key-registry entry"); regOk = false; }
      if (d.seq <= last) { add("registry_incomplete", d.seq, "seqs not ascending"); regOk = false; }
      last = d.seq;
      R = H(CTX.registry, cat(R, d.hash));
    }
    if (!regs.length || regs[0].seq !== 0) { add("registry_incomplete", null, "does not start with the genesis"); regOk = false; }
    if (note && (!eq(R, note.R) || regs.length !== note.count)) { add("registry_incomplete", null, "chain over " + regs.length + " entries differs from the note's (count " + note.count + ")"); regOk = false; }
    if (!note) regOk = false;
    // 6. genesis
    const g = regs[0];
    if (g && g.seq === 0 && g.s && g.s.body.kind === "Genesis") {
      if (g.s.body.log_key !== toHex(vk.pub) || g.s.body.origin !== vk.name) add("log_key_mismatch", 0, "the genesis names another log key or origin");
    }
    // 7. authority: replay the registry in seq order, deciding each bundled entry against the
    // registry as it stood just before its seq.
    const keys = new Map(); let logKey = null; const officers = new Set(); let dual = false;
    const activeOfficers = (t) => [...officers].filter((k) => { const r = keys.get(k); return r.from <= t && (r.until == null || t < r.until); });
    const authorCheck = (d) => {
      const s = d.s, seq = d.seq, t = d.e.recorded_at_ms;
      if (s.body.kind === "Genesis") return;
      const k = keys.get(s.author);
      if (s.author === logKey) return add("author_is_log_key", seq);
      if (!k) return add("author_not_enrolled", seq);
      if (k.revoked != null) return add("author_revoked", seq, "revoked at seq " + k.revoked);
      if (k.pending) return add("author_pending_endorsement", seq);
      if (t < k.from) return add("author_not_yet_valid", seq);
      if (k.until != null && t >= k.until) return add("author_expired", seq);
      if (!(ALLOWED[s.body.kind] || []).some((r) => k.roles.includes(r))) return add("role_not_allowed", seq, s.body.kind + " by " + k.roles.join(","));
    };
    const apply = (d) => {
      const body = d.s.body, seq = d.seq;
      if (body.kind === "Genesis") {
        logKey = body.log_key;
        keys.set(body.officer, { holder: body.holder, unit: body.unit, roles: ["key-officer"], from: 0, until: null, seq, hash: toHex(d.hash), pending: false, revoked: null, compromised: null });
        officers.add(body.officer);
      } else if (body.kind === "KeyEnrolled") {
        const officer = body.roles.includes("key-officer");
        const pending = officer && dual;
        if (officer && !dual) add("solo_officer_appointment", seq, null, "warning");
        keys.set(body.key, { holder: body.holder, unit: body.unit, roles: body.roles, from: body.valid_from_ms, until: body.valid_until_ms, seq, hash: toHex(d.hash), pending, revoked: null, compromised: null });
        if (officer && !pending) officers.add(body.key);
      } else if (body.kind === "KeyRevoked") {
        const k = keys.get(body.key);
        if (k) {
          if (dual && officers.has(body.key) && activeOfficers(d.e.recorded_at_ms).filter((x) => x !== body.key).length < 2 && body.compromised_since_ms != null) add("solo_officer_revocation", seq, null, "warning");
          k.revoked = seq; k.compromised = body.compromised_since_ms; officers.delete(body.key);
        }
      } else if (body.kind === "Endorsed") {
        for (const [kk, k] of keys) if (k.hash === body.entry_hash) { if (k.pending && k.revoked == null) { k.pending = false; officers.add(kk); } else k.vetted = true; }
      }
      if (officers.size >= 2) dual = true;
    };
    const bySeq = new Map();
    for (const d of regs) if (d.s) bySeq.set(d.seq, { d, reg: true });
    for (const d of ents) if (d.s && !bySeq.has(d.seq)) bySeq.set(d.seq, { d, reg: false });
    const order = [...bySeq.keys()].sort((a, b2) => a - b2);
    const signer = new Map();
    for (const seq of order) {
      const { d, reg } = bySeq.get(seq);
      if (regOk) authorCheck(d);
      const k = keys.get(d.s.author);
      if (k) signer.set(seq, { holder: k.holder, unit: k.unit, roles: k.roles.slice() });
      if (reg) apply(d);
    }
    if (regOk) {
      for (const seq of order) {
        const d = bySeq.get(seq).d, k = keys.get(d.s.author);
        if (k && k.compromised != null && k.revoked != null && seq < k.revoked && d.e.recorded_at_ms >= k.compromised) add("signed_after_compromise", seq, null, "warning");
      }
    }
    // 8. chain and clock among the bundled entries
    const sorted = ents.filter((d) => d.e).slice().sort((a, b2) => a.seq - b2.seq);
    for (let i = 1; i < sorted.length; i++) {
      const a = sorted[i - 1], c = sorted[i];
      if (c.seq === a.seq + 1 && !eq(c.e.prev, a.hash)) add("chain_broken", c.seq);
      if (c.e.recorded_at_ms < a.e.recorded_at_ms) add("clock_regressed", c.seq);
    }
    // 9. custody (partial): handovers without a bundled receipt and receipts without a bundled handover.
    const transfers = new Map(), answered = new Set();
    for (const d of sorted) if (d.s && d.s.body.kind === "CustodyTransferred") transfers.set(toHex(d.hash), d.seq);
    for (const d of sorted) if (d.s && d.s.body.kind === "CustodyReceived") {
      if (transfers.has(d.s.body.transfer)) answered.add(d.s.body.transfer); else add("custody_gap", d.seq, "answers a handover not in the bundle", "warning");
    }
    for (const [h, seq] of transfers) if (!answered.has(h)) add("custody_gap", seq, "no bundled receipt", "warning");
    result.entries = ents.map((d) => ({
      seq: d.seq, hash: toHex(d.hash), kind: d.s ? d.s.body.kind : "?", author: d.s ? d.s.author : null,
      case_id: d.s ? d.s.case_id : "", recorded_at_ms: d.e ? d.e.recorded_at_ms : null, signer: signer.get(d.seq) || null,
    }));
    reasons.sort((x, y) => (x.seq == null ? -1 : x.seq) - (y.seq == null ? -1 : y.seq));
    return finish();
  }
  return { verifyBundle, parseVkey, verifyNote, verifyInclusion, verifyStrict, decodeEntry, decodeStatement, H, CTX, toHex, fromHex, EN };
})();
if (typeof module !== "undefined") module.exports = PilBundle;
