//! The key registry and its officers (DESIGN §4; `schema/roles.md`):
//! genesis, enrolment, revocation, the key-officer endorsement, and the
//! rules that keep the officer set under dual control and never locked.
//!
//! Meta records kept here:
//! - `log_key`: the log's checkpoint key (from the genesis);
//! - `key_officers`: the officers *in effect* (enrolled, not pending, not
//!   revoked), 32 bytes each; windows are checked when the list is used;
//! - `dual_control`: present (the seq, BE) from the first moment two
//!   officers were in effect. It is never removed: from then on the officer
//!   set changes only with two people;
//! - `enrolled@<seq>`: the key a `KeyEnrolled` at that seq created.

use crate::authority::{Kind, Role};
use crate::keys;
use crate::names::{self, same_person};
use crate::wire::PublicKey;

use super::index::{be_u64, key_record, rec, BackendError, EntryRef, IndexRead, IndexWrite, KeyRecord, Ns};
use super::{check_authority, Candidate, Outcome, Refusal};

const META_LOG_KEY: &[u8] = b"log_key";
const META_OFFICERS: &[u8] = b"key_officers";
const META_DUAL: &[u8] = b"dual_control";

pub(crate) fn log_key(view: &(impl IndexRead + ?Sized)) -> Result<Option<Vec<u8>>, BackendError> {
    view.get(Ns::Meta, META_LOG_KEY)
}

fn officer_list(view: &(impl IndexRead + ?Sized)) -> Result<Vec<PublicKey>, BackendError> {
    let raw = view.get(Ns::Meta, META_OFFICERS)?.unwrap_or_default();
    if raw.len() % 32 != 0 {
        return Err(BackendError("corrupt key officer list".into()));
    }
    Ok(raw.chunks_exact(32).map(|c| c.try_into().expect("chunks of 32")).collect())
}

fn officer_list_write(list: &[PublicKey]) -> IndexWrite {
    IndexWrite { ns: Ns::Meta, key: META_OFFICERS.to_vec(), value: list.concat() }
}

/// The seq from which dual control is in force, if it is.
pub fn dual_control_since(view: &(impl IndexRead + ?Sized)) -> Result<Option<u64>, BackendError> {
    match view.get(Ns::Meta, META_DUAL)? {
        None => Ok(None),
        Some(b) => be_u64(&b).map(Some).ok_or_else(|| BackendError("corrupt dual-control record".into())),
    }
}

/// Key officers in effect *and* authorised (within their window) at `at_ms`.
pub fn active_officers(view: &(impl IndexRead + ?Sized), at_ms: u64) -> Result<Vec<KeyRecord>, BackendError> {
    let mut out = Vec::new();
    for k in officer_list(view)? {
        if let Some(r) = key_record(view, &k)? {
            if check_authority(&r, Kind::KeyEnrolled, at_ms).is_ok() {
                out.push(r);
            }
        }
    }
    Ok(out)
}

/// Add `key` to the officers in effect; switch dual control on when that
/// makes two. Returns true when this switched it on.
fn add_officer(
    view: &(impl IndexRead + ?Sized),
    key: PublicKey,
    seq: u64,
    out: &mut Outcome,
) -> Result<bool, BackendError> {
    let mut list = officer_list(view)?;
    list.push(key);
    out.writes.push(officer_list_write(&list));
    if list.len() >= 2 && dual_control_since(view)?.is_none() {
        out.writes.push(IndexWrite { ns: Ns::Meta, key: META_DUAL.to_vec(), value: seq.to_be_bytes().to_vec() });
        return Ok(true);
    }
    Ok(false)
}

