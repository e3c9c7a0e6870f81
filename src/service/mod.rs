//! The use cases. HTTP handlers and CLI commands call only these: each takes the caller (a
//! verified [`Principal`] or an admin [`Operator`]), checks roles and ownership, runs the pure
//! domain transition and saves it with a compare-and-set, retrying on a lost race so the second
//! of two concurrent actions sees the first's result.

mod admin;
pub mod error;
pub mod views;

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::Stream;
use serde::Deserialize;
use sha2::Digest;

pub use error::{Error, ErrorKind, Result};
use views::*;

use crate::auth::{Principal, Role};
use crate::domain::escrow::Actor;
use crate::domain::verify::{Report, Verifier};
use crate::domain::{
    Account, Contract, ContractId, ContractStatus, Currency, DomainError, EscrowStatus, FeeBps,
    FundOutcome, JobId, Money, Outcome, Party, Review, Transfer, TransferKind, UserId,
};
use crate::media::MediaStore;
use crate::metrics::Metrics;
use crate::payment::webhook::{EventKind, ParsedEvent, SignatureError, verify_and_parse};
use crate::payment::{CheckoutRequest, CheckoutSession, PaymentProvider, RefundRequest};
use crate::store::{ContractFilter, EventStatus, Page, Store, StoreError, WebhookEvent};

/// How many times a transition re-reads and retries after losing a compare-and-set.
const CAS_ATTEMPTS_MAX: u32 = 32;
/// Page size used when streaming the whole store (verify).
const SCAN_PAGE: u32 = 1_000;

/// The clock, injectable so simulations can run on a fake one.
pub trait Clock: Send + Sync + 'static {
    /// Unix milliseconds.
    fn now_ms(&self) -> i64;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

/// Settings the use cases need (see `config` for where they come from).
#[derive(Clone)]
pub struct Settings {
    pub currency: Currency,
    pub fee: FeeBps,
    /// The front end: checkout success/cancel URLs are built from it.
    pub client_url: String,
    pub webhook_secret: String,
    /// Where uploads are spooled while they are checked.
    pub spool_dir: PathBuf,
    pub upload_bytes_max: u64,
}

/// An admin acting outside HTTP (the CLI), or through it: recorded in the escrow history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub actor: String,
}

/// The body of `create-contract`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateContract {
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub freelancer_id: String,
    /// Rupees, as a JSON number or string ("199.99"), parsed exactly.
    #[schema(schema_with = amount_schema)]
    pub amount: Box<serde_json::value::RawValue>,
    #[schema(max_length = 200)]
    pub title: Option<String>,
}

/// How the API documents an amount in rupees: a number or a decimal string, more than 0 and at
/// most 10^12, with at most two decimals (the default currency's minor digits); anything else
/// is a 422.
pub fn amount_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{OneOfBuilder, Schema};
    Schema::OneOf(amount_one_of(OneOfBuilder::new()))
}

fn amount_one_of(builder: utoipa::openapi::schema::OneOfBuilder) -> utoipa::openapi::schema::OneOf {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    builder
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Number)
                .exclusive_minimum(Some(0))
                .maximum(Some(crate::domain::money::AMOUNT_MAJOR_MAX))
                .multiple_of(Some(0.01)),
        )
        .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some(
            r"^0*([1-9][0-9]{0,11}(\.[0-9]{1,2})?|1000000000000(\.0{1,2})?|\.(0[1-9]|[1-9][0-9]?)|0\.(0[1-9]|[1-9][0-9]?))$",
        )))
        .description(Some("rupees: a number or a decimal string, over 0, at most 10^12, two decimals at most"))
        .build()
}

fn optional_amount_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
    Schema::OneOf(amount_one_of(
        OneOfBuilder::new().item(ObjectBuilder::new().schema_type(Type::Null)),
    ))
}

