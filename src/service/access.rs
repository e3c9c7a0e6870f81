//! Who calls, and whether they may. Every use case a person starts takes a [`Permit`], which
//! only [`Service::permit`](super::Service::permit) makes: it checks the caller's role (and,
//! where the route names a user, that the user is the caller) before the request's body is
//! even parsed, so "not allowed" is answered before "invalid", and no use case can run
//! unauthorized. What needs the stored record (is this contract yours?) is checked inside the
//! use case, against the record it read.

use crate::auth::{Principal, Role};
use crate::domain::{Contract, Party, RequestTag, UserId};

use super::error::{Error, ErrorCode, Result};

/// An admin acting outside HTTP (the CLI), recorded by name in the escrow history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub actor: String,
}

/// Who calls a use case: a signed-in user (from a verified token), or an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    User(Principal),
    Operator(Operator),
}

impl Caller {
    pub fn operator(actor: impl Into<String>) -> Caller {
        Caller::Operator(Operator {
            actor: actor.into(),
        })
    }

    /// Text recorded in escrow history: `admin:64b…`, `client:…`, or the operator's name.
    pub fn actor(&self) -> String {
        match self {
            Caller::User(p) => p.actor(),
            Caller::Operator(o) => o.actor.clone(),
        }
    }

    /// Operators act as admins.
    pub fn is_admin(&self) -> bool {
        match self {
            Caller::User(p) => p.is_admin(),
            Caller::Operator(_) => true,
        }
    }

    pub fn user(&self) -> Option<&Principal> {
        match self {
            Caller::User(p) => Some(p),
            Caller::Operator(_) => None,
        }
    }

    fn has_role(&self, role: Role) -> bool {
        match self {
            Caller::User(p) => p.role == role,
            Caller::Operator(_) => role == Role::Admin,
        }
    }

    /// What the caller is to a contract: an admin, or its client or freelancer; `None` when
    /// it is none of those.
    pub fn party_in(&self, c: &Contract) -> Option<Party> {
        match self {
            Caller::Operator(_) => Some(Party::Admin),
            Caller::User(p) => match p.role {
                Role::Admin => Some(Party::Admin),
                Role::Client if p.id == c.client_id => Some(Party::Client),
                Role::Freelancer if p.id == c.freelancer_id => Some(Party::Freelancer),
                _ => None,
            },
        }
    }
}

/// What a caller asks to do, with the user a route names where it names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UseCase<'a> {
    CreateContract,
    ApproveContract,
    UpdateStatus,
    /// Read one contract (its parties and admins; checked against the record).
    ViewContract,
    Checkout,
    RequestRelease,
    Release,
    /// `client`: the client the route names (`refund-client/:contractId/:clientId`).
    Refund {
        client: Option<&'a UserId>,
    },
    /// Held funds, revenue, the escrow list, the sales report.
    Reports,
    /// `owner`: whose wallet.
    ViewWallet {
        owner: &'a UserId,
    },
    /// `client`: the client the route names (`rate-freelancer/:clientId`).
    RateFreelancer {
        client: &'a UserId,
    },
    Upload,
    /// Operators' reads: webhook events, verification, a contract's review.
    Operate,
    /// `owner`: whose contracts (the original's `get-contracts/:clientId` and
    /// `…/:freelancerId`, `is-created/:jobId/:clientId`, the wallet pages).
    ListContracts {
        owner: &'a UserId,
    },
    /// Dispute a contract's held escrow: its client.
    Dispute,
    /// Answer a dispute: the contract's freelancer.
    RespondDispute,
    /// Resolve a dispute with a split, and list disputes: admins.
    ResolveDispute,
    /// Cancel a contract no money is held for: its client, or an admin.
    CancelContract,
    /// `owner`: whose connected account and payouts (a freelancer's own; an admin's any).
    Payouts {
        owner: &'a UserId,
    },
    /// Every payout, and retrying a failed one: admins.
    OperatePayouts,
}

impl UseCase<'_> {
    /// The roles that may ask for it.
    fn roles(&self) -> &'static [Role] {
        use Role::*;
        match self {
            UseCase::CreateContract
            | UseCase::Checkout
            | UseCase::RequestRelease
            | UseCase::Dispute => &[Client],
            UseCase::RespondDispute => &[Freelancer],
            UseCase::ResolveDispute => &[Admin],
            UseCase::RateFreelancer { .. } => &[Client],
            UseCase::ApproveContract | UseCase::UpdateStatus => &[Freelancer],
            UseCase::Release | UseCase::Reports | UseCase::Operate => &[Admin],
            UseCase::Refund { .. } => &[Admin, Client],
            UseCase::ViewContract
            | UseCase::ViewWallet { .. }
            | UseCase::Upload
            | UseCase::ListContracts { .. } => &[Client, Freelancer, Admin],
            UseCase::CancelContract => &[Client, Admin],
            UseCase::Payouts { .. } => &[Freelancer, Admin],
            UseCase::OperatePayouts => &[Admin],
        }
    }
}

/// Proof that a caller may run one use case. Made only by `Service::permit`.
#[derive(Debug, Clone, Copy)]
pub struct Permit<'a> {
    caller: &'a Caller,
    use_case: UseCase<'a>,
    request: Option<&'a RequestTag>,
}

