// The script generator: each operation drawn against the model's state
// after the previous groups. Included into `tests/model.rs`.

// ---- the scripts: each op is drawn when its group is built, against the
// ---- model's state after the previous groups (never the same group's).

const USES: [&str; 2] = ["restoration", "monitoring"];
const PURPOSES: [&str; 3] = ["restoration", "monitoring", "travel"];

fn natural_kind(n: usize) -> AccountKind {
    match n {
        0 | 1 => AccountKind::Fund,
        2 | 3 => AccountKind::Case,
        4 | 5 => AccountKind::Payer,
        6 | 7 => AccountKind::Payee,
        _ => AccountKind::Treasury,
    }
}

fn nth<T: Clone>(set: impl IntoIterator<Item = T>, n: usize) -> T {
    set.into_iter().nth(n).expect("n < len")
}

/// The script generator: the seeded sequence and fresh-id counters.
struct Gen {
    rng: Rng,
    items: u32,
    requests: u32,
    obligations: u32,
    digest: u8,
}

impl Gen {
    fn below(&mut self, n: usize) -> usize {
        self.rng.below(n)
    }
    fn one_in(&mut self, n: usize) -> bool {
        self.rng.one_in(n)
    }

    /// Mostly a key the model thinks may sign `kind`; sometimes anyone.
    fn signer_for(&mut self, m: &Model, kind: &str) -> usize {
        let fit: Vec<usize> = (0..PEOPLE).filter(|k| m.authority(*k, kind).is_none()).collect();
        if fit.is_empty() || self.one_in(6) {
            self.below(PEOPLE)
        } else {
            fit[self.below(fit.len())]
        }
    }

    /// Mostly `key` (the holder, the receiver), else someone fit.
    fn this_or(&mut self, m: &Model, key: Option<usize>, kind: &str) -> usize {
        match key {
            Some(k) if !self.one_in(4) => k,
            _ => self.signer_for(m, kind),
        }
    }

    /// Mostly an opened case, sometimes any (perhaps never opened).
    fn case(&mut self, m: &Model) -> String {
        if m.cases.is_empty() || self.one_in(10) {
            case_id(self.below(CASES))
        } else {
            nth(m.cases.iter().cloned(), self.below(m.cases.len()))
        }
    }

    fn case_or_none(&mut self, m: &Model) -> String {
        if self.one_in(2) {
            String::new()
        } else {
            self.case(m)
        }
    }

    fn amount(&mut self, typical: u64) -> u64 {
        match self.below(40) {
            0 | 1 => 0,
            2 => u64::MAX / 2 + self.below(1000) as u64,
            3 => u64::MAX - self.below(1000) as u64,
            _ => 1 + self.rng.next() % typical,
        }
    }

    /// Sometimes exactly what `account` has available, or one fen more
    /// (the edge of `insufficient_funds`); else [`Gen::amount`].
    fn edge_or(&mut self, m: &Model, account: &str, typical: u64) -> u64 {
        let available =
            m.accounts.get(account).map(|a| i128::from(a.bal[1]) - i128::from(a.bal[0]) - i128::from(a.bal[2]));
        match available.and_then(|v| u64::try_from(v).ok()) {
            Some(v) if v > 0 && self.one_in(4) => v.saturating_add(self.below(2) as u64),
            _ => self.amount(typical),
        }
    }

    fn bank_ref(&mut self) -> String {
        if self.one_in(4) {
            String::new()
        } else {
            format!("B{}", self.below(12))
        }
    }

    fn op(&mut self, m: &Model, acked: &[Hash32]) -> Op {
        if m.cases.len() < 2 && self.one_in(3) {
            return Op::CaseOpen { signer: self.signer_for(m, "CaseOpened"), case: self.below(CASES) as u8 };
        }
        match self.below(90) {
            0..=4 => {
                Op::Enroll { signer: signer(&mut self.rng), target: self.below(PEOPLE), roles: roles(&mut self.rng) }
            }
            5 => Op::Revoke { signer: signer(&mut self.rng), target: self.below(PEOPLE) },
            6..=8 => Op::CaseOpen { signer: 1 + self.below(PEOPLE - 1), case: self.below(CASES) as u8 },
            9..=12 => Op::Endorse { signer: signer(&mut self.rng), back: self.below(8) },
            13..=15 => Op::Correct { signer: signer(&mut self.rng), back: self.below(8) },
            16..=19 => Op::Resubmit { back: self.below(8) },
            20..=51 => self.evidence(m, acked),
            _ => self.fund(m),
        }
    }

