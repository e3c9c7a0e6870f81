//! Identifier newtypes. Every entity id is a 24-character lower-case hex string, the shape of a
//! MongoDB ObjectId, so the original app's clients keep sending what they sent. Ids are kept as
//! strings everywhere (store filters included): see `notes/mongodb-emulator.md` for why.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} {value:?} is not a 24-character hex id")]
pub struct IdError {
    pub kind: &'static str,
    pub value: String,
}

fn is_object_id_hex(s: &str) -> bool {
    s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A new ObjectId-shaped hex string: 4 bytes of seconds, 5 random bytes, 3 bytes of counter.
pub fn new_object_id_hex() -> String {
    let secs = chrono::Utc::now().timestamp() as u32;
    let random: [u8; 5] = rand::random();
    let count = COUNTER.fetch_add(1, Ordering::Relaxed) & 0x00ff_ffff;
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&secs.to_be_bytes());
    bytes[4..9].copy_from_slice(&random);
    bytes[9..].copy_from_slice(&count.to_be_bytes()[1..]);
    hex::encode(bytes)
}

macro_rules! object_id {
    ($name:ident, $kind:literal) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, IdError> {
                if is_object_id_hex(s) {
                    Ok($name(s.to_ascii_lowercase()))
                } else {
                    Err(IdError {
                        kind: $kind,
                        value: s.chars().take(64).collect(),
                    })
                }
            }

            pub fn generate() -> Self {
                $name(new_object_id_hex())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            /// Like [`Self::parse`], keeping the string's allocation.
            fn try_from(mut s: String) -> Result<Self, IdError> {
                if is_object_id_hex(&s) {
                    s.make_ascii_lowercase();
                    Ok($name(s))
                } else {
                    $name::parse(&s)
                }
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                $name::parse(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

object_id!(ContractId, "contract id");
object_id!(JobId, "job id");
object_id!(UserId, "user id");
object_id!(ReviewId, "review id");
object_id!(PayoutId, "payout id");

/// How a request names a contract: by its id, or by the human id the original app shows and
/// its clients send back ("CON00000042", [`crate::domain::Contract::human_id`]). The response
/// field the original calls `contractId` is the human id, so a client that feeds it to a
/// `/:contractId` route gets the contract it means instead of a 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContractRef {
    Id(ContractId),
    Number(u64),
}

/// The longest number a human id may carry: `u64` digits, and no store counter gets near it.
const HUMAN_ID_DIGITS_MAX: usize = 19;

impl ContractRef {
    /// A 24-hex id, or "CON" (any case) and 1 to 19 decimal digits.
    pub fn parse(s: &str) -> Result<ContractRef, IdError> {
        if let Ok(id) = ContractId::parse(s) {
            return Ok(ContractRef::Id(id));
        }
        let digits = s
            .get(..3)
            .filter(|p| p.eq_ignore_ascii_case("CON"))
            .map(|_| &s[3..])
            .filter(|d| {
                (1..=HUMAN_ID_DIGITS_MAX).contains(&d.len())
                    && d.bytes().all(|b| b.is_ascii_digit())
            });
        match digits.and_then(|d| d.parse().ok()) {
            Some(n) => Ok(ContractRef::Number(n)),
            None => Err(IdError {
                kind: "contract id",
                value: s.chars().take(64).collect(),
            }),
        }
    }
}

impl std::str::FromStr for ContractRef {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        ContractRef::parse(s)
    }
}

/// Names that come from outside (the payment provider, a client) and are kept as they came:
/// a newtype each, so one is never passed where another is meant. Stored and serialised as
/// plain strings.
macro_rules! reference {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(s: impl Into<String>) -> Self {
                $name(s.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<$name> for String {
            fn from(r: $name) -> String {
                r.0
            }
        }
    };
}

reference!(
    /// A payment at the provider: a payment intent (`pi_…`) or a checkout session (`cs_…`).
    PaymentRef
);
reference!(
    /// A refund at the provider (`re_…`).
    RefundRef
);
reference!(
    /// A webhook event's id at the provider (`evt_…`): what deduplicates its deliveries.
    EventId
);
reference!(
    /// One idempotent request, whatever number of times it is sent: a digest of its caller's
    /// scope, its `Idempotency-Key` and its fingerprint. A record that a request changed keeps
    /// it, so a retry of that request (after a crash lost its stored response) is recognised
    /// and answered as the first try would have been, rather than refused as a repeat.
    RequestTag
);

/// Longest idempotency key, in bytes (visible ASCII only, so bytes are characters); Stripe's
/// limit too.
pub const IDEMPOTENCY_KEY_BYTES_MAX: usize = 255;

/// An idempotency key: a client's `Idempotency-Key` header, or the key this service sends the
/// payment provider with a call (derived from the contract and the action, so every retry
/// sends the same one). 1 to [`IDEMPOTENCY_KEY_BYTES_MAX`] visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// A key given by a client; `None` unless it is 1 to 255 visible ASCII characters.
    pub fn parse(s: &str) -> Option<IdempotencyKey> {
        IdempotencyKey::is_valid(s).then(|| IdempotencyKey(s.to_string()))
    }

    /// A key this service derives for a provider call (from ids and provider references).
    pub fn derived(s: String) -> IdempotencyKey {
        IdempotencyKey(s)
    }

    pub fn is_valid(s: &str) -> bool {
        (1..=IDEMPOTENCY_KEY_BYTES_MAX).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_graphic())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_object_id_hex_and_distinct() {
        let a = ContractId::generate();
        let b = ContractId::generate();
        assert_ne!(a, b);
        assert!(ContractId::parse(a.as_str()).is_ok());
    }

    #[test]
    fn malformed_ids_are_refused() {
        for bad in [
            "",
            "123",
            "zzzzzzzzzzzzzzzzzzzzzzzz",
            "507f1f77bcf86cd7994390111",
            "507f1f77bcf86cd79943901'",
        ] {
            assert!(UserId::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(
            UserId::parse("507F1F77BCF86CD799439011").unwrap().as_str(),
            "507f1f77bcf86cd799439011"
        );
    }

    #[test]
    fn a_contract_is_named_by_its_id_or_its_human_id() {
        let id = ContractId::generate();
        assert_eq!(ContractRef::parse(id.as_str()), Ok(ContractRef::Id(id)));
        assert_eq!(
            ContractRef::parse("CON00000042"),
            Ok(ContractRef::Number(42))
        );
        assert_eq!(ContractRef::parse("con7"), Ok(ContractRef::Number(7)));
        for bad in [
            "",
            "CON",
            "CON-1",
            "CON 1",
            "CON1a",
            "XCON1",
            "CON99999999999999999999",
            "CON\u{0661}",
            "507f1f77bcf86cd79943901",
        ] {
            assert!(ContractRef::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn idempotency_keys_are_short_visible_ascii() {
        assert!(IdempotencyKey::parse("retry-1").is_some());
        assert!(IdempotencyKey::parse(&"k".repeat(IDEMPOTENCY_KEY_BYTES_MAX)).is_some());
        for bad in ["", "a b", "a\nb", "ключ"] {
            assert!(IdempotencyKey::parse(bad).is_none(), "{bad:?}");
        }
        assert!(IdempotencyKey::parse(&"k".repeat(IDEMPOTENCY_KEY_BYTES_MAX + 1)).is_none());
    }
}
