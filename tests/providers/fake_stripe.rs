//! A fake Stripe API on 127.0.0.1:0 for the real async-stripe client. It answers
//! `POST /v1/checkout/sessions`, `GET /v1/checkout/sessions/{id}`, `POST /v1/refunds` and, for
//! money out, `POST /v1/accounts`, `POST /v1/account_links` and `POST /v1/transfers` with
//! the JSON shapes Stripe uses (every field async-stripe's strict decoder requires), keeps
//! Stripe's idempotency rules (same key and same form → the saved answer, no second object;
//! same key with another form → 400 `idempotency_error`), checks what Stripe checks (the
//! bearer key, required params, refunds within what was paid), and records every request: its
//! path, form pairs in order, `Idempotency-Key`, `Stripe-Version` and `Authorization`.
//!
//! Faults are queued per endpoint: the next call answers 500, or does the work and then holds
//! the answer past the client's timeout (the server-side effect happened; the client never
//! heard), or refuses with a 400.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

pub const SECRET_KEY: &str = "sk_test_fake_0123456789";

#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer 500 with Stripe's `api_error` body, doing nothing.
    ServerError,
    /// Do the work, then hold the answer this long (longer than the client's timeout).
    Hang(Duration),
    /// Refuse with 400 `invalid_request_error`, doing nothing.
    BadRequest,
}

#[derive(Debug, Clone)]
pub struct Recorded {
    #[allow(dead_code)]
    pub method: String,
    pub path: String,
    pub form: Vec<(String, String)>,
    pub idempotency_key: Option<String>,
    pub stripe_version: Option<String>,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    /// The status the fake answered (or would have, for a hang).
    pub status: u16,
}

impl Recorded {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone)]
struct Saved {
    path: String,
    form: Vec<(String, String)>,
    body: Value,
}

#[derive(Default)]
struct Inner {
    requests: Vec<Recorded>,
    /// Idempotency key → the answer Stripe saved for it, replayed for the same key.
    saved: HashMap<String, Saved>,
    sessions: HashMap<String, Value>,
    /// payment intent → (amount paid, amount refunded so far).
    intents: HashMap<String, (i64, i64)>,
    refunds: Vec<Value>,
    checkout_faults: VecDeque<Fault>,
    refund_faults: VecDeque<Fault>,
    /// The statuses the next refunds are created with (`succeeded` once it is empty).
    refund_statuses: VecDeque<&'static str>,
    /// The same, for the refunds of one payment intent (taken before the shared ones).
    refund_statuses_of: HashMap<String, VecDeque<&'static str>>,
    transfer_faults: VecDeque<Fault>,
    /// Connected accounts: id → whether it takes transfers (onboarding complete).
    accounts: HashMap<String, bool>,
    /// Transfer objects actually created.
    transfers: Vec<Value>,
    /// Answer sessions without fields async-stripe's pinned API version requires, as an
    /// account on another API version would.
    other_api_version: bool,
    next_id: u64,
}

#[derive(Clone)]
pub struct FakeStripe {
    inner: Arc<Mutex<Inner>>,
    pub base: String,
}

impl FakeStripe {
    pub async fn start() -> FakeStripe {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/v1/checkout/sessions", post(create_session))
            .route("/v1/checkout/sessions/{id}", get(get_session))
            .route("/v1/refunds", post(create_refund))
            .route("/v1/accounts", post(create_account))
            .route("/v1/account_links", post(create_account_link))
            .route("/v1/transfers", post(create_transfer))
            .fallback(unknown)
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeStripe {
            inner,
            base: format!("http://{addr}/"),
        }
    }

    /// A payment Stripe took: refunds against it are checked against its amount.
    /// The next refunds are created with these statuses, in order (`pending`, `failed`, …);
    /// then `succeeded` again.
    #[allow(dead_code)]
    pub fn answer_refunds_with(&self, statuses: impl IntoIterator<Item = &'static str>) {
        self.inner.lock().unwrap().refund_statuses.extend(statuses);
    }

