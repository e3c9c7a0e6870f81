//! Kept balances on MongoDB: every account's balance and entry count, the total per account
//! kind, and each month of the sales report (gross, fee, earning, releases), folded from
//! `ledger_entries` exactly once per entry without a multi-document transaction.
//!
//! # Why not `$inc` at save time
//!
//! A money transition is one compare-and-set on its contract document; a global balance (the
//! platform's fees, the escrow total) is another document. Moving it with `$inc` after the
//! compare-and-set is a second write that a crash can cut off and a retry can repeat: the
//! balance would drift by exactly the amounts that matter. So balances are not moved by the
//! transition at all. They are *folded* from the projected entries (`ledger_entries`, where an
//! entry's deterministic `_id` already makes its insert happen once), in numbered batches:
//!
//! 1. The checkpoint (`kept_balances` document `_id: "fold"`) names the batch in flight: its
//!    `seq`, the ids of its entries and its `plan` (what the batch adds to each kept document).
//! 2. **Finish** the batch in flight: apply each plan line with `updateOne({_id, foldSeq:
//!    {$lt: seq}}, {$inc, $set: {foldSeq: seq}}, upsert)`. A document that already has this
//!    batch has `foldSeq >= seq`, so the filter misses and the upsert's insert hits its `_id`
//!    (11000): applied once, whoever retries. Then mark the batch's entries `folded: 1`.
//! 3. **Start** the next batch: take up to [`FOLD_BATCH`] entries still `folded: 0`, plan them,
//!    and replace the checkpoint with `{seq: seq + 1, …}` only if it is still at `seq` (the
//!    compare-and-set: of any number of servers folding at once, one starts each batch).
//!    Then finish it as in 2.
//!
//! Batches are disjoint (a batch is started only after its predecessor's entries are marked,
//! and the compare-and-set on `seq` keeps two from starting from one predecessor), and each
//! kept document takes them in `seq` order (it takes batch `s` only while its `foldSeq < s`,
//! and batch `s + 1` exists only after batch `s` was applied everywhere), so the per-document
//! `foldSeq` is an exact guard: a kept document is `balance = Σ entries of the batches up to
//! its foldSeq`.
//!
//! # Reading a balance
//!
//! `checkpoint → kept document → entries not yet folded (outside the batch in flight) →
//! checkpoint again`; the batch in flight is added from its plan when the document has not
//! taken it yet. If the checkpoint moved meanwhile the read starts over. So a read costs the
//! entries folded since the last batch, never the whole ledger (the sales report reads its
//! months the same way, and sums from entries only the cut first and last month of a range,
//! as SQLite does); the fold runs in the
//! maintenance task every [`crate::service::maintenance::FOLD_INTERVAL_MS`]. A database made
//! before this existed has every entry unfolded: the first folds build its balances (progress
//! in the log), and reads are right meanwhile (they sum what is unfolded).

use bson::{Bson, Document, doc};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};

use super::docs::EntryDoc;
use super::{MongoStore, collect, is_duplicate_key, map_err};
use crate::domain::ledger::KeptMonth;
use crate::domain::{Account, Currency, KeptBalances, LedgerEntry, MinorUnits, TransferKind};
use crate::store::{StoreError, StoreResult};

/// Most entries folded in one batch (the checkpoint holds their ids and plan).
pub(super) const FOLD_BATCH: i64 = 1_000;
const CHECKPOINT: &str = "fold";
/// How often a read starts over because a fold moved the checkpoint under it, at most.
const READ_TRIES: usize = 20;

/// A `$group` sum; null when the emulator sums nothing (seen while a fold marks entries).
#[derive(Debug, Deserialize)]
struct Sum {
    #[serde(default, deserialize_with = "null_as_zero")]
    total: i64,
}

/// Where [`MongoStore::fold_then_crash`] stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoldStage {
    /// The next batch is started (the checkpoint names it); nothing applied.
    Started,
    /// Its plan is applied to the kept documents; its entries are not marked.
    Applied,
    /// The whole step.
    Done,
}