fn enrol_meta_key(seq: u64) -> Vec<u8> {
    let mut k = b"enrolled@".to_vec();
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// The record of the key a `KeyEnrolled` entry created.
fn enrolled_by(view: &(impl IndexRead + ?Sized), target: &EntryRef) -> Result<Option<KeyRecord>, BackendError> {
    let Some(k) = view.get(Ns::Meta, &enrol_meta_key(target.seq))? else { return Ok(None) };
    let key: PublicKey = k.try_into().map_err(|_| BackendError("corrupt enrolment record".into()))?;
    key_record(view, &key)
}

fn valid_key(view: &(impl IndexRead + ?Sized), key: &PublicKey) -> Result<(), Refusal> {
    keys::parse_public(key).map_err(|e| Refusal::InvalidKey(e.to_string()))?;
    if log_key(view)?.as_deref() == Some(&key[..]) {
        return Err(Refusal::InvalidKey("the log key cannot be enrolled for a person".into()));
    }
    Ok(())
}

fn record_write(r: &KeyRecord) -> IndexWrite {
    IndexWrite { ns: Ns::Key, key: r.key.to_vec(), value: rec(r) }
}

/// Seq 0: names the origin, the log key and the first key officer.
pub(super) fn genesis(
    c: &Candidate<'_>,
    origin: &str,
    body: (&str, &PublicKey, &PublicKey, &str, &str),
    out: &mut Outcome,
) -> Result<(), Refusal> {
    let (g_origin, log_key, officer, holder, unit) = body;
    let st = c.statement;
    if g_origin != origin {
        return Err(Refusal::BadGenesis("body origin differs from the statement's origin"));
    }
    if officer != &st.author {
        return Err(Refusal::BadGenesis("genesis must be signed by the officer it names"));
    }
    if log_key == officer {
        return Err(Refusal::BadGenesis("the log key must not be a person's key"));
    }
    keys::parse_public(log_key).map_err(|e| Refusal::InvalidKey(format!("log key: {e}")))?;
    keys::parse_public(officer).map_err(|e| Refusal::InvalidKey(format!("officer key: {e}")))?;
    names::check_name("holder", holder)?;
    names::check_text("unit", unit, false)?;
    let r = KeyRecord {
        key: *officer,
        holder: holder.to_string(),
        unit: unit.to_string(),
        roles: vec![Role::KeyOfficer],
        valid_from_ms: 0,
        valid_until_ms: None,
        enrolled_seq: c.seq,
        enrolled_hash: c.entry_hash,
        pending: false,
        vetted: false,
        revoked_seq: None,
        compromised_since_ms: None,
    };
    out.writes.push(record_write(&r));
    out.writes.push(IndexWrite { ns: Ns::Meta, key: META_LOG_KEY.to_vec(), value: log_key.to_vec() });
    out.writes.push(officer_list_write(&[*officer]));
    Ok(())
}

/// The fields of a `KeyEnrolled` body.
pub(super) struct Enrolment<'a> {
    pub key: &'a PublicKey,
    pub holder: &'a str,
    pub unit: &'a str,
    pub roles: &'a [Role],
    pub valid_from_ms: u64,
    pub valid_until_ms: Option<u64>,
}

pub(super) fn enrol(
    view: &(impl IndexRead + ?Sized),
    c: &Candidate<'_>,
    e: Enrolment<'_>,
    out: &mut Outcome,
) -> Result<(), Refusal> {
    valid_key(view, e.key)?;
    if key_record(view, e.key)?.is_some() {
        return Err(Refusal::KeyAlreadyEnrolled(hex::encode(e.key)));
    }
    names::check_name("holder", e.holder)?;
    names::check_text("unit", e.unit, false)?;
    if e.roles.is_empty() {
        return Err(Refusal::MissingField("roles"));
    }
    let mut sorted = e.roles.to_vec();
    sorted.sort();
    sorted.dedup();
    if sorted.len() != e.roles.len() {
        return Err(Refusal::InvalidValue("a role is listed twice".into()));
    }
    if e.valid_until_ms.is_some_and(|u| u <= e.valid_from_ms) {
        return Err(Refusal::InvalidValue("valid_until must be after valid_from".into()));
    }
    // Before dual control: the one officer's enrolments take effect alone.
    // Under dual control: a new key officer waits for a second person.
    let is_officer = e.roles.contains(&Role::KeyOfficer);
    let pending = is_officer && dual_control_since(view)?.is_some();
    let r = KeyRecord {
        key: *e.key,
        holder: e.holder.to_string(),
        unit: e.unit.to_string(),
        roles: e.roles.to_vec(),
        valid_from_ms: e.valid_from_ms,
        valid_until_ms: e.valid_until_ms,
        enrolled_seq: c.seq,
        enrolled_hash: c.entry_hash,
        pending,
        vetted: false,
        revoked_seq: None,
        compromised_since_ms: None,
    };
    out.writes.push(record_write(&r));
    out.writes.push(IndexWrite { ns: Ns::Meta, key: enrol_meta_key(c.seq), value: e.key.to_vec() });
    if is_officer && !pending {
        add_officer(view, *e.key, c.seq, out)?;
        out.warn(
            "solo_officer_appointment",
            "a key officer was appointed by one officer alone (dual control was not yet possible)",
        );
    }
    Ok(())
}