    /// The next refunds of payment intent `pi` are created with these statuses, in order.
    #[allow(dead_code)]
    pub fn answer_refunds_of(&self, pi: &str, statuses: impl IntoIterator<Item = &'static str>) {
        self.inner
            .lock()
            .unwrap()
            .refund_statuses_of
            .entry(pi.to_string())
            .or_default()
            .extend(statuses);
    }

    /// The bank settles refund `id`, pending until now, as `status` (`succeeded`, `failed`):
    /// a failed refund gives the charge its money back. The refund object as it is now; a
    /// refund no longer pending is left as it was. (Answers already saved for an idempotency
    /// key are replayed unchanged, as Stripe replays them.)
    #[allow(dead_code)]
    pub fn finish_refund(&self, id: &str, status: &str) -> Option<Value> {
        let mut g = self.inner.lock().unwrap();
        let i = g.refunds.iter().position(|r| r["id"] == id)?;
        if g.refunds[i]["status"] == "pending" {
            g.refunds[i]["status"] = json!(status);
            if status == "failed" {
                g.refunds[i]["failure_reason"] = json!("expired_or_canceled_card");
                let pi = g.refunds[i]["payment_intent"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                let amount = g.refunds[i]["amount"].as_i64().unwrap_or(0);
                if let Some(paid) = g.intents.get_mut(&pi) {
                    paid.1 -= amount;
                }
            }
        }
        Some(g.refunds[i].clone())
    }

    pub fn add_payment_intent(&self, id: &str, amount: i64) {
        self.inner
            .lock()
            .unwrap()
            .intents
            .insert(id.to_string(), (amount, 0));
    }

    pub fn fail_refunds(&self, faults: impl IntoIterator<Item = Fault>) {
        self.inner.lock().unwrap().refund_faults.extend(faults);
    }

    pub fn fail_checkouts(&self, faults: impl IntoIterator<Item = Fault>) {
        self.inner.lock().unwrap().checkout_faults.extend(faults);
    }

    pub fn answer_as_another_api_version(&self) {
        self.inner.lock().unwrap().other_api_version = true;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().unwrap().requests.clone()
    }

    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    pub fn fail_transfers(&self, faults: impl IntoIterator<Item = Fault>) {
        self.inner.lock().unwrap().transfer_faults.extend(faults);
    }

    /// Marks a connected account onboarded: it takes transfers from now on.
    pub fn enable_account(&self, id: &str) {
        self.inner
            .lock()
            .unwrap()
            .accounts
            .insert(id.to_string(), true);
    }

    /// Transfer objects actually created (a replayed answer creates none).
    pub fn transfers(&self) -> Vec<Value> {
        self.inner.lock().unwrap().transfers.clone()
    }

    /// Refund objects actually created (a replayed answer creates none).
    pub fn refunds(&self) -> Vec<Value> {
        self.inner.lock().unwrap().refunds.clone()
    }

    pub fn sessions_created(&self) -> usize {
        self.inner.lock().unwrap().sessions.len()
    }
}

/// Decodes `application/x-www-form-urlencoded`, keeping order and repeated keys.
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).expect("percent escape"));
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).expect("UTF-8 form")
    }
    let text = std::str::from_utf8(body).expect("UTF-8 body");
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn stripe_error(status: StatusCode, kind: &str, code: Option<&str>, message: &str) -> Response {
    let mut error = json!({"type": kind, "message": message});
    if let Some(c) = code {
        error["code"] = json!(c);
    }
    (status, axum::Json(json!({ "error": error }))).into_response()
}

/// What every request goes through: record it, check the key, replay a saved answer.
enum Gate {
    Answer(Response),
    Proceed {
        form: Vec<(String, String)>,
        key: Option<String>,
        index: usize,
    },
}

