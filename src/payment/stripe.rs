//! The Stripe provider, through the `async-stripe` 1.0 client (hyper 1 + rustls with ring).
//!
//! Every POST carries the caller's idempotency key (`RequestStrategy::Idempotent`), so a retry
//! after a timeout, a 5xx or a crash returns Stripe's saved answer instead of charging or
//! refunding twice. The client makes one attempt per call: retrying is the service's job (the
//! refund stays `refund_pending` and the recovery step sends it again with the same key).
//!
//! Responses are decoded with async-stripe's strict typed decoder. If that decoder refuses a
//! successful answer (an API version with other required fields), the same request is sent
//! again with the same key, Stripe replays its saved answer, and only the fields this provider
//! needs are read from it; a log line says so.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_checkout::CheckoutSessionMode;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionPaymentIntentData, ProductData, RetrieveCheckoutSession,
};
use stripe_connect::account::{CreateAccount, CreateAccountType};
use stripe_connect::account_link::{CreateAccountLink, CreateAccountLinkType};
use stripe_connect::transfer::CreateTransfer;
use stripe_core::refund::CreateRefund;

use crate::domain::{PaymentRef, RefundRef};

use super::{
    AccountLinkRequest, AccountRequest, CheckoutRequest, CheckoutSession, PaymentError,
    PaymentProvider, RefundRequest, RefundResult, RefundStatus, TransferRequest, TransferResult,
};

/// Stripe's API host; `STRIPE_API_BASE` overrides it (tests point it at a local fake).
pub const STRIPE_API_BASE_DEFAULT: &str = "https://api.stripe.com/";

/// The message async-stripe gives when a *successful* response does not fit its typed decoder
/// (an error response that cannot be read gives "error deserializing Stripe error" instead).
const TYPED_DECODE_FAILED: &str = "error deserializing request data";

pub struct StripeProvider {
    client: Client,
}

impl StripeProvider {
    /// `api_base` defaults to Stripe's; a missing trailing `/` is added (async-stripe joins
    /// `v1/...` to it verbatim). `timeout` bounds each attempt, connection to last byte.
    pub fn new(
        secret_key: &str,
        api_base: Option<&str>,
        timeout: Duration,
    ) -> Result<StripeProvider, String> {
        let mut base = api_base.unwrap_or(STRIPE_API_BASE_DEFAULT).to_string();
        if !base.ends_with('/') {
            base.push('/');
        }
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(format!(
                "STRIPE_API_BASE must be an http:// or https:// URL, not {base:?}"
            ));
        }
        let client = ClientBuilder::new(secret_key)
            .url(base)
            .timeout(timeout)
            .request_strategy(RequestStrategy::Once)
            .app_info("escrow", Some(env!("CARGO_PKG_VERSION").to_string()), None)
            .build()
            .map_err(|e| format!("STRIPE_SECRET_KEY or STRIPE_API_BASE: {e}"))?;
        Ok(StripeProvider { client })
    }
}

fn strategy(key: &str) -> Result<RequestStrategy, PaymentError> {
    IdempotencyKey::new(key)
        .map(RequestStrategy::Idempotent)
        .map_err(|e| PaymentError::Rejected(format!("idempotency key: {e}")))
}

/// Stripe's answer → the trait's two kinds of failure. Retryable: no answer at all
/// (connection refused, reset, timeout), 5xx, 409 (the same key is in flight) and 429 (rate
/// limited), and an error answer that is not Stripe's JSON (a proxy's 502 page). Anything else
/// Stripe refused on its merits: sending it again will not help.
pub fn classify(e: StripeError) -> PaymentError {
    match e {
        StripeError::Stripe(api, status) => {
            let what = format!(
                "Stripe answered {status}: {} ({})",
                api.message.as_deref().unwrap_or("no message"),
                api.code
                    .as_ref()
                    .map(|c| c.as_str().to_string())
                    .unwrap_or_else(|| api.type_.as_str().to_string()),
            );
            if status >= 500 || status == 409 || status == 429 {
                PaymentError::Unavailable(what)
            } else {
                PaymentError::Rejected(what)
            }
        }
        StripeError::Timeout => PaymentError::Unavailable("timed out waiting for Stripe".into()),
        StripeError::ClientError(m) => {
            PaymentError::Unavailable(format!("cannot reach Stripe: {m}"))
        }
        StripeError::JSONDeserialize(m) => {
            PaymentError::Unavailable(format!("unreadable answer from Stripe: {m}"))
        }
        StripeError::ConfigError(m) => PaymentError::Rejected(format!("Stripe client: {m}")),
    }
}

