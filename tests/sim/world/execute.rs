//! Running a step: the call into the library as the adapters make it (parsing at the edge,
//! then a permit and the use case), Stripe's side of a payment, deliveries, crashes and
//! restarts.

use super::*;
use escrow::domain::MinorUnits;
use escrow::service::checkout::Checkout;
use escrow::service::contracts::NewContract;
use escrow::service::disputes::Resolution;
use escrow::service::escrow::{Refund, Release};
use escrow::service::input::{self, Reason};
use escrow::service::reviews::NewReview;
use escrow::service::{Caller, Error, UseCase};

impl World {
    pub(super) async fn execute(&mut self, op: &Op) -> Got {
        let fut = std::panic::AssertUnwindSafe(self.call(op)).catch_unwind();
        match fut.await {
            Ok(r) => Ok(r),
            Err(payload) => match payload.downcast::<SimCrash>() {
                Ok(c) => Err(c.0),
                Err(other) => std::panic::resume_unwind(other),
            },
        }
    }

    pub(super) fn slot_id(&self, slot: usize) -> ContractId {
        self.model.slots[slot].id.clone()
    }

    pub(super) fn sign_now(&mut self, body: &str) -> String {
        let t = self.clock_s() - self.rng.range(0, SIGN_LAG_S_MAX);
        sign(body.as_bytes(), &self.settings.webhook_secret, t)
    }

    pub(super) fn clock_s(&self) -> i64 {
        use escrow::service::Clock;
        self.clock.now_ms() / 1000
    }

