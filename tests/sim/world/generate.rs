//! Choosing the next step: who does what to which contract, weighted towards what can still
//! happen, with a share of refused, malformed and hostile calls.

use super::*;

impl World {
    pub(super) fn own_or_other_client(&mut self, own: usize) -> Who {
        if self.rng.percent(85) {
            Who::Client(own)
        } else if self.rng.percent(70) {
            Who::Client(self.rng.index(CLIENTS))
        } else {
            self.anyone()
        }
    }

    pub(super) fn own_or_other_freelancer(&mut self, own: usize) -> Who {
        if self.rng.percent(85) {
            Who::Freelancer(own)
        } else if self.rng.percent(70) {
            Who::Freelancer(self.rng.index(FREELANCERS))
        } else {
            self.anyone()
        }
    }

    pub(super) fn anyone(&mut self) -> Who {
        match self.rng.below(3) {
            0 => Who::Client(self.rng.index(CLIENTS)),
            1 => Who::Freelancer(self.rng.index(FREELANCERS)),
            _ => Who::Admin(self.rng.index(ADMINS)),
        }
    }

    pub(super) fn amount_text(&mut self, minor: i64) -> AmountText {
        let text = format_minor(minor, self.model.currency);
        let json = if self.rng.percent(50) {
            text
        } else {
            format!("\"{text}\"")
        };
        AmountText {
            json,
            minor: Some(minor),
        }
    }

    pub(super) fn new_amount(&mut self) -> AmountText {
        if self.rng.percent(8) {
            let bad = match self.model.currency.minor_digits() {
                0 => *self.rng.pick(&["0", "-5", "12.5", "\"abc\"", "\"\""]),
                _ => *self.rng.pick(&["0", "-5", "12.345", "\"abc\"", "0.00"]),
            };
            return AmountText {
                json: bad.to_string(),
                minor: None,
            };
        }
        let minor = match self.rng.below(4) {
            0 => self.rng.range(1, 99),
            1 => self.rng.range(100, 10_000),
            _ => self.rng.range(10_000, 5_000_000),
        };
        self.amount_text(minor)
    }

    /// A slot and one of its milestones (now and then one it does not have).
    pub(super) fn some_part(&mut self) -> (usize, usize) {
        let slot = self.some_slot();
        let parts = self.model.slots[slot].st.parts.len();
        let part = if self.rng.percent(5) {
            parts
        } else {
            self.rng.index(parts)
        };
        (slot, part)
    }

    /// A slot, preferring ones where something can still happen.
    pub(super) fn some_slot(&mut self) -> usize {
        // A frozen escrow now and then, so that every move is tried on one.
        let frozen: Vec<usize> = (0..self.model.slots.len())
            .filter(|i| self.model.slots[*i].st.awaiting_admin().is_some())
            .collect();
        if !frozen.is_empty() && self.rng.percent(20) {
            return *self.rng.pick(&frozen);
        }
        let open: Vec<usize> = (0..self.model.slots.len())
            .filter(|i| {
                let s = &self.model.slots[*i].st;
                !matches!(
                    s.escrow.as_ref().map(|e| e.status),
                    Some(EscrowStatus::Released | EscrowStatus::Refunded)
                )
            })
            .collect();
        if !open.is_empty() && self.rng.percent(80) {
            *self.rng.pick(&open)
        } else {
            self.rng.index(self.model.slots.len())
        }
    }