fn is_typed_decode_failure(e: &StripeError) -> bool {
    matches!(e, StripeError::JSONDeserialize(m) if m == TYPED_DECODE_FAILED)
}

/// The few fields read when the typed decoder refuses an answer. miniserde skips unknown keys.
#[derive(miniserde::Deserialize)]
struct Minimal {
    id: String,
    url: Option<String>,
    payment_intent: Option<String>,
    /// A refund's status and failure reason.
    status: Option<String>,
    failure_reason: Option<String>,
}

impl StripeProvider {
    /// Sends `request` with `key`; on a typed-decode failure, replays it with the same key and
    /// reads the minimal fields.
    async fn send<R, T>(
        &self,
        request: &R,
        key: &str,
        what: &str,
        typed: impl FnOnce(T) -> Minimal,
    ) -> Result<Minimal, PaymentError>
    where
        R: StripeRequest<Output = T>,
        T: miniserde::Deserialize,
    {
        let first = request
            .customize()
            .request_strategy(strategy(key)?)
            .send(&self.client)
            .await;
        match first {
            Ok(v) => Ok(typed(v)),
            Err(e) if is_typed_decode_failure(&e) => {
                let replay: Minimal = request
                    .build()
                    .customize::<Minimal>()
                    .request_strategy(strategy(key)?)
                    .send(&self.client)
                    .await
                    .map_err(classify)?;
                tracing::warn!(%what, id = %replay.id, "Stripe's answer did not fit the typed decoder (API version?); read its id from the replayed answer instead");
                Ok(replay)
            }
            Err(e) => Err(classify(e)),
        }
    }

    /// The payment intent behind a checkout session, if it has one.
    async fn session_intent(&self, session_id: &str) -> Result<Option<String>, PaymentError> {
        let session = RetrieveCheckoutSession::new(session_id)
            .send(&self.client)
            .await
            .map_err(classify)?;
        Ok(session
            .payment_intent
            .as_ref()
            .map(|p| p.id().as_str().to_string()))
    }
}

/// The metadata every session and its payment intent carry, so any event about the payment
/// leads back to the contract.
fn metadata(request: &CheckoutRequest) -> HashMap<String, String> {
    let mut m = HashMap::from([
        ("jobId".to_string(), request.job_id.to_string()),
        ("clientId".to_string(), request.client_id.to_string()),
        (
            "freelancerId".to_string(),
            request.freelancer_id.to_string(),
        ),
        ("contractId".to_string(), request.contract_id.to_string()),
    ]);
    if !request.milestones.is_empty() {
        let ids: Vec<String> = request.milestones.iter().map(|m| m.to_string()).collect();
        m.insert(
            super::webhook::MILESTONES_METADATA.to_string(),
            ids.join(","),
        );
    }
    m
}

/// The Checkout Session of DESIGN §6: one line item priced inline in the contract's currency.
pub fn checkout_session_request(request: &CheckoutRequest) -> CreateCheckoutSession {
    let mut price = CreateCheckoutSessionLineItemsPriceData::new(
        request
            .amount
            .currency
            .code()
            .parse::<stripe_types::Currency>()
            .unwrap_or_else(|never| match never {}),
    );
    price.unit_amount = Some(request.amount.minor.get());
    price.product_data = Some(ProductData::new(request.title.clone()));
    let mut item = CreateCheckoutSessionLineItems::new();
    item.price_data = Some(price);
    item.quantity = Some(1);
    let mut intent = CreateCheckoutSessionPaymentIntentData::new();
    intent.metadata = Some(metadata(request));
    CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Payment)
        .line_items(vec![item])
        .metadata(metadata(request))
        .payment_intent_data(intent)
        .client_reference_id(request.contract_id.to_string())
        .success_url(request.success_url.clone())
        .cancel_url(request.cancel_url.clone())
}