    /// Calls the library as an adapter does: parse what the caller sent (with the same
    /// helpers HTTP and the CLI use), ask for a permit, run the use case.
    pub(super) async fn call(&mut self, op: &Op) -> Result<Reply, Error> {
        let currency = self.settings.currency;
        match op {
            Op::Create {
                who,
                freelancer,
                job,
                amount,
                parts,
            } => {
                let caller = self.caller(*who);
                let permit = self.service().permit(&caller, UseCase::CreateContract)?;
                let amount = input::amount("amount", &amount.json, currency)?;
                // Several milestones: the amount split as the model splits it.
                let split = crate::model::split_amount(amount.minor.get(), *parts);
                let milestones = (split.len() > 1).then(|| {
                    split
                        .iter()
                        .enumerate()
                        .map(|(i, a)| escrow::domain::MilestonePlan {
                            title: format!("Part {}", i + 1),
                            amount: MinorUnits::new(*a),
                        })
                        .collect()
                });
                let new = NewContract {
                    job: self.model.jobs[*job].clone(),
                    freelancer: self.freelancers[*freelancer].clone(),
                    amount,
                    title: Some(input::title(&format!("Sim job {job}"))?),
                    milestones,
                };
                let c = self.service().create_contract(permit, new).await?;
                Ok(Reply::Created(c.id))
            }
            Op::Approve { slot, who } => {
                let caller = self.caller(*who);
                let permit = self.service().permit(&caller, UseCase::ApproveContract)?;
                let id = self.slot_id(*slot);
                self.service().approve_contract(permit, &id).await?;
                Ok(Reply::Nothing)
            }
            Op::Move { slot, who, to } => {
                let caller = self.caller(*who);
                let permit = self.service().permit(&caller, UseCase::UpdateStatus)?;
                let to = input::status(to)?;
                let id = self.slot_id(*slot);
                self.service().update_status(permit, &id, to).await?;
                Ok(Reply::Nothing)
            }
            Op::Checkout {
                slot,
                who,
                rate,
                title,
                freelancer,
            } => {
                let caller = self.caller(*who);
                let permit = self.service().permit(&caller, UseCase::Checkout)?;
                let req = Checkout {
                    milestone: None,
                    job: self.model.jobs[self.model.slots[*slot].job].clone(),
                    title: title.map(input::title).transpose()?,
                    rate: rate
                        .as_ref()
                        .map(|r| input::amount("rate", &r.json, currency))
                        .transpose()?,
                    amount: None,
                    freelancer: freelancer.map(|f| self.freelancers[f].clone()),
                };
                self.service().checkout(permit, req).await?;
                Ok(Reply::Nothing)
            }
            Op::Pay { slot, how } => {
                self.pay(*slot, *how);
                Ok(Reply::Nothing)
            }
            Op::Deliver { event } => {
                let body = self.stripe.events[*event].body.clone();
                let header = self.sign_now(&body);
                let r = self
                    .service()
                    .handle_webhook(body.as_bytes(), Some(&header))
                    .await?;
                Ok(Reply::Webhook(r.outcome.as_str().to_string()))
            }
            Op::Forged { event, how } => {
                let mut body = self.stripe.events[*event].body.clone();
                let secret = self.settings.webhook_secret.clone();
                let now = self.clock_s();
                let header = match how {
                    Forgery::NoHeader => None,
                    Forgery::WrongSecret => Some(sign(body.as_bytes(), "whsec_attacker", now)),
                    Forgery::Stale => Some(sign(
                        body.as_bytes(),
                        &secret,
                        now - self.rng.range(301, 86_400),
                    )),
                    Forgery::Future => Some(sign(
                        body.as_bytes(),
                        &secret,
                        now + self.rng.range(301, 86_400),
                    )),
                    Forgery::TamperedBody => {
                        let h = sign(body.as_bytes(), &secret, now);
                        body = body.replacen("\"amount", "\"amount_x", 1);
                        body.push(' ');
                        Some(h)
                    }
                };
                let r = self
                    .service()
                    .handle_webhook(body.as_bytes(), header.as_deref())
                    .await?;
                Ok(Reply::Webhook(r.outcome.as_str().to_string()))
            }
            Op::RequestRelease { slot, who } => {
                let caller = self.caller(*who);
                let permit = self.service().permit(&caller, UseCase::RequestRelease)?;
                let id = self.slot_id(*slot);
                self.service().request_release(permit, &id, None).await?;
                Ok(Reply::Nothing)
            }
            Op::Submit { slot, who, part } => {
                let caller = self.caller(*who);
                let permit = self.service().permit(&caller, UseCase::UpdateStatus)?;
                let id = self.slot_id(*slot);
                let m = input::milestone(&(part + 1).to_string())?;
                self.service().submit_milestone(permit, &id, m).await?;
                Ok(Reply::Nothing)
            }
            Op::RequestPart { slot, who, part } => {
                let caller = self.caller(*who);
                let permit = self.service().permit(&caller, UseCase::RequestRelease)?;
                let id = self.slot_id(*slot);
                let m = input::milestone(&(part + 1).to_string())?;
                self.service().request_release(permit, &id, Some(m)).await?;
                Ok(Reply::Nothing)
            }
            Op::ReleasePart { slot, part, how } => {
                let (caller, force) = match how {
                    ReleaseHow::Http(who) => (self.caller(*who), None),
                    ReleaseHow::Cli { force } => (Caller::operator(CLI_ACTOR), *force),
                };
                let permit = self.service().permit(&caller, UseCase::Release)?;
                let release = Release {
                    contract: self.slot_id(*slot),
                    milestone: Some(input::milestone(&(part + 1).to_string())?),
                    force: force.map(Reason::parse).transpose()?,
                };
                let c = self.service().release(permit, &release).await?;
                Ok(Reply::Escrow(c.escrow_status().expect("released")))
            }
            Op::Release { slot, how } => {
                let (caller, force) = match how {
                    ReleaseHow::Http(who) => (self.caller(*who), None),
                    ReleaseHow::Cli { force } => (Caller::operator(CLI_ACTOR), *force),
                };
                let permit = self.service().permit(&caller, UseCase::Release)?;
                let release = Release {
                    contract: self.slot_id(*slot),
                    milestone: None,
                    force: force.map(Reason::parse).transpose()?,
                };
                let c = self.service().release(permit, &release).await?;
                Ok(Reply::Escrow(c.escrow_status().expect("released")))
            }
            Op::Refund { slot, how, .. } => {
                let contract = self.slot_id(*slot);
                let c = match how {
                    RefundHow::Http { who, path_client } => {
                        let caller = self.caller(*who);
                        let client = self.clients[*path_client].clone();
                        let permit = self.service().permit(
                            &caller,
                            UseCase::Refund {
                                client: Some(&client),
                            },
                        )?;
                        let refund = Refund {
                            contract,
                            reason: "Freelancer not responding".into(),
                            description: "no reply for a week".into(),
                            freelancer_share: None,
                        };
                        self.service().refund(permit, &refund).await?
                    }
                    RefundHow::Cli { share } => {
                        let caller = Caller::operator(CLI_ACTOR);
                        let permit = self
                            .service()
                            .permit(&caller, UseCase::Refund { client: None })?;
                        let refund = Refund {
                            contract,
                            reason: "dispute".into(),
                            description: "split".into(),
                            freelancer_share: share.map(MinorUnits::new),
                        };
                        self.service().refund(permit, &refund).await?
                    }
                };
                Ok(Reply::Escrow(c.escrow_status().expect("refunded")))
            }
            Op::Dispute { slot, who } => {
                let caller = self.caller(*who);
                let permit = self.service().permit(&caller, UseCase::Dispute)?;
                let id = self.slot_id(*slot);
                self.service()
                    .open_dispute(permit, &id, "not what was agreed", "")
                    .await?;
                Ok(Reply::Nothing)
            }
            Op::RespondDispute { slot, who } => {
                let caller = self.caller(*who);
                let permit = self.service().permit(&caller, UseCase::RespondDispute)?;
                let id = self.slot_id(*slot);
                self.service()
                    .respond_to_dispute(permit, &id, "it was delivered")
                    .await?;
                Ok(Reply::Nothing)
            }
            Op::ResolveDispute {
                slot,
                client,
                freelancer,
                ..
            } => {
                let caller = Caller::operator(CLI_ACTOR);
                let permit = self.service().permit(&caller, UseCase::ResolveDispute)?;
                let resolution = Resolution {
                    contract: self.slot_id(*slot),
                    client_share: MinorUnits::new(*client),
                    freelancer_share: MinorUnits::new(*freelancer),
                    reason: "split".into(),
                };
                let c = self.service().resolve_dispute(permit, &resolution).await?;
                Ok(Reply::Escrow(c.escrow_status().expect("resolved")))
            }
            Op::Review {
                slot,
                who,
                path_client,
                freelancer,
                rating,
                description,
            } => {
                let caller = self.caller(*who);
                let client = self.clients[*path_client].clone();
                let permit = self
                    .service()
                    .permit(&caller, UseCase::RateFreelancer { client: &client })?;
                let new = NewReview {
                    contract: self.slot_id(*slot),
                    freelancer: self.freelancers[*freelancer].clone(),
                    rating: input::rating(&serde_json::json!(rating))?,
                    description: description.to_string(),
                };
                self.service().rate_freelancer(permit, new).await?;
                Ok(Reply::Nothing)
            }
            Op::Fault { slot, fault } => {
                self.provider.arm(&self.model.slots[*slot].id, *fault);
                Ok(Reply::Nothing)
            }
            Op::DashboardRefund { slot } => {
                // What is left of the payment behind the escrow is refunded: the charge then
                // reports all of that payment refunded.
                if let Some(e) = &self.model.slots[*slot].st.escrow {
                    let pi = e.payment_ref.clone();
                    let paid: i64 = self.model.slots[*slot]
                        .st
                        .parts
                        .iter()
                        .filter_map(|p| p.escrow.as_ref())
                        .filter(|x| x.payment_ref == pi)
                        .map(|x| x.amount)
                        .sum();
                    let so_far = self.stripe.refunded.entry(pi.clone()).or_insert(0);
                    if *so_far >= paid {
                        return Ok(Reply::Nothing);
                    }
                    *so_far = paid;
                    let amount = paid;
                    let id = self.event_id("dashboard");
                    let body = stripe::charge_refunded_event(
                        &id,
                        &pi,
                        amount,
                        self.model.currency.code(),
                        self.clock_s(),
                    );
                    self.stripe.push(
                        EventKind::ChargeRefunded {
                            payment_ref: pi,
                            refunded: amount,
                        },
                        body,
                        id,
                    );
                }
                Ok(Reply::Nothing)
            }
            Op::FinishRefund {
                pick,
                succeeds,
                event_type,
            } => {
                let pending = self.provider.pending_refunds();
                let Some(r) = pending
                    .get(*pick)
                    .and_then(|r| self.provider.finish_refund(&r.id, *succeeds))
                else {
                    return Ok(Reply::Nothing);
                };
                // A failed refund is no longer in the charge's `amount_refunded`.
                if !succeeds {
                    *self
                        .stripe
                        .refunded
                        .entry(r.payment_ref.clone())
                        .or_insert(0) -= r.amount;
                }
                let id = self.event_id("refund_updated");
                let body = stripe::refund_updated_event(
                    &id,
                    event_type,
                    &r,
                    self.model.currency.code(),
                    self.clock_s(),
                );
                self.stripe.push(
                    EventKind::RefundUpdated {
                        refund_id: r.id.clone(),
                        payment_ref: r.payment_ref.clone(),
                        succeeded: *succeeds,
                    },
                    body,
                    id,
                );
                Ok(Reply::Nothing)
            }
            Op::Chargeback {
                slot,
                part_of,
                withdrawn,
            } => {
                let st = &self.model.slots[*slot].st;
                let Some(e) = &st.escrow else {
                    return Ok(Reply::Nothing);
                };
                let pi = e.payment_ref.clone();
                let paid: i64 = st
                    .parts
                    .iter()
                    .filter_map(|p| p.escrow.as_ref())
                    .filter(|x| x.payment_ref == pi)
                    .map(|x| x.amount)
                    .sum();
                let amount = (paid * part_of / 100).max(1);
                let cb = stripe::SimChargeback {
                    id: format!("dp_sim_{}", self.stripe.chargebacks.len() + 1),
                    payment_ref: pi,
                    amount,
                    due_by: self.clock_s() + 7 * 86_400,
                    closed: false,
                };
                self.stripe.chargebacks.push(cb.clone());
                self.push_chargeback_event(&cb, stripe::ChargebackPhase::Created, "needs_response");
                if *withdrawn {
                    self.push_chargeback_event(
                        &cb,
                        stripe::ChargebackPhase::FundsWithdrawn,
                        "needs_response",
                    );
                }
                Ok(Reply::Nothing)
            }
            Op::DecideChargeback { pick, won } => {
                let open: Vec<usize> = (0..self.stripe.chargebacks.len())
                    .filter(|i| !self.stripe.chargebacks[*i].closed)
                    .collect();
                let Some(i) = open.get(*pick).copied() else {
                    return Ok(Reply::Nothing);
                };
                self.stripe.chargebacks[i].closed = true;
                let cb = self.stripe.chargebacks[i].clone();
                let status = if *won { "won" } else { "lost" };
                self.push_chargeback_event(&cb, stripe::ChargebackPhase::Closed, status);
                if *won {
                    self.push_chargeback_event(
                        &cb,
                        stripe::ChargebackPhase::FundsReinstated,
                        status,
                    );
                }
                Ok(Reply::Nothing)
            }
            Op::RetryRefund { slot, .. } => {
                let caller = Caller::operator(CLI_ACTOR);
                let permit = self
                    .service()
                    .permit(&caller, UseCase::Refund { client: None })?;
                let id = self.slot_id(*slot);
                self.service().retry_refunds(permit, &id).await?;
                Ok(Reply::Nothing)
            }
            Op::SettleFailedRefund { slot } => {
                let caller = Caller::operator(CLI_ACTOR);
                let permit = self
                    .service()
                    .permit(&caller, UseCase::Refund { client: None })?;
                let id = self.slot_id(*slot);
                self.service()
                    .settle_failed_refunds(permit, &id, "paid back by bank transfer")
                    .await?;
                Ok(Reply::Nothing)
            }
            Op::Outage(on) => {
                self.provider.set_outage(*on);
                Ok(Reply::Nothing)
            }
            Op::Tick => {
                self.service().run_due_timers().await?;
                Ok(Reply::Nothing)
            }
            Op::Recover => {
                let (done, waiting) = self.service().recover_provider_work().await?;
                self.service().recover_payouts().await?;
                Ok(Reply::Recovered(done, waiting))
            }
            Op::Onboard { freelancer } => {
                let user = self.freelancers[*freelancer].clone();
                let caller = self.caller(Who::Freelancer(*freelancer));
                let permit = self
                    .service()
                    .permit(&caller, UseCase::Payouts { owner: &user })?;
                let started = self.service().onboard(permit).await?;
                // Known before it is sent: a crash may leave it stored.
                let id = format!("evt_sim_{:x}_acct_{}", self.seed, self.connect_events.len());
                self.connect_events.push(id.clone());
                let now = self.clock_s();
                let body = escrow::payment::sandbox::account_updated_event(
                    &started.account_id,
                    &user,
                    &escrow::domain::EventId::new(&id),
                    now,
                );
                let secret = self
                    .settings
                    .connect_webhook_secret
                    .clone()
                    .expect("the simulation has money out");
                let signature = sign(body.as_bytes(), &secret, now);
                let d = self
                    .service()
                    .handle_connect_webhook(body.as_bytes(), Some(&signature))
                    .await?;
                Ok(Reply::Webhook(d.outcome.as_str().to_string()))
            }
            Op::Withdraw {
                freelancer, amount, ..
            } => {
                let user = self.freelancers[*freelancer].clone();
                let caller = self.caller(Who::Freelancer(*freelancer));
                let permit = self
                    .service()
                    .permit(&caller, UseCase::Payouts { owner: &user })?;
                let amount =
                    amount.map(|m| escrow::domain::Money::new(MinorUnits::new(m), currency));
                let p = self.service().request_payout(permit, amount).await?;
                Ok(Reply::Payout(p.status))
            }
            Op::Restart => {
                // A crash between two steps; the restart below runs the startup recovery.
                self.stats.crashes_idle += 1;
                *self
                    .stats
                    .crash_sites
                    .entry("between steps".into())
                    .or_insert(0) += 1;
                self.restart().await.map_err(Error::internal)?;
                Ok(Reply::Nothing)
            }
            Op::Ghost { kind, malformed } => {
                let id = if *malformed {
                    "not-a-contract".to_string()
                } else {
                    self.rng.object_id()
                };
                let operator = Caller::operator(CLI_ACTOR);
                match kind {
                    GhostKind::Approve => {
                        let caller = self.caller(Who::Freelancer(0));
                        let permit = self.service().permit(&caller, UseCase::ApproveContract)?;
                        let id = input::id(&id, "contract id")?;
                        self.service().approve_contract(permit, &id).await?;
                    }
                    GhostKind::RequestRelease => {
                        let caller = self.caller(Who::Client(0));
                        let permit = self.service().permit(&caller, UseCase::RequestRelease)?;
                        let id = input::id(&id, "contract id")?;
                        self.service().request_release(permit, &id, None).await?;
                    }
                    GhostKind::Release => {
                        let release = Release {
                            contract: input::id(&id, "contract id")?,
                            milestone: None,
                            force: None,
                        };
                        let permit = self.service().permit(&operator, UseCase::Release)?;
                        self.service().release(permit, &release).await?;
                    }
                    GhostKind::Refund => {
                        let refund = Refund {
                            contract: input::id(&id, "contract id")?,
                            reason: String::new(),
                            description: String::new(),
                            freelancer_share: None,
                        };
                        let permit = self
                            .service()
                            .permit(&operator, UseCase::Refund { client: None })?;
                        self.service().refund(permit, &refund).await?;
                    }
                }
                Ok(Reply::Nothing)
            }
        }
    }