    pub(super) fn next_op(&mut self) -> Op {
        if self.model.slots.is_empty() || (self.model.slots.len() < 4 && self.rng.percent(15)) {
            return self.gen_create();
        }
        // Half the steps move some contract along its happy path, so that sequences reach
        // release and refund often; the other half are anything at all.
        if self.rng.percent(55)
            && let Some(op) = self.progress_op()
        {
            return op;
        }
        let pending = self.stripe.pending();
        let acked = self.stripe.acked();
        let funded: Vec<usize> = (0..self.model.slots.len())
            .filter(|i| self.model.slots[*i].st.escrow.is_some())
            .collect();
        let at_provider = self.provider.pending_refunds().len();
        let open_chargebacks = self.stripe.chargebacks.iter().filter(|c| !c.closed).count();
        let failed: Vec<usize> = (0..self.model.slots.len())
            .filter(|i| self.model.slots[*i].st.refund_failed())
            .collect();
        let weights = [
            5,                                                 // create
            7,                                                 // approve
            8,                                                 // checkout
            8,                                                 // pay
            if pending.is_empty() { 0 } else { 20 },           // deliver a pending event
            if acked.is_empty() { 0 } else { 3 },              // redeliver an acknowledged one
            if self.stripe.events.is_empty() { 0 } else { 2 }, // forged delivery
            14,                                                // move
            6,                                                 // request release
            6,                                                 // release
            7,                                                 // refund
            3,                                                 // review
            4,                                                 // arm a provider fault
            1,                                                 // outage on/off
            2,                                                 // recovery pass
            2,                                                 // crash between steps
            1,                                                 // unknown or malformed ids
            if funded.is_empty() { 0 } else { 1 },             // a refund from the Stripe dashboard
            if self.model.onboarded.iter().all(|o| *o) {
                1
            } else {
                3
            }, // onboard for payouts
            6,                                                 // withdraw
            if self.settings.auto_release_after_ms.is_some() {
                4
            } else {
                0
            }, // timer pass
            4,                                                 // submit a milestone
            4,                                                 // request one milestone's release
            3,                                                 // release one milestone
            2,                                                 // a client disputes
            1,                                                 // a freelancer answers
            2,                                                 // an operator resolves
            if at_provider == 0 { 0 } else { 4 },              // the bank settles a refund
            if failed.is_empty() { 1 } else { 3 },             // an operator retries a refund
            if failed.is_empty() { 1 } else { 2 },             // or settles it by hand
            if funded.is_empty() { 0 } else { 2 },             // a card holder charges back
            if open_chargebacks == 0 { 0 } else { 4 },         // the bank decides one
        ];
        match self.rng.weighted(&weights) {
            0 => self.gen_create(),
            1 => {
                let slot = self.some_slot();
                let who = self.own_or_other_freelancer(self.model.slots[slot].freelancer);
                Op::Approve { slot, who }
            }
            2 => self.gen_checkout(),
            3 => self.gen_pay(),
            4 => Op::Deliver {
                event: *self.rng.pick(&pending),
            },
            5 => Op::Deliver {
                event: *self.rng.pick(&acked),
            },
            6 => Op::Forged {
                event: self.rng.index(self.stripe.events.len()),
                how: *self.rng.pick(&[
                    Forgery::NoHeader,
                    Forgery::WrongSecret,
                    Forgery::Stale,
                    Forgery::Future,
                    Forgery::TamperedBody,
                ]),
            },
            7 => self.gen_move(),
            8 => {
                let slot = self.some_slot();
                let who = self.own_or_other_client(self.model.slots[slot].client);
                Op::RequestRelease { slot, who }
            }
            9 => self.gen_release(),
            10 => self.gen_refund(),
            11 => self.gen_review(),
            12 => {
                let slot = self.some_slot();
                Op::Fault {
                    slot,
                    fault: *self.rng.pick(&Fault::REFUND),
                }
            }
            13 => Op::Outage(self.rng.percent(50)),
            14 => Op::Recover,
            15 => Op::Restart,
            17 => Op::DashboardRefund {
                slot: *self.rng.pick(&funded),
            },
            18 => Op::Onboard {
                freelancer: self.rng.index(FREELANCERS),
            },
            19 => self.gen_withdraw(),
            20 => Op::Tick,
            21 => {
                let (slot, part) = self.some_part();
                let who = self.own_or_other_freelancer(self.model.slots[slot].freelancer);
                Op::Submit { slot, who, part }
            }
            22 => {
                let (slot, part) = self.some_part();
                let who = self.own_or_other_client(self.model.slots[slot].client);
                Op::RequestPart { slot, who, part }
            }
            24 => {
                let slot = self.some_slot();
                let who = self.own_or_other_client(self.model.slots[slot].client);
                Op::Dispute { slot, who }
            }
            25 => {
                let slot = self.some_slot();
                let who = self.own_or_other_freelancer(self.model.slots[slot].freelancer);
                Op::RespondDispute { slot, who }
            }
            26 => {
                let slot = self.some_slot();
                self.gen_resolve_of(slot)
            }
            27 => self.gen_finish_refund(at_provider),
            28 => {
                let slot = self.failed_or_any(&failed);
                let fault = self.rng.percent(25).then(|| *self.rng.pick(&Fault::REFUND));
                Op::RetryRefund { slot, fault }
            }
            29 => Op::SettleFailedRefund {
                slot: self.failed_or_any(&failed),
            },
            30 => {
                // Often on money already released: a loss the platform bears, or the wallet
                // makes good.
                let released: Vec<usize> = funded
                    .iter()
                    .copied()
                    .filter(|i| {
                        self.model.slots[*i].st.parts.iter().any(|p| {
                            p.escrow
                                .as_ref()
                                .is_some_and(|e| e.status == EscrowStatus::Released)
                        })
                    })
                    .collect();
                let slot = if !released.is_empty() && self.rng.percent(50) {
                    *self.rng.pick(&released)
                } else {
                    *self.rng.pick(&funded)
                };
                self.gen_chargeback(slot)
            }
            31 => Op::DecideChargeback {
                pick: self.rng.index(open_chargebacks.max(1)),
                won: self.rng.percent(45),
            },
            23 => {
                let (slot, part) = self.some_part();
                let how = match self.rng.below(3) {
                    0 => ReleaseHow::Http(Who::Admin(self.rng.index(ADMINS))),
                    1 => ReleaseHow::Cli { force: None },
                    _ => ReleaseHow::Cli {
                        force: Some("delivered by hand"),
                    },
                };
                Op::ReleasePart { slot, part, how }
            }
            _ => Op::Ghost {
                kind: *self.rng.pick(&[
                    GhostKind::Approve,
                    GhostKind::RequestRelease,
                    GhostKind::Release,
                    GhostKind::Refund,
                ]),
                malformed: self.rng.percent(50),
            },
        }
    }