pub(super) fn revoke(
    view: &(impl IndexRead + ?Sized),
    c: &Candidate<'_>,
    key: &PublicKey,
    reason: &str,
    compromised_since_ms: Option<u64>,
    out: &mut Outcome,
) -> Result<(), Refusal> {
    if reason.trim().is_empty() {
        return Err(Refusal::MissingField("reason"));
    }
    let mut r = key_record(view, key)?.ok_or_else(|| Refusal::UnknownKey(hex::encode(key)))?;
    if r.revoked_seq.is_some() {
        return Err(Refusal::AlreadyRevoked(hex::encode(key)));
    }
    let list = officer_list(view)?;
    if list.contains(key) {
        let active = active_officers(view, c.recorded_at_ms)?;
        let remaining: Vec<&KeyRecord> = active.iter().filter(|o| o.key != *key).collect();
        // Never locked: an officer with no end date must stay active.
        if !remaining.iter().any(|o| o.valid_until_ms.is_none()) {
            return Err(Refusal::LastKeyOfficer);
        }
        let was_active = active.len() != remaining.len();
        if was_active && remaining.len() < 2 && dual_control_since(view)?.is_some() {
            // Under dual control one officer may not remove the other,
            // except to cut off a compromised key (the emergency path).
            if compromised_since_ms.is_none() {
                return Err(Refusal::DualControlRequired);
            }
            out.warn(
                "solo_officer_revocation",
                "an active key officer was revoked as compromised, leaving one officer active",
            );
        }
        let rest: Vec<PublicKey> = list.into_iter().filter(|k| k != key).collect();
        out.writes.push(officer_list_write(&rest));
    }
    r.revoked_seq = Some(c.seq);
    r.compromised_since_ms = compromised_since_ms;
    out.writes.push(record_write(&r));
    Ok(())
}

/// An `Endorsed` in capacity `key-officer` of a `KeyEnrolled` entry: a
/// second person stands behind the enrolment. It activates a pending
/// key-officer enrolment, and marks any enrolment as vetted.
///
/// Who may give it: an active key officer; or, under dual control with
/// fewer than two officers active (the emergency path), a vetted auditor:
/// someone whose own enrolment two people stood behind, so one officer
/// alone can never make the second person up.
pub(super) fn endorse_enrolment(
    view: &(impl IndexRead + ?Sized),
    c: &Candidate<'_>,
    me: &KeyRecord,
    enroller: Option<&KeyRecord>,
    target: &EntryRef,
    out: &mut Outcome,
) -> Result<(), Refusal> {
    let as_officer = me.roles.contains(&Role::KeyOfficer);
    let emergency = !as_officer
        && me.roles.contains(&Role::Auditor)
        && me.vetted
        && dual_control_since(view)?.is_some()
        && active_officers(view, c.recorded_at_ms)?.len() < 2;
    if !as_officer && !emergency {
        return Err(Refusal::RoleNotAllowed {
            kind:
                "Endorsed as key-officer (a key officer; or a vetted auditor when fewer than two officers are active)",
            roles: super::roles_str(&me.roles),
        });
    }
    let Some(mut enrolled) = enrolled_by(view, target)? else { return Ok(()) };
    if same_person(&enrolled.holder, &me.holder) {
        return Err(Refusal::SelfEndorsement("the person being enrolled"));
    }
    if enroller.is_some_and(|e| same_person(&e.holder, &me.holder)) {
        return Err(Refusal::SelfEndorsement("the enrolling officer"));
    }
    if enrolled.revoked_seq.is_some() {
        return Ok(());
    }
    let activate = enrolled.pending;
    enrolled.pending = false;
    enrolled.vetted = true;
    out.writes.push(record_write(&enrolled));
    if activate {
        add_officer(view, enrolled.key, c.seq, out)?;
    }
    Ok(())
}

/// A warning for the verdict when dual control is in force but fewer than
/// two officers are active at `at_ms` (the officer set is down to one).
pub fn officer_set_warning(view: &(impl IndexRead + ?Sized), at_ms: u64) -> Result<Option<String>, BackendError> {
    if dual_control_since(view)?.is_none() {
        return Ok(None);
    }
    let n = active_officers(view, at_ms)?.len();
    Ok((n < 2).then(|| {
        format!("dual control is in force but only {n} key officer(s) are active: officer changes need a vetted second person")
    }))
}
