//! Payouts (`payouts`), the wallet debits behind them (`wallet_debits`) and connected accounts
//! (`connected_accounts`).
//!
//! A payout document is like a contract document: the record in `record`, its ledger entries
//! embedded in `ledger` and projected into `ledger_entries` after each compare-and-set (the
//! same repair step finishes an interrupted projection), query fields copied beside it.
//!
//! # The wallet debit without a transaction
//!
//! A wallet's credits come from contract documents (releases, kill fees) and from payouts that
//! gave money back; its debits only from payouts. Credits only ever grow, so any read of them
//! is a lower bound of what the wallet has at any later moment. The debits are guarded by one
//! document per wallet and currency, `wallet_debits` (`_id: "<user>:<currency>"`): `debited`,
//! the sum of every debit ever reserved, and `inFlight`, the reservations whose payout is not
//! yet saved as debited. Every change of it is a compare-and-set on its `version`, so of two
//! debits of one wallet one sees the other's reservation. A debit is four single-document
//! writes:
//!
//! 1. **Record** the payout `requested` (insert; or, for a retry, a compare-and-set).
//! 2. **Reserve**: read the wallet document, sum the wallet's positive entries (the credits, a
//!    lower bound), refuse when `credits - debited < amount`, else add the amount to
//!    `debited` and a reservation `{payout, token, amount, at}` to `inFlight`, with a
//!    compare-and-set (lost → read again). A reservation already there for this payout (a
//!    repair's, or an earlier try's) is taken over instead.
//! 3. **Commit**: the payout's compare-and-set `requested` → `pending` with the debit's entries
//!    and the reservation's token (`debitToken`).
//! 4. **Settle**: remove the reservation from `inFlight`.
//!
//! Refused at 2: a new payout's document is deleted, a retried one goes back to `failed`.
//! A reservation whose payout was committed under another token is **undone** (`debited`
//! back down, reservation removed): only a race between a request and the repair step makes
//! one. So `debited` never falls below the debits in the ledger, and the ledger's wallet
//! balance never below zero: at each reservation, credits (then) ≥ `debited` (after).
//!
//! Crashes: between 1 and 2 a `requested` payout with no reservation; between 2 and 3 a
//! reservation whose payout is `requested`; between 3 and 4 a reservation whose payout holds
//! its token. [`PayoutStore::repair_debits`] (the maintenance task) finishes each once it is
//! older than any request can run (the service's grace period): 2–4 for the first, 3–4 for the second, 4 for the third, and undoes a
//! reservation whose payout has another token. Every step is a compare-and-set or keyed by
//! the token, so a repair racing the request it repairs does each step once.

use async_trait::async_trait;
use bson::{Document, doc};
use serde::{Deserialize, Serialize};

use super::{MongoStore, collect, is_duplicate_key, map_err};
use crate::domain::{
    Account, ConnectedAccount, LedgerEntry, MinorUnits, Payout, PayoutId, PayoutStatus, Transfer,
    UserId,
};
use crate::store::{Debit, Page, PayoutFilter, PayoutStore, StoreError, StoreResult};

pub(super) const PAYOUTS: &str = "payouts";
pub(super) const WALLET_DEBITS: &str = "wallet_debits";
pub(super) const CONNECTED_ACCOUNTS: &str = "connected_accounts";

/// How many times a step re-reads after losing a compare-and-set.
const CAS_TRIES: usize = 64;

/// The payout document.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PayoutDoc {
    #[serde(rename = "_id")]
    pub(super) id: String,
    pub(super) version: i64,
    user_id: String,
    status: String,
    provider_work: bool,
    created_at: i64,
    updated_at: i64,
    pub(super) record: Payout,
    pub(super) ledger: Vec<LedgerEntry>,
    pub(super) ledger_projected: i64,
    pub(super) ledger_unprojected: i64,
}

impl PayoutDoc {
    fn new(p: &Payout, ledger: Vec<LedgerEntry>, ledger_projected: i64) -> PayoutDoc {
        let ledger_projected = ledger_projected.clamp(0, ledger.len() as i64);
        PayoutDoc {
            id: p.id.to_string(),
            version: p.version,
            user_id: p.user.to_string(),
            status: p.status.as_str().into(),
            provider_work: p.has_provider_work(),
            created_at: p.created_at,
            updated_at: p.updated_at,
            record: p.clone(),
            ledger_unprojected: ledger.len() as i64 - ledger_projected,
            ledger,
            ledger_projected,
        }
    }
}

/// One reservation of a wallet debit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reservation {
    payout: String,
    token: String,
    amount: i64,
    at: i64,
}