    /// A card holder disputes the payment behind `slot`'s escrow: most often all of it.
    pub(super) fn gen_chargeback(&mut self, slot: usize) -> Op {
        Op::Chargeback {
            slot,
            part_of: if self.rng.percent(70) {
                100
            } else {
                self.rng.range(10, 90)
            },
            withdrawn: self.rng.percent(60),
        }
    }

    /// A slot whose refund failed, most often; else any.
    fn failed_or_any(&mut self, failed: &[usize]) -> usize {
        if !failed.is_empty() && self.rng.percent(90) {
            *self.rng.pick(failed)
        } else {
            self.some_slot()
        }
    }

    /// The bank settles one of the `pending` refunds the provider took as pending: most
    /// succeed; Stripe says so by one of the events that carry a refund.
    pub(super) fn gen_finish_refund(&mut self, pending: usize) -> Op {
        let succeeds = self.rng.percent(60);
        let event_type = match (succeeds, self.rng.below(3)) {
            (false, 0) => "refund.failed",
            (_, 1) => "charge.refund.updated",
            _ => "refund.updated",
        };
        Op::FinishRefund {
            pick: self.rng.index(pending.max(1)),
            succeeds,
            event_type,
        }
    }

    /// A withdrawal, most often by a freelancer with money in the wallet: the whole wallet,
    /// or an amount (sometimes more than it holds), now and then with a fault for its transfer.
    pub(super) fn gen_withdraw(&mut self) -> Op {
        let with_money: Vec<usize> = (0..FREELANCERS)
            .filter(|f| self.model.wallet(*f) > 0)
            .collect();
        let freelancer = if !with_money.is_empty() && self.rng.percent(80) {
            *self.rng.pick(&with_money)
        } else {
            self.rng.index(FREELANCERS)
        };
        let held = self.model.wallet(freelancer).max(0);
        let amount = if self.rng.percent(50) {
            None
        } else if self.rng.percent(10) {
            Some(held + self.rng.range(1, 1_000))
        } else {
            Some(self.rng.range(1, held.max(1)))
        };
        let fault = self.rng.percent(25).then(|| *self.rng.pick(&Fault::ALL));
        Op::Withdraw {
            freelancer,
            amount,
            fault,
        }
    }