fn gate(inner: &mut Inner, method: &str, path: &str, headers: &HeaderMap, body: &[u8]) -> Gate {
    let form = parse_form(body);
    let key = header(headers, "idempotency-key");
    inner.requests.push(Recorded {
        method: method.into(),
        path: path.into(),
        form: form.clone(),
        idempotency_key: key.clone(),
        stripe_version: header(headers, "stripe-version"),
        authorization: header(headers, "authorization"),
        content_type: header(headers, "content-type"),
        status: 0,
    });
    let index = inner.requests.len() - 1;
    let answer = |inner: &mut Inner, r: Response| {
        inner.requests[index].status = r.status().as_u16();
        Gate::Answer(r)
    };
    if header(headers, "authorization").as_deref() != Some(&format!("Bearer {SECRET_KEY}")) {
        let r = stripe_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            None,
            "Invalid API Key provided",
        );
        return answer(inner, r);
    }
    if let Some(k) = &key
        && let Some(saved) = inner.saved.get(k).cloned()
    {
        // Stripe compares the parameters, not their order (metadata comes from a HashMap).
        let (mut a, mut b) = (saved.form.clone(), form.clone());
        a.sort();
        b.sort();
        if saved.path != path || a != b {
            let r = stripe_error(
                StatusCode::BAD_REQUEST,
                "idempotency_error",
                None,
                "Keys for idempotent requests can only be used with the same parameters they were first used with.",
            );
            return answer(inner, r);
        }
        let r = (
            StatusCode::OK,
            [("idempotent-replayed", "true")],
            axum::Json(saved.body),
        )
            .into_response();
        return answer(inner, r);
    }
    Gate::Proceed { form, key, index }
}

fn next_id(inner: &mut Inner, prefix: &str) -> String {
    inner.next_id += 1;
    format!("{prefix}_fake{:06}", inner.next_id)
}

/// Saves a successful answer under its key (as Stripe does), then sends it, after `hang`.
async fn finish(
    inner: &Arc<Mutex<Inner>>,
    index: usize,
    key: Option<String>,
    path: &str,
    form: Vec<(String, String)>,
    hang: Option<Duration>,
    body: Value,
) -> Response {
    {
        let mut g = inner.lock().unwrap();
        g.requests[index].status = 200;
        if let Some(k) = key {
            let saved = Saved {
                path: path.to_string(),
                form,
                body: body.clone(),
            };
            g.saved.insert(k, saved);
        }
    }
    if let Some(d) = hang {
        tokio::time::sleep(d).await;
    }
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn take_fault(queue: &mut VecDeque<Fault>) -> Option<Fault> {
    queue.pop_front()
}

fn fault_response(inner: &mut Inner, index: usize, fault: &Fault) -> Option<Response> {
    let r = match fault {
        Fault::ServerError => stripe_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            None,
            "An unknown error occurred",
        ),
        Fault::BadRequest => stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some("parameter_invalid_empty"),
            "Refused by the fake on purpose",
        ),
        Fault::Hang(_) => return None,
    };
    inner.requests[index].status = r.status().as_u16();
    Some(r)
}

