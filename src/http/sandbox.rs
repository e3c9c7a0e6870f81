//! The sandbox onboarding page (money out): `GET /sandbox/onboarding/{accountId}` shows the
//! account and a "Complete onboarding" button; `POST …/complete` signs the `account.updated`
//! Stripe would send (payouts enabled) and posts it to this server's own `/webhook/connect`,
//! then redirects to the front end's return URL.
//!
//! The sandbox checkout page. `GET /sandbox/checkout/{id}` shows the order and a Pay button (a
//! plain form post, so curl can press it too); `POST …/pay` signs a
//! `checkout.session.completed` event exactly as Stripe would and posts it to this server's own
//! `/webhook`, then redirects to the front end's success URL.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::AppState;
use super::error::ApiError;
use crate::domain::money::format_minor;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

pub async fn page(State(s): State<AppState>, Path(session): Path<String>) -> Response {
    let (c, paying) = match s.service.sandbox_session(&session).await {
        Ok(x) => x,
        Err(e) => return ApiError(e).into_response(),
    };
    let title = escape(c.title.as_ref().map_or("Escrow payment", |t| t.as_str()));
    let amount = format!(
        "{} {}",
        format_minor(paying.amount, c.currency),
        c.currency.code().to_uppercase()
    );
    let status = if !crate::service::checkout::sandbox_session_open(&c, &paying) {
        "<p id=\"paid\">This contract is already paid.</p>"
    } else {
        ""
    };
    let session = escape(&session);
    Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sandbox checkout · {title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}}
.card{{border:1px solid #ccc;border-radius:8px;padding:1.5rem}} .amount{{font-size:2rem;margin:.5rem 0}}
button{{font-size:1.1rem;padding:.6rem 1.4rem;background:#635bff;color:#fff;border:0;border-radius:6px;cursor:pointer}}
small{{color:#666}}</style></head>
<body><div class="card">
<small>SANDBOX — no real money moves</small>
<h1 id="title">{title}</h1>
<div class="amount" id="amount">{amount}</div>
<p><small>Contract {contract} · session {session}</small></p>
{status}
<form method="post" action="/sandbox/checkout/{session}/pay"><button id="pay" type="submit">Pay {amount}</button></form>
<p><a href="{cancel}">Cancel</a></p>
</div></body></html>"#,
        contract = c.id,
        cancel = escape(&s.service.cancel_url()),
    ))
    .into_response()
}

pub async fn pay(State(s): State<AppState>, Path(session): Path<String>) -> Response {
    let payment = match s.service.sandbox_payment(&session).await {
        Ok(x) => x,
        Err(e) => return ApiError(e).into_response(),
    };
    let sent = s
        .http_client
        .post(format!("{}/webhook", s.self_url))
        .header("content-type", "application/json")
        .header("stripe-signature", payment.signature)
        .body(payment.body)
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => Redirect::to(&format!(
            "{}?session_id={}",
            s.service.success_url(),
            session
        ))
        .into_response(),
        Ok(r) => {
            let status = r.status();
            tracing::error!(%status, "the sandbox webhook delivery was refused");
            (
                StatusCode::BAD_GATEWAY,
                Html(format!(
                    "<p>Payment could not be recorded (webhook answered {status}). Try again.</p>"
                )),
            )
                .into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "the sandbox webhook delivery failed");
            (
                StatusCode::BAD_GATEWAY,
                Html("<p>Payment could not be recorded. Try again.</p>".to_string()),
            )
                .into_response()
        }
    }
}

pub async fn onboarding_page(State(s): State<AppState>, Path(account): Path<String>) -> Response {
    let a = match s.service.sandbox_account(&account).await {
        Ok(a) => a,
        Err(e) => return ApiError(e).into_response(),
    };
    let status = if a.payouts_enabled {
        "<p id=\"enabled\">Payouts are enabled for this account.</p>"
    } else {
        ""
    };
    let account = escape(&a.account_id);
    Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sandbox onboarding · {account}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}}
.card{{border:1px solid #ccc;border-radius:8px;padding:1.5rem}} code{{word-break:break-all}}
button{{font-size:1.1rem;padding:.6rem 1.4rem;background:#635bff;color:#fff;border:0;border-radius:6px;cursor:pointer}}
small{{color:#666}}</style></head>
<body><div class="card">
<small>SANDBOX — no real account is verified</small>
<h1>Payout onboarding</h1>
<p>Connected account <code id="account">{account}</code> of user <code>{user}</code>.</p>
{status}
<form method="post" action="/sandbox/onboarding/{account}/complete"><button id="complete" type="submit">Complete onboarding</button></form>
</div></body></html>"#,
        user = escape(a.user.as_str()),
    ))
    .into_response()
}

pub async fn complete_onboarding(
    State(s): State<AppState>,
    Path(account): Path<String>,
) -> Response {
    let done = match s.service.sandbox_onboarding(&account).await {
        Ok(x) => x,
        Err(e) => return ApiError(e).into_response(),
    };
    let sent = s
        .http_client
        .post(format!("{}/webhook/connect", s.self_url))
        .header("content-type", "application/json")
        .header("stripe-signature", done.signature)
        .body(done.body)
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => {
            Redirect::to(&s.service.onboarding_return_url()).into_response()
        }
        Ok(r) => {
            let status = r.status();
            tracing::error!(%status, "the sandbox account.updated delivery was refused");
            (
                StatusCode::BAD_GATEWAY,
                Html(format!(
                    "<p>Onboarding could not be recorded (webhook answered {status}). Try again.</p>"
                )),
            )
                .into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "the sandbox account.updated delivery failed");
            (
                StatusCode::BAD_GATEWAY,
                Html("<p>Onboarding could not be recorded. Try again.</p>".to_string()),
            )
                .into_response()
        }
    }
}