    /// The step a well-behaved actor would take next for some open contract.
    pub(super) fn progress_op(&mut self) -> Option<Op> {
        // A timer pass now and then while an auto-release is waiting.
        let waiting = self.model.slots.iter().any(|s| {
            s.auto_release
                .iter()
                .any(|t| matches!(t, Some((_, false, _))))
        });
        if waiting && self.rng.percent(20) {
            return Some(Op::Tick);
        }
        // A freelancer with money in the wallet onboards, then withdraws it.
        let earning: Vec<usize> = (0..FREELANCERS)
            .filter(|f| self.model.wallet(*f) > 0)
            .collect();
        if !earning.is_empty() && self.rng.percent(25) {
            let freelancer = *self.rng.pick(&earning);
            if !self.model.onboarded[freelancer] {
                return Some(Op::Onboard { freelancer });
            }
            return Some(self.gen_withdraw());
        }
        let pending = self.stripe.pending();
        if !pending.is_empty() && self.rng.percent(40) {
            return Some(Op::Deliver {
                event: *self.rng.pick(&pending),
            });
        }
        let unreviewed: Vec<usize> = (0..self.model.slots.len())
            .filter(|i| {
                let st = &self.model.slots[*i].st;
                st.status == ContractStatus::Completed && !st.reviewed
            })
            .collect();
        if !unreviewed.is_empty() && self.rng.percent(15) {
            let slot = *self.rng.pick(&unreviewed);
            let s = &self.model.slots[slot];
            return Some(Op::Review {
                slot,
                who: Who::Client(s.client),
                path_client: s.client,
                freelancer: s.freelancer,
                rating: self.rng.range(1, 5),
                description: "Delivered what was agreed",
            });
        }
        let open: Vec<usize> = (0..self.model.slots.len())
            .filter(|i| {
                let st = &self.model.slots[*i].st;
                match st.escrow.as_ref().map(|e| e.status) {
                    None => st.status != ContractStatus::Canceled,
                    Some(
                        EscrowStatus::Funded
                        | EscrowStatus::RefundPending
                        | EscrowStatus::RefundFailed,
                    ) => true,
                    Some(
                        EscrowStatus::Released | EscrowStatus::Refunded | EscrowStatus::ChargedBack,
                    ) => false,
                }
            })
            .collect();
        if open.is_empty() {
            return None;
        }
        let slot = *self.rng.pick(&open);
        let s = self.model.slots[slot].clone();
        // An open dispute is answered, then resolved (otherwise the contract's next step is
        // tried, which the freeze refuses); now and then a client disputes work in progress or
        // delivered.
        if s.st.awaiting_admin().is_some() {
            match self.rng.below(100) {
                0..25 => {
                    return Some(Op::RespondDispute {
                        slot,
                        who: Who::Freelancer(s.freelancer),
                    });
                }
                25..60 => return Some(self.gen_resolve_of(slot)),
                _ => {}
            }
        }
        if s.st.parts.iter().any(|p| p.held())
            && s.st.status != ContractStatus::Pending
            && self.rng.percent(6)
        {
            return Some(Op::Dispute {
                slot,
                who: Who::Client(s.client),
            });
        }
        let paying = self.stripe.events.iter().any(|e| {
            matches!(e.delivery, Delivery::Pending { .. })
                && match e.kind {
                    EventKind::SessionCompleted { payment, .. }
                    | EventKind::AsyncSucceeded { payment }
                    | EventKind::IntentSucceeded { payment } => {
                        self.stripe.payments[payment].contract_ref == s.id.as_str()
                    }
                    _ => false,
                }
        });
        // A contract of several milestones is delivered and paid out one milestone at a time
        // while the work goes on.
        if s.st.parts.len() > 1
            && matches!(
                s.st.status,
                ContractStatus::Started | ContractStatus::Ongoing
            )
            && self.rng.percent(60)
        {
            let held: Vec<usize> = (0..s.st.parts.len())
                .filter(|k| s.st.parts[*k].held())
                .collect();
            if !held.is_empty() {
                let part = *self.rng.pick(&held);
                let p = &s.st.parts[part];
                return Some(if !p.submitted {
                    Op::Submit {
                        slot,
                        who: Who::Freelancer(s.freelancer),
                        part,
                    }
                } else if !p.requested {
                    Op::RequestPart {
                        slot,
                        who: Who::Client(s.client),
                        part,
                    }
                } else {
                    Op::ReleasePart {
                        slot,
                        part,
                        how: ReleaseHow::Http(Who::Admin(self.rng.index(ADMINS))),
                    }
                });
            }
        }
        let escrow = s.st.escrow.as_ref().map(|e| e.status);
        let op = match (escrow, s.st.status) {
            (None, _) if !s.st.approved => Op::Approve {
                slot,
                who: Who::Freelancer(s.freelancer),
            },
            (None, _) if !s.checkout_open => Op::Checkout {
                slot,
                who: Who::Client(s.client),
                rate: None,
                title: None,
                freelancer: None,
            },
            (None, _) if paying => return None,
            (None, _) => Op::Pay {
                slot,
                how: PayHow::Card {
                    intent_event_too: self.rng.percent(20),
                },
            },
            // The bank's word on a refund the provider took as pending.
            (Some(EscrowStatus::RefundPending), _) if s.st.refund_in_flight() => {
                let pending = self.provider.pending_refunds().len();
                if pending == 0 {
                    return None;
                }
                self.gen_finish_refund(pending)
            }
            (Some(EscrowStatus::RefundPending), _) => Op::Recover,
            // An operator sends a failed refund again, or settles it by hand.
            (Some(EscrowStatus::RefundFailed), _) => {
                if self.rng.percent(70) {
                    Op::RetryRefund { slot, fault: None }
                } else {
                    Op::SettleFailedRefund { slot }
                }
            }
            (Some(_), ContractStatus::Canceled) => self.gen_refund_of(slot),
            (Some(_), ContractStatus::Completed) => match s.st.release {
                ReleaseFundStatus::NotRequested => Op::RequestRelease {
                    slot,
                    who: Who::Client(s.client),
                },
                _ => Op::Release {
                    slot,
                    how: if self.rng.percent(70) {
                        ReleaseHow::Http(Who::Admin(self.rng.index(ADMINS)))
                    } else {
                        ReleaseHow::Cli { force: None }
                    },
                },
            },
            (Some(_), status) => {
                if self.rng.percent(8) {
                    self.gen_refund_of(slot)
                } else {
                    let to = match status {
                        ContractStatus::Pending => "Started",
                        ContractStatus::Started => "Ongoing",
                        _ => "Completed",
                    };
                    Op::Move {
                        slot,
                        who: Who::Freelancer(s.freelancer),
                        to,
                    }
                }
            }
        };
        Some(op)
    }