async fn create_session(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = "/v1/checkout/sessions";
    let (form, key, index, hang, session) = {
        let mut g = inner.lock().unwrap();
        let (form, key, index) = match gate(&mut g, "POST", path, &headers, &body) {
            Gate::Answer(r) => return r,
            Gate::Proceed { form, key, index } => (form, key, index),
        };
        let fault = take_fault(&mut g.checkout_faults);
        if let Some(f) = &fault
            && let Some(r) = fault_response(&mut g, index, f)
        {
            return r;
        }
        let get = |k: &str| form.iter().find(|(fk, _)| fk == k).map(|(_, v)| v.clone());
        for required in [
            "mode",
            "line_items[0][price_data][currency]",
            "line_items[0][price_data][unit_amount]",
            "line_items[0][price_data][product_data][name]",
            "line_items[0][quantity]",
            "success_url",
        ] {
            if get(required).is_none() {
                g.requests[index].status = 400;
                return stripe_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    Some("parameter_missing"),
                    &format!("Missing required param: {required}."),
                );
            }
        }
        let unit: i64 = get("line_items[0][price_data][unit_amount]")
            .unwrap()
            .parse()
            .expect("integer unit_amount");
        let quantity: i64 = get("line_items[0][quantity]").unwrap().parse().unwrap();
        let metadata: serde_json::Map<String, Value> = form
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("metadata[")
                    .and_then(|k| k.strip_suffix(']'))
                    .map(|k| (k.to_string(), json!(v)))
            })
            .collect();
        let id = next_id(&mut g, "cs_test");
        let now = chrono::Utc::now().timestamp();
        let session = json!({
            "id": id,
            "object": "checkout.session",
            "amount_subtotal": unit * quantity,
            "amount_total": unit * quantity,
            "automatic_tax": {"enabled": false, "liability": null, "status": null},
            "cancel_url": get("cancel_url"),
            "client_reference_id": get("client_reference_id"),
            "created": now,
            "currency": get("line_items[0][price_data][currency]"),
            "custom_fields": [],
            "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
            "expires_at": now + 86_400,
            "livemode": false,
            "metadata": metadata,
            "mode": get("mode"),
            "payment_intent": null,
            "payment_method_types": ["card"],
            "payment_status": "unpaid",
            "shipping_options": [],
            "status": "open",
            "success_url": get("success_url"),
            "url": format!("https://checkout.stripe.com/c/pay/{id}"),
        });
        let mut session = session;
        if g.other_api_version {
            let o = session.as_object_mut().unwrap();
            o.remove("custom_fields");
            o.remove("shipping_options");
            o.insert("some_new_field".into(), json!({"added": "later"}));
        }
        g.sessions.insert(id.clone(), session.clone());
        let hang = match fault {
            Some(Fault::Hang(d)) => Some(d),
            _ => None,
        };
        (form, key, index, hang, session)
    };
    finish(&inner, index, key, path, form, hang, session).await
}

async fn get_session(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/v1/checkout/sessions/{id}");
    let mut g = inner.lock().unwrap();
    let index = match gate(&mut g, "GET", &path, &headers, b"") {
        Gate::Answer(r) => return r,
        Gate::Proceed { index, .. } => index,
    };
    match g.sessions.get(&id).cloned() {
        Some(s) => {
            g.requests[index].status = 200;
            axum::Json(s).into_response()
        }
        None => {
            g.requests[index].status = 404;
            stripe_error(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                Some("resource_missing"),
                &format!("No such checkout.session: '{id}'"),
            )
        }
    }
}

impl FakeStripe {
    /// Marks a session paid by `payment_intent` (what Checkout does when the payer pays).
    pub fn pay_session(&self, session_id: &str, payment_intent: &str) {
        let mut g = self.inner.lock().unwrap();
        let amount = {
            let s = g.sessions.get_mut(session_id).expect("known session");
            s["payment_intent"] = json!(payment_intent);
            s["payment_status"] = json!("paid");
            s["status"] = json!("complete");
            s["amount_total"].as_i64().unwrap()
        };
        g.intents.insert(payment_intent.to_string(), (amount, 0));
    }
}

