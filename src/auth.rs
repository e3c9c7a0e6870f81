//! Access tokens: HS256 JWTs `{ id, role, exp }` as the original issued them (`sub` is accepted
//! for `id`). Any other algorithm, `none` included, is refused; `exp` is required; a token not
//! valid yet (`nbf` in the future) is refused, and so is any token with a `crit` header (an
//! extension it says must be understood: this server understands none).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::domain::UserId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Client,
    Freelancer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Freelancer => "freelancer",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "client" => Some(Role::Client),
            "freelancer" => Some(Role::Freelancer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// Who is calling, taken from a verified token (or, for the CLI, the operator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub id: UserId,
    pub role: Role,
}

impl Principal {
    /// Text recorded in escrow history, e.g. `admin:64b…`.
    pub fn actor(&self) -> String {
        format!("{}:{}", self.role.as_str(), self.id)
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token")]
    Missing,
    #[error("invalid or expired token")]
    Invalid,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    role: String,
    exp: u64,
}

/// Signs and verifies tokens with one HS256 secret.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl JwtKeys {
    pub fn new(secret: &[u8]) -> JwtKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_required_spec_claims(&["exp"]);
        validation.leeway = 0;
        validation.validate_exp = true;
        // Off by default in jsonwebtoken: a token that says "not before" is not yet a token.
        validation.validate_nbf = true;
        JwtKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| AuthError::Invalid)?;
        // RFC 7515 §4.1.11: a header parameter listed in `crit` must be understood, or the
        // token refused; jsonwebtoken ignores it.
        if data.header.crit.is_some() {
            return Err(AuthError::Invalid);
        }
        let claims = data.claims;
        let id = claims.id.or(claims.sub).ok_or(AuthError::Invalid)?;
        let id = UserId::parse(&id).map_err(|_| AuthError::Invalid)?;
        let role = Role::parse(&claims.role).ok_or(AuthError::Invalid)?;
        Ok(Principal { id, role })
    }

    /// Mints a token that expires `ttl_s` seconds from `now_s`.
    pub fn mint(&self, principal: &Principal, now_s: u64, ttl_s: u64) -> String {
        let claims = Claims {
            id: Some(principal.id.to_string()),
            sub: None,
            role: principal.role.as_str().into(),
            exp: now_s + ttl_s,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing cannot fail")
    }
}

/// The token of an `Authorization: Bearer <jwt>` header value.
pub fn bearer(header: Option<&str>) -> Result<&str, AuthError> {
    let value = header.ok_or(AuthError::Missing)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(AuthError::Invalid)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::Invalid);
    }
    Ok(token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn now() -> u64 {
        chrono::Utc::now().timestamp() as u64
    }

    fn b64(v: &serde_json::Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[test]
    fn a_minted_token_verifies_with_its_secret_only() {
        let keys = JwtKeys::new(b"secret-one");
        let p = Principal {
            id: UserId::generate(),
            role: Role::Admin,
        };
        let t = keys.mint(&p, now(), 60);
        assert_eq!(keys.verify(&t), Ok(p));
        assert_eq!(
            JwtKeys::new(b"secret-two").verify(&t),
            Err(AuthError::Invalid)
        );
    }

    #[test]
    fn expired_none_and_exp_less_tokens_are_refused() {
        let keys = JwtKeys::new(b"s");
        let p = Principal {
            id: UserId::generate(),
            role: Role::Client,
        };
        assert_eq!(
            keys.verify(&keys.mint(&p, now() - 100, 10)),
            Err(AuthError::Invalid)
        );
        let none = format!(
            "{}.{}.",
            b64(&serde_json::json!({"alg": "none", "typ": "JWT"})),
            b64(&serde_json::json!({"id": p.id.as_str(), "role": "admin", "exp": now() + 100}))
        );
        assert_eq!(keys.verify(&none), Err(AuthError::Invalid));
        let no_exp = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"id": p.id.as_str(), "role": "client"}),
            &EncodingKey::from_secret(b"s"),
        )
        .unwrap();
        assert_eq!(keys.verify(&no_exp), Err(AuthError::Invalid));
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &serde_json::json!({"id": p.id.as_str(), "role": "client", "exp": now() + 100}),
            &EncodingKey::from_secret(b"s"),
        )
        .unwrap();
        assert_eq!(keys.verify(&hs512), Err(AuthError::Invalid));
    }

    #[test]
    fn a_token_not_valid_yet_or_with_a_critical_extension_is_refused() {
        let keys = JwtKeys::new(b"s");
        let id = UserId::generate();
        let claims = |extra: serde_json::Value| {
            let mut c =
                serde_json::json!({"id": id.as_str(), "role": "client", "exp": now() + 600});
            c.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            c
        };
        let sign = |header: &Header, c: &serde_json::Value| {
            jsonwebtoken::encode(header, c, &EncodingKey::from_secret(b"s")).unwrap()
        };
        let hs256 = Header::new(Algorithm::HS256);
        let later = sign(&hs256, &claims(serde_json::json!({"nbf": now() + 300})));
        assert_eq!(keys.verify(&later), Err(AuthError::Invalid));
        let earlier = sign(&hs256, &claims(serde_json::json!({"nbf": now() - 5})));
        assert!(keys.verify(&earlier).is_ok());
        let critical = Header {
            crit: Some(vec!["exp-ext".into()]),
            ..Header::new(Algorithm::HS256)
        };
        let t = sign(&critical, &claims(serde_json::json!({})));
        assert_eq!(keys.verify(&t), Err(AuthError::Invalid));
    }

    #[test]
    fn sub_is_accepted_for_id_and_unknown_roles_are_refused() {
        let keys = JwtKeys::new(b"s");
        let id = UserId::generate();
        let t = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"sub": id.as_str(), "role": "freelancer", "exp": now() + 100}),
            &EncodingKey::from_secret(b"s"),
        )
        .unwrap();
        assert_eq!(keys.verify(&t).unwrap().role, Role::Freelancer);
        let t = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"id": id.as_str(), "role": "root", "exp": now() + 100}),
            &EncodingKey::from_secret(b"s"),
        )
        .unwrap();
        assert_eq!(keys.verify(&t), Err(AuthError::Invalid));
    }

    #[test]
    fn bearer_headers_are_parsed_strictly() {
        assert_eq!(bearer(Some("Bearer abc")), Ok("abc"));
        assert_eq!(bearer(None), Err(AuthError::Missing));
        assert_eq!(bearer(Some("Basic abc")), Err(AuthError::Invalid));
        assert_eq!(bearer(Some("Bearer")), Err(AuthError::Invalid));
    }
}