/// The batch in flight.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Checkpoint {
    #[serde(rename = "_id")]
    id: String,
    #[serde(default, deserialize_with = "null_as_zero")]
    seq: i64,
    batch: Vec<String>,
    plan: Vec<PlanLine>,
}

/// What a batch adds to one kept document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlanLine {
    key: String,
    scope: String,
    name: String,
    currency: String,
    balance: i64,
    entries: i64,
    /// A month's gross, fee, earning and releases ([`KeptMonth::add_release`]).
    #[serde(default)]
    month: [i64; 4],
    #[serde(default)]
    starts_at: i64,
    #[serde(default)]
    ends_at: i64,
}

impl PlanLine {
    /// What the line adds, to the fields its kind of document has (the emulator keeps a
    /// field that was only ever `$inc`ed by 0 as null).
    fn increments(&self) -> Document {
        if self.scope == "month" {
            doc! {
                "gross": self.month[0],
                "platformFee": self.month[1],
                "freelancerEarning": self.month[2],
                "releases": self.month[3],
            }
        } else {
            doc! {"balance": self.balance, "entries": self.entries}
        }
    }

    /// What the line sets on its document: it has taken batch `seq`, and what names it.
    fn settings(&self, seq: i64) -> Document {
        let mut set = doc! {
            "foldSeq": seq,
            "scope": &self.scope,
            "name": &self.name,
            "currency": &self.currency,
        };
        if self.scope == "month" {
            set.insert("startsAt", self.starts_at);
            set.insert("endsAt", self.ends_at);
        }
        set
    }
}

/// A kept balance: an account's (`scope: "account"`: balance and entries), a kind's total
/// (`"kind"`: balance) or a month of the sales report (`"month"`: gross, fee, earning,
/// releases, and the month's first instant and the next month's).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct KeptDoc {
    #[serde(rename = "_id")]
    key: String,
    scope: String,
    name: String,
    currency: String,
    #[serde(default, deserialize_with = "null_as_zero")]
    balance: i64,
    #[serde(default, deserialize_with = "null_as_zero")]
    entries: i64,
    #[serde(default, deserialize_with = "null_as_zero")]
    gross: i64,
    #[serde(default, deserialize_with = "null_as_zero")]
    platform_fee: i64,
    #[serde(default, deserialize_with = "null_as_zero")]
    freelancer_earning: i64,
    #[serde(default, deserialize_with = "null_as_zero")]
    releases: i64,
    #[serde(default, deserialize_with = "null_as_zero")]
    starts_at: i64,
    #[serde(default, deserialize_with = "null_as_zero")]
    ends_at: i64,
    #[serde(default, deserialize_with = "null_as_zero")]
    fold_seq: i64,
}

/// A number that may be null: the emulator can be read between the insert of an upserted
/// document and its `$inc` (real MongoDB upserts atomically), and such a document has taken
/// nothing yet.
fn null_as_zero<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(Option::<i64>::deserialize(d)?.unwrap_or(0))
}

impl KeptDoc {
    fn month(&self) -> [i64; 4] {
        [
            self.gross,
            self.platform_fee,
            self.freelancer_earning,
            self.releases,
        ]
    }
}

/// One kept month of the sales report, as of a read: `[gross, fee, earning, releases]`.
pub(super) struct MonthTotals {
    pub(super) month: String,
    pub(super) starts_at: i64,
    pub(super) ends_at: i64,
    pub(super) totals: [i64; 4],
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::other(format!("corrupt kept balance {what}: {e}"))
}

fn account_key(account: &str, currency: &str) -> String {
    format!("a|{currency}|{account}")
}

fn kind_key(kind: &str, currency: &str) -> String {
    format!("k|{currency}|{kind}")
}

fn month_key(month: &str, currency: &str) -> String {
    format!("m|{currency}|{month}")
}

