//! The pure domain: money, ids, the contract and escrow state machines, the ledger, reviews,
//! media types and the ledger invariants. No I/O, no async, no clock: time comes in as an
//! argument (Unix milliseconds).

pub mod contract;
pub mod dispute;
pub mod error;
pub mod escrow;
pub mod ids;
pub mod ledger;
pub mod media;
pub mod milestone;
pub mod money;
pub mod payout;
pub mod review;
pub mod timer;
pub mod verify;

pub use contract::{Contract, ContractStatus, Outcome, Party, ReleaseFundStatus, Title};
pub use dispute::{Dispute, DisputeKind, DisputeMark, DisputeStatus};
pub use error::{Action, DomainError, Entity};
pub use escrow::{Escrow, EscrowStatus, FundOutcome, HistoryEntry, Payment, RefundSplit};
pub use ids::{
    ContractId, ContractRef, EventId, IdempotencyKey, JobId, PaymentRef, PayoutId, RefundRef,
    RequestTag, ReviewId, UserId,
};
pub use ledger::{Account, KeptBalances, KeptLists, LedgerEntry, Owner, Transfer, TransferKind};
pub use milestone::{Milestone, MilestoneId, MilestonePlan, MilestoneRef, MilestoneState};
pub use money::{Currency, FeeBps, MinorUnits, Money};
pub use payout::{ConnectedAccount, Payout, PayoutStatus};
pub use review::{Rating, Review};
pub use timer::{Timer, TimerKind};