/// The connected account of DESIGN's money out: an Express account (hosted onboarding, Stripe
/// collects the requirements), tagged with the user.
pub fn account_request(request: &AccountRequest) -> CreateAccount {
    CreateAccount::new()
        .type_(CreateAccountType::Express)
        .metadata(HashMap::from([(
            "userId".to_string(),
            request.user.to_string(),
        )]))
}

/// The transfer of a payout: its amount to the connected account, grouped and tagged by the
/// payout, funded from the charge when one is named.
pub fn transfer_request(request: &TransferRequest) -> CreateTransfer {
    let currency = request
        .amount
        .currency
        .code()
        .parse::<stripe_types::Currency>()
        .unwrap_or_else(|never| match never {});
    let mut transfer = CreateTransfer::new(currency, request.destination.clone())
        .amount(request.amount.minor.get())
        .transfer_group(request.payout_id.to_string())
        .metadata(HashMap::from([
            ("payoutId".to_string(), request.payout_id.to_string()),
            ("userId".to_string(), request.user.to_string()),
        ]));
    if let Some(charge) = &request.source_transaction {
        transfer = transfer.source_transaction(charge.clone());
    }
    transfer
}

#[async_trait]
impl PaymentProvider for StripeProvider {
    fn name(&self) -> &'static str {
        "stripe"
    }

    async fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, PaymentError> {
        assert!(
            request.amount.minor.get() > 0,
            "a checkout is for a positive amount"
        );
        let session = checkout_session_request(request);
        let got = self
            .send(
                &session,
                request.idempotency_key.as_str(),
                "checkout session",
                |s: stripe_checkout::CheckoutSession| Minimal {
                    id: s.id.as_str().to_string(),
                    url: s.url,
                    payment_intent: None,
                    status: None,
                    failure_reason: None,
                },
            )
            .await?;
        let url = got.url.ok_or_else(|| {
            PaymentError::Rejected(format!(
                "checkout session {} came back without a url",
                got.id
            ))
        })?;
        Ok(CheckoutSession { id: got.id, url })
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundResult, PaymentError> {
        assert!(
            request.amount.minor.get() > 0,
            "a refund is for a positive amount"
        );
        let mut refund = CreateRefund::new()
            .amount(request.amount.minor.get())
            .metadata(HashMap::from([(
                "contractId".to_string(),
                request.contract_id.to_string(),
            )]));
        let source = request.payment_ref.as_str();
        refund = if source.starts_with("ch_") || source.starts_with("py_") {
            refund.charge(source)
        } else if source.starts_with("cs_") {
            // A payment recorded before its intent id was known.
            let intent = self.session_intent(source).await?.ok_or_else(|| {
                PaymentError::Rejected(format!(
                    "checkout session {source} has no payment intent to refund"
                ))
            })?;
            refund.payment_intent(intent)
        } else {
            refund.payment_intent(source)
        };
        let got = self
            .send(
                &refund,
                request.idempotency_key.as_str(),
                "refund",
                |r: stripe_core::Refund| Minimal {
                    id: r.id.as_str().to_string(),
                    url: None,
                    payment_intent: r
                        .payment_intent
                        .as_ref()
                        .map(|p| p.id().as_str().to_string()),
                    status: r.status.clone(),
                    failure_reason: r.failure_reason.clone(),
                },
            )
            .await?;
        tracing::info!(contract = %request.contract_id, refund = %got.id, payment_intent = ?got.payment_intent, amount = request.amount.minor.get(), "Stripe refund created");
        Ok(RefundResult {
            status: RefundStatus::of(got.status.as_deref(), got.failure_reason.as_deref()),
            id: RefundRef::new(got.id),
        })
    }

    async fn intent_of_session(
        &self,
        session: &PaymentRef,
    ) -> Result<Option<PaymentRef>, PaymentError> {
        Ok(self
            .session_intent(session.as_str())
            .await?
            .map(PaymentRef::new))
    }

    async fn create_connected_account(
        &self,
        request: &AccountRequest,
    ) -> Result<String, PaymentError> {
        let got = self
            .send(
                &account_request(request),
                request.idempotency_key.as_str(),
                "connected account",
                |a: stripe_connect::Account| Minimal {
                    id: a.id.as_str().to_string(),
                    url: None,
                    payment_intent: None,
                    status: None,
                    failure_reason: None,
                },
            )
            .await?;
        tracing::info!(user = %request.user, account = %got.id, "Stripe connected account created");
        Ok(got.id)
    }

    async fn create_account_link(
        &self,
        request: &AccountLinkRequest,
    ) -> Result<String, PaymentError> {
        // A fresh link every time (a link is single-use and expires): no idempotency key.
        let link = CreateAccountLink::new(
            request.account_id.clone(),
            CreateAccountLinkType::AccountOnboarding,
        )
        .refresh_url(request.refresh_url.clone())
        .return_url(request.return_url.clone())
        .send(&self.client)
        .await
        .map_err(classify)?;
        Ok(link.url)
    }

    async fn create_transfer(
        &self,
        request: &TransferRequest,
    ) -> Result<TransferResult, PaymentError> {
        assert!(
            request.amount.minor.get() > 0,
            "a transfer is for a positive amount"
        );
        let got = self
            .send(
                &transfer_request(request),
                &request.idempotency_key,
                "transfer",
                |t: stripe_connect::Transfer| Minimal {
                    id: t.id.as_str().to_string(),
                    url: None,
                    payment_intent: None,
                    status: None,
                    failure_reason: None,
                },
            )
            .await?;
        tracing::info!(payout = %request.payout_id, transfer = %got.id, amount = request.amount.minor.get(), "Stripe transfer created");
        Ok(TransferResult { id: got.id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ContractId, Currency, JobId, MinorUnits, UserId};

    fn request() -> CheckoutRequest {
        CheckoutRequest {
            contract_id: ContractId::generate(),
            job_id: JobId::generate(),
            client_id: UserId::generate(),
            freelancer_id: UserId::generate(),
            title: "Logo & icon".into(),
            amount: crate::domain::Money::new(MinorUnits::new(150_050), Currency::Inr),
            milestones: vec![crate::domain::MilestoneId::FIRST],
            success_url: "http://front/ok".into(),
            cancel_url: "http://front/no".into(),
            idempotency_key: crate::domain::IdempotencyKey::derived("k".into()),
        }
    }

    #[test]
    fn the_session_form_has_one_inline_priced_line_item_and_the_contract_metadata() {
        let r = request();
        let body = checkout_session_request(&r).build().body.unwrap();
        for part in [
            "mode=payment".to_string(),
            "line_items[0][price_data][currency]=inr".to_string(),
            "line_items[0][price_data][unit_amount]=150050".to_string(),
            "line_items[0][price_data][product_data][name]=Logo+%26+icon".to_string(),
            "line_items[0][quantity]=1".to_string(),
            format!("client_reference_id={}", r.contract_id),
            format!("metadata[contractId]={}", r.contract_id),
            format!(
                "payment_intent_data[metadata][contractId]={}",
                r.contract_id
            ),
            "metadata[milestones]=1".to_string(),
            "payment_intent_data[metadata][milestones]=1".to_string(),
        ] {
            assert!(body.split('&').any(|p| p == part), "{part} not in {body}");
        }
    }

    #[test]
    fn failures_are_sorted_into_retryable_and_refused() {
        assert!(matches!(
            classify(StripeError::Timeout),
            PaymentError::Unavailable(_)
        ));
        assert!(matches!(
            classify(StripeError::ClientError("refused".into())),
            PaymentError::Unavailable(_)
        ));
        assert!(matches!(
            classify(StripeError::JSONDeserialize(
                "error deserializing Stripe error".into()
            )),
            PaymentError::Unavailable(_)
        ));
    }

    #[test]
    fn the_base_url_gets_its_trailing_slash_and_must_be_http() {
        assert!(
            StripeProvider::new(
                "sk_test_x",
                Some("http://127.0.0.1:9"),
                Duration::from_secs(1)
            )
            .is_ok()
        );
        assert!(
            StripeProvider::new("sk_test_x", Some("ftp://x/"), Duration::from_secs(1)).is_err()
        );
    }
}