    fn register(&mut self, m: &Model) -> Op {
        let signer = self.signer_for(m, "EvidenceRegistered");
        let case_id = self.case(m);
        let evidence_id = if !m.items.is_empty() && self.one_in(10) {
            nth(m.items.keys().cloned(), self.below(m.items.len()))
        } else {
            self.items += 1;
            format!("E{}", self.items)
        };
        let physical = self.one_in(8);
        let with_digests: Vec<&Item> = m.items.values().filter(|i| !i.digests.is_empty()).collect();
        let b = if !with_digests.is_empty() && self.one_in(8) {
            with_digests[self.below(with_digests.len())].digests[0].value[0]
        } else {
            self.digest = self.digest % 200 + 1;
            self.digest
        };
        let algs: &[DigestAlg] = match self.below(6) {
            0 => &[DigestAlg::Sha256],
            1 => &[DigestAlg::Blake3, DigestAlg::Sm3],
            _ => &[DigestAlg::Blake3, DigestAlg::Sha256, DigestAlg::Sm3],
        };
        let mut digests: Vec<Digest> = if physical && self.one_in(2) {
            Vec::new()
        } else {
            algs.iter().map(|alg| Digest { alg: *alg, value: vec![b; 32] }).collect()
        };
        if self.one_in(20) {
            // Wrong length, or an algorithm listed twice (or, with SHA-256
            // alone, a valid extra BLAKE3).
            match self.below(2) {
                0 => digests.push(Digest { alg: DigestAlg::Sha256, value: vec![b; 31] }),
                _ => digests.push(Digest { alg: DigestAlg::Blake3, value: vec![b; 32] }),
            }
        }
        let description = if physical && self.one_in(2) { "" } else { "outfall sample" };
        let mut people = Vec::new();
        if !self.one_in(30) {
            people.push(if self.one_in(8) { self.below(6) } else { person(signer) });
            if !self.one_in(4) {
                people.push(self.below(6));
            }
            if self.one_in(4) {
                people.push(self.below(6));
            }
        }
        let collectors = people
            .into_iter()
            .map(|p| match (p, self.one_in(3)) {
                (0, false) => "Officer".to_string(),
                (0, true) => "officer".to_string(),
                (p, false) => format!("P{p}"),
                (p, true) => format!("p{p}"),
            })
            .collect();
        let body = Body::EvidenceRegistered {
            evidence_id,
            category: if physical { "physical" } else { "electronic-data" }.into(),
            digests,
            size: 10,
            media_type: "image/jpeg".into(),
            physical,
            description: description.into(),
            source: "on site".into(),
            method: "photograph".into(),
            legal_basis: "Civil Procedure Law art. 67".into(),
            collectors,
            witness: String::new(),
            place: "Chaobai River".into(),
            collected_at_ms: 1,
            collected_tz_offset_min: 480,
            tool: "camera".into(),
            tool_version: "1".into(),
            original_medium: "SD card".into(),
            provenance: String::new(),
            prior_digests: Vec::new(),
        };
        Op::Domain { signer, case_id, body: Box::new(body) }
    }