    /// A payer pays at Stripe: the payment is registered with the provider (so refunds can be
    /// bounded by it) and Stripe's events about it join the delivery queue.
    pub(super) fn pay(&mut self, slot: usize, how: PayHow) {
        let s = self.model.slots[slot].clone();
        let n = self.stripe.payments.len() + 1;
        let contract_ref = match how {
            PayHow::UnknownContract => self.rng.object_id(),
            PayHow::MalformedContract => "contract-42".to_string(),
            PayHow::Legacy => String::new(),
            _ => s.id.to_string(),
        };
        let amount = match how {
            PayHow::WrongAmount => s.amount + self.rng.range(1, 1_000),
            _ => s.amount,
        };
        let p = StripePayment {
            payment_intent: format!("pi_sim_{:x}_{n}", self.seed),
            session: format!("cs_sim_pay_{:x}_{n}", self.seed),
            contract_ref,
            job: self.model.jobs[s.job].to_string(),
            client: self.clients[s.client].to_string(),
            freelancer: self.freelancers[s.freelancer].to_string(),
            amount,
        };
        let money_moves = !matches!(how, PayHow::Async { succeeds: false });
        if money_moves {
            self.provider
                .register_payment(&p.session, &p.payment_intent, p.amount);
        }
        let cur = self.model.currency.code();
        let now = self.clock_s();
        self.stripe.payments.push(p.clone());
        let payment = self.stripe.payments.len() - 1;
        let event = |stripe: &mut Stripe, kind: EventKind, body: String, id: String| {
            stripe.push(kind, body, id);
        };
        let id = |k: &str| format!("evt_sim_{:x}_{n}_{k}", self.seed);
        match how {
            PayHow::Async { succeeds } => {
                event(
                    &mut self.stripe,
                    EventKind::SessionCompleted {
                        payment,
                        paid: false,
                    },
                    stripe::session_event(
                        &id("completed"),
                        "checkout.session.completed",
                        &p,
                        cur,
                        false,
                        now,
                    ),
                    id("completed"),
                );
                if succeeds {
                    event(
                        &mut self.stripe,
                        EventKind::AsyncSucceeded { payment },
                        stripe::session_event(
                            &id("async"),
                            "checkout.session.async_payment_succeeded",
                            &p,
                            cur,
                            true,
                            now,
                        ),
                        id("async"),
                    );
                } else {
                    event(
                        &mut self.stripe,
                        EventKind::Other,
                        stripe::async_failed_event(&id("async"), &p, cur, now),
                        id("async"),
                    );
                }
            }
            PayHow::Card { intent_event_too } => {
                event(
                    &mut self.stripe,
                    EventKind::SessionCompleted {
                        payment,
                        paid: true,
                    },
                    stripe::session_event(
                        &id("completed"),
                        "checkout.session.completed",
                        &p,
                        cur,
                        true,
                        now,
                    ),
                    id("completed"),
                );
                if intent_event_too {
                    event(
                        &mut self.stripe,
                        EventKind::IntentSucceeded { payment },
                        stripe::intent_event(&id("intent"), &p, cur, now),
                        id("intent"),
                    );
                }
            }
            PayHow::WrongAmount
            | PayHow::UnknownContract
            | PayHow::MalformedContract
            | PayHow::Legacy => {
                event(
                    &mut self.stripe,
                    EventKind::SessionCompleted {
                        payment,
                        paid: true,
                    },
                    stripe::session_event(
                        &id("completed"),
                        "checkout.session.completed",
                        &p,
                        cur,
                        true,
                        now,
                    ),
                    id("completed"),
                );
            }
        }
    }