/// The guard of one wallet's debits (see the module's text).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WalletDebits {
    #[serde(rename = "_id")]
    id: String,
    version: i64,
    debited: i64,
    in_flight: Vec<Reservation>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AccountDoc {
    /// The user id.
    #[serde(rename = "_id")]
    id: String,
    account_id: String,
    described_at: i64,
    record: ConnectedAccount,
}

#[derive(Debug, Deserialize)]
struct RecordOnly {
    record: Payout,
}

#[derive(Debug, Deserialize)]
struct Total {
    #[serde(default)]
    total: Option<i64>,
}

fn wallet_key(p: &Payout) -> String {
    format!("{}:{}", p.user, p.currency.code())
}

fn encode<T: Serialize>(what: &str, v: &T) -> StoreResult<Document> {
    bson::to_document(v).map_err(|e| StoreError::other_from(format!("cannot encode {what}"), e))
}

/// What the reserve step found.
enum Reserved {
    Token(String),
    Insufficient(MinorUnits),
}

impl MongoStore {
    pub(super) async fn create_payout_indexes(&self) -> StoreResult<()> {
        let index = |keys: Document| mongodb::IndexModel::builder().keys(keys).build();
        self.payouts
            .create_indexes([
                index(doc! {"userId": 1, "createdAt": -1}),
                index(doc! {"status": 1, "createdAt": -1}),
                index(doc! {"createdAt": -1}),
                index(doc! {"providerWork": 1}),
                index(doc! {"ledgerUnprojected": 1}),
            ])
            .await
            .map_err(map_err)?;
        self.connected_accounts
            .create_indexes([mongodb::IndexModel::builder()
                .keys(doc! {"accountId": 1})
                .options(
                    mongodb::options::IndexOptions::builder()
                        .unique(true)
                        .build(),
                )
                .build()])
            .await
            .map_err(map_err)?;
        self.wallet_debits
            .create_indexes([index(doc! {"inFlight.at": 1})])
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// Inserts a payout's unprojected entries into `ledger_entries` and marks them projected.
    async fn project_payout(&self, d: &PayoutDoc) -> StoreResult<()> {
        self.project_ledger(
            &self.payouts,
            &d.id,
            d.version,
            &d.ledger,
            d.ledger_projected,
        )
        .await
    }

    /// Finishes every payout's interrupted ledger projection (part of the repair step that
    /// runs before each ledger read).
    pub(super) async fn repair_payout_projection(&self) -> StoreResult<u64> {
        let pending = collect(
            self.payouts
                .find(doc! {"ledgerUnprojected": {"$gt": 0_i64}})
                .await
                .map_err(map_err)?,
        )
        .await?;
        for d in &pending {
            self.project_payout(d).await?;
        }
        Ok(pending.len() as u64)
    }

    async fn payout_doc(&self, id: &str) -> StoreResult<Option<PayoutDoc>> {
        self.payouts
            .find_one(doc! {"_id": id})
            .await
            .map_err(map_err)
    }

    /// The compare-and-set of a payout document: `p` (version `expected + 1`) with `entries`
    /// appended to its ledger; then the projection. `Conflict` when it lost.
    async fn cas_payout(
        &self,
        p: &Payout,
        expected: i64,
        entries: &[LedgerEntry],
    ) -> StoreResult<()> {
        let current = self
            .payout_doc(p.id.as_str())
            .await?
            .ok_or(StoreError::NotFound)?;
        if current.version != expected {
            return Err(StoreError::Conflict);
        }
        let mut ledger = current.ledger;
        for e in entries {
            if ledger.iter().any(|x| x.id == e.id) {
                return Err(StoreError::Duplicate(format!(
                    "ledger entry {} already exists",
                    e.id
                )));
            }
            ledger.push(e.clone());
        }
        let next = PayoutDoc::new(p, ledger, current.ledger_projected);
        let replaced = self
            .payouts
            .clone_with_type::<Document>()
            .find_one_and_replace(
                doc! {"_id": p.id.as_str(), "version": expected},
                encode("a payout", &next)?,
            )
            .projection(doc! {"_id": 1})
            .await
            .map_err(map_err)?;
        if replaced.is_none() {
            return Err(StoreError::Conflict);
        }
        if next.ledger_unprojected > 0
            && let Err(e) = self.project_payout(&next).await
        {
            tracing::warn!(payout = %p.id, error = %e, "ledger projection deferred to the repair step");
        }
        Ok(())
    }

    /// What the wallet has been credited so far (its positive entries): a lower bound of its
    /// credits at any later moment.
    async fn wallet_credits(&self, p: &Payout) -> StoreResult<i64> {
        let account = Account::Wallet(p.user.clone()).to_string();
        let cursor = self
            .entries
            .clone_with_type::<Total>()
            .aggregate([
                doc! {"$match": {"account": account, "currency": p.currency.code(), "amount": {"$gt": 0_i64}}},
                doc! {"$group": {"_id": null, "total": {"$sum": "$amount"}}},
            ])
            .with_type::<Total>()
            .await
            .map_err(map_err)?;
        Ok(collect(cursor)
            .await?
            .first()
            .and_then(|t| t.total)
            .unwrap_or(0))
    }

    /// Replaces the wallet document if it is still at `expected` (`None`: absent); whether it
    /// was.
    async fn cas_wallet(&self, next: &WalletDebits, expected: Option<i64>) -> StoreResult<bool> {
        let coll = &self.wallet_debits;
        match expected {
            None => match coll.insert_one(next).await {
                Ok(_) => Ok(true),
                Err(e) if is_duplicate_key(&e) => Ok(false),
                Err(e) => Err(map_err(e)),
            },
            Some(v) => Ok(coll
                .clone_with_type::<Document>()
                .find_one_and_replace(
                    doc! {"_id": &next.id, "version": v},
                    encode("a wallet debit", next)?,
                )
                .projection(doc! {"_id": 1})
                .await
                .map_err(map_err)?
                .is_some()),
        }
    }

    /// Step 2: reserves the payout's amount on its wallet (or takes over a reservation
    /// already there for it).
    async fn reserve(&self, p: &Payout, now: i64) -> StoreResult<Reserved> {
        let key = wallet_key(p);
        for _ in 0..CAS_TRIES {
            let found = self
                .wallet_debits
                .find_one(doc! {"_id": &key})
                .await
                .map_err(map_err)?;
            let expected = found.as_ref().map(|w| w.version);
            let mut w = found.unwrap_or_else(|| WalletDebits {
                id: key.clone(),
                ..Default::default()
            });
            if let Some(r) = w.in_flight.iter().find(|r| r.payout == p.id.as_str()) {
                return Ok(Reserved::Token(r.token.clone()));
            }
            let available = self.wallet_credits(p).await? - w.debited;
            if available < p.amount.get() {
                return Ok(Reserved::Insufficient(MinorUnits::new(available.max(0))));
            }
            let token = hex::encode(rand::random::<[u8; 12]>());
            w.version = expected.unwrap_or(0) + 1;
            w.debited += p.amount.get();
            w.in_flight.push(Reservation {
                payout: p.id.to_string(),
                token: token.clone(),
                amount: p.amount.get(),
                at: now,
            });
            if self.cas_wallet(&w, expected).await? {
                return Ok(Reserved::Token(token));
            }
        }
        Err(StoreError::Conflict)
    }

    /// Removes the reservation `token` from the wallet document; `undo` also takes its amount
    /// back off `debited`. A no-op when it is not there (done already).
    async fn drop_reservation(&self, key: &str, token: &str, undo: bool) -> StoreResult<()> {
        for _ in 0..CAS_TRIES {
            let Some(mut w) = self
                .wallet_debits
                .find_one(doc! {"_id": key})
                .await
                .map_err(map_err)?
            else {
                return Ok(());
            };
            let Some(i) = w.in_flight.iter().position(|r| r.token == token) else {
                return Ok(());
            };
            let r = w.in_flight.remove(i);
            if undo {
                w.debited -= r.amount;
            }
            let expected = w.version;
            w.version += 1;
            if self.cas_wallet(&w, Some(expected)).await? {
                return Ok(());
            }
        }
        Err(StoreError::Conflict)
    }

    /// Steps 3 and 4 for the payout `id` under reservation `token`: commits the debit unless
    /// the payout already holds another, then settles (or undoes) the reservation. The payout
    /// as it ends up, or `None` when it is gone.
    async fn commit(
        &self,
        id: &str,
        key: &str,
        token: &str,
        now: i64,
    ) -> StoreResult<Option<Payout>> {
        for _ in 0..CAS_TRIES {
            let Some(d) = self.payout_doc(id).await? else {
                self.drop_reservation(key, token, true).await?;
                return Ok(None);
            };
            let mut p = d.record;
            if p.status != PayoutStatus::Requested {
                let mine = p.debit_token == token;
                self.drop_reservation(key, token, !mine).await?;
                return Ok(Some(p));
            }
            let transfers = p
                .debit(token, now)
                .map_err(|e| StoreError::other(format!("cannot debit: {e}")))?;
            p.version = d.version + 1;
            let entries: Vec<_> = transfers.iter().flat_map(Transfer::entries).collect();
            match self.cas_payout(&p, d.version, &entries).await {
                Ok(()) => {
                    self.drop_reservation(key, token, false).await?;
                    return Ok(Some(p));
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict)
    }

    /// A debit refused for want of money: a new payout's document goes, a retried one goes
    /// back to `failed`.
    async fn refuse(
        &self,
        p: &Payout,
        version: i64,
        available: MinorUnits,
        now: i64,
    ) -> StoreResult<()> {
        if p.attempt <= 1 {
            self.payouts
                .delete_one(doc! {"_id": p.id.as_str(), "version": version})
                .await
                .map_err(map_err)?;
            return Ok(());
        }
        let mut back = p.clone();
        back.status = PayoutStatus::Failed;
        back.failure = Some(format!(
            "the wallet held {available} at the retry, less than the amount"
        ));
        back.updated_at = now;
        back.version = version + 1;
        match self.cas_payout(&back, version, &[]).await {
            Ok(()) | Err(StoreError::Conflict) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Steps 2–4 for a payout recorded `requested` at `version`.
    async fn debit_recorded(&self, p: &Payout, version: i64, now: i64) -> StoreResult<Debit> {
        let key = wallet_key(p);
        match self.reserve(p, now).await? {
            Reserved::Insufficient(available) => {
                self.refuse(p, version, available, now).await?;
                Ok(Debit::Insufficient { available })
            }
            Reserved::Token(token) => match self.commit(p.id.as_str(), &key, &token, now).await? {
                Some(done) if done.status != PayoutStatus::Requested => {
                    Ok(Debit::Done(Box::new(done)))
                }
                _ => Err(StoreError::Conflict),
            },
        }
    }

    /// Step 1, then stops: what a process that died right after recording a payout left.
    /// For the crash tests only.
    #[doc(hidden)]
    pub async fn record_payout_then_crash(&self, payout: &Payout) -> StoreResult<()> {
        let mut p = payout.clone();
        p.version = 1;
        self.payouts
            .insert_one(PayoutDoc::new(&p, vec![], 0))
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// Steps 1 and 2, then stops (a reservation whose payout is still `requested`). For the
    /// crash tests only.
    #[doc(hidden)]
    pub async fn reserve_payout_then_crash(&self, payout: &Payout, now: i64) -> StoreResult<bool> {
        self.record_payout_then_crash(payout).await?;
        Ok(matches!(
            self.reserve(payout, now).await?,
            Reserved::Token(_)
        ))
    }
}

#[async_trait]
impl PayoutStore for MongoStore {
    async fn debit_payout(
        &self,
        payout: &Payout,
        expected_version: Option<i64>,
        now: i64,
    ) -> StoreResult<Debit> {
        let mut p = payout.clone();
        let version = match expected_version {
            None => {
                p.version = 1;
                match self.payouts.insert_one(PayoutDoc::new(&p, vec![], 0)).await {
                    Ok(_) => 1,
                    Err(e) if is_duplicate_key(&e) => {
                        return Err(StoreError::Duplicate(format!("payout {} exists", p.id)));
                    }
                    Err(e) => return Err(map_err(e)),
                }
            }
            Some(v) => {
                p.version = v + 1;
                self.cas_payout(&p, v, &[]).await?;
                v + 1
            }
        };
        self.debit_recorded(&p, version, now).await
    }

    async fn save_payout(
        &self,
        payout: &Payout,
        expected_version: i64,
        entries: &[LedgerEntry],
    ) -> StoreResult<()> {
        assert_eq!(
            payout.version,
            expected_version + 1,
            "a save must bump the version by one"
        );
        self.cas_payout(payout, expected_version, entries).await
    }

    async fn get_payout(&self, id: &PayoutId) -> StoreResult<Option<Payout>> {
        Ok(self
            .payouts
            .clone_with_type::<RecordOnly>()
            .find_one(doc! {"_id": id.as_str()})
            .projection(doc! {"record": 1})
            .await
            .map_err(map_err)?
            .map(|r| r.record))
    }

    async fn list_payouts(
        &self,
        filter: &PayoutFilter,
        page: &Page,
    ) -> StoreResult<(Option<u64>, Vec<Payout>)> {
        let mut f = Document::new();
        if let Some(u) = &filter.user {
            f.insert("userId", u.as_str());
        }
        if let Some(s) = filter.status {
            f.insert("status", s.as_str());
        }
        let count = match page.count {
            false => None,
            true => Some(
                self.payouts
                    .count_documents(f.clone())
                    .await
                    .map_err(map_err)?,
            ),
        };
        let cursor = self
            .payouts
            .clone_with_type::<RecordOnly>()
            .find(super::keyset_filter(f, "createdAt", page))
            .projection(doc! {"record": 1})
            .sort(doc! {"createdAt": -1, "_id": -1})
            .skip(page.offset())
            .limit(page.limit.into())
            .await
            .map_err(map_err)?;
        Ok((
            count,
            collect(cursor)
                .await?
                .into_iter()
                .map(|r| r.record)
                .collect(),
        ))
    }

    async fn payouts_with_provider_work(&self) -> StoreResult<Vec<PayoutId>> {
        super::ids_with_provider_work(&self.payouts).await
    }

    async fn payouts_after(
        &self,
        after: Option<&PayoutId>,
        limit: u32,
    ) -> StoreResult<Vec<Payout>> {
        let filter = match after {
            Some(a) => doc! {"_id": {"$gt": a.as_str()}},
            None => doc! {},
        };
        let cursor = self
            .payouts
            .clone_with_type::<RecordOnly>()
            .find(filter)
            .projection(doc! {"record": 1})
            .sort(doc! {"_id": 1})
            .limit(limit.into())
            .await
            .map_err(map_err)?;
        Ok(collect(cursor)
            .await?
            .into_iter()
            .map(|r| r.record)
            .collect())
    }

    async fn repair_debits(&self, before: i64, now: i64) -> StoreResult<u64> {
        let mut repaired = 0;
        // Reservations left between steps 2 and 4.
        let wallets = collect(
            self.wallet_debits
                .find(doc! {"inFlight.at": {"$lt": before}})
                .await
                .map_err(map_err)?,
        )
        .await?;
        for w in wallets {
            for r in w.in_flight.iter().filter(|r| r.at < before) {
                self.commit(&r.payout, &w.id, &r.token, now).await?;
                repaired += 1;
            }
        }
        // Payouts left between steps 1 and 2.
        let stuck = collect(
            self.payouts
                .find(
                    doc! {"status": PayoutStatus::Requested.as_str(), "updatedAt": {"$lt": before}},
                )
                .await
                .map_err(map_err)?,
        )
        .await?;
        for d in stuck {
            match self.debit_recorded(&d.record, d.version, now).await {
                Ok(_) | Err(StoreError::Conflict) => repaired += 1,
                Err(e) => return Err(e),
            }
        }
        if repaired > 0 {
            tracing::warn!(
                debits = repaired,
                "finished wallet debits interrupted by a crash"
            );
        }
        Ok(repaired)
    }

    async fn connected_account(&self, user: &UserId) -> StoreResult<Option<ConnectedAccount>> {
        Ok(self
            .connected_accounts
            .find_one(doc! {"_id": user.as_str()})
            .await
            .map_err(map_err)?
            .map(|d| d.record))
    }

    async fn connected_account_by_id(
        &self,
        account_id: &str,
    ) -> StoreResult<Option<ConnectedAccount>> {
        Ok(self
            .connected_accounts
            .find_one(doc! {"accountId": account_id})
            .await
            .map_err(map_err)?
            .map(|d| d.record))
    }

    async fn insert_connected_account(
        &self,
        account: &ConnectedAccount,
    ) -> StoreResult<ConnectedAccount> {
        let d = AccountDoc {
            id: account.user.to_string(),
            account_id: account.account_id.clone(),
            described_at: account.described_at,
            record: account.clone(),
        };
        match self.connected_accounts.insert_one(&d).await {
            Ok(_) => Ok(account.clone()),
            Err(e) if is_duplicate_key(&e) => {
                self.connected_account(&account.user).await?.ok_or_else(|| {
                    StoreError::Duplicate(format!(
                        "connected account {} belongs to another user",
                        account.account_id
                    ))
                })
            }
            Err(e) => Err(map_err(e)),
        }
    }

    async fn describe_connected_account(&self, account: &ConnectedAccount) -> StoreResult<bool> {
        let d = AccountDoc {
            id: account.user.to_string(),
            account_id: account.account_id.clone(),
            described_at: account.described_at,
            record: account.clone(),
        };
        Ok(self
            .connected_accounts
            .clone_with_type::<Document>()
            .find_one_and_replace(
                doc! {
                    "_id": account.user.as_str(),
                    "accountId": &account.account_id,
                    "describedAt": {"$lte": account.described_at},
                },
                encode("a connected account", &d)?,
            )
            .projection(doc! {"_id": 1})
            .await
            .map_err(map_err)?
            .is_some())
    }
}