    fn evidence(&mut self, m: &Model, acked: &[Hash32]) -> Op {
        let mut pick = if m.items.is_empty() { 0 } else { self.below(15) };
        // A receipt needs a handover, a release a hold (mostly).
        if (8..=10).contains(&pick) && !m.items.values().any(|i| i.pending.is_some()) && !self.one_in(4) {
            pick = 6;
        }
        if pick == 12 && !m.items.values().any(|i| i.hold) && !self.one_in(4) {
            pick = 11;
        }
        if pick <= 2 {
            return self.register(m);
        }
        // Mostly an item the op fits, else any, rarely an unknown one.
        let fits: fn(&Item) -> bool = match pick {
            3 | 4 => |i| !i.second_collector,
            5 => |i| !i.sealed && !i.disposed,
            6 | 7 => |i| i.pending.is_none() && !i.disposed,
            8..=10 => |i| i.pending.is_some(),
            11 => |i| !i.hold && !i.disposed,
            12 => |i| i.hold,
            _ => |i| !i.disposed && i.pending.is_none(),
        };
        let fit: Vec<(&String, &Item)> = m.items.iter().filter(|(_, i)| fits(i)).collect();
        let (id, item) = if self.one_in(15) {
            ("E-none".to_string(), None)
        } else if !fit.is_empty() && !self.one_in(5) {
            let (id, it) = fit[self.below(fit.len())];
            (id.clone(), Some(it))
        } else {
            let (id, it) = nth(m.items.iter(), self.below(m.items.len()));
            (id.clone(), Some(it))
        };
        let case_id = match item {
            Some(it) if !self.one_in(12) => it.case.clone(),
            _ => self.case(m),
        };
        let holder = item.map(|it| it.holder);
        let evidence_id = id.clone();
        let (signer, body) = match pick {
            3 | 4 => {
                // The second collector confirms (or someone else tries).
                let second: Vec<usize> = (0..PEOPLE)
                    .filter(|k| item.is_some_and(|it| it.collectors.iter().skip(1).any(|p| *p == person(*k))))
                    .collect();
                let signer = if !second.is_empty() && !self.one_in(3) {
                    second[self.below(second.len())]
                } else {
                    self.signer_for(m, "EvidenceRegistered")
                };
                let entry_hash = match item {
                    Some(it) if !self.one_in(8) => it.reg,
                    _ if !acked.is_empty() => acked[self.below(acked.len())],
                    _ => [0x55; 32],
                };
                let body = Body::Endorsed { entry_hash, capacity: "second-collector".into() };
                return Op::Domain { signer, case_id: String::new(), body: Box::new(body) };
            }
            5 => (
                self.this_or(m, holder, "Sealed"),
                Body::Sealed { evidence_id, seal_id: "S-1".into(), note: String::new() },
            ),
            6 | 7 => {
                let signer = self.this_or(m, holder, "CustodyTransferred");
                let to = if self.one_in(3) { self.below(PEOPLE) } else { self.signer_for(m, "CustodyReceived") };
                let seal = [SealState::None, SealState::Intact, SealState::Broken][self.below(3)];
                (signer, Body::CustodyTransferred { evidence_id, to: m.pks[to], purpose: "storage".into(), seal })
            }
            8..=10 => {
                let pending = item.and_then(|it| it.pending);
                let signer = self.this_or(m, pending.map(|p| p.1), "CustodyReceived");
                let transfer = match (pending, item) {
                    (Some((h, _)), _) if !self.one_in(6) => h,
                    (_, Some(it)) if !it.transfers.is_empty() => it.transfers[self.below(it.transfers.len())],
                    _ => [0x77; 32],
                };
                let reg = item.map(|it| it.digests.clone()).unwrap_or_default();
                let digests = match self.below(10) {
                    0 => Vec::new(),
                    1 => vec![Digest { alg: DigestAlg::Sha256, value: vec![0xEE; 32] }],
                    2 => vec![Digest { alg: DigestAlg::Blake3, value: vec![1; 5] }],
                    _ if reg.is_empty() => Vec::new(),
                    _ => {
                        let (k, s) = (1 + self.below(reg.len()), self.below(reg.len()));
                        (0..k).map(|i| reg[(s + i) % reg.len()].clone()).collect()
                    }
                };
                let seal = [SealState::None, SealState::Intact, SealState::Broken][self.below(3)];
                (signer, Body::CustodyReceived { evidence_id, transfer, digests, seal })
            }
            11 => (self.signer_for(m, "LegalHold"), Body::LegalHold { evidence_id, reason: "appeal".into() }),
            12 => (self.signer_for(m, "HoldReleased"), Body::HoldReleased { evidence_id, reason: "done".into() }),
            _ => (
                self.this_or(m, holder.filter(|h| m.may_sign(*h, "Disposed")), "Disposed"),
                Body::Disposed { evidence_id, method: "returned".into(), reason: "case closed".into() },
            ),
        };
        Op::Domain { signer, case_id, body: Box::new(body) }
    }

