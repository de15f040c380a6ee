// In-browser court-bundle verifier, part 3 of 4: the key registry replayed through the rules of
// roles.md ("The authority model as implemented") for Genesis, KeyEnrolled, KeyRevoked and
// Endorsed, over a state holding only what registry entries write (bundle.md §4, step 7).
// A refused entry changes nothing; the checks run in roles.md's order.
(() => {
  const { ALLOWED, fromHex, validKey, checkName, checkText, samePerson } = Pil;
  const blank = (s) => /^\p{White_Space}*$/u.test(s);
  class Refusal { constructor(code, message) { this.code = code; this.message = message; } }
  const refuse = (code, message) => { throw new Refusal(code, message); };
  // A name the rules refuse is a refusal of the entry (missing_field or invalid_name).
  const named = (f) => { try { f(); } catch (e) { if (e instanceof Error) throw e; refuse(e.code, e.message); } };

  class Registry {
    constructor(origin) {
      this.origin = origin;
      this.keys = new Map(); // key hex -> record
      this.logKey = null;
      this.officers = []; // keys in effect, in the order they came
      this.dual = false; // dual control in force (never switched off)
      this.enrolledAt = new Map(); // seq -> key hex
      this.nonces = new Set(); // author hex + nonce hex
      this.refs = new Map(); // entry hash hex -> {seq, author, kind}
      this.endorsements = new Set(); // entry hash hex + endorser hex
    }
    // Authority of a record for a kind at recorded_at_ms (roles.md, check 4), or null.
    authority(rec, kind, t) {
      if (rec.revoked != null) return new Refusal("author_revoked", "revoked at seq " + rec.revoked);
      if (rec.pending) return new Refusal("author_pending_endorsement", "a key-officer enrolment waiting for a second officer");
      if (t < rec.from) return new Refusal("author_not_yet_valid", "not yet valid");
      if (rec.until != null && t >= rec.until) return new Refusal("author_expired", "expired");
      if (!(ALLOWED[kind] || []).some((r) => rec.roles.includes(r))) return new Refusal("role_not_allowed", kind + " by " + rec.roles.join(","));
      return null;
    }
    // The author of an entry, decided against the registry as it stands; `logKey`: the log key
    // the entry may not be signed by.
    decide(author, kind, t, logKey) {
      if (author === logKey) return new Refusal("author_is_log_key", "signed by the log key");
      const rec = this.keys.get(author);
      if (!rec) return new Refusal("author_not_enrolled", "key " + author + " not enrolled before this entry");
      return this.authority(rec, kind, t);
    }
    active(t) {
      return this.officers.map((k) => this.keys.get(k)).filter((r) => r && !this.authority(r, "KeyEnrolled", t));
    }
    // Decide one key-registry entry (seq, hash hex, entry, statement): returns
    // {warnings: [[code, message]]} and applies its effects, or returns {refusal} and changes nothing.
    apply(seq, hash, e, s) {
      const fx = [], warnings = [];
      try {
        const b = s.body, t = e.recorded_at_ms;
        if (s.origin !== this.origin) refuse("wrong_origin", "statement for origin " + JSON.stringify(s.origin));
        if ((b.kind === "Genesis") !== (seq === 0)) refuse("genesis_misplaced", "a genesis belongs at seq 0 only");
        if (this.nonces.has(s.author + s.nonce)) refuse("nonce_reused", "(author, nonce) already used");
        let me = null;
        if (b.kind !== "Genesis") {
          const r = this.decide(s.author, b.kind, t, this.logKey);
          if (r) throw r;
          me = this.keys.get(s.author);
        }
        if (b.kind === "Genesis") this.genesis(s, b, seq, hash, fx);
        else if (b.kind === "KeyEnrolled") this.enrol(b, seq, hash, fx, warnings);
        else if (b.kind === "KeyRevoked") this.revoke(b, seq, t, fx, warnings);
        else this.endorse(s, b, me, seq, t, fx); // Endorsed in capacity key-officer
        fx.push(() => { this.nonces.add(s.author + s.nonce); this.refs.set(hash, { seq, author: s.author, kind: b.kind }); });
      } catch (x) {
        if (x instanceof Refusal) return { refusal: x };
        throw x;
      }
      for (const f of fx) f();
      return { warnings };
    }
    genesis(s, b, seq, hash, fx) {
      if (b.origin !== this.origin) refuse("bad_genesis", "body origin differs from the statement's origin");
      if (b.officer !== s.author) refuse("bad_genesis", "genesis must be signed by the officer it names");
      if (b.log_key === b.officer) refuse("bad_genesis", "the log key must not be a person's key");
      if (!validKey(fromHex(b.log_key))) refuse("invalid_key", "log key");
      if (!validKey(fromHex(b.officer))) refuse("invalid_key", "officer key");
      named(() => checkName("holder", b.holder));
      named(() => checkText("unit", b.unit, false));
      fx.push(() => {
        this.keys.set(b.officer, { holder: b.holder, unit: b.unit, roles: ["key-officer"], from: 0, until: null, seq, hash, pending: false, vetted: false, revoked: null, compromised: null });
        this.logKey = b.log_key;
        this.officers = [b.officer];
      });
    }
    addOfficer(key, fx) {
      fx.push(() => { this.officers.push(key); if (this.officers.length >= 2) this.dual = true; });
    }
    enrol(b, seq, hash, fx, warnings) {
      if (!validKey(fromHex(b.key))) refuse("invalid_key", "not a canonical, torsion-free Ed25519 key");
      if (b.key === this.logKey) refuse("invalid_key", "the log key cannot be enrolled for a person");
      if (this.keys.has(b.key)) refuse("key_already_enrolled", b.key);
      named(() => checkName("holder", b.holder));
      named(() => checkText("unit", b.unit, false));
      if (!b.roles.length) refuse("missing_field", "roles is empty");
      if (new Set(b.roles).size !== b.roles.length) refuse("invalid_value", "a role is listed twice");
      if (b.valid_until_ms != null && b.valid_until_ms <= b.valid_from_ms) refuse("invalid_value", "valid_until must be after valid_from");
      const officer = b.roles.includes("key-officer"), pending = officer && this.dual;
      fx.push(() => {
        this.keys.set(b.key, { holder: b.holder, unit: b.unit, roles: b.roles, from: b.valid_from_ms, until: b.valid_until_ms, seq, hash, pending, vetted: false, revoked: null, compromised: null });
        this.enrolledAt.set(seq, b.key);
      });
      if (officer && !pending) {
        this.addOfficer(b.key, fx);
        warnings.push(["solo_officer_appointment", "a key officer was appointed by one officer alone (dual control was not yet possible)"]);
      }
    }
    revoke(b, seq, t, fx, warnings) {
      if (blank(b.reason)) refuse("missing_field", "reason is empty");
      const rec = this.keys.get(b.key);
      if (!rec) refuse("unknown_key", b.key);
      if (rec.revoked != null) refuse("already_revoked", b.key);
      if (this.officers.includes(b.key)) {
        const active = this.active(t), remaining = active.filter((r) => r !== rec);
        if (!remaining.some((r) => r.until == null)) refuse("last_key_officer", "no active officer without an end date would remain");
        if (active.length !== remaining.length && remaining.length < 2 && this.dual) {
          if (b.compromised_since_ms == null) refuse("dual_control_required", "revoking this officer needs two people, or the key declared compromised");
          warnings.push(["solo_officer_revocation", "an active key officer was revoked as compromised, leaving one officer active"]);
        }
        fx.push(() => { this.officers = this.officers.filter((k) => k !== b.key); });
      }
      fx.push(() => { rec.revoked = seq; rec.compromised = b.compromised_since_ms; });
    }
    // An Endorsed in capacity key-officer (the only one that is a key-registry entry).
    endorse(s, b, me, seq, t, fx) {
      const target = this.refs.get(b.entry_hash);
      if (!target) refuse("unknown_entry", "no earlier key-registry entry has hash " + b.entry_hash);
      const author = this.keys.get(target.author);
      if (target.author === s.author || (author && samePerson(author.holder, me.holder))) refuse("self_endorsement", "the endorsed entry's author");
      if (this.endorsements.has(b.entry_hash + s.author)) refuse("already_endorsed", "this key already endorsed that entry");
      fx.push(() => this.endorsements.add(b.entry_hash + s.author));
      if (target.kind !== "KeyEnrolled") refuse("capacity_mismatch", "key-officer endorses KeyEnrolled only");
      const asOfficer = me.roles.includes("key-officer");
      const emergency = !asOfficer && me.roles.includes("auditor") && me.vetted && this.dual && this.active(t).length < 2;
      if (!asOfficer && !emergency) refuse("role_not_allowed", "Endorsed as key-officer by " + me.roles.join(","));
      const key = this.enrolledAt.get(target.seq), enrolled = key && this.keys.get(key);
      if (!enrolled) return;
      if (samePerson(enrolled.holder, me.holder)) refuse("self_endorsement", "the person being enrolled");
      if (author && samePerson(author.holder, me.holder)) refuse("self_endorsement", "the enrolling officer");
      if (enrolled.revoked != null) return;
      const activate = enrolled.pending;
      fx.push(() => { enrolled.pending = false; enrolled.vetted = true; });
      if (activate) this.addOfficer(key, fx);
    }
  }
  Object.assign(Pil, { Registry });
})();
