// The separately written model of the rules: what each operation should
// do, from `schema/*.md`, never from the rules' code. Included into
// `tests/model.rs`.

impl Model {
    fn key_index(&self, pk: &PublicKey) -> Option<usize> {
        self.pks.iter().position(|k| k == pk)
    }

    fn may_sign(&self, key: usize, kind: &str) -> bool {
        self.keys.get(&key).is_some_and(|(roles, revoked)| !revoked && roles.iter().any(|r| allowed(kind).contains(r)))
    }

    /// The author checks every entry passes (roles.md, "Checks every entry
    /// passes", step 4).
    fn authority(&self, signer: usize, kind: &str) -> Option<&'static str> {
        let kind = if kind.starts_with("Endorsed") { "Endorsed" } else { kind };
        match self.keys.get(&signer) {
            None => Some("author_not_enrolled"),
            Some((_, true)) => Some("author_revoked"),
            Some((roles, _)) if !roles.iter().any(|r| allowed(kind).contains(r)) => Some("role_not_allowed"),
            Some(_) => None,
        }
    }

    fn predict(&self, op: &Op, signer: usize, target_hash: Option<Hash32>) -> Expect {
        if let Some(code) = self.authority(signer, op_kind(op)) {
            return Expect::Refuse(code);
        }
        // Step 5: a case id names an opened case.
        if let Op::Domain { case_id, .. } = op {
            if !case_id.is_empty() && !self.cases.contains(case_id) {
                return Expect::Refuse("unknown_case");
            }
        }
        let verdict = match op {
            Op::Enroll { target, .. } if self.keys.contains_key(target) => no("key_already_enrolled"),
            Op::Enroll { .. } => Ok(()),
            // The genesis officer is the only key officer.
            Op::Revoke { target: 0, .. } => no("last_key_officer"),
            Op::Revoke { target, .. } => match self.keys.get(target) {
                None => no("unknown_key"),
                Some((_, true)) => no("already_revoked"),
                Some(_) => Ok(()),
            },
            Op::CaseOpen { case, .. } if self.cases.contains(&case_id(usize::from(*case))) => no("case_exists"),
            Op::CaseOpen { .. } => Ok(()),
            Op::Endorse { .. } => self.endorse(signer, target_hash, "witness"),
            Op::Correct { .. } => match target_hash.and_then(|h| self.entries.get(&h)) {
                None => no("unknown_entry"),
                // Only someone who may sign the corrected kind corrects it.
                Some((_, kind)) if !self.may_sign(signer, kind) => no("role_not_allowed"),
                Some(_) => Ok(()),
            },
            Op::Domain { case_id, body, .. } => match &**body {
                Body::Endorsed { entry_hash, capacity } => self.endorse(signer, Some(*entry_hash), capacity),
                Body::EvidenceRegistered { .. }
                | Body::Sealed { .. }
                | Body::CustodyTransferred { .. }
                | Body::CustodyReceived { .. }
                | Body::LegalHold { .. }
                | Body::HoldReleased { .. }
                | Body::Disposed { .. } => self.evidence(signer, case_id, body),
                _ => self.fund(signer, case_id, body),
            },
            Op::Resubmit { .. } => unreachable!(),
        };
        match verdict {
            Ok(()) => Expect::Accept,
            Err(e) => e,
        }
    }

    /// `Endorsed` (roles.md, "Endorsements"), then the capacity's own rule.
    fn endorse(&self, signer: usize, target: Option<Hash32>, capacity: &str) -> Verdict {
        let Some((h, &(author, kind))) = target.and_then(|h| self.entries.get(&h).map(|e| (h, e))) else {
            return no("unknown_entry");
        };
        if person(author) == person(signer) {
            return no("self_endorsement");
        }
        if self.endorsed.contains(&(h, signer)) {
            return no("already_endorsed");
        }
        match capacity {
            "witness" => Ok(()),
            "second-collector" => {
                if kind != "EvidenceRegistered" {
                    return no("capacity_mismatch");
                }
                let item = self.items.values().find(|i| i.reg == h).expect("a registration names its item");
                let mut codes = Vec::new();
                if !self.may_sign(signer, "EvidenceRegistered") {
                    codes.push("role_not_allowed");
                }
                if !item.collectors.iter().skip(1).any(|p| *p == person(signer)) {
                    codes.push("not_a_collector");
                }
                any_of(codes)
            }
            other => panic!("the scripts do not endorse as {other}"),
        }
    }

    /// May `to` receive custody now, from `from`? (evidence.md, custody)
    fn valid_receiver(&self, to: &PublicKey, from: usize) -> bool {
        self.key_index(to).is_some_and(|k| self.may_sign(k, "CustodyReceived") && person(k) != person(from))
    }

    /// The evidence rules (`schema/evidence.md`). The schema orders none of
    /// an item's checks, so every failing one is collected.
    fn evidence(&self, signer: usize, case: &str, body: &Body) -> Verdict {
        let mut codes = Vec::new();
        if let Body::EvidenceRegistered { evidence_id, digests, physical, description, collectors, .. } = body {
            if !digests_ok(digests, !physical) {
                codes.push("invalid_digest");
            } else if digests.iter().any(|d| self.digests.contains(d)) {
                codes.push("digest_exists");
            }
            if self.items.contains_key(evidence_id) {
                codes.push("evidence_exists");
            }
            if *physical && description.trim().is_empty() {
                codes.push("missing_field");
            }
            match collectors.first() {
                None => codes.push("missing_field"),
                Some(first) if name_person(first) != person(signer) => codes.push("registrant_not_collector"),
                Some(_) => {}
            }
            return any_of(codes);
        }
        let id = match body {
            Body::Sealed { evidence_id, .. }
            | Body::CustodyTransferred { evidence_id, .. }
            | Body::CustodyReceived { evidence_id, .. }
            | Body::LegalHold { evidence_id, .. }
            | Body::HoldReleased { evidence_id, .. }
            | Body::Disposed { evidence_id, .. } => evidence_id,
            _ => unreachable!(),
        };
        let Some(it) = self.items.get(id) else { return no("unknown_evidence") };
        if it.case != case {
            codes.push("case_mismatch");
        }
        if it.disposed {
            codes.push("already_disposed");
        }
        let not_holder = it.holder != signer;
        match body {
            Body::Sealed { .. } => {
                if not_holder {
                    codes.push("not_the_holder");
                }
                if it.sealed {
                    codes.push("already_sealed");
                }
            }
            Body::CustodyTransferred { to, .. } => {
                if not_holder {
                    codes.push("not_the_holder");
                }
                if it.pending.is_some() {
                    codes.push("transfer_pending");
                }
                if !self.valid_receiver(to, signer) {
                    codes.push("invalid_receiver");
                }
            }
            Body::CustodyReceived { transfer, digests, .. } => {
                match it.pending {
                    None => codes.push("unknown_transfer"),
                    Some((h, to)) => {
                        if h != *transfer {
                            codes.push("unknown_transfer");
                        }
                        // "signed by its addressee": the key it was sent to.
                        if to != signer {
                            codes.push("not_the_receiver");
                        }
                    }
                }
                if digests.is_empty() {
                    if !it.physical {
                        codes.push("missing_field");
                    }
                } else if !digests_ok(digests, true) {
                    codes.push("invalid_digest");
                }
            }
            Body::LegalHold { .. } => {
                if it.hold {
                    codes.push("already_on_hold");
                }
            }
            Body::HoldReleased { .. } => {
                if !it.hold {
                    codes.push("not_on_hold");
                }
            }
            Body::Disposed { .. } => {
                if not_holder {
                    codes.push("not_the_holder");
                }
                if it.hold {
                    codes.push("on_legal_hold");
                }
                if it.pending.is_some() {
                    codes.push("transfer_pending");
                }
            }
            _ => unreachable!(),
        }
        any_of(codes)
    }

    fn account(&self, id: &str) -> Result<&Account, Expect> {
        self.accounts.get(id).ok_or(Expect::Refuse("unknown_account"))
    }

    fn request(&self, id: &str) -> Result<&Request, Expect> {
        self.requests.get(id).ok_or(Expect::Refuse("unknown_request"))
    }

    /// A case account is acted on under its own case only.
    fn case_ok(&self, case: &str, a: &Account) -> Verdict {
        if a.kind == AccountKind::Case && a.case != case {
            return no("fund_case_mismatch");
        }
        Ok(())
    }

    fn bank_ref_free(&self, account: &str, bank_ref: &str) -> Verdict {
        if !bank_ref.is_empty() && self.bank_refs.contains(&(account.to_string(), bank_ref.to_string())) {
            return no("duplicate_bank_ref");
        }
        Ok(())
    }

    /// A transfer `debit` → `credit`: `posted` posted, `reserved` made
    /// pending, `released` pending released. The new balances, or
    /// `amount_overflow`, then `insufficient_funds` (fund.md §1.1, §2.1).
    fn book(
        &self,
        debit: &str,
        credit: &str,
        posted: u64,
        reserved: u64,
        released: u64,
    ) -> Result<[[u64; 4]; 2], Expect> {
        let (d, c) = (self.accounts[debit].bal, self.accounts[credit].bal);
        let add = |a: u64, b: u64| a.checked_add(b).ok_or(Expect::Refuse("amount_overflow"));
        let release = |a: u64| a.checked_sub(released).expect("a reservation is released once");
        let nd = [add(d[0], posted)?, d[1], release(add(d[2], reserved)?), d[3]];
        let nc = [c[0], add(c[1], posted)?, c[2], release(add(c[3], reserved)?)];
        let available = i128::from(nd[1]) - i128::from(nd[0]) - i128::from(nd[2]);
        if self.accounts[debit].no_overdraft && available < 0 {
            return Err(Expect::Refuse("insufficient_funds"));
        }
        Ok([nd, nc])
    }

    /// The fund rules (`schema/fund.md`), in the order of §2.1: shape,
    /// new ids and named records, kinds and case, state, people, money.
    fn fund(&self, signer: usize, case: &str, body: &Body) -> Verdict {
        match body {
            Body::AccountOpened { account_id, account_kind, no_overdraft, stages, .. } => {
                let mut shape = Vec::new();
                if *stages > 5 || (*stages > 0 && !managed(*account_kind)) {
                    shape.push("invalid_value");
                }
                if *no_overdraft && *account_kind == AccountKind::Payer {
                    shape.push("invalid_value");
                }
                if *account_kind == AccountKind::Case && case.is_empty() {
                    shape.push("missing_field");
                }
                any_of(shape)?;
                if self.accounts.contains_key(account_id) {
                    return no("account_exists");
                }
                Ok(())
            }
            Body::Obligation { obligation_id, payer, amount_fen, .. } => {
                let mut shape = Vec::new();
                if case.is_empty() {
                    shape.push("missing_field");
                }
                if *amount_fen == 0 {
                    shape.push("zero_amount");
                }
                any_of(shape)?;
                if self.obligations.contains(obligation_id) {
                    return no("obligation_exists");
                }
                if self.account(payer)?.kind != AccountKind::Payer {
                    return no("wrong_account_kind");
                }
                // The case's total ordered is a sum too (fund.md: every sum
                // is checked).
                let ordered = self.ordered.get(case).copied().unwrap_or(0);
                if ordered.checked_add(*amount_fen).is_none() {
                    return no("amount_overflow");
                }
                Ok(())
            }
            Body::FundReceipt { account_id, from, amount_fen, bank_ref } => {
                if *amount_fen == 0 {
                    return no("zero_amount");
                }
                let (to, payer) = (self.account(account_id)?, self.account(from)?);
                if !managed(to.kind) || payer.kind != AccountKind::Payer {
                    return no("wrong_account_kind");
                }
                self.case_ok(case, to)?;
                self.bank_ref_free(account_id, bank_ref)?;
                self.book(from, account_id, *amount_fen, 0, 0).map(drop)
            }
            Body::Remittance { from, to, amount_fen, bank_ref } => {
                if *amount_fen == 0 {
                    return no("zero_amount");
                }
                let (source, treasury) = (self.account(from)?, self.account(to)?);
                if !managed(source.kind) || treasury.kind != AccountKind::Treasury {
                    return no("wrong_account_kind");
                }
                self.case_ok(case, source)?;
                self.bank_ref_free(from, bank_ref)?;
                self.book(from, to, *amount_fen, 0, 0).map(drop)
            }
            Body::DisbursementRequested { request_id, from, to, amount_fen, purpose, .. } => {
                if *amount_fen == 0 {
                    return no("zero_amount");
                }
                if self.requests.contains_key(request_id) {
                    return no("request_exists");
                }
                let (source, payee) = (self.account(from)?, self.account(to)?);
                if !managed(source.kind) || payee.kind != AccountKind::Payee {
                    return no("wrong_account_kind");
                }
                self.case_ok(case, source)?;
                let uses = self.uses.get(case).filter(|u| !case.is_empty() && !u.is_empty());
                if uses.is_some_and(|u| !u.contains(purpose)) {
                    return no("purpose_mismatch");
                }
                self.book(from, to, 0, *amount_fen, 0).map(drop)
            }
            Body::DisbursementApproved { request_id, stage } | Body::DisbursementRejected { request_id, stage, .. } => {
                let r = self.request(request_id)?;
                if r.case != case {
                    return no("fund_case_mismatch");
                }
                if r.settled.is_some() {
                    return no("request_settled");
                }
                if r.rejected {
                    return no("request_rejected");
                }
                if usize::from(*stage) != r.approvals.len() + 1 || *stage > r.stages {
                    return no("stage_out_of_order");
                }
                if person(signer) == person(r.requester) {
                    return no("self_approval");
                }
                if r.approvals.iter().any(|a| person(*a) == person(signer)) {
                    return no("approver_repeated");
                }
                Ok(())
            }
            Body::DisbursementPaid { request_id, amount_fen, bank_ref } => {
                if *amount_fen == 0 {
                    return no("zero_amount");
                }
                let r = self.request(request_id)?;
                if r.case != case {
                    return no("fund_case_mismatch");
                }
                if r.settled.is_some() {
                    return no("request_settled");
                }
                if r.rejected {
                    return no("request_rejected");
                }
                if r.approvals.len() < usize::from(r.stages) {
                    return no("not_approved");
                }
                if *amount_fen > r.amount {
                    return no("amount_exceeds_approved");
                }
                if r.approvals.iter().any(|a| person(*a) == person(signer)) {
                    return no("approver_cannot_pay");
                }
                self.bank_ref_free(&r.from, bank_ref)?;
                self.book(&r.from, &r.to, *amount_fen, 0, r.amount).map(drop)
            }
            Body::DisbursementVoided { request_id, .. } => {
                let r = self.request(request_id)?;
                if r.case != case {
                    return no("fund_case_mismatch");
                }
                if r.settled.is_some() {
                    return no("request_settled");
                }
                self.book(&r.from, &r.to, 0, 0, r.amount).map(drop)
            }
            other => panic!("the scripts do not write {}", kind_name(other)),
        }
    }

    fn post(&mut self, debit: &str, credit: &str, posted: u64, reserved: u64, released: u64) {
        let [d, c] = self.book(debit, credit, posted, reserved, released).expect("predicted and accepted");
        self.accounts.get_mut(debit).expect("known").bal = d;
        self.accounts.get_mut(credit).expect("known").bal = c;
    }

    fn claim_ref(&mut self, account: &str, bank_ref: &str) {
        if !bank_ref.is_empty() {
            self.bank_refs.insert((account.to_string(), bank_ref.to_string()));
        }
    }

    fn accepted(&mut self, op: &Op, signer: usize, hash: Hash32, target_hash: Option<Hash32>) {
        let kind = match op {
            Op::Domain { body, .. } => kind_name(body),
            op => op_kind(op),
        };
        self.entries.insert(hash, (signer, kind));
        match op {
            Op::Enroll { target, roles, .. } => {
                self.keys.insert(*target, (roles.clone(), false));
            }
            Op::Revoke { target, .. } => {
                if let Some(k) = self.keys.get_mut(target) {
                    k.1 = true;
                }
            }
            Op::CaseOpen { case, .. } => {
                self.cases.insert(case_id(usize::from(*case)));
            }
            Op::Endorse { .. } => {
                self.endorsed.insert((target_hash.expect("endorsed a known entry"), signer));
            }
            Op::Correct { .. } | Op::Resubmit { .. } => {}
            Op::Domain { case_id, body, .. } => self.accepted_domain(signer, case_id, body, hash),
        }
    }

    fn item_mut(&mut self, id: &str) -> &mut Item {
        self.items.get_mut(id).expect("an accepted entry acts on a known item")
    }

    fn accepted_domain(&mut self, signer: usize, case: &str, body: &Body, hash: Hash32) {
        match body {
            Body::Endorsed { entry_hash, capacity } => {
                self.endorsed.insert((*entry_hash, signer));
                if capacity == "second-collector" {
                    let it = self.items.values_mut().find(|i| i.reg == *entry_hash).expect("a registration");
                    it.second_collector = true;
                }
            }
            Body::EvidenceRegistered { evidence_id, digests, physical, collectors, .. } => {
                self.digests.extend(digests.iter().cloned());
                let item = Item {
                    case: case.to_string(),
                    reg: hash,
                    collectors: collectors.iter().map(|n| name_person(n)).collect(),
                    physical: *physical,
                    digests: digests.clone(),
                    holder: signer,
                    pending: None,
                    transfers: Vec::new(),
                    sealed: false,
                    hold: false,
                    disposed: false,
                    second_collector: false,
                    rehash_mismatch: false,
                };
                self.items.insert(evidence_id.clone(), item);
            }
            Body::Sealed { evidence_id, .. } => self.item_mut(evidence_id).sealed = true,
            Body::CustodyTransferred { evidence_id, to, .. } => {
                let to = self.key_index(to).expect("an accepted receiver is a known key");
                let it = self.item_mut(evidence_id);
                it.pending = Some((hash, to));
                it.transfers.push(hash);
            }
            Body::CustodyReceived { evidence_id, digests, .. } => {
                let it = self.item_mut(evidence_id);
                it.holder = it.pending.take().expect("a receipt answers the pending handover").1;
                if !digests.is_empty() && !rehash_matches(&it.digests, digests) {
                    it.rehash_mismatch = true;
                }
            }
            Body::LegalHold { evidence_id, .. } => self.item_mut(evidence_id).hold = true,
            Body::HoldReleased { evidence_id, .. } => self.item_mut(evidence_id).hold = false,
            Body::Disposed { evidence_id, .. } => self.item_mut(evidence_id).disposed = true,
            Body::AccountOpened { account_id, account_kind, no_overdraft, stages, .. } => {
                let case = if *account_kind == AccountKind::Case { case.to_string() } else { String::new() };
                let a =
                    Account { kind: *account_kind, case, no_overdraft: *no_overdraft, stages: *stages, bal: [0; 4] };
                self.accounts.insert(account_id.clone(), a);
            }
            Body::Obligation { obligation_id, designated_use, amount_fen, .. } => {
                self.obligations.insert(obligation_id.clone());
                *self.ordered.entry(case.to_string()).or_default() += amount_fen;
                let uses = self.uses.entry(case.to_string()).or_default();
                if !uses.contains(designated_use) {
                    uses.push(designated_use.clone());
                }
            }
            Body::FundReceipt { account_id, from, amount_fen, bank_ref } => {
                self.claim_ref(account_id, bank_ref);
                self.post(from, account_id, *amount_fen, 0, 0);
            }
            Body::Remittance { from, to, amount_fen, bank_ref } => {
                self.claim_ref(from, bank_ref);
                self.post(from, to, *amount_fen, 0, 0);
            }
            Body::DisbursementRequested { request_id, from, to, amount_fen, .. } => {
                self.post(from, to, 0, *amount_fen, 0);
                let r = Request {
                    case: case.to_string(),
                    from: from.clone(),
                    to: to.clone(),
                    amount: *amount_fen,
                    requester: signer,
                    stages: self.accounts[from].stages,
                    approvals: Vec::new(),
                    rejected: false,
                    settled: None,
                    paid: 0,
                };
                self.requests.insert(request_id.clone(), r);
            }
            Body::DisbursementApproved { request_id, .. } => {
                self.requests.get_mut(request_id).expect("known").approvals.push(signer);
            }
            Body::DisbursementRejected { request_id, .. } => {
                self.requests.get_mut(request_id).expect("known").rejected = true;
            }
            Body::DisbursementPaid { request_id, amount_fen, bank_ref } => {
                let r = self.requests[request_id].clone();
                self.claim_ref(&r.from, bank_ref);
                self.post(&r.from, &r.to, *amount_fen, 0, r.amount);
                let r = self.requests.get_mut(request_id).expect("known");
                r.settled = Some(true);
                r.paid = *amount_fen;
            }
            Body::DisbursementVoided { request_id, .. } => {
                let r = self.requests[request_id].clone();
                self.post(&r.from, &r.to, 0, 0, r.amount);
                self.requests.get_mut(request_id).expect("known").settled = Some(false);
            }
            other => panic!("the scripts do not write {}", kind_name(other)),
        }
    }
}