    /// An account of one of `kinds` the model knows, or any id (perhaps
    /// never opened: A9 never is).
    fn account(&mut self, m: &Model, kinds: &[AccountKind]) -> String {
        let fit: Vec<&String> = m.accounts.iter().filter(|(_, a)| kinds.contains(&a.kind)).map(|(id, _)| id).collect();
        if fit.is_empty() || self.one_in(10) {
            format!("A{}", self.below(10))
        } else {
            fit[self.below(fit.len())].clone()
        }
    }

    /// The case to name when acting on `account`: its own, mostly.
    fn case_for(&mut self, m: &Model, account: &str) -> String {
        match m.accounts.get(account) {
            Some(a) if a.kind == AccountKind::Case && !self.one_in(10) => a.case.clone(),
            _ => self.case_or_none(m),
        }
    }

    /// A request `want` likes, mostly; else any; rarely an unknown one.
    fn request<'m>(&mut self, m: &'m Model, want: fn(&Request) -> bool) -> (String, Option<&'m Request>) {
        let fit: Vec<(&String, &Request)> = m.requests.iter().filter(|(_, r)| want(r)).collect();
        if !fit.is_empty() && !self.one_in(6) {
            let (id, r) = fit[self.below(fit.len())];
            (id.clone(), Some(r))
        } else if !m.requests.is_empty() && !self.one_in(4) {
            let (id, r) = nth(m.requests.iter(), self.below(m.requests.len()));
            (id.clone(), Some(r))
        } else {
            ("R-none".to_string(), None)
        }
    }

    fn request_case(&mut self, m: &Model, r: Option<&Request>) -> String {
        match r {
            Some(r) if !self.one_in(10) => r.case.clone(),
            _ => self.case_or_none(m),
        }
    }

    fn fund(&mut self, m: &Model) -> Op {
        let mut pick = if m.accounts.len() < 6 && self.one_in(2) { 0 } else { self.below(20) };
        // A decision, payment or void needs a request in the right state
        // (mostly): else the script requests (or approves) first.
        let awaiting = m
            .requests
            .values()
            .any(|r| r.settled.is_none() && !r.rejected && r.approvals.len() < usize::from(r.stages));
        let payable = m
            .requests
            .values()
            .any(|r| r.settled.is_none() && !r.rejected && r.approvals.len() == usize::from(r.stages));
        let open = m.requests.values().any(|r| r.settled.is_none());
        if (11..=15).contains(&pick) && !awaiting && !self.one_in(4) {
            pick = 8;
        }
        if (16..=18).contains(&pick) && !payable && !self.one_in(4) {
            pick = if awaiting { 11 } else { 8 };
        }
        if pick == 19 && !open && !self.one_in(4) {
            pick = 8;
        }
        let (signer, case_id, body) = match pick {
            0 | 1 => {
                // Mostly an id not yet opened.
                let unopened: Vec<usize> = (0..9).filter(|n| !m.accounts.contains_key(&format!("A{n}"))).collect();
                let n = if unopened.is_empty() || self.one_in(5) {
                    self.below(9)
                } else {
                    unopened[self.below(unopened.len())]
                };
                let kind = if self.one_in(5) { ALL_ACCOUNT_KINDS[self.below(5)] } else { natural_kind(n) };
                let no_overdraft = if kind == AccountKind::Payer { self.one_in(6) } else { self.one_in(2) };
                let stages = match (managed(kind), self.below(15)) {
                    (true, 0) => 6,
                    (true, s) => (s % 3) as u8,
                    (false, 0 | 1) => 1 + (self.below(2) as u8),
                    (false, _) => 0,
                };
                let case_id = match kind {
                    AccountKind::Case if self.one_in(15) => String::new(),
                    AccountKind::Case => self.case(m),
                    _ if self.one_in(8) => self.case(m),
                    _ => String::new(),
                };
                let body = Body::AccountOpened {
                    account_id: format!("A{n}"),
                    account_kind: kind,
                    name: format!("account {n}"),
                    no_overdraft,
                    stages,
                };
                (self.signer_for(m, "AccountOpened"), case_id, body)
            }
            2..=5 => {
                let account_id = self.account(m, &[AccountKind::Fund, AccountKind::Case]);
                let from = self.account(m, &[AccountKind::Payer]);
                let case_id = self.case_for(m, &account_id);
                let (amount_fen, bank_ref) = (self.amount(5000), self.bank_ref());
                let body = Body::FundReceipt { account_id, from, amount_fen, bank_ref };
                (self.signer_for(m, "FundReceipt"), case_id, body)
            }
            6 => {
                let from = self.account(m, &[AccountKind::Fund, AccountKind::Case]);
                let to = self.account(m, &[AccountKind::Treasury]);
                let case_id = self.case_for(m, &from);
                let (amount_fen, bank_ref) = (self.edge_or(m, &from, 2000), self.bank_ref());
                (self.signer_for(m, "Remittance"), case_id, Body::Remittance { from, to, amount_fen, bank_ref })
            }
            7 => {
                let obligation_id = if !m.obligations.is_empty() && self.one_in(10) {
                    "O1".to_string()
                } else {
                    self.obligations += 1;
                    format!("O{}", self.obligations)
                };
                let case_id = if self.one_in(10) { String::new() } else { self.case(m) };
                let body = Body::Obligation {
                    obligation_id,
                    payer: self.account(m, &[AccountKind::Payer]),
                    amount_fen: self.amount(10_000),
                    designated_use: USES[self.below(USES.len())].into(),
                    due_ms: 0,
                    judgment: None,
                };
                (self.signer_for(m, "Obligation"), case_id, body)
            }
            8..=10 => {
                let request_id = if !m.requests.is_empty() && self.one_in(10) {
                    nth(m.requests.keys().cloned(), self.below(m.requests.len()))
                } else {
                    self.requests += 1;
                    format!("R{}", self.requests)
                };
                let from = self.account(m, &[AccountKind::Fund, AccountKind::Case]);
                let to = self.account(m, &[AccountKind::Payee]);
                let case_id = self.case_for(m, &from);
                let amount_fen = self.edge_or(m, &from, 3000);
                let body = Body::DisbursementRequested {
                    request_id,
                    from,
                    to,
                    amount_fen,
                    purpose: PURPOSES[self.below(PURPOSES.len())].into(),
                    note: String::new(),
                };
                (self.signer_for(m, "DisbursementRequested"), case_id, body)
            }
            11..=15 => {
                let (request_id, r) = self
                    .request(m, |r| r.settled.is_none() && !r.rejected && r.approvals.len() < usize::from(r.stages));
                let stage = match r {
                    Some(r) if !self.one_in(5) => r.approvals.len() as u8 + 1,
                    _ => 1 + self.below(4) as u8,
                };
                let case_id = self.request_case(m, r);
                let body = if pick == 15 {
                    Body::DisbursementRejected { request_id, stage, reason: "not for this use".into() }
                } else {
                    Body::DisbursementApproved { request_id, stage }
                };
                (self.signer_for(m, "DisbursementApproved"), case_id, body)
            }
            16..=18 => {
                let (request_id, r) = self
                    .request(m, |r| r.settled.is_none() && !r.rejected && r.approvals.len() == usize::from(r.stages));
                let a = r.map_or(100, |r| r.amount);
                let amount_fen = match self.below(12) {
                    0 => 0,
                    1 => a.saturating_add(1),
                    2 => a.saturating_add(1 + self.below(100) as u64),
                    3 => a,
                    _ => 1 + self.rng.next() % a,
                };
                let case_id = self.request_case(m, r);
                let body = Body::DisbursementPaid { request_id, amount_fen, bank_ref: self.bank_ref() };
                // Sometimes one of its approvers (or another key of one) pays.
                let approvers: Vec<usize> = (0..PEOPLE)
                    .filter(|k| m.may_sign(*k, "DisbursementPaid"))
                    .filter(|k| r.is_some_and(|r| r.approvals.iter().any(|a| person(*a) == person(*k))))
                    .collect();
                let signer = if !approvers.is_empty() && self.one_in(2) {
                    approvers[self.below(approvers.len())]
                } else {
                    self.signer_for(m, "DisbursementPaid")
                };
                (signer, case_id, body)
            }
            _ => {
                let (request_id, r) = self.request(m, |r| r.settled.is_none());
                let case_id = self.request_case(m, r);
                let body = Body::DisbursementVoided { request_id, reason: "withdrawn".into() };
                (self.signer_for(m, "DisbursementVoided"), case_id, body)
            }
        };
        Op::Domain { signer, case_id, body: Box::new(body) }
    }
}