/// The body of the checkout call (the original's `{title, rate, freelancerId}`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutBody {
    #[schema(max_length = 200)]
    pub title: Option<String>,
    /// Rupees; when present it must equal the contract's amount.
    #[schema(schema_with = optional_amount_schema)]
    pub rate: Option<Box<serde_json::value::RawValue>>,
    /// Same as `rate`.
    #[schema(schema_with = optional_amount_schema)]
    pub amount: Option<Box<serde_json::value::RawValue>>,
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub freelancer_id: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReviewBody {
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub freelancer_id: String,
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub contract_id: String,
    #[schema(value_type = i64, minimum = 1, maximum = 5)]
    pub rating: serde_json::Value,
    /// Not blank; at most 5 000 characters.
    #[schema(max_length = 5000, pattern = "[^\\s]")]
    pub description: String,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefundBody {
    #[serde(default)]
    pub cancel_reason: Option<String>,
    #[serde(default)]
    pub cancel_reason_description: Option<String>,
}

pub struct Service {
    store: Arc<dyn Store>,
    payments: Arc<dyn PaymentProvider>,
    media: Arc<dyn MediaStore>,
    settings: Settings,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    /// Rendered `show-reviews` pages, kept while the store's reviews generation of their
    /// freelancer stays the same (see [`Service::show_reviews_json`]).
    review_pages: std::sync::Mutex<std::collections::HashMap<(UserId, Page), (i64, bytes::Bytes)>>,
}

/// Rendered review pages kept at most (then all are dropped; they are rebuilt on demand).
const REVIEW_PAGES_KEPT_MAX: usize = 4096;

fn parse_id<T: std::str::FromStr>(s: &str, what: &'static str) -> Result<T> {
    s.parse().map_err(|_| {
        Error::bad_request(
            "request.invalid_id",
            format!(
                "{what} {:?} is not a 24-character hex id",
                s.chars().take(64).collect::<String>()
            ),
        )
    })
}

fn require_role(p: &Principal, roles: &[Role]) -> Result<()> {
    if roles.contains(&p.role) {
        Ok(())
    } else {
        Err(Error::forbidden(
            "auth.wrong_role",
            format!("this action is not open to the {} role", p.role.as_str()),
        ))
    }
}

fn party_of(p: &Principal, c: &Contract) -> Option<Party> {
    match p.role {
        Role::Admin => Some(Party::Admin),
        Role::Client if p.id == c.client_id => Some(Party::Client),
        Role::Freelancer if p.id == c.freelancer_id => Some(Party::Freelancer),
        _ => None,
    }
}

fn not_party() -> Error {
    Error::forbidden("auth.not_party", "this contract is not yours")
}

fn clip_title(t: &str) -> Result<String> {
    let t = t.trim();
    if t.chars().count() > crate::domain::contract::TITLE_CHARS_MAX {
        return Err(Error::validation(
            "validation.title",
            format!(
                "title is longer than {} characters",
                crate::domain::contract::TITLE_CHARS_MAX
            ),
        ));
    }
    Ok(t.to_string())
}

fn money_error(field: &str, e: crate::domain::money::MoneyError) -> Error {
    Error::validation("validation.amount", format!("{field}: {e}"))
}

impl Service {
    pub fn new(
        store: Arc<dyn Store>,
        payments: Arc<dyn PaymentProvider>,
        media: Arc<dyn MediaStore>,
        settings: Settings,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> Service {
        Service {
            store,
            payments,
            media,
            settings,
            clock,
            metrics,
            review_pages: Default::default(),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn payment_provider_name(&self) -> &'static str {
        self.payments.name()
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    async fn load(&self, id: &ContractId) -> Result<Contract> {
        self.store.get_contract(id).await?.ok_or_else(|| {
            Error::not_found("contract.not_found", format!("contract {id} not found"))
        })
    }

    /// Runs `f` on the freshest record and saves the result with a compare-and-set, retrying
    /// from a fresh read when another writer won. `f` returns its output, the transfers it
    /// caused, and whether it changed anything.
    async fn transition<T>(
        &self,
        id: &ContractId,
        f: impl FnMut(&mut Contract, i64) -> Result<(T, Vec<Transfer>, Outcome)>,
    ) -> Result<(T, Contract)> {
        self.transition_recording(id, None, f, |_| None).await
    }

    /// [`Self::transition`] that also records, in the same write, the webhook event
    /// `event(&output)` names (when the transition changes something). `read` is the record
    /// as the caller has just read it, used for the first attempt instead of reading it again
    /// (the compare-and-set catches a change since).
    async fn transition_recording<T>(
        &self,
        id: &ContractId,
        mut read: Option<Contract>,
        mut f: impl FnMut(&mut Contract, i64) -> Result<(T, Vec<Transfer>, Outcome)>,
        event: impl Fn(&T) -> Option<WebhookEvent>,
    ) -> Result<(T, Contract)> {
        for _ in 0..CAS_ATTEMPTS_MAX {
            let mut c = match read.take() {
                Some(c) => c,
                None => self.load(id).await?,
            };
            let expected = c.version;
            let now = self.clock.now_ms();
            let (out, transfers, outcome) = f(&mut c, now)?;
            if outcome == Outcome::Unchanged {
                return Ok((out, c));
            }
            c.version = expected + 1;
            let entries: Vec<_> = transfers.iter().flat_map(Transfer::entries).collect();
            let saved = match event(&out) {
                Some(e) => {
                    self.store
                        .save_contract_with_event(&c, expected, &entries, &e)
                        .await
                }
                None => self.store.save_contract(&c, expected, &entries).await,
            };
            match saved {
                Ok(()) => {
                    for t in &transfers {
                        self.count_money(t);
                    }
                    return Ok((out, c));
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::conflict(
            "conflict.busy",
            "the contract is being changed by others; try again",
        ))
    }

    fn count_money(&self, t: &Transfer) {
        let kind = match t.kind {
            TransferKind::Fund => "funded",
            TransferKind::Release => "released",
            TransferKind::Refund => "refund_decided",
            TransferKind::RefundSettled => "refunded",
            TransferKind::DuplicatePayment => "duplicate_received",
            TransferKind::DuplicatePaymentRefunded => "duplicate_refunded",
        };
        let moved: i64 = t.lines.iter().map(|(_, a)| *a).filter(|a| *a > 0).sum();
        self.metrics.money(kind, t.currency.code(), moved);
    }

    // ---- contracts -------------------------------------------------------------------------

    pub async fn create_contract(
        &self,
        p: &Principal,
        job_id: &str,
        body: CreateContract,
    ) -> Result<ContractView> {
        require_role(p, &[Role::Client])?;
        let job: JobId = parse_id(job_id, "job id")?;
        let freelancer: UserId = parse_id(&body.freelancer_id, "freelancerId")?;
        let amount = Money::parse_major_json(body.amount.get(), self.settings.currency)
            .map_err(|e| money_error("amount", e))?;
        let title = body.title.as_deref().map(clip_title).transpose()?;
        let c = Contract::new(
            ContractId::generate(),
            job.clone(),
            p.id.clone(),
            freelancer,
            amount.minor,
            amount.currency,
            title,
            self.clock.now_ms(),
        )?;
        match self.store.insert_contract(&c).await {
            Ok(()) => Ok(ContractView::from(&c)),
            Err(StoreError::Duplicate(_)) => Err(Error::conflict(
                "contract.exists_for_job",
                format!("job {job} already has a live contract"),
            )),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn approve_contract(&self, p: &Principal, contract_id: &str) -> Result<ContractView> {
        require_role(p, &[Role::Freelancer])?;
        let id: ContractId = parse_id(contract_id, "contract id")?;
        let (_, c) = self
            .transition(&id, |c, now| {
                if p.id != c.freelancer_id {
                    return Err(not_party());
                }
                Ok(((), vec![], c.approve(now)?))
            })
            .await?;
        Ok(ContractView::from(&c))
    }

    pub async fn update_status(
        &self,
        p: &Principal,
        contract_id: &str,
        status: &str,
    ) -> Result<ContractView> {
        require_role(p, &[Role::Freelancer])?;
        let id: ContractId = parse_id(contract_id, "contract id")?;
        let to = ContractStatus::parse(status)
            .ok_or_else(|| Error::validation("validation.status", format!("status must be one of Pending, Started, Ongoing, Completed, Canceled; got {status:?}")))?;
        let (_, c) = self
            .transition(&id, |c, now| {
                if p.id != c.freelancer_id {
                    return Err(not_party());
                }
                Ok(((), vec![], c.move_to(to, Party::Freelancer, now)?))
            })
            .await?;
        Ok(ContractView::from(&c))
    }

    pub async fn get_contract(&self, p: &Principal, contract_id: &str) -> Result<ContractDetail> {
        let id: ContractId = parse_id(contract_id, "contract id")?;
        let c = self.load(&id).await?;
        party_of(p, &c).ok_or_else(not_party)?;
        self.contract_detail(&c).await
    }

    /// A contract with its escrow and ledger entries (no authorisation: for the CLI and the
    /// authorised HTTP path).
    pub async fn contract_detail(&self, c: &Contract) -> Result<ContractDetail> {
        let entries = self.store.entries_for_contract(&c.id).await?;
        Ok(ContractDetail {
            contract: ContractView::from(c),
            escrow: EscrowView::of(c),
            ledger: entries.iter().map(EntryView::from).collect(),
        })
    }

    pub async fn contract_by_id(&self, contract_id: &str) -> Result<Contract> {
        let id: ContractId = parse_id(contract_id, "contract id")?;
        self.load(&id).await
    }

    // ---- checkout and webhooks -------------------------------------------------------------

    pub fn success_url(&self) -> String {
        format!(
            "{}/client/contract/payment-success",
            self.settings.client_url.trim_end_matches('/')
        )
    }

    pub fn cancel_url(&self) -> String {
        format!(
            "{}/client/jobs/home?cancelled=true",
            self.settings.client_url.trim_end_matches('/')
        )
    }

    /// Creates the checkout session for the job's contract. The amount is the contract's; a
    /// `rate`/`amount` that differs is refused (the original let the client pick the price).
    pub async fn checkout(
        &self,
        p: &Principal,
        job_id: &str,
        body: CheckoutBody,
    ) -> Result<CheckoutSession> {
        require_role(p, &[Role::Client])?;
        let job: JobId = parse_id(job_id, "job id")?;
        let contract = self
            .store
            .live_contract_for_job(&job)
            .await?
            .ok_or_else(|| {
                Error::not_found(
                    "contract.not_found",
                    format!("job {job} has no contract to pay"),
                )
            })?;
        if contract.client_id != p.id {
            return Err(not_party());
        }
        if let Some(f) = body.freelancer_id.as_deref() {
            let f: UserId = parse_id(f, "freelancerId")?;
            // Like a differing amount: the body contradicts the contract (409, not 422).
            if f != contract.freelancer_id {
                return Err(Error::conflict(
                    "freelancer_mismatch",
                    "freelancerId is not the freelancer of this job's contract",
                ));
            }
        }
        for (field, raw) in [("rate", &body.rate), ("amount", &body.amount)] {
            if let Some(raw) = raw {
                let asked = Money::parse_major_json(raw.get(), contract.currency)
                    .map_err(|e| money_error(field, e))?;
                if asked.minor != contract.amount {
                    return Err(Error::conflict(
                        "amount_mismatch",
                        format!(
                            "{field} {} differs from the contract amount {}",
                            asked.format_major(),
                            Money::new(contract.amount, contract.currency).format_major()
                        ),
                    ));
                }
            }
        }
        if !contract.is_approved {
            return Err(Error::conflict(
                "contract.not_approved",
                "the freelancer has not approved the contract yet",
            ));
        }
        if contract.escrow_paid() {
            return Err(Error::conflict(
                "escrow.already_funded",
                "the escrow of this contract is already paid",
            ));
        }
        let title = match body.title.as_deref().map(clip_title).transpose()? {
            Some(t) if !t.is_empty() => t,
            _ => contract
                .title
                .clone()
                .unwrap_or_else(|| format!("Job {job}")),
        };
        if contract.title.as_deref() != Some(title.as_str()) {
            let t = title.clone();
            self.transition(&contract.id, move |c, now| {
                c.title = Some(t.clone());
                c.updated_at = now;
                Ok(((), vec![], Outcome::Changed))
            })
            .await?;
        }
        // Same contract, amount and title → same key → the same session on a double click; a
        // new title is a new request, which Stripe would refuse under the old key.
        let idempotency_key = format!(
            "escrow-checkout-{}-{}-{}",
            contract.id,
            contract.amount,
            &hex::encode(sha2::Sha256::digest(title.as_bytes()))[..16]
        );
        let request = CheckoutRequest {
            contract_id: contract.id.clone(),
            job_id: contract.job_id.clone(),
            client_id: contract.client_id.clone(),
            freelancer_id: contract.freelancer_id.clone(),
            title,
            amount: contract.amount,
            currency: contract.currency,
            // Stripe fills in the session id, so the front end learns it as from the sandbox.
            success_url: format!("{}?session_id={{CHECKOUT_SESSION_ID}}", self.success_url()),
            cancel_url: self.cancel_url(),
            idempotency_key,
        };
        Ok(crate::admission::outside(self.payments.create_checkout(&request)).await?)
    }

    /// Handles one webhook delivery. `Err` only for a bad signature (400) or a store that is
    /// down (503, so the provider retries); everything else is a 200 with its outcome.
    pub async fn handle_webhook(
        &self,
        payload: &[u8],
        signature: Option<&str>,
    ) -> Result<WebhookReply> {
        let now = self.clock.now_ms();
        let event = match verify_and_parse(
            payload,
            signature,
            &self.settings.webhook_secret,
            now / 1000,
        ) {
            Ok(e) => e,
            Err(e) => {
                self.metrics.webhook("rejected_signature");
                let code = match e {
                    SignatureError::Missing => "webhook.signature_missing",
                    SignatureError::Timestamp => "webhook.timestamp_out_of_tolerance",
                    SignatureError::Body => "webhook.malformed",
                    SignatureError::Malformed | SignatureError::Mismatch => {
                        "webhook.signature_invalid"
                    }
                };
                return Err(Error::bad_request(code, e.to_string()));
            }
        };
        // The event's record with its final status, error and contract: written with the
        // money it moves (one write), or on its own when it moves none.
        let record = |status: EventStatus, error: Option<String>, contract: Option<&ContractId>| {
            WebhookEvent {
                event_id: event.id.clone(),
                event_type: event.event_type.clone(),
                status,
                error,
                contract_id: contract.map(|c| c.to_string()),
                received_at: now,
                updated_at: self.clock.now_ms(),
                deliveries: 1,
            }
        };
        // A redelivery of an event already handled: count it, answer as before.
        if let Some(seen) = self.store.find_event(&event.id).await?
            && seen.status != EventStatus::Received
        {
            self.store
                .record_event(&record(EventStatus::Received, None, None))
                .await?;
            self.metrics.webhook("duplicate");
            return Ok(WebhookReply {
                received: true,
                event_id: event.id,
                outcome: "duplicate".into(),
                message: format!("event already {}", seen.status.as_str()),
            });
        }
        let applied = self.apply_event(&event, &record).await?;
        if !applied.recorded {
            self.store
                .settle_event(&record(
                    applied.status,
                    applied.error.clone(),
                    applied.contract.as_ref(),
                ))
                .await?;
        }
        let (status, error) = (applied.status, applied.error);
        self.metrics.webhook(status.as_str());
        if status == EventStatus::Failed {
            tracing::warn!(event_id = %event.id, event_type = %event.event_type, error = ?error, "webhook event can never be applied; recorded as failed");
        }
        Ok(WebhookReply {
            received: true,
            event_id: event.id,
            outcome: status.as_str().into(),
            message: error.unwrap_or_else(|| "ok".into()),
        })
    }

    async fn apply_event(
        &self,
        event: &ParsedEvent,
        record: &EventRecorder<'_>,
    ) -> Result<Applied> {
        match &event.kind {
            EventKind::Other => Ok(Applied::apart(
                EventStatus::Ignored,
                Some(format!("unhandled event type {}", event.event_type)),
                None,
            )),
            EventKind::Payment { paid: false, .. } => Ok(Applied::apart(
                EventStatus::Ignored,
                Some("session completed without payment (payment_status is not paid)".into()),
                None,
            )),
            EventKind::Payment { payment, refs, .. } => {
                let read = match self.contract_for_payment(refs).await? {
                    Ok(c) => c,
                    Err(why) => return Ok(Applied::apart(EventStatus::Failed, Some(why), None)),
                };
                let contract = read.id.clone();
                let fee = self.settings.fee;
                let result = self
                    .transition_recording(
                        &contract,
                        Some(read),
                        |c, now| {
                            let (outcome, transfers) = c.fund(payment, fee, &event.id, now)?;
                            let changed = if outcome == FundOutcome::AlreadyApplied {
                                Outcome::Unchanged
                            } else {
                                Outcome::Changed
                            };
                            Ok((outcome, transfers, changed))
                        },
                        |outcome| {
                            Some(record(
                                EventStatus::Applied,
                                duplicate_note(*outcome),
                                Some(&contract),
                            ))
                        },
                    )
                    .await;
                match result {
                    Ok((outcome, _)) => {
                        if outcome == FundOutcome::Duplicate {
                            // Owed back in full; if the provider is down the recovery step
                            // retries.
                            if let Err(e) = self.settle_with_provider(&contract).await {
                                tracing::warn!(contract = %contract, error = %e, "refund of a duplicate payment will be retried");
                            }
                        }
                        Ok(Applied {
                            status: EventStatus::Applied,
                            error: duplicate_note(outcome),
                            contract: Some(contract),
                            // Saved with the money, unless this payment was already applied
                            // (a concurrent or interrupted delivery): then it moved nothing.
                            recorded: outcome != FundOutcome::AlreadyApplied,
                        })
                    }
                    Err(e) if e.code == "amount_mismatch" || e.kind == ErrorKind::Validation => Ok(
                        Applied::apart(EventStatus::Failed, Some(e.message), Some(contract)),
                    ),
                    Err(e) => Err(e),
                }
            }
            EventKind::ChargeRefunded {
                payment_intent_id,
                contract_id,
                ..
            } => {
                let mut found = None;
                if let Some(pi) = payment_intent_id {
                    found = self.store.contract_by_payment(pi).await?;
                }
                if found.is_none()
                    && let Some(id) = contract_id
                        .as_deref()
                        .and_then(|c| ContractId::parse(c).ok())
                {
                    found = self.store.get_contract(&id).await?;
                }
                match found {
                    None => Ok(Applied::apart(
                        EventStatus::Failed,
                        Some("refund of a payment this escrow does not know".into()),
                        None,
                    )),
                    Some(c) => {
                        // Judged per payment: a duplicate payment refunded does not make a
                        // refund of the escrow's own payment expected.
                        let ours = c.expects_provider_refund(payment_intent_id.as_deref());
                        if ours {
                            Ok(Applied::apart(EventStatus::Applied, None, Some(c.id)))
                        } else {
                            Ok(Applied::apart(EventStatus::Failed, Some("refund made outside the escrow (not one it made or owes): check this contract".into()), Some(c.id)))
                        }
                    }
                }
            }
        }
    }

    /// Finds the contract a payment belongs to: by its contract id, else by job and client
    /// (sessions made by the original app carry only those).
    async fn contract_for_payment(
        &self,
        refs: &crate::payment::webhook::PaymentRefs,
    ) -> Result<std::result::Result<Contract, String>> {
        if let Some(id) = refs.contract_id.as_deref() {
            let Ok(id) = ContractId::parse(id) else {
                return Ok(Err(format!(
                    "contract id {id:?} in the metadata is malformed"
                )));
            };
            return Ok(match self.store.get_contract(&id).await? {
                Some(c) => Ok(c),
                None => Err(format!("unknown contract {id}")),
            });
        }
        let (Some(job), Some(client)) = (refs.job_id.as_deref(), refs.client_id.as_deref()) else {
            return Ok(Err(
                "the payment names no contract (metadata contractId or jobId+clientId)".into(),
            ));
        };
        let (Ok(job), Ok(client)) = (JobId::parse(job), UserId::parse(client)) else {
            return Ok(Err("jobId or clientId in the metadata is malformed".into()));
        };
        Ok(match self.store.live_contract_for_job(&job).await? {
            Some(c) if c.client_id == client => Ok(c),
            _ => Err(format!(
                "no live contract for job {job} and client {client}"
            )),
        })
    }

    /// The sandbox's Pay button: the signed event and header the server then posts to itself.
    pub async fn sandbox_payment(&self, session_id: &str) -> Result<(Contract, String, String)> {
        if self.payments.name() != "sandbox" {
            return Err(Error::not_found(
                "sandbox.disabled",
                "the sandbox provider is not in use",
            ));
        }
        let contract_id =
            crate::payment::sandbox::contract_of_session(session_id).ok_or_else(|| {
                Error::not_found("sandbox.session_not_found", "no such sandbox session")
            })?;
        let id: ContractId = parse_id(contract_id, "contract id")?;
        let c = self.load(&id).await?;
        if crate::payment::sandbox::session_id(&c) != session_id {
            return Err(Error::not_found(
                "sandbox.session_not_found",
                "no such sandbox session (the amount changed?)",
            ));
        }
        let now_s = self.clock.now_ms() / 1000;
        let event_id = format!("evt_sandbox_{}", crate::domain::ids::new_object_id_hex());
        let body = crate::payment::sandbox::completed_event(
            &c,
            session_id,
            &event_id,
            &self.success_url(),
            &self.cancel_url(),
            now_s,
        );
        let header =
            crate::payment::webhook::sign(body.as_bytes(), &self.settings.webhook_secret, now_s);
        Ok((c, body, header))
    }

    /// The contract of a sandbox session, for its checkout page.
    pub async fn sandbox_session(&self, session_id: &str) -> Result<Contract> {
        let (c, _, _) = self.sandbox_payment(session_id).await?;
        Ok(c)
    }

    // ---- release and refund ----------------------------------------------------------------

    pub async fn request_release(&self, p: &Principal, contract_id: &str) -> Result<ContractView> {
        require_role(p, &[Role::Client])?;
        let id: ContractId = parse_id(contract_id, "contract id")?;
        let (_, c) = self
            .transition(&id, |c, now| {
                if p.id != c.client_id {
                    return Err(not_party());
                }
                Ok(((), vec![], c.request_release(now)?))
            })
            .await?;
        Ok(ContractView::from(&c))
    }

    /// Admin release over HTTP.
    pub async fn release(&self, p: &Principal, contract_id: &str) -> Result<EscrowView> {
        require_role(p, &[Role::Admin])?;
        self.release_as(&Operator { actor: p.actor() }, contract_id, None)
            .await
    }

    /// Release by an operator; `force` releases without a client request (its reason is kept).
    pub async fn release_as(
        &self,
        op: &Operator,
        contract_id: &str,
        force: Option<&str>,
    ) -> Result<EscrowView> {
        let id: ContractId = parse_id(contract_id, "contract id")?;
        if let Some(reason) = force
            && reason.trim().is_empty()
        {
            return Err(Error::validation(
                "validation.reason",
                "a forced release needs a reason",
            ));
        }
        let actor: Actor<'_> = &op.actor;
        let (_, c) = self
            .transition(&id, |c, now| {
                let transfers = c.release(actor, force, now).map_err(|e| match e {
                    DomainError::State(m) => Error::conflict("escrow.wrong_state", m),
                    e => e.into(),
                })?;
                Ok(((), transfers, Outcome::Changed))
            })
            .await?;
        tracing::info!(contract = %c.id, actor = %op.actor, "escrow released");
        EscrowView::of(&c).ok_or_else(|| Error::internal("released contract has no escrow"))
    }

    /// Refund over HTTP: an admin, or the contract's own client (whose id is also in the path).
    pub async fn refund(
        &self,
        p: &Principal,
        contract_id: &str,
        client_id: &str,
        body: RefundBody,
    ) -> Result<EscrowView> {
        require_role(p, &[Role::Admin, Role::Client])?;
        let id: ContractId = parse_id(contract_id, "contract id")?;
        let client: UserId = parse_id(client_id, "client id")?;
        if p.role == Role::Client && p.id != client {
            return Err(Error::forbidden(
                "auth.not_owner",
                "the client id in the path is not yours",
            ));
        }
        let c = self.load(&id).await?;
        if c.client_id != client {
            return Err(Error::forbidden(
                "auth.not_party",
                "this contract is not that client's",
            ));
        }
        let by = if p.role == Role::Admin {
            Party::Admin
        } else {
            Party::Client
        };
        self.refund_as(
            &Operator { actor: p.actor() },
            by,
            &c.id.to_string(),
            body.cancel_reason.as_deref().unwrap_or(""),
            body.cancel_reason_description.as_deref().unwrap_or(""),
            None,
        )
        .await
    }

    /// Decides and books the refund, then sends the client's share back through the provider.
    /// If the provider is down the decision stands and the recovery step finishes it (503).
    pub async fn refund_as(
        &self,
        op: &Operator,
        by: Party,
        contract_id: &str,
        reason: &str,
        description: &str,
        freelancer_share: Option<i64>,
    ) -> Result<EscrowView> {
        let id: ContractId = parse_id(contract_id, "contract id")?;
        let actor: Actor<'_> = &op.actor;
        self.transition(&id, |c, now| {
            let transfers = c
                .decide_refund(actor, by, reason, description, freelancer_share, now)
                .map_err(|e| match e {
                    DomainError::State(m) => Error::conflict("escrow.wrong_state", m),
                    e => e.into(),
                })?;
            Ok(((), transfers, Outcome::Changed))
        })
        .await?;
        tracing::info!(contract = %id, actor = %op.actor, "refund decided");
        self.settle_with_provider(&id).await?;
        let c = self.load(&id).await?;
        EscrowView::of(&c).ok_or_else(|| Error::internal("refunded contract has no escrow"))
    }

    /// Sends every refund owed on this contract to the provider (same idempotency key on every
    /// try) and books the provider's answer. Safe to run concurrently and repeatedly.
    pub async fn settle_with_provider(&self, id: &ContractId) -> Result<()> {
        let c = self.load(id).await?;
        let mut calls = vec![];
        if let Some(e) = &c.escrow
            && e.status == EscrowStatus::RefundPending
            && let Some(r) = &e.refund
        {
            let payment_ref = e
                .payment_intent_id
                .clone()
                .unwrap_or_else(|| e.payment_ref.clone());
            calls.push((
                None,
                RefundRequest {
                    contract_id: c.id.clone(),
                    payment_ref,
                    amount: r.client_share,
                    currency: c.currency,
                    idempotency_key: r.idempotency_key.clone(),
                },
            ));
        }
        for p in c
            .extra_payments
            .iter()
            .filter(|p| p.provider_refund_id.is_none())
        {
            let payment_ref = p
                .payment_intent_id
                .clone()
                .unwrap_or_else(|| p.payment_ref.clone());
            calls.push((
                Some(p.payment_ref.clone()),
                RefundRequest {
                    contract_id: c.id.clone(),
                    payment_ref,
                    amount: p.amount,
                    currency: p.currency,
                    idempotency_key: p.idempotency_key.clone(),
                },
            ));
        }
        let mut first_error = None;
        for (extra, request) in calls {
            match crate::admission::outside(self.payments.refund(&request)).await {
                Ok(done) => {
                    self.transition(id, |c, now| {
                        let transfers = match &extra {
                            None => c.settle_refund(&done.id, "provider", now)?,
                            Some(r) => c.settle_duplicate(r, &done.id, now)?,
                        };
                        let outcome = if transfers.is_empty() {
                            Outcome::Unchanged
                        } else {
                            Outcome::Changed
                        };
                        Ok(((), transfers, outcome))
                    })
                    .await?;
                }
                Err(e) => {
                    let text = e.to_string();
                    if extra.is_none() {
                        self.transition(id, |c, now| {
                            c.note_refund_attempt(Some(&text), now);
                            Ok(((), vec![], Outcome::Changed))
                        })
                        .await?;
                    }
                    tracing::warn!(contract = %id, error = %text, "provider refund failed; will retry");
                    first_error.get_or_insert(Error::from(e));
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Finishes every refund owed to the provider (run at startup and on a timer). Returns how
    /// many contracts were completed and how many still wait.
    pub async fn recover_provider_work(&self) -> Result<(usize, usize)> {
        let ids = self.store.contracts_with_provider_work().await?;
        let (mut done, mut waiting) = (0, 0);
        for id in ids {
            match self.settle_with_provider(&id).await {
                Ok(()) => done += 1,
                Err(_) => waiting += 1,
            }
        }
        Ok((done, waiting))
    }

    // ---- reports and wallets ---------------------------------------------------------------

    pub async fn balance(&self, p: &Principal) -> Result<AmountView> {
        require_role(p, &[Role::Admin])?;
        self.balance_report().await
    }

    pub async fn balance_report(&self) -> Result<AmountView> {
        let cur = self.settings.currency;
        Ok(AmountView {
            data: self.store.escrow_held(cur).await?,
            currency: cur,
        })
    }

    pub async fn total_revenue(&self, p: &Principal) -> Result<AmountView> {
        require_role(p, &[Role::Admin])?;
        self.revenue_report().await
    }

    pub async fn revenue_report(&self) -> Result<AmountView> {
        let cur = self.settings.currency;
        Ok(AmountView {
            data: self
                .store
                .account_balance(&Account::PlatformFees, cur)
                .await?,
            currency: cur,
        })
    }

    pub async fn transactions(&self, p: &Principal, page: Page) -> Result<EscrowPage> {
        require_role(p, &[Role::Admin])?;
        self.escrows(
            &ContractFilter {
                funded_only: true,
                ..Default::default()
            },
            page,
        )
        .await
    }

    pub async fn escrows(&self, filter: &ContractFilter, page: Page) -> Result<EscrowPage> {
        let (count, contracts) = self
            .store
            .list_contracts(
                &ContractFilter {
                    funded_only: true,
                    ..filter.clone()
                },
                page,
            )
            .await?;
        Ok(EscrowPage {
            count,
            page: page.page,
            limit: page.limit,
            data: contracts.iter().filter_map(EscrowView::of).collect(),
        })
    }

    pub async fn sales_report(
        &self,
        p: &Principal,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
    ) -> Result<SalesReport> {
        require_role(p, &[Role::Admin])?;
        self.sales(from_ms, to_ms).await
    }

    pub async fn sales(&self, from_ms: Option<i64>, to_ms: Option<i64>) -> Result<SalesReport> {
        let cur = self.settings.currency;
        Ok(SalesReport {
            currency: cur,
            data: self.store.sales_by_month(cur, from_ms, to_ms).await?,
        })
    }

    /// A wallet: its owner or an admin.
    pub async fn wallet(&self, p: &Principal, user_id: &str, page: Page) -> Result<WalletView> {
        let user: UserId = parse_id(user_id, "user id")?;
        if !p.is_admin() && p.id != user {
            return Err(Error::forbidden(
                "auth.not_owner",
                "this wallet is not yours",
            ));
        }
        self.wallet_of(&user, page).await
    }

    pub async fn wallet_of(&self, user: &UserId, page: Page) -> Result<WalletView> {
        let account = Account::Wallet(user.clone());
        let cur = self.settings.currency;
        let balance = self.store.account_balance(&account, cur).await?;
        let (count, entries) = self.store.entries_for_account(&account, page).await?;
        Ok(WalletView {
            user_id: user.to_string(),
            balance,
            currency: cur,
            count,
            entries: entries.iter().map(EntryView::from).collect(),
        })
    }

    // ---- reviews ---------------------------------------------------------------------------

    pub async fn rate_freelancer(
        &self,
        p: &Principal,
        client_id: &str,
        body: ReviewBody,
    ) -> Result<ReviewView> {
        require_role(p, &[Role::Client])?;
        let client: UserId = parse_id(client_id, "client id")?;
        if client != p.id {
            return Err(Error::forbidden(
                "auth.not_owner",
                "the client id in the path is not yours",
            ));
        }
        let contract_id: ContractId = parse_id(&body.contract_id, "contractId")?;
        let freelancer: UserId = parse_id(&body.freelancer_id, "freelancerId")?;
        let rating = crate::domain::review::Rating::parse(&body.rating)
            .map_err(|e| Error::validation("validation.rating", e.to_string()))?;
        let c = self.load(&contract_id).await?;
        if c.client_id != client {
            return Err(not_party());
        }
        let review = Review::new(
            &c,
            &client,
            &freelancer,
            rating,
            &body.description,
            self.clock.now_ms(),
        )
        .map_err(|e| match e {
            DomainError::State(m) => Error::conflict("review.contract_not_completed", m),
            e => e.into(),
        })?;
        match self.store.insert_review(&review).await {
            Ok(()) => Ok(ReviewView::from(review)),
            Err(StoreError::Duplicate(_)) => Err(Error::conflict(
                "review.exists",
                "a review already exists for this contract",
            )),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn show_reviews(&self, freelancer_id: &str, page: Page) -> Result<ReviewsPage> {
        let freelancer: UserId = parse_id(freelancer_id, "freelancer id")?;
        let (count, sum, reviews) = self.store.reviews_for_freelancer(&freelancer, page).await?;
        // Rounded to two decimals in integer arithmetic; the float is only the wire format.
        let average_x100 = if count == 0 {
            0
        } else {
            (sum as i128 * 100 * 2 + count as i128) / (2 * count as i128)
        };
        Ok(ReviewsPage {
            count,
            average_rating: average_x100 as f64 / 100.0,
            page: page.page,
            limit: page.limit,
            data: reviews.into_iter().map(ReviewView::from).collect(),
        })
    }

    /// [`Service::show_reviews`] rendered as JSON, from a kept copy while the freelancer's
    /// reviews have not changed: the store's reviews generation (one indexed row) decides, so
    /// a review written by another process sharing the store is seen at once.
    pub async fn show_reviews_json(&self, freelancer_id: &str, page: Page) -> Result<bytes::Bytes> {
        let freelancer: UserId = parse_id(freelancer_id, "freelancer id")?;
        let Some(generation) = self.store.reviews_generation(&freelancer).await? else {
            return render(&self.show_reviews(freelancer_id, page).await?);
        };
        let key = (freelancer, page);
        if let Some((kept, body)) = self.review_pages.lock().expect("never poisoned").get(&key)
            && *kept == generation
        {
            return Ok(body.clone());
        }
        // Rendered from a read at or after `generation`: a newer page kept under an older
        // generation is never served (the generation read next time is newer still).
        let body = render(&self.show_reviews(freelancer_id, page).await?)?;
        let mut pages = self.review_pages.lock().expect("never poisoned");
        if pages.len() >= REVIEW_PAGES_KEPT_MAX {
            pages.clear();
        }
        pages.insert(key, (generation, body.clone()));
        Ok(body)
    }

    pub async fn review_of_contract(&self, contract_id: &str) -> Result<Option<ReviewView>> {
        let id: ContractId = parse_id(contract_id, "contract id")?;
        Ok(self
            .store
            .review_for_contract(&id)
            .await?
            .map(ReviewView::from))
    }

    // ---- media -----------------------------------------------------------------------------

    /// Streams an upload to the spool, checks it, and hands it to the media store.
    pub async fn upload<S, E>(&self, _p: &Principal, chunks: S) -> Result<MediaView>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let spooled = crate::media::spool(
            chunks,
            &self.settings.spool_dir,
            self.settings.upload_bytes_max,
        )
        .await?;
        let (kind, bytes, sha256) = (spooled.media.kind, spooled.bytes, spooled.sha256.clone());
        let url = self.media.put(spooled).await?;
        Ok(MediaView {
            url: url.clone(),
            kind,
            media_url: url,
            media_type: kind,
            bytes,
            sha256,
        })
    }

    // ---- operations ------------------------------------------------------------------------

    pub async fn events(&self, failed_only: bool, limit: u32) -> Result<Vec<EventView>> {
        Ok(self
            .store
            .list_events(failed_only, limit)
            .await?
            .iter()
            .map(EventView::from)
            .collect())
    }

    /// Checks every ledger invariant over the whole store. `progress` is called with the
    /// number of records read so far.
    pub async fn verify(&self, mut progress: impl FnMut(u64)) -> Result<Report> {
        let mut v = Verifier::new();
        let mut seen = 0u64;
        let mut after: Option<String> = None;
        loop {
            let batch = self
                .store
                .entries_after(after.as_deref(), SCAN_PAGE)
                .await?;
            let Some(last) = batch.last() else { break };
            after = Some(last.id.clone());
            for e in &batch {
                v.add_entry(e);
            }
            seen += batch.len() as u64;
            progress(seen);
        }
        let mut after_c: Option<ContractId> = None;
        loop {
            let batch = self
                .store
                .contracts_after(after_c.as_ref(), SCAN_PAGE)
                .await?;
            let Some(last) = batch.last() else { break };
            after_c = Some(last.id.clone());
            for c in &batch {
                v.add_contract(c);
            }
            seen += batch.len() as u64;
            progress(seen);
        }
        for (user, balance) in self.store.wallet_balances(self.settings.currency).await? {
            v.add_wallet_balance(user.as_str(), self.settings.currency, balance);
        }
        Ok(v.finish())
    }
}

/// Builds the stored record of the event being handled from its final status, error and
/// contract.
type EventRecorder<'a> =
    dyn Fn(EventStatus, Option<String>, Option<&ContractId>) -> WebhookEvent + Sync + 'a;

/// What handling a webhook event came to.
struct Applied {
    status: EventStatus,
    error: Option<String>,
    contract: Option<ContractId>,
    /// The event's final state is already stored (written with the money it moved).
    recorded: bool,
}

impl Applied {
    /// An outcome that moved no money: the event is recorded on its own.
    fn apart(status: EventStatus, error: Option<String>, contract: Option<ContractId>) -> Applied {
        Applied {
            status,
            error,
            contract,
            recorded: false,
        }
    }
}

fn duplicate_note(outcome: FundOutcome) -> Option<String> {
    (outcome == FundOutcome::Duplicate).then(|| "duplicate payment: refunded in full".to_string())
}

fn render<T: serde::Serialize>(view: &T) -> Result<bytes::Bytes> {
    serde_json::to_vec(view)
        .map(bytes::Bytes::from)
        .map_err(|e| Error::internal(format!("cannot render JSON: {e}")))
}