impl<'a> Permit<'a> {
    /// Checks the use case's rule for `caller` (see the module docs).
    pub(super) fn check(caller: &'a Caller, use_case: UseCase<'a>) -> Result<Permit<'a>> {
        let role_ok = use_case.roles().iter().any(|r| caller.has_role(*r));
        if !role_ok {
            let role = caller.user().map_or("operator", |p| p.role.as_str());
            return Err(Error::new(
                ErrorCode::AuthWrongRole,
                format!("this action is not open to the {role} role"),
            ));
        }
        let me = caller.user();
        let not_owner = |what: &str| Err(Error::new(ErrorCode::AuthNotOwner, what.to_string()));
        match use_case {
            UseCase::ViewWallet { owner }
                if !caller.is_admin() && me.is_some_and(|p| &p.id != owner) =>
            {
                return not_owner("this wallet is not yours");
            }
            UseCase::Payouts { owner }
                if !caller.is_admin() && me.is_some_and(|p| &p.id != owner) =>
            {
                return not_owner("these payouts are not yours");
            }
            UseCase::ListContracts { owner }
                if !caller.is_admin() && me.is_some_and(|p| &p.id != owner) =>
            {
                return not_owner("the user id in the path is not yours");
            }
            UseCase::RateFreelancer { client }
            | UseCase::Refund {
                client: Some(client),
            } if !caller.is_admin() && me.is_some_and(|p| &p.id != client) => {
                return not_owner("the client id in the path is not yours");
            }
            _ => {}
        }
        Ok(Permit {
            caller,
            use_case,
            request: None,
        })
    }

    /// This permit, used by the idempotent request `tag` (an HTTP request with an
    /// `Idempotency-Key`): what it changes remembers the request, so a retry of it is answered
    /// as its first try was.
    pub fn in_request(self, tag: Option<&'a RequestTag>) -> Permit<'a> {
        Permit {
            request: tag,
            ..self
        }
    }

    pub fn caller(&self) -> &'a Caller {
        self.caller
    }

    /// This permit for a route that names its caller (the original's
    /// `approve-contract/:contractId/:freelancerId`, `create-contract/:jobId/:clientId`): a
    /// user who names someone else is refused (403); operators name nobody.
    pub fn naming(self, user: &UserId) -> Result<Permit<'a>> {
        match self.caller.user() {
            Some(p) if &p.id != user => Err(Error::new(
                ErrorCode::AuthNotOwner,
                "the user id in the path is not yours",
            )),
            _ => Ok(self),
        }
    }

    /// The idempotent request this permit is used by, if any.
    pub(super) fn request(&self) -> Option<&'a RequestTag> {
        self.request
    }

    /// The caller, for a use case of `expected`'s kind (its route's user aside): a permit
    /// made for another use case is a bug.
    pub(super) fn expect(&self, expected: UseCase<'_>) -> &'a Caller {
        assert_eq!(
            std::mem::discriminant(&self.use_case),
            std::mem::discriminant(&expected),
            "a permit for {:?} used for {expected:?}",
            self.use_case
        );
        self.caller
    }

    pub(super) fn use_case(&self) -> UseCase<'a> {
        self.use_case
    }

    /// The client the route named, for a refund (`None` from the CLI) or a review.
    pub(super) fn route_client(&self) -> Option<&'a UserId> {
        match self.use_case {
            UseCase::Refund { client } => client,
            UseCase::RateFreelancer { client } => Some(client),
            _ => None,
        }
    }
}

/// "This contract is not yours."
pub(super) fn not_party() -> Error {
    Error::new(ErrorCode::AuthNotParty, "this contract is not yours")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: Role) -> Caller {
        Caller::User(Principal {
            id: UserId::generate(),
            role,
        })
    }

    #[test]
    fn a_use_case_is_open_to_its_roles_and_operators_act_as_admins() {
        let op = Caller::operator("cli:root@host");
        assert!(Permit::check(&op, UseCase::Release).is_ok());
        assert!(Permit::check(&op, UseCase::CreateContract).is_err());
        let client = user(Role::Client);
        let e = Permit::check(&client, UseCase::Release).unwrap_err();
        assert_eq!(e.code, ErrorCode::AuthWrongRole);
        assert!(Permit::check(&client, UseCase::CreateContract).is_ok());
    }

    #[test]
    fn a_user_named_by_the_route_must_be_the_caller_unless_an_admin_asks() {
        let client = user(Role::Client);
        let other = UserId::generate();
        let e = Permit::check(&client, UseCase::RateFreelancer { client: &other }).unwrap_err();
        assert_eq!(e.code, ErrorCode::AuthNotOwner);
        let e = Permit::check(
            &client,
            UseCase::Refund {
                client: Some(&other),
            },
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::AuthNotOwner);
        let e = Permit::check(&client, UseCase::ViewWallet { owner: &other }).unwrap_err();
        assert_eq!(e.code, ErrorCode::AuthNotOwner);
        let admin = user(Role::Admin);
        assert!(Permit::check(&admin, UseCase::ViewWallet { owner: &other }).is_ok());
        assert!(
            Permit::check(
                &admin,
                UseCase::Refund {
                    client: Some(&other)
                }
            )
            .is_ok()
        );
    }
}
