//! `escrowctl token`: mints an access token with the configured secret, for development and
//! tests. Refused in production mode, where tokens come from the real identity provider.

use serde::Serialize;

use super::args::{RoleArg, TokenArgs};
use super::exit::CliError;
use super::output::Output;
use crate::auth::{JwtKeys, Principal, Role};
use crate::config::{Config, Mode};
use crate::service::ErrorCode;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenDocument {
    token: String,
    id: String,
    role: &'static str,
    /// RFC 3339 UTC.
    expires_at: String,
}

pub fn run(config: &Config, out: &Output, a: TokenArgs) -> Result<(), CliError> {
    if config.mode == Mode::Production {
        return Err(CliError::usage(
            ErrorCode::TokenProduction,
            "token is refused when ESCROW_ENV=production: mint tokens with your identity provider",
        ));
    }
    let keys = JwtKeys::new(config.jwt_secret()?.expose().as_bytes());
    let role = match a.role {
        RoleArg::Client => Role::Client,
        RoleArg::Freelancer => Role::Freelancer,
        RoleArg::Admin => Role::Admin,
    };
    let principal = Principal { id: a.id, role };
    let now_s = chrono::Utc::now().timestamp().max(0) as u64;
    let token = keys.mint(&principal, now_s, a.ttl.0);
    if !out.is_json() {
        // Bare, so `$(escrowctl token …)` is the token.
        return out.line(&token);
    }
    let expires_ms = ((now_s + a.ttl.0) as i64).saturating_mul(1000);
    out.json(&TokenDocument {
        token,
        id: principal.id.to_string(),
        role: role.as_str(),
        expires_at: crate::views::time(expires_ms),
    })
}