async fn create_refund(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = "/v1/refunds";
    let (form, key, index, hang, refund) = {
        let mut g = inner.lock().unwrap();
        let (form, key, index) = match gate(&mut g, "POST", path, &headers, &body) {
            Gate::Answer(r) => return r,
            Gate::Proceed { form, key, index } => (form, key, index),
        };
        let fault = take_fault(&mut g.refund_faults);
        if let Some(f) = &fault
            && let Some(r) = fault_response(&mut g, index, f)
        {
            return r;
        }
        let get = |k: &str| form.iter().find(|(fk, _)| fk == k).map(|(_, v)| v.clone());
        let Some(pi) = get("payment_intent") else {
            g.requests[index].status = 400;
            return stripe_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("parameter_missing"),
                "One of the following params should be provided for this request: payment_intent or charge.",
            );
        };
        let Some((paid, refunded)) = g.intents.get(&pi).copied() else {
            g.requests[index].status = 404;
            return stripe_error(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                Some("resource_missing"),
                &format!("No such payment_intent: '{pi}'"),
            );
        };
        let amount: i64 = get("amount")
            .map(|a| a.parse().expect("integer amount"))
            .unwrap_or(paid - refunded);
        if amount <= 0 || refunded + amount > paid {
            g.requests[index].status = 400;
            return stripe_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("amount_too_large"),
                &format!(
                    "Refund amount ({amount}) is greater than unrefunded amount on charge ({})",
                    paid - refunded
                ),
            );
        }
        // A refund made to fail gives the money back: it does not count against the charge.
        let status = g
            .refund_statuses_of
            .get_mut(&pi)
            .and_then(VecDeque::pop_front)
            .or_else(|| g.refund_statuses.pop_front())
            .unwrap_or("succeeded");
        if !matches!(status, "failed" | "canceled") {
            g.intents.insert(pi.clone(), (paid, refunded + amount));
        }
        let metadata: serde_json::Map<String, Value> = form
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("metadata[")
                    .and_then(|k| k.strip_suffix(']'))
                    .map(|k| (k.to_string(), json!(v)))
            })
            .collect();
        let id = next_id(&mut g, "re");
        let refund = json!({
            "id": id,
            "object": "refund",
            "amount": amount,
            "balance_transaction": null,
            "charge": format!("ch_for_{pi}"),
            "created": chrono::Utc::now().timestamp(),
            "currency": "inr",
            "metadata": metadata,
            "payment_intent": pi,
            "reason": null,
            "receipt_number": null,
            "source_transfer_reversal": null,
            "status": status,
            "failure_reason": if status == "failed" { json!("expired_or_canceled_card") } else { Value::Null },
            "transfer_reversal": null,
        });
        g.refunds.push(refund.clone());
        let hang = match fault {
            Some(Fault::Hang(d)) => Some(d),
            _ => None,
        };
        (form, key, index, hang, refund)
    };
    finish(&inner, index, key, path, form, hang, refund).await
}

fn missing(g: &mut Inner, index: usize, param: &str) -> Response {
    g.requests[index].status = 400;
    stripe_error(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        Some("parameter_missing"),
        &format!("Missing required param: {param}."),
    )
}

fn metadata_of(form: &[(String, String)]) -> serde_json::Map<String, Value> {
    form.iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("metadata[")
                .and_then(|k| k.strip_suffix(']'))
                .map(|k| (k.to_string(), json!(v)))
        })
        .collect()
}

/// `POST /v1/accounts`: an Express account, not yet onboarded.
async fn create_account(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = "/v1/accounts";
    let (form, key, index, account) = {
        let mut g = inner.lock().unwrap();
        let (form, key, index) = match gate(&mut g, "POST", path, &headers, &body) {
            Gate::Answer(r) => return r,
            Gate::Proceed { form, key, index } => (form, key, index),
        };
        let get = |k: &str| form.iter().find(|(fk, _)| fk == k).map(|(_, v)| v.clone());
        let id = next_id(&mut g, "acct");
        g.accounts.insert(id.clone(), false);
        let account = json!({
            "id": id, "object": "account", "type": get("type"), "business_profile": null,
            "charges_enabled": false, "payouts_enabled": false, "details_submitted": false,
            "country": "IN", "created": chrono::Utc::now().timestamp(), "default_currency": "inr",
            "email": null, "metadata": metadata_of(&form),
            "requirements": {"alternatives": [], "current_deadline": null,
                "currently_due": ["business_type", "external_account", "tos_acceptance.date"],
                "disabled_reason": "requirements.past_due", "errors": [],
                "eventually_due": ["business_type", "external_account"], "past_due": [], "pending_verification": []}
        });
        (form, key, index, account)
    };
    finish(&inner, index, key, path, form, None, account).await
}