    pub(super) fn gen_create(&mut self) -> Op {
        let reuse: Vec<usize> = (0..self.model.jobs.len()).collect();
        let job = if !reuse.is_empty() && self.rng.percent(15) {
            *self.rng.pick(&reuse)
        } else {
            let id = JobId::parse(&self.rng.object_id()).expect("valid job id");
            self.model.jobs.push(id);
            self.model.jobs.len() - 1
        };
        let client = self.rng.index(CLIENTS);
        let who = if self.rng.percent(95) {
            Who::Client(client)
        } else {
            self.anyone()
        };
        Op::Create {
            who,
            freelancer: self.rng.index(FREELANCERS),
            job,
            amount: self.new_amount(),
            // A third of the contracts are paid by milestones.
            parts: if self.rng.percent(35) {
                self.rng.range(2, 3) as usize
            } else {
                1
            },
        }
    }

    pub(super) fn gen_checkout(&mut self) -> Op {
        let slot = self.some_slot();
        let s = self.model.slots[slot].clone();
        let who = self.own_or_other_client(s.client);
        let rate = match self.rng.below(10) {
            0..=3 => None,
            4..=7 => Some(self.amount_text(s.amount)),
            _ => {
                let delta = self.rng.range(1, 500);
                Some(self.amount_text(s.amount + delta))
            }
        };
        let freelancer = match self.rng.below(10) {
            0..=5 => None,
            6..=8 => Some(s.freelancer),
            _ => Some(self.rng.index(FREELANCERS)),
        };
        let title = if self.rng.percent(20) {
            Some(
                *self
                    .rng
                    .pick(&["Logo design", "Landing page", "A new title"]),
            )
        } else {
            None
        };
        Op::Checkout {
            slot,
            who,
            rate,
            title,
            freelancer,
        }
    }

    pub(super) fn gen_pay(&mut self) -> Op {
        let open: Vec<usize> = (0..self.model.slots.len())
            .filter(|i| self.model.slots[*i].checkout_open)
            .collect();
        let slot = if !open.is_empty() && self.rng.percent(90) {
            *self.rng.pick(&open)
        } else {
            self.some_slot()
        };
        let how = match self.rng.below(20) {
            0..=11 => PayHow::Card {
                intent_event_too: self.rng.percent(30),
            },
            12..=14 => PayHow::Async {
                succeeds: self.rng.percent(70),
            },
            15 => PayHow::WrongAmount,
            16..=17 => PayHow::UnknownContract,
            18 => PayHow::MalformedContract,
            _ => PayHow::Legacy,
        };
        Op::Pay { slot, how }
    }