/// What a batch of entries adds to each kept document, in key order.
fn plan(entries: &[EntryDoc]) -> Vec<PlanLine> {
    let mut lines: std::collections::BTreeMap<String, PlanLine> = Default::default();
    for e in entries {
        let account = e.account.to_string();
        let kind = e.account.kind();
        let currency = e.currency.code();
        for (key, scope, name, count) in [
            (
                account_key(&account, currency),
                "account",
                account.as_str(),
                1,
            ),
            (kind_key(kind, currency), "kind", kind, 0),
        ] {
            let line = lines.entry(key.clone()).or_insert_with(|| PlanLine {
                key,
                scope: scope.into(),
                name: name.into(),
                currency: currency.into(),
                ..PlanLine::default()
            });
            line.balance += e.amount.get();
            line.entries += count;
        }
        if e.kind == TransferKind::Release {
            let (name, starts_at, ends_at) = KeptMonth::bounds_of(e.at);
            let key = month_key(&name, currency);
            let line = lines.entry(key.clone()).or_insert_with(|| PlanLine {
                key,
                scope: "month".into(),
                name,
                currency: currency.into(),
                starts_at,
                ends_at,
                ..PlanLine::default()
            });
            KeptMonth::add_release(&mut line.month, &LedgerEntry::from(e.clone()));
        }
    }
    lines.into_values().collect()
}

/// What one step of the fold did.
enum Step {
    /// Started (and, at [`FoldStage::Done`], finished) a batch of this many entries.
    Folded(u64),
    /// Another folder started the next batch first.
    Lost,
    /// Nothing was left to fold.
    Nothing,
}

impl MongoStore {
    async fn checkpoint(&self) -> StoreResult<Checkpoint> {
        Ok(self
            .kept
            .clone_with_type::<Checkpoint>()
            .find_one(doc! {"_id": CHECKPOINT})
            .await
            .map_err(map_err)?
            .unwrap_or_default())
    }

    /// Applies a batch's plan to the kept documents that have not taken it yet.
    async fn apply(&self, seq: i64, plan: &[PlanLine]) -> StoreResult<()> {
        for line in plan {
            let applied = self
                .kept
                .update_one(
                    doc! {"_id": &line.key, "foldSeq": {"$lt": seq}},
                    doc! {"$inc": line.increments(), "$set": line.settings(seq)},
                )
                .upsert(true)
                .await;
            match applied {
                Ok(_) => {}
                // The document has this batch already: the filter missed and the upsert's
                // insert met its `_id`.
                Err(e) if is_duplicate_key(&e) => {}
                Err(e) => return Err(map_err(e)),
            }
        }
        Ok(())
    }