/// `POST /v1/account_links`: a single-use onboarding link for a known account.
async fn create_account_link(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = "/v1/account_links";
    let (form, key, index, link) = {
        let mut g = inner.lock().unwrap();
        let (form, key, index) = match gate(&mut g, "POST", path, &headers, &body) {
            Gate::Answer(r) => return r,
            Gate::Proceed { form, key, index } => (form, key, index),
        };
        let get = |k: &str| form.iter().find(|(fk, _)| fk == k).map(|(_, v)| v.clone());
        for required in ["account", "type"] {
            if get(required).is_none() {
                return missing(&mut g, index, required);
            }
        }
        let account = get("account").unwrap();
        if !g.accounts.contains_key(&account) {
            g.requests[index].status = 400;
            return stripe_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("account_invalid"),
                &format!("No such account: '{account}'"),
            );
        }
        let now = chrono::Utc::now().timestamp();
        let n = next_id(&mut g, "link");
        let link = json!({
            "object": "account_link", "created": now, "expires_at": now + 300,
            "url": format!("https://connect.stripe.com/setup/e/{account}/{n}"),
        });
        (form, key, index, link)
    };
    finish(&inner, index, key, path, form, None, link).await
}

/// `POST /v1/transfers`: money to an onboarded connected account.
async fn create_transfer(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = "/v1/transfers";
    let (form, key, index, hang, transfer) = {
        let mut g = inner.lock().unwrap();
        let (form, key, index) = match gate(&mut g, "POST", path, &headers, &body) {
            Gate::Answer(r) => return r,
            Gate::Proceed { form, key, index } => (form, key, index),
        };
        let fault = take_fault(&mut g.transfer_faults);
        if let Some(f) = &fault
            && let Some(r) = fault_response(&mut g, index, f)
        {
            return r;
        }
        let get = |k: &str| form.iter().find(|(fk, _)| fk == k).map(|(_, v)| v.clone());
        for required in ["amount", "currency", "destination"] {
            if get(required).is_none() {
                return missing(&mut g, index, required);
            }
        }
        let destination = get("destination").unwrap();
        if g.accounts.get(&destination) != Some(&true) {
            g.requests[index].status = 400;
            return stripe_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("account_invalid"),
                &format!(
                    "Your destination account needs to have at least one of the following capabilities enabled: transfers, crypto_transfers, legacy_payments ({destination})"
                ),
            );
        }
        let amount: i64 = get("amount").unwrap().parse().expect("integer amount");
        let id = next_id(&mut g, "tr");
        let mut transfer = json!({
            "id": id, "object": "transfer", "amount": amount, "amount_reversed": 0,
            "balance_transaction": "txn_1", "created": chrono::Utc::now().timestamp(),
            "currency": get("currency"), "description": null, "destination": destination,
            "destination_payment": "py_1", "livemode": false, "metadata": metadata_of(&form),
            "reversals": {"object": "list", "data": [], "has_more": false, "url": format!("/v1/transfers/{id}/reversals")},
            "reversed": false, "source_transaction": get("source_transaction"), "source_type": "card",
            "transfer_group": get("transfer_group"),
        });
        if g.other_api_version {
            transfer.as_object_mut().unwrap().remove("reversals");
        }
        g.transfers.push(transfer.clone());
        let hang = match fault {
            Some(Fault::Hang(d)) => Some(d),
            _ => None,
        };
        (form, key, index, hang, transfer)
    };
    finish(&inner, index, key, path, form, hang, transfer).await
}

async fn unknown(State(inner): State<Arc<Mutex<Inner>>>, req: axum::extract::Request) -> Response {
    let path = req.uri().path().to_string();
    inner.lock().unwrap().requests.push(Recorded {
        method: req.method().to_string(),
        path: path.clone(),
        form: vec![],
        idempotency_key: None,
        stripe_version: None,
        authorization: None,
        content_type: None,
        status: 404,
    });
    stripe_error(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        None,
        &format!("Unrecognized request URL (POST: {path})."),
    )
}