    pub(super) fn gen_move(&mut self) -> Op {
        let slot = self.some_slot();
        let s = self.model.slots[slot].clone();
        let who = self.own_or_other_freelancer(s.freelancer);
        let next = match s.st.status {
            ContractStatus::Pending => "Started",
            ContractStatus::Started => "Ongoing",
            ContractStatus::Ongoing => "Completed",
            ContractStatus::Completed | ContractStatus::Canceled => "Canceled",
        };
        let to = match self.rng.below(20) {
            0..=13 => next,
            14..=15 => "Canceled",
            16..=18 => *self
                .rng
                .pick(&["Pending", "Started", "Ongoing", "Completed", "Canceled"]),
            _ => *self.rng.pick(&["Done", "started", ""]),
        };
        Op::Move { slot, who, to }
    }

    pub(super) fn gen_release(&mut self) -> Op {
        let slot = self.some_slot();
        let how = match self.rng.below(10) {
            0..=4 => ReleaseHow::Http(Who::Admin(self.rng.index(ADMINS))),
            5 => ReleaseHow::Http(self.anyone()),
            6..=7 => ReleaseHow::Cli { force: None },
            8 => ReleaseHow::Cli {
                force: Some("client unreachable for 30 days"),
            },
            _ => ReleaseHow::Cli { force: Some("  ") },
        };
        Op::Release { slot, how }
    }

    pub(super) fn gen_refund(&mut self) -> Op {
        let slot = self.some_slot();
        self.gen_refund_of(slot)
    }

    pub(super) fn gen_refund_of(&mut self, slot: usize) -> Op {
        let s = self.model.slots[slot].clone();
        let earning = s.st.escrow.as_ref().map(|e| e.earning).unwrap_or(1_000);
        let how = match self.rng.below(12) {
            0..=3 => {
                let who = self.own_or_other_client(s.client);
                let path_client = if self.rng.percent(85) {
                    match who {
                        Who::Client(c) => c,
                        _ => s.client,
                    }
                } else {
                    self.rng.index(CLIENTS)
                };
                RefundHow::Http { who, path_client }
            }
            4..=6 => RefundHow::Http {
                who: Who::Admin(self.rng.index(ADMINS)),
                path_client: if self.rng.percent(90) {
                    s.client
                } else {
                    self.rng.index(CLIENTS)
                },
            },
            7..=8 => RefundHow::Cli { share: None },
            _ => RefundHow::Cli {
                share: Some(match self.rng.below(6) {
                    0 => 0,
                    1 => earning,
                    2 => earning + 1,
                    3 => -1,
                    _ => self.rng.range(0, earning.max(0)),
                }),
            },
        };
        let fault = if self.rng.percent(25) {
            Some(*self.rng.pick(&Fault::REFUND))
        } else {
            None
        };
        Op::Refund { slot, how, fault }
    }

    /// An operator's split of the slot's open dispute, most often one that adds up.
    pub(super) fn gen_resolve_of(&mut self, slot: usize) -> Op {
        let st = &self.model.slots[slot].st;
        let earnings: i64 = st
            .awaiting_admin()
            .map(|d| d.parts.clone())
            .unwrap_or_default()
            .iter()
            .filter_map(|i| st.parts[*i].escrow.as_ref())
            .filter(|e| e.status == EscrowStatus::Funded)
            .map(|e| e.held_split().2)
            .sum();
        let freelancer = self.rng.range(0, earnings.max(0));
        let (client, freelancer) = match self.rng.below(10) {
            0 => (earnings - freelancer + 1, freelancer),
            1 => (-1, earnings + 1),
            2 => (0, earnings),
            3 => (earnings, 0),
            _ => (earnings - freelancer, freelancer),
        };
        let fault = if self.rng.percent(25) {
            Some(*self.rng.pick(&Fault::REFUND))
        } else {
            None
        };
        Op::ResolveDispute {
            slot,
            client,
            freelancer,
            fault,
        }
    }

    pub(super) fn gen_review(&mut self) -> Op {
        let slot = self.some_slot();
        let s = self.model.slots[slot].clone();
        let who = self.own_or_other_client(s.client);
        let path_client = match (who, self.rng.percent(90)) {
            (Who::Client(c), true) => c,
            _ => self.rng.index(CLIENTS),
        };
        let freelancer = if self.rng.percent(90) {
            s.freelancer
        } else {
            self.rng.index(FREELANCERS)
        };
        let rating = if self.rng.percent(85) {
            self.rng.range(1, 5)
        } else {
            *self.rng.pick(&[0, 6, -1])
        };
        let description = *self.rng.pick(&["Great work", "On time, clean code", "  "]);
        Op::Review {
            slot,
            who,
            path_client,
            freelancer,
            rating,
            description,
        }
    }
}