    async fn finish(&self, c: &Checkpoint) -> StoreResult<()> {
        if c.batch.is_empty() {
            return Ok(());
        }
        self.apply(c.seq, &c.plan).await?;
        self.entries
            .update_many(
                doc! {"_id": {"$in": &c.batch}},
                doc! {"$set": {"folded": 1_i64}},
            )
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// One step of the fold that stops where a process that died there would have: after
    /// starting its batch, or after applying it but before marking its entries. For the crash
    /// tests only.
    #[doc(hidden)]
    pub async fn fold_then_crash(&self, stage: FoldStage) -> StoreResult<u64> {
        self.repair_projection().await?;
        Ok(match self.fold_step(stage).await? {
            Step::Folded(n) => n,
            Step::Lost | Step::Nothing => 0,
        })
    }

    /// The same store with another fold batch size (tests: small batches make many).
    #[doc(hidden)]
    pub fn with_fold_batch(mut self, entries: i64) -> MongoStore {
        self.fold_batch = entries.max(1);
        self
    }

    /// One step of the fold: finishes the batch in flight and folds up to [`FOLD_BATCH`]
    /// more projected entries (up to `stage`).
    async fn fold_step(&self, stage: FoldStage) -> StoreResult<Step> {
        let current = self.checkpoint().await?;
        self.finish(&current).await?;
        let next: Vec<EntryDoc> = collect(
            self.entries
                .find(doc! {"folded": 0_i64})
                .sort(doc! {"_id": 1})
                .limit(self.fold_batch)
                .await
                .map_err(map_err)?,
        )
        .await?;
        if next.is_empty() {
            return Ok(Step::Nothing);
        }
        let started = Checkpoint {
            id: CHECKPOINT.into(),
            seq: current.seq + 1,
            batch: next.iter().map(|e| e.id.clone()).collect(),
            plan: plan(&next),
        };
        let replacement = bson::to_document(&started)
            .map_err(|e| StoreError::other_from("cannot encode the fold checkpoint", e))?;
        let won = if current.seq == 0 {
            match self
                .kept
                .clone_with_type::<Document>()
                .insert_one(replacement)
                .await
            {
                Ok(_) => true,
                Err(e) if is_duplicate_key(&e) => false,
                Err(e) => return Err(map_err(e)),
            }
        } else {
            self.kept
                .clone_with_type::<Document>()
                .replace_one(doc! {"_id": CHECKPOINT, "seq": current.seq}, replacement)
                .await
                .map_err(map_err)?
                .matched_count
                == 1
        };
        if !won {
            return Ok(Step::Lost);
        }
        match stage {
            FoldStage::Started => {}
            FoldStage::Applied => self.apply(started.seq, &started.plan).await?,
            FoldStage::Done => self.finish(&started).await?,
        }
        Ok(Step::Folded(next.len() as u64))
    }

    /// Folds until nothing is left; returns how many entries were folded. A step that loses
    /// the race to start a batch goes on: the next step finishes the winner's batch itself,
    /// so when this returns every entry projected before it was called is folded, whoever
    /// else is folding (`verify` relies on it while servers fold beside it).
    /// (Finishes any interrupted projection first, once: the fold takes projected entries.)
    pub(super) async fn fold_all(&self) -> StoreResult<u64> {
        const PROGRESS_EVERY: u64 = 100_000;
        self.repair_projection().await?;
        let mut folded = 0;
        loop {
            match self.fold_step(FoldStage::Done).await? {
                Step::Nothing => return Ok(folded),
                Step::Lost => {}
                Step::Folded(n) => {
                    if (folded + n) / PROGRESS_EVERY > folded / PROGRESS_EVERY {
                        tracing::info!(entries = folded + n, "kept balances: folding");
                    }
                    folded += n;
                }
            }
        }
    }

    /// The kept balance under `key` as of now: the kept document, the batch in flight if it
    /// has not taken it, and the entries matching `unfolded` that no batch has folded yet.
    pub(super) async fn kept_balance(
        &self,
        key: String,
        unfolded: Document,
    ) -> StoreResult<MinorUnits> {
        self.repair_projection().await?;
        for _ in 0..READ_TRIES {
            let c = self.checkpoint().await?;
            let kept = self
                .kept
                .find_one(doc! {"_id": &key})
                .await
                .map_err(map_err)?;
            let (mut balance, taken) = kept.map_or((0, 0), |k| (k.balance, k.fold_seq));
            if taken < c.seq {
                balance += c
                    .plan
                    .iter()
                    .find(|l| l.key == key)
                    .map_or(0, |l| l.balance);
            }
            let mut filter = unfolded.clone();
            filter.insert("folded", 0_i64);
            filter.insert("_id", doc! {"$nin": &c.batch});
            let pipeline = [
                doc! {"$match": filter},
                doc! {"$group": {"_id": Bson::Null, "total": {"$sum": "$amount"}}},
            ];
            let rest = collect(
                self.entries
                    .aggregate(pipeline)
                    .with_type::<Sum>()
                    .await
                    .map_err(map_err)?,
            )
            .await?
            .first()
            .map_or(0, |t| t.total);
            if self.checkpoint().await?.seq == c.seq {
                return Ok(MinorUnits::new(balance + rest));
            }
        }
        Err(StoreError::unavailable(
            "kept balances: the fold kept moving while reading",
        ))
    }

    /// Every kept month of the sales report in `currency` as of now, by month: the kept
    /// documents, the batch in flight where a month has not taken it, and the release entries
    /// no batch has folded yet.
    pub(super) async fn kept_months(&self, currency: Currency) -> StoreResult<Vec<MonthTotals>> {
        self.repair_projection().await?;
        let cur = currency.code();
        for _ in 0..READ_TRIES {
            let c = self.checkpoint().await?;
            let docs: Vec<KeptDoc> = collect(
                self.kept
                    .find(doc! {"scope": "month", "currency": cur})
                    .await
                    .map_err(map_err)?,
            )
            .await?;
            let mut taken = std::collections::HashMap::new();
            let mut months: std::collections::BTreeMap<String, MonthTotals> = Default::default();
            for d in docs {
                taken.insert(d.key.clone(), d.fold_seq);
                months.insert(
                    d.name.clone(),
                    MonthTotals {
                        totals: d.month(),
                        month: d.name,
                        starts_at: d.starts_at,
                        ends_at: d.ends_at,
                    },
                );
            }
            let mut add = |name: &str, starts_at: i64, ends_at: i64, add: [i64; 4]| {
                let m = months.entry(name.to_string()).or_insert(MonthTotals {
                    month: name.to_string(),
                    starts_at,
                    ends_at,
                    totals: [0; 4],
                });
                for (t, a) in m.totals.iter_mut().zip(add) {
                    *t += a;
                }
            };
            for line in &c.plan {
                if line.scope == "month"
                    && line.currency == cur
                    && taken.get(&line.key).copied().unwrap_or(0) < c.seq
                {
                    add(&line.name, line.starts_at, line.ends_at, line.month);
                }
            }
            let unfolded: Vec<EntryDoc> = collect(
                self.entries
                    .find(doc! {
                        "folded": 0_i64,
                        "kind": "release",
                        "currency": cur,
                        "_id": {"$nin": &c.batch},
                    })
                    .await
                    .map_err(map_err)?,
            )
            .await?;
            for e in unfolded {
                let (name, starts_at, ends_at) = KeptMonth::bounds_of(e.at);
                let mut one = [0; 4];
                KeptMonth::add_release(&mut one, &LedgerEntry::from(e));
                add(&name, starts_at, ends_at, one);
            }
            if self.checkpoint().await?.seq == c.seq {
                return Ok(months.into_values().collect());
            }
        }
        Err(StoreError::unavailable(
            "kept balances: the fold kept moving while reading",
        ))
    }

    pub(super) async fn account_kept(
        &self,
        account: &Account,
        currency: Currency,
    ) -> StoreResult<MinorUnits> {
        let account = account.to_string();
        self.kept_balance(
            account_key(&account, currency.code()),
            doc! {"account": &account, "currency": currency.code()},
        )
        .await
    }

    pub(super) async fn kind_kept(
        &self,
        kind: &str,
        currency: Currency,
    ) -> StoreResult<MinorUnits> {
        self.kept_balance(
            kind_key(kind, currency.code()),
            doc! {"accountType": kind, "currency": currency.code()},
        )
        .await
    }

    /// Every kept document, after folding everything (for `verify`: at rest, each must
    /// equal its entries).
    pub(super) async fn all_kept(&self) -> StoreResult<KeptBalances> {
        self.fold_all().await?;
        let docs: Vec<KeptDoc> = self
            .kept
            .find(doc! {"scope": {"$in": ["account", "kind", "month"]}})
            .await
            .map_err(map_err)?
            .try_collect()
            .await
            .map_err(map_err)?;
        let mut kept = KeptBalances::default();
        let mut months = vec![];
        for d in docs {
            let currency: Currency = d.currency.parse().map_err(|e| corrupt("currency", e))?;
            match d.scope.as_str() {
                "account" => kept.accounts.push((
                    d.name
                        .parse::<Account>()
                        .map_err(|e| corrupt("account", e))?,
                    currency,
                    MinorUnits::new(d.balance),
                    d.entries.max(0) as u64,
                )),
                "month" => months.push(KeptMonth {
                    currency,
                    gross: MinorUnits::new(d.gross),
                    platform_fee: MinorUnits::new(d.platform_fee),
                    freelancer_earning: MinorUnits::new(d.freelancer_earning),
                    releases: d.releases,
                    month: d.name,
                }),
                _ => kept
                    .kinds
                    .push((d.name, currency, MinorUnits::new(d.balance))),
            }
        }
        kept.months = Some(months);
        Ok(kept)
    }
}