    /// A new event's id: this seed's, of this kind, numbered by Stripe's queue.
    fn event_id(&self, kind: &str) -> String {
        format!(
            "evt_sim_{:x}_{kind}_{}",
            self.seed,
            self.stripe.events.len()
        )
    }

    /// Stripe sends one event of chargeback `cb`'s life, the dispute in `status`.
    fn push_chargeback_event(
        &mut self,
        cb: &stripe::SimChargeback,
        phase: stripe::ChargebackPhase,
        status: &'static str,
    ) {
        let id = self.event_id("dispute");
        let body = stripe::chargeback_event(
            &id,
            cb,
            phase,
            status,
            self.model.currency.code(),
            self.clock_s(),
        );
        self.stripe.push(
            EventKind::Chargeback {
                dispute: cb.id.clone(),
                payment_ref: cb.payment_ref.clone(),
                amount: cb.amount,
                phase,
                status,
            },
            body,
            id,
        );
    }

    /// Stripe's view of a delivery: a 200 acknowledges the event, anything else (an error, a
    /// crash) leaves it to be delivered again.
    pub(super) fn record_delivery(&mut self, op: &Op, got: &Got) {
        let Op::Deliver { event } = op else {
            return;
        };
        self.stats.deliveries += 1;
        let e = &mut self.stripe.events[*event];
        e.delivery = match (got, &e.delivery) {
            (Ok(Ok(Reply::Webhook(outcome))), before) => match outcome.as_str() {
                "applied" => Delivery::Acked(EventStatus::Applied),
                "ignored" => Delivery::Acked(EventStatus::Ignored),
                "failed" => Delivery::Acked(EventStatus::Failed),
                // Already final in the store: keep what was acknowledged, or learn it below.
                _ => match before {
                    Delivery::Acked(s) => Delivery::Acked(*s),
                    Delivery::Pending { .. } => Delivery::Acked(EventStatus::Received),
                },
            },
            _ => Delivery::Pending { tried: true },
        };
    }

