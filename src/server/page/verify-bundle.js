// In-browser court-bundle verifier, part 4 of 4: the bundle (bundle.md §3) and every step of
// bundle.md §4, with the codes of reasons.md §6. PilBundle.verifyBundle(text, trustedVkey,
// keptNote) returns the verdict or throws {code, message} for input that cannot be judged.
const PilBundle = (() => {
  const P = Pil;
  const { H, CTX, cat, eq, toHex, fromHex, fromB64, decimal, DIGEST, verifyStrict, verifyNote, openCheckpoint } = P;
  const MAX_BUNDLE = 64 << 20, MAX_FILE = 16 << 20, MAX_FILES = 32 << 20;
  const input = (code, message) => { const e = new Error(message); e.code = code; return e; };
  const bad = (m) => input("invalid_bundle", m);

  function fields(o, allowed, required, what) {
    if (!o || typeof o !== "object" || Array.isArray(o)) throw bad(what + " is not an object");
    for (const k of Object.keys(o)) if (!allowed.includes(k)) throw bad("unknown field " + what + "." + k);
    for (const k of required) if (!(k in o)) throw bad("missing field " + what + "." + k);
  }
  const seqOf = (x, what) => { if (!Number.isSafeInteger(x) || x < 0) throw bad(what + " is not a seq"); return x; };
  const str = (x, what) => { if (typeof x !== "string") throw bad(what + " is not a string"); return x; };
  const hash32 = (h) => { const b = fromHex(str(h, "hash")); if (b.length !== 32) throw new Error("a hash is 32 bytes"); return b; };
  const hashes = (a, what) => { if (!Array.isArray(a)) throw bad(what + " is not a list"); return a.map(hash32); };
  const ascending = (list, what) => {
    for (let i = 1; i < list.length; i++) if (list[i].seq <= list[i - 1].seq) throw bad(what + ": seq " + list[i].seq + " after " + list[i - 1].seq + ": not strictly ascending");
  };

  // bundle.md §3: strict JSON of this shape, or input error invalid_bundle.
  function parseBundle(text) {
    if (new TextEncoder().encode(text).length > MAX_BUNDLE) throw bad("over 64 MiB");
    let j;
    try { j = JSON.parse(text); } catch (e) { throw bad("not JSON: " + e.message); }
    try {
      fields(j, ["format", "vkey", "checkpoint", "registry_note", "entries", "registry", "consistency", "files"],
        ["format", "vkey", "checkpoint", "registry_note", "entries", "registry"], "bundle");
      if (j.format !== "pil-ledger-bundle/v1") throw bad("format is not pil-ledger-bundle/v1");
      for (const k of ["vkey", "checkpoint", "registry_note"]) str(j[k], k);
      const item = (x, what) => {
        fields(x, ["seq", "entry", "proof"], ["seq", "entry", "proof"], what);
        return { seq: seqOf(x.seq, what + ".seq"), bytes: fromHex(str(x.entry, what + ".entry")), proof: hashes(x.proof, what + ".proof") };
      };
      const list = (k) => { if (!Array.isArray(j[k])) throw bad(k + " is not a list"); return j[k].map((x, i) => item(x, k + "[" + i + "]")); };
      const out = { vkey: j.vkey, checkpoint: j.checkpoint, registry_note: j.registry_note, entries: list("entries"), registry: list("registry"), consistency: null, files: [] };
      ascending(out.entries, "entries");
      if (j.consistency != null) {
        const c = j.consistency;
        fields(c, ["old_size", "old_root", "proof"], ["old_size", "old_root", "proof"], "consistency");
        out.consistency = { old_size: seqOf(c.old_size, "consistency.old_size"), old_root: hash32(c.old_root), proof: hashes(c.proof, "consistency.proof") };
      }
      if ("files" in j) {
        if (!Array.isArray(j.files)) throw bad("files is not a list");
        let total = 0;
        out.files = j.files.map((f, i) => {
          fields(f, ["seq", "evidence_id", "data"], ["seq", "evidence_id", "data"], "files[" + i + "]");
          const data = fromB64(str(f.data, "files[" + i + "].data"));
          if (data.length > MAX_FILE) throw bad("files[" + i + "] is over 16 MiB");
          total += data.length;
          return { seq: seqOf(f.seq, "files[" + i + "].seq"), evidence_id: str(f.evidence_id, "files[" + i + "].evidence_id"), data };
        });
        ascending(out.files, "files");
        if (total > MAX_FILES) throw bad("files: over 32 MiB together");
      }
      return out;
    } catch (e) {
      throw e.code ? e : bad(e.message);
    }
  }

  // The bundle's own vkey field, read as bundle verify reads it (only a final newline trimmed).
  function sameKey(text, vk) {
    try {
      const t = text.replace(/[\r\n]+$/, "");
      if (t !== t.trim()) return false;
      const v = P.parseVkey(t);
      return v.name === vk.name && eq(v.pub, vk.pub) && eq(v.id, vk.id);
    } catch (e) { return false; }
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
    custody_rehash_mismatch: "A bundled receipt's or integrity check's re-hash differs from the bundled registration's digests.",
    log_rewritten: "The consistency proof does not verify, or the kept checkpoint is not the tree it starts from.",
    file_not_registered: "A carried file names no bundled registration of its evidence id.",
    file_digest_mismatch: "A carried file is not the registered file (its size or a registered digest differs).",
    // refusals of the key-registry rules, met while replaying the registry (roles.md)
    genesis_misplaced: "A genesis anywhere but seq 0, or seq 0 that is not a genesis.",
    bad_genesis: "The genesis is inconsistent (origin, officer or log key).",
    nonce_reused: "Two registry entries share (author, nonce).",
    invalid_key: "A key in the entry is not a canonical, torsion-free Ed25519 key, or is the log key.",
    key_already_enrolled: "The key was already enrolled.",
    missing_field: "A required field is empty.",
    invalid_name: "A holder or unit name holds an invisible or control character, is too long, or mixes scripts that can imitate another name.",
    invalid_value: "A role listed twice, or a validity window that ends before it starts.",
    unknown_key: "The revoked key was never enrolled.",
    already_revoked: "The key was already revoked.",
    last_key_officer: "The revocation would leave no key officer able to enrol keys.",
    dual_control_required: "Under dual control, revoking this officer needs two people or a declared compromise.",
    unknown_entry: "The endorsement points at no earlier key-registry entry.",
    self_endorsement: "The endorser is the endorsed entry's author, the person enrolled or the enrolling officer.",
    already_endorsed: "This key already endorsed that entry.",
    capacity_mismatch: "A key-officer endorsement of something other than an enrolment.",
  };

  // Every algorithm both lists name must match, and at least one must be shared (bundle.md §4.9).
  function rehashMatches(registered, rehash) {
    let shared = 0;
    for (const d of rehash) {
      const r = registered.find((x) => x.alg === d.alg);
      if (r) { if (r.value !== d.value) return false; shared++; }
    }
    return shared > 0;
  }
  // bundle.md §4.11: null if `data` is the file of a registration of `size` with `digests`.
  function fileMismatch(data, size, digests) {
    if (!digests.length) return "its registration lists no digest";
    const weak = digests.find((d) => !DIGEST[d.alg]);
    if (weak) return "its registration lists a " + weak.alg + " digest";
    if (data.length !== size) return "it is " + data.length + " bytes, the registration says " + size;
    for (const d of digests) if (toHex(DIGEST[d.alg](data)) !== d.value) return "its " + d.alg + " digest differs";
    return null;
  }

  function verifyBundle(text, trusted, keptText) {
    const reasons = [];
    const add = (code, seq, detail, severity) => reasons.push({ code, seq, severity: severity || "error", message: (EN[code] || code) + (detail ? " (" + detail + ")" : "") });
    let vk;
    try { vk = P.parseVkey(trusted); } catch (e) { throw input("invalid_vkey", e.message); }
    const b = parseBundle(text);
    let kept = null;
    if (keptText != null && String(keptText).trim() !== "") {
      try { kept = openCheckpoint(String(keptText), vk); } catch (e) { throw input("invalid_argument", "kept checkpoint: not a checkpoint signed by " + vk.text + " (" + e.message + ")"); }
    }
    const result = { reasons, entries: [], files: [], origin: vk.name };
    const finish = () => {
      reasons.sort((x, y) => (x.seq == null ? -1 : x.seq) - (y.seq == null ? -1 : y.seq));
      result.verdict = reasons.some((r) => r.severity === "error") ? "invalid" : reasons.length ? "valid-with-warnings" : "valid";
      return result;
    };
    // 1. vkey, 2. checkpoint
    if (!sameKey(b.vkey, vk)) add("log_key_mismatch", null, "the bundle names another verifier key");
    let cp;
    try { cp = openCheckpoint(b.checkpoint, vk); } catch (e) { add("checkpoint_signature_invalid", null, e.message); return finish(); }
    const { size, root } = cp;
    result.size = size; result.root = toHex(root);
    // 10. the consistency proof, and the kept checkpoint
    const c = b.consistency;
    if (c && !P.verifyConsistency(c.old_size, size, c.old_root, root, c.proof)) add("log_rewritten", null, "the consistency proof from size " + c.old_size + " does not verify");
    if (kept) {
      if (kept.size > size) throw input("invalid_argument", "the kept checkpoint (size " + kept.size + ") is newer than the bundle's (" + size + ")");
      let oldRoot = root;
      if (kept.size !== size) {
        if (!c || c.old_size !== kept.size) throw input("invalid_argument", "the bundle carries no consistency proof from size " + kept.size);
        oldRoot = c.old_root;
      }
      if (!eq(oldRoot, kept.root)) add("log_rewritten", null, "the kept checkpoint of size " + kept.size + " commits to another tree");
      result.kept_size = kept.size;
    }
    // 3. registry note
    let note = null;
    try {
      const l = verifyNote(b.registry_note, vk);
      if (l.length !== 5 || l[0] !== vk.name + "/registry") throw new Error("not a registry note of " + vk.name);
      note = { size: decimal(l[1]), root: fromB64(l[2]), count: decimal(l[3]), R: fromB64(l[4]) };
      if (note.root.length !== 32 || note.R.length !== 32) throw new Error("hash is not 32 bytes");
    } catch (e) { add("registry_note_invalid", null, e.message); note = null; }
    if (note && (note.size !== size || !eq(note.root, root))) add("registry_note_mismatch", null, "note size " + note.size);
    result.registry_count = note ? note.count : 0;
    // 4. every item of both lists
    const check = (it) => {
      const d = { seq: it.seq, hash: H(CTX.entry, it.bytes) };
      if (!P.verifyInclusion(it.seq, size, d.hash, it.proof, root)) add("inclusion_proof_invalid", it.seq);
      try { d.e = P.decodeEntry(it.bytes); } catch (e) { add("entry_not_canonical", it.seq, e.message); return d; }
      if (d.e.seq !== it.seq) { add("entry_not_canonical", it.seq, "names seq " + d.e.seq); delete d.e; return d; }
      try { d.s = P.decodeStatement(d.e.statement); } catch (e) { add("statement_not_canonical", it.seq, e.message); delete d.e; return d; }
      if (d.s.origin !== vk.name) add("wrong_origin", it.seq, d.s.origin);
      if (!verifyStrict(fromHex(d.s.author), H(CTX.statement, d.e.statement), d.e.signature)) add("signature_invalid", it.seq);
      return d;
    };
    const regs = b.registry.map(check), ents = b.entries.map(check);
    // 5. registry list: kinds, order, chain; 6. genesis
    let R = new Uint8Array(32);
    for (let i = 0; i < regs.length; i++) {
      const d = regs[i];
      if (i > 0 && d.seq <= regs[i - 1].seq) add("registry_incomplete", d.seq, "not in log order");
      if (d.s && !P.isRegistry(d.s.body)) add("registry_incomplete", d.seq, "a " + d.s.body.kind + " is not a key-registry entry");
      R = H(CTX.registry, cat(R, d.hash));
    }
    if (note && (!eq(R, note.R) || regs.length !== note.count)) add("registry_incomplete", null, "the chain over " + regs.length + " entries differs from the note's (count " + note.count + ")");
    const g = regs[0];
    if (g && g.seq === 0 && g.s && g.s.body.kind === "Genesis") {
      if (g.s.body.log_key !== toHex(vk.pub) || g.s.body.origin !== vk.name) add("log_key_mismatch", 0, "the genesis names another log key or origin");
    } else add("registry_incomplete", 0, "does not start with the genesis at seq 0");
    // 7. authority: replay the registry (key-registry kinds, each seq once) in seq order,
    // deciding each other entry in question against the registry just before its seq.
    const reg = new P.Registry(vk.name), trustedKey = toHex(vk.pub);
    const replay = [];
    for (const d of regs) if (d.s && P.isRegistry(d.s.body) && !replay.some((x) => x.seq === d.seq)) replay.push(d);
    replay.sort((x, y) => x.seq - y.seq);
    let next = 0;
    const applyUntil = (bound) => {
      while (next < replay.length && replay[next].seq < bound) {
        const d = replay[next++];
        const out = reg.apply(d.seq, toHex(d.hash), d.e, d.s);
        if (out.refusal) add(out.refusal.code, d.seq, out.refusal.message);
        else for (const [code, m] of out.warnings) add(code, d.seq, m, "warning");
      }
    };
    const signer = new Map();
    for (const d of ents.slice().sort((x, y) => x.seq - y.seq)) {
      applyUntil(d.seq);
      if (!d.s) continue;
      if (!P.isRegistry(d.s.body)) {
        const r = reg.decide(d.s.author, d.s.body.kind, d.e.recorded_at_ms, trustedKey);
        if (r) add(r.code, d.seq, r.message);
      }
      const k = reg.keys.get(d.s.author);
      if (k) signer.set(d.seq, { holder: k.holder, unit: k.unit, roles: k.roles.slice() });
    }
    applyUntil(Infinity);
    for (const d of ents) {
      const k = d.s && reg.keys.get(d.s.author);
      if (k && k.compromised != null && k.revoked != null && d.seq < k.revoked && d.e.recorded_at_ms >= k.compromised) add("signed_after_compromise", d.seq, "signed by " + k.holder + " (" + k.unit + ")", "warning");
    }
    // 8. chain and clock among the bundled entries of both lists
    const bySeq = new Map();
    for (const d of regs.concat(ents)) if (d.e && !bySeq.has(d.seq)) bySeq.set(d.seq, d);
    const all = [...bySeq.values()].sort((x, y) => x.seq - y.seq);
    for (let i = 1; i < all.length; i++) {
      const a = all[i - 1], x = all[i];
      if (x.seq === a.seq + 1 && !eq(x.e.prev, a.hash)) add("chain_broken", x.seq);
      if (x.e.recorded_at_ms < a.e.recorded_at_ms) add("clock_regressed", x.seq, "recorded before seq " + a.seq);
    }
    // 9. custody, item by item, among the entries in question
    const items = new Map(), item = (id) => { if (!items.has(id)) items.set(id, { digests: null, pending: null }); return items.get(id); };
    const sorted = ents.filter((d) => d.s).sort((x, y) => x.seq - y.seq);
    for (const d of sorted) {
      const body = d.s.body, t = body.evidence_id === undefined ? null : item(body.evidence_id);
      if (body.kind === "EvidenceRegistered" || body.kind === "EvidenceDerived") { t.digests = body.digests; continue; }
      if (body.kind === "CustodyTransferred") {
        if (t.pending) add("custody_gap", t.pending.seq, "the handover of " + body.evidence_id + " has no receipt in the bundle", "warning");
        t.pending = { hash: toHex(d.hash), seq: d.seq };
        continue;
      }
      if (body.kind === "CustodyReceived") {
        if (t.pending && t.pending.hash === body.transfer) t.pending = null;
        else add("custody_gap", d.seq, "a receipt of " + body.evidence_id + " answers a handover that is not in the bundle", "warning");
      } else if (body.kind !== "IntegrityChecked") continue;
      if (t.digests && body.digests.length && !rehashMatches(t.digests, body.digests)) add("custody_rehash_mismatch", d.seq, "the re-hash of " + body.evidence_id + " differs from its registered digests");
    }
    for (const [id, t] of items) if (t.pending) add("custody_gap", t.pending.seq, "the handover of " + id + " has no receipt in the bundle", "warning");
    // 11. carried files
    for (const f of b.files) {
      const d = ents.find((x) => x.seq === f.seq && x.s && (x.s.body.kind === "EvidenceRegistered" || x.s.body.kind === "EvidenceDerived"));
      let why = null;
      if (!d || d.s.body.evidence_id !== f.evidence_id) add("file_not_registered", f.seq, "a carried file of " + JSON.stringify(f.evidence_id));
      else if ((why = fileMismatch(f.data, d.s.body.size, d.s.body.digests))) add("file_digest_mismatch", f.seq, why);
      const ok = d && d.s.body.evidence_id === f.evidence_id && !why;
      result.files.push({ seq: f.seq, evidence_id: f.evidence_id, size: f.data.length, matches: !!ok, data: f.data, media_type: d ? d.s.body.media_type : "" });
    }
    // the entries in question that decode, as bundle verify lists them
    result.entries = ents.filter((d) => d.s).map((d) => ({
      seq: d.seq, hash: toHex(d.hash), kind: d.s.body.kind, author: d.s.author,
      case_id: d.s.case_id, recorded_at_ms: d.e.recorded_at_ms, signer: signer.get(d.seq) || null,
    }));
    return finish();
  }
  // For scripts and tests: the verdict, or {verdict: "refused", error: {code, message}}.
  function pilVerifyBundle(text, trusted, kept) {
    try { return verifyBundle(text, trusted, kept); } catch (e) {
      if (!e.code) throw e;
      return { verdict: "refused", error: { code: e.code, message: e.message } };
    }
  }
  if (typeof window !== "undefined") window.pilVerifyBundle = pilVerifyBundle;
  return { verifyBundle, pilVerifyBundle, parseBundle, EN, Pil: P };
})();
