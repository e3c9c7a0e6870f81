//! One conformance suite for every storage backend (the object_store pattern): each
//! `checks::check_*` is an `async fn(&dyn Store)` that runs against SQLite always (a fresh file
//! in a temp directory) and against MongoDB when `ESCROW_TEST_MONGODB_URI` is set (a fresh
//! database with a random name, dropped afterwards). `scripts/test` starts the `nx-27017`
//! MongoDB wire-protocol emulator and sets the variable; without it the MongoDB half prints
//! that it was skipped and why.
//!
//! Tests are named `sqlite::<check>` and `mongodb::<check>`, so a failure names its backend.

mod checks;

use std::io::Write;
use std::sync::{Arc, Once};

use escrow::store::sqlite::SqliteStore;

pub const MONGODB_URI_VAR: &str = "ESCROW_TEST_MONGODB_URI";

/// A fresh SQLite store in its own temp directory (removed when dropped).
pub struct SqliteBackend {
    pub store: Arc<SqliteStore>,
    _dir: tempfile::TempDir,
}

pub fn sqlite() -> SqliteBackend {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("escrow.db")).expect("open sqlite");
    SqliteBackend {
        store: Arc::new(store),
        _dir: dir,
    }
}

#[cfg(not(feature = "mongodb"))]
#[test]
fn mongodb_backend_is_skipped() {
    skipped("this build has no `mongodb` feature");
}

/// Prints the skip notice once per test binary, straight to stderr so that the test
/// harness's output capture does not hide it.
fn skipped(why: &str) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "store conformance: MongoDB backend SKIPPED: {why} (scripts/test starts the nx-27017 emulator and sets it)"
        );
    });
}

#[cfg(feature = "mongodb")]
pub mod mongo_backend {
    use super::*;
    use escrow::store::mongo::MongoStore;

    /// A fresh MongoDB database; call [`MongoBackend::drop`] when done.
    pub struct MongoBackend {
        pub store: Arc<MongoStore>,
        pub uri: String,
    }

    impl MongoBackend {
        pub async fn drop(self) {
            if let Err(e) = self.store.drop_database().await {
                eprintln!(
                    "could not drop test database {}: {e}",
                    self.store.database_name()
                );
            }
        }

        /// A second store on the same database (another server, or a restart).
        pub async fn reopen(&self) -> MongoStore {
            MongoStore::open(&self.uri, self.store.database_name(), false)
                .await
                .expect("reopen mongodb")
        }
    }

    pub async fn mongodb() -> Option<MongoBackend> {
        let Ok(uri) = std::env::var(MONGODB_URI_VAR) else {
            skipped(&format!("{MONGODB_URI_VAR} is not set"));
            return None;
        };
        let name = format!("escrow_test_{}", escrow::domain::ids::new_object_id_hex());
        let store = MongoStore::open(&uri, &name, false)
            .await
            .unwrap_or_else(|e| panic!("{MONGODB_URI_VAR}={uri}: cannot open MongoDB: {e}"));
        Some(MongoBackend {
            store: Arc::new(store),
            uri,
        })
    }
}