    /// After a crash the caller got no answer: Stripe will deliver the event again. (A contract
    /// created by a dying call is found by its job in `check`, as its client would find it.)
    pub(super) fn after_crash(&mut self, op: &Op) {
        if let Op::Deliver { event } = op {
            self.stripe.events[*event].delivery = Delivery::Pending { tried: true };
        }
    }

    /// A process start: drops the service and its store (whatever was in flight is lost),
    /// opens them again on the same file, and runs the startup recovery. A provider crash
    /// during that recovery is another crash, and another start.
    pub(super) async fn restart(&mut self) -> Result<(), String> {
        for _ in 0..16 {
            self.service = None;
            self.store = None;
            self.open()?;
            // What a server's first maintenance pass does: refunds owed, then payouts pending.
            let service = self.service();
            let recovery = async move {
                service.recover_provider_work().await?;
                service.recover_payouts().await
            };
            let pass = std::panic::AssertUnwindSafe(recovery).catch_unwind().await;
            match pass {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) => return Err(format!("startup recovery failed: {e}")),
                Err(payload) => match payload.downcast::<SimCrash>() {
                    Ok(c) => {
                        self.stats.crashes_provider += 1;
                        *self
                            .stats
                            .crash_sites
                            .entry(format!("startup recovery: {}", c.0))
                            .or_insert(0) += 1;
                    }
                    Err(other) => std::panic::resume_unwind(other),
                },
            }
        }
        Err("the service crashed on every one of 16 restarts".into())
    }
}