/// Runs a check on a MongoDB backend and drops its database whether the check passed or not.
#[cfg(feature = "mongodb")]
pub async fn on_mongodb<F>(check: F)
where
    F: AsyncFnOnce(&mongo_backend::MongoBackend),
{
    use futures_util::FutureExt;
    let Some(backend) = mongo_backend::mongodb().await else {
        return;
    };
    let outcome = std::panic::AssertUnwindSafe(check(&backend))
        .catch_unwind()
        .await;
    backend.drop().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

macro_rules! conformance {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $check() {
                    let backend = crate::sqlite();
                    crate::checks::$check(backend.store.as_ref()).await;
                }
            )*
        }

        #[cfg(feature = "mongodb")]
        mod mongodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $check() {
                    crate::on_mongodb(async |b| crate::checks::$check(b.store.as_ref()).await).await;
                }
            )*

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn check_a_crash_between_the_compare_and_set_and_the_projection_is_repaired() {
                crate::on_mongodb(crate::checks::mongo::check_crash_repair).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn check_an_interrupted_wallet_debit_is_finished_once() {
                crate::on_mongodb(crate::checks::payouts::mongo::check_an_interrupted_wallet_debit_is_finished_once).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn check_kept_balances_fold_each_entry_once() {
                crate::on_mongodb(crate::checks::mongo::check_kept_balances_fold_each_entry_once).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn check_verify_folds_everything_while_servers_fold() {
                crate::on_mongodb(crate::checks::mongo::check_verify_folds_everything_while_servers_fold).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn check_a_stale_job_claim_is_taken_over() {
                crate::on_mongodb(crate::checks::mongo::check_stale_claims_are_taken_over).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn check_a_job_claim_to_a_canceled_contract_is_taken_over() {
                crate::on_mongodb(crate::checks::mongo::check_a_claim_to_a_canceled_contract_is_taken_over).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn check_concurrent_creates_for_one_job_give_one_live_contract() {
                crate::on_mongodb(crate::checks::mongo::check_concurrent_creates_give_one_live_contract).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn check_indexes_and_the_deployment_check_survive_a_restart() {
                crate::on_mongodb(crate::checks::mongo::check_reopen).await;
            }
        }
    };
}

conformance!(
    check_a_timer_is_claimed_by_one_caller_at_a_time,
    check_concurrent_payouts_of_a_whole_balance_debit_it_once,
    check_a_payout_moves_through_its_states_with_balanced_entries,
    check_a_retry_the_wallet_cannot_cover_is_refused,
    check_connected_accounts_are_one_per_user_and_newer_states_win,
    check_every_transition_is_saved_with_its_entries,
    check_illegal_transitions_are_refused_and_change_nothing,
    check_a_compare_and_set_race_has_exactly_one_winner,
    check_webhook_events_are_deduplicated_under_concurrency,
    check_a_contract_and_its_event_are_saved_together,
    check_a_contract_has_at_most_one_review,
    check_a_job_has_at_most_one_live_contract,
    check_pages_are_newest_first_without_gaps,
    check_keyset_pages_walk_every_list_exactly_once,
    check_every_list_count_is_the_number_of_its_rows,
    check_contract_facts_are_those_of_the_contracts,
    check_report_sums_are_exact_beyond_2_pow_53,
    check_a_wallet_balance_is_the_sum_of_its_entries,
    check_a_contract_is_found_by_every_payment_reference,
    check_provider_work_is_listed_until_settled,
    check_entries_after_and_contracts_after_page_through_everything,
    check_an_idempotency_key_is_started_once_then_replayed_byte_for_byte,
    check_an_idempotency_record_expires_after_24_hours,
    check_an_in_flight_idempotency_key_whose_holder_died_is_taken_over_after_its_lease,
    check_a_released_idempotency_key_executes_afresh,
    check_concurrent_begins_for_one_idempotency_key_start_it_once,
    check_contract_numbers_are_never_given_twice,
    check_a_contract_is_found_by_its_number,
    check_balances_read_are_the_sums_of_the_entries,
    check_the_sales_report_over_any_range_sums_its_releases,
);

/// SQLite keeps every balance (migration 6) and the sales report's months (migration 7):
/// `verify` finds a kept balance, total or month that no longer equals its entries, and a
/// version-5 file gets them built at open.
mod sqlite_kept_balances {
    use escrow::store::sqlite::SqliteStore;

    use crate::checks;

    fn raw(path: &std::path::Path, sql: &str) {
        rusqlite::Connection::open(path)
            .unwrap()
            .execute_batch(sql)
            .unwrap();
    }

    fn rules(report: &escrow::domain::verify::Report) -> Vec<&'static str> {
        report.violations.iter().map(|v| v.rule).collect()
    }

    /// Runs `sql` on the backend's file, then verifies the store.
    async fn tampered(b: &crate::SqliteBackend, sql: &str) -> escrow::domain::verify::Report {
        raw(b.store.path(), sql);
        checks::verified(b.store.as_ref()).await
    }

    /// The payout rules of verify: a payout's account matches its status, a paid payout has
    /// exactly one transfer behind it, no wallet is below zero. Each tampering is caught.
    #[tokio::test]
    async fn a_payout_or_wallet_changed_behind_the_services_back_fails_verification() {
        let b = crate::sqlite();
        let (user, [paid, pending, _]) =
            checks::payouts::a_ledger_with_payouts(b.store.as_ref()).await;
        // A paid payout said to be pending again: its account is empty, and a transfer is
        // behind a payout that is not paid.
        let report = tampered(
            &b,
            &format!(
                "UPDATE payouts SET doc = json_set(doc, '$.status', 'pending') WHERE id = '{}'",
                paid.id
            ),
        )
        .await;
        assert_eq!(
            rules(&report),
            [
                "payout_account_matches_status",
                "paid_payout_has_one_transfer"
            ],
            "{report:#?}"
        );
        let b = crate::sqlite();
        let (user_b, [paid, pending_b, _]) =
            checks::payouts::a_ledger_with_payouts(b.store.as_ref()).await;
        // A second transfer out of a paid payout (balanced, kept balances moved with it).
        let (p, amount) = (paid.id.as_str(), paid.amount.get());
        let report = tampered(
            &b,
            &format!(
                "INSERT INTO ledger_entries VALUES
                    ('payout:{p}:9:0', 'payout:{p}:9', 'payout:{p}', 'payout_sent', 'payout:{p}', -{amount}, 'inr', 1),
                    ('payout:{p}:9:1', 'payout:{p}:9', 'payout:{p}', 'payout_sent', 'external:stripe', {amount}, 'inr', 1);
                 UPDATE account_balances SET balance = balance - {amount}, entries = entries + 1 WHERE account = 'payout:{p}';
                 UPDATE account_balances SET balance = balance + {amount}, entries = entries + 1 WHERE account = 'external:stripe';"
            ),
        )
        .await;
        assert_eq!(
            rules(&report),
            [
                "payout_account_matches_status",
                "paid_payout_has_one_transfer"
            ],
            "{report:#?}"
        );
        // A pending payout that took more than the wallet held: the wallet is below zero.
        let (q, w) = (pending_b.id.as_str(), user_b.as_str());
        let report = tampered(
            &b,
            &format!(
                "DELETE FROM ledger_entries WHERE id LIKE 'payout:{p}:9:%';
                 UPDATE account_balances SET balance = balance + {amount}, entries = entries - 1 WHERE account = 'payout:{p}';
                 UPDATE account_balances SET balance = balance - {amount}, entries = entries - 1 WHERE account = 'external:stripe';
                 UPDATE ledger_entries SET amount = amount - 10000000 WHERE id = 'payout:{q}:1:0';
                 UPDATE ledger_entries SET amount = amount + 10000000 WHERE id = 'payout:{q}:1:1';
                 UPDATE account_balances SET balance = balance - 10000000 WHERE account = 'wallet:{w}';
                 UPDATE account_balances SET balance = balance + 10000000 WHERE account = 'payout:{q}';
                 UPDATE payouts SET doc = json_set(doc, '$.amount', 10020000) WHERE id = '{q}';"
            ),
        )
        .await;
        assert_eq!(rules(&report), ["wallet_not_negative"], "{report:#?}");
        let _ = (user, pending);
    }

    #[tokio::test]
    async fn a_kept_balance_that_differs_from_its_entries_fails_verification() {
        let b = crate::sqlite();
        checks::a_ledger_of_every_kind(b.store.as_ref()).await;
        let report = tampered(
            &b,
            "UPDATE account_balances SET balance = balance + 1 WHERE account = 'platform:fees'",
        )
        .await;
        assert_eq!(
            rules(&report),
            ["kept_balance_is_sum_of_entries"],
            "{report:#?}"
        );
        assert_eq!(report.violations[0].ids, ["platform:fees"]);
        let report = tampered(
            &b,
            "UPDATE account_balances SET balance = balance - 1 WHERE account = 'platform:fees';
             UPDATE kind_balances SET balance = balance - 5 WHERE kind = 'escrow'",
        )
        .await;
        assert_eq!(
            rules(&report),
            ["kept_total_is_sum_of_entries"],
            "{report:#?}"
        );
        let report = tampered(
            &b,
            "UPDATE kind_balances SET balance = balance + 5 WHERE kind = 'escrow';
             UPDATE account_balances SET entries = entries + 1 WHERE account = 'external:stripe'",
        )
        .await;
        assert_eq!(
            rules(&report),
            ["kept_balance_is_sum_of_entries"],
            "a wrong count: {report:#?}"
        );
        assert_eq!(report.violations[0].ids, ["external:stripe"]);
        let report = tampered(
            &b,
            "UPDATE account_balances SET entries = entries - 1 WHERE account = 'external:stripe';
             DELETE FROM account_balances WHERE account LIKE 'wallet:%'",
        )
        .await;
        assert!(
            rules(&report).contains(&"kept_balance_is_sum_of_entries"),
            "a missing kept balance: {report:#?}"
        );
    }

    #[tokio::test]
    async fn a_kept_count_that_differs_from_the_contracts_fails_verification() {
        let b = crate::sqlite();
        checks::a_ledger_of_every_kind(b.store.as_ref()).await;
        for sql in [
            "UPDATE list_counts SET n = n + 1 WHERE list = 'escrows'",
            "UPDATE list_counts SET n = n - 1 WHERE list = 'escrows';
             UPDATE list_counts SET n = n - 1 WHERE list = 'contracts'",
            "UPDATE list_counts SET n = n + 1 WHERE list = 'contracts';
             DELETE FROM list_counts WHERE list = 'escrows'",
        ] {
            let report = tampered(&b, sql).await;
            assert_eq!(
                rules(&report),
                ["kept_count_is_count_of_contracts"],
                "{sql}: {report:#?}"
            );
        }
    }

    #[tokio::test]
    async fn a_kept_month_that_differs_from_its_releases_fails_verification() {
        let b = crate::sqlite();
        checks::a_ledger_of_every_kind(b.store.as_ref()).await;
        let report = tampered(&b, "UPDATE sales_months SET releases = releases + 1").await;
        assert_eq!(
            rules(&report),
            ["kept_month_is_sum_of_releases"],
            "{report:#?}"
        );
        assert!(
            report.violations[0].ids[0].starts_with("2026-01 "),
            "{report:#?}"
        );
        let report = tampered(&b, "DELETE FROM sales_months").await;
        assert_eq!(
            rules(&report),
            ["kept_month_is_sum_of_releases"],
            "{report:#?}"
        );
    }

    #[tokio::test]
    async fn a_version_5_file_gets_its_kept_balances_months_and_counts_at_open() {
        let b = crate::sqlite();
        checks::a_ledger_of_every_kind(b.store.as_ref()).await;
        let path = b.store.path().to_path_buf();
        let kept = escrow::store::LedgerStore::kept_balances(b.store.as_ref())
            .await
            .unwrap()
            .expect("SQLite keeps balances");
        assert_eq!(
            kept.accounts.len(),
            7,
            "3 escrows, a refund, a wallet, fees, Stripe"
        );
        assert_eq!(kept.months.as_ref().map(Vec::len), Some(1), "{kept:?}");
        assert_eq!(
            kept.lists,
            Some(escrow::domain::KeptLists {
                contracts: 3,
                escrows: 3
            })
        );
        raw(
            &path,
            "DROP TABLE account_balances; DROP TABLE kind_balances;
             DROP TABLE sales_months; DROP TABLE list_counts;
             DROP TRIGGER list_counts_insert; DROP TRIGGER list_counts_escrow;
             DROP TRIGGER list_counts_completed;
             DROP TABLE payouts; DROP TABLE connected_accounts; DROP TABLE timers;
             DROP INDEX contracts_disputes; ALTER TABLE contracts DROP COLUMN disputes;
             DROP INDEX contracts_refund_failed; ALTER TABLE contracts DROP COLUMN refund_failed;
             DELETE FROM schema_migrations WHERE version >= 6;",
        );
        let reopened = SqliteStore::open(&path).unwrap();
        let report = checks::verified(&reopened).await;
        assert!(report.ok(), "{report:#?}");
        let rebuilt = escrow::store::LedgerStore::kept_balances(&reopened)
            .await
            .unwrap();
        assert_eq!(rebuilt, Some(kept));
    }
}
