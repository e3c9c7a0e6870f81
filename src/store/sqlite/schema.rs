//! The schema: migrations applied in order once each (embedded in the binary), and how every
//! connection is opened (WAL, `synchronous=FULL`, a busy timeout, stable query plans).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior, params};

use super::map_err;
use crate::store::{StoreError, StoreResult};

/// How long a writer waits for another process's write lock before giving up.
const BUSY_TIMEOUT_MS: u64 = 10_000;

/// Schema migrations, applied in order once each, embedded in the binary.
pub(super) const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        r#"
CREATE TABLE contracts (
    id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    freelancer_id TEXT NOT NULL,
    status TEXT NOT NULL,
    escrow_status TEXT,
    release_fund_status TEXT NOT NULL,
    provider_work INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX contracts_live_job ON contracts(job_id) WHERE status != 'Canceled';
CREATE INDEX contracts_client ON contracts(client_id);
CREATE INDEX contracts_freelancer ON contracts(freelancer_id);
CREATE INDEX contracts_escrow ON contracts(escrow_status, release_fund_status, created_at);
CREATE INDEX contracts_created ON contracts(created_at);
CREATE INDEX contracts_provider_work ON contracts(provider_work) WHERE provider_work = 1;

CREATE TABLE payment_refs (
    payment_ref TEXT PRIMARY KEY,
    contract_id TEXT NOT NULL
) STRICT;

CREATE TABLE ledger_entries (
    id TEXT PRIMARY KEY,
    transfer_id TEXT NOT NULL,
    contract_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    account TEXT NOT NULL,
    amount INTEGER NOT NULL,
    currency TEXT NOT NULL,
    at INTEGER NOT NULL
) STRICT;
CREATE INDEX ledger_account ON ledger_entries(account, currency, at);
CREATE INDEX ledger_contract ON ledger_entries(contract_id);
CREATE INDEX ledger_kind ON ledger_entries(kind, at);

CREATE TABLE webhook_events (
    event_id TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    contract_id TEXT,
    received_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deliveries INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_events_received ON webhook_events(received_at);

CREATE TABLE reviews (
    id TEXT PRIMARY KEY,
    contract_id TEXT NOT NULL UNIQUE,
    client_id TEXT NOT NULL,
    freelancer_id TEXT NOT NULL,
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    description TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX reviews_freelancer ON reviews(freelancer_id, created_at DESC, id DESC);
"#,
    ),
    (2, super::idempotency::MIGRATION),
    (
        3,
        // Each freelancer's review count and rating sum, kept by triggers in the same
        // transaction as the review itself, so `show-reviews` reads one row instead of
        // aggregating every review on every call; `generation` counts every change (never
        // reused), so a rendered page can be kept until it moves.
        r#"
CREATE TABLE review_stats (
    freelancer_id TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    rating_sum INTEGER NOT NULL,
    generation INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO review_stats (freelancer_id, count, rating_sum, generation)
    SELECT freelancer_id, COUNT(*), SUM(rating), 1 FROM reviews GROUP BY freelancer_id;
CREATE TRIGGER review_stats_insert AFTER INSERT ON reviews BEGIN
    INSERT INTO review_stats (freelancer_id, count, rating_sum, generation) VALUES (NEW.freelancer_id, 1, NEW.rating, 1)
        ON CONFLICT(freelancer_id) DO UPDATE SET count = count + 1, rating_sum = rating_sum + NEW.rating,
            generation = generation + 1;
END;
CREATE TRIGGER review_stats_delete AFTER DELETE ON reviews BEGIN
    UPDATE review_stats SET count = count - 1, rating_sum = rating_sum - OLD.rating,
        generation = generation + 1
        WHERE freelancer_id = OLD.freelancer_id;
END;
CREATE TRIGGER review_stats_update AFTER UPDATE ON reviews BEGIN
    UPDATE review_stats SET count = count - 1, rating_sum = rating_sum - OLD.rating,
        generation = generation + 1
        WHERE freelancer_id = OLD.freelancer_id;
    INSERT INTO review_stats (freelancer_id, count, rating_sum, generation) VALUES (NEW.freelancer_id, 1, NEW.rating, 1)
        ON CONFLICT(freelancer_id) DO UPDATE SET count = count + 1, rating_sum = rating_sum + NEW.rating,
            generation = generation + 1;
END;
"#,
    ),
    (
        4,
        // Named counters (`contract`: the contract numbers behind "CON…" ids).
        "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;",
    ),
    (
        5,
        // The contract number as a column, so a human id ("CON…") finds its contract; filled
        // from the documents a version-4 file already holds. Set once, at insert.
        r#"
ALTER TABLE contracts ADD COLUMN number INTEGER;
UPDATE contracts SET number = json_extract(doc, '$.number');
CREATE UNIQUE INDEX contracts_number ON contracts(number) WHERE number IS NOT NULL;
"#,
    ),
    (
        6,
        // Kept balances: one row per account and currency (with its number of entries, the
        // count of a wallet page) and the total of every escrow account per currency (held
        // funds), moved by the very transaction that inserts the entries (`keep_balances` in
        // contracts.rs: one upsert per account a write touches), so a balance is read, never
        // summed. Entries are only ever inserted; `verify` recomputes every kept balance from
        // them. Built once from the entries a version-5 file holds.
        r#"
CREATE TABLE account_balances (
    account TEXT NOT NULL,
    currency TEXT NOT NULL,
    balance INTEGER NOT NULL,
    entries INTEGER NOT NULL,
    PRIMARY KEY (account, currency)
) STRICT, WITHOUT ROWID;
CREATE TABLE kind_balances (
    kind TEXT NOT NULL,
    currency TEXT NOT NULL,
    balance INTEGER NOT NULL,
    PRIMARY KEY (kind, currency)
) STRICT, WITHOUT ROWID;
INSERT INTO account_balances (account, currency, balance, entries)
    SELECT account, currency, SUM(amount), COUNT(*) FROM ledger_entries GROUP BY account, currency;
INSERT INTO kind_balances (kind, currency, balance)
    SELECT 'escrow', currency, SUM(amount) FROM ledger_entries
    WHERE account >= 'escrow:' AND account < 'escrow;' GROUP BY currency;
"#,
    ),
    (
        7,
        // The sales report's months, kept: per month (UTC) and currency the released gross,
        // fee and earning and the number of releases, moved with each release's entries, so
        // the report costs the months it shows. `starts_at`/`ends_at` (Unix ms) bound the
        // month, so a report over days reads whole months here and only its partial first and
        // last month from the entries. Built once from a version-6 file's entries.
        r#"
CREATE TABLE sales_months (
    currency TEXT NOT NULL,
    month TEXT NOT NULL,
    starts_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL,
    gross INTEGER NOT NULL,
    platform_fee INTEGER NOT NULL,
    freelancer_earning INTEGER NOT NULL,
    releases INTEGER NOT NULL,
    PRIMARY KEY (currency, month)
) STRICT, WITHOUT ROWID;
INSERT INTO sales_months
    SELECT currency, strftime('%Y-%m', at / 1000, 'unixepoch'),
        MIN(CAST(strftime('%s', at / 1000, 'unixepoch', 'start of month') AS INTEGER) * 1000),
        MIN(CAST(strftime('%s', at / 1000, 'unixepoch', 'start of month', '+1 month') AS INTEGER) * 1000),
        SUM(CASE WHEN account >= 'escrow:' AND account < 'escrow;' THEN -amount ELSE 0 END),
        SUM(CASE WHEN account = 'platform:fees' THEN amount ELSE 0 END),
        SUM(CASE WHEN account >= 'wallet:' AND account < 'wallet;' THEN amount ELSE 0 END),
        SUM(CASE WHEN account >= 'escrow:' AND account < 'escrow;' THEN 1 ELSE 0 END)
    FROM ledger_entries WHERE kind = 'release' GROUP BY 1, 2;
"#,
    ),
    (
        8,
        // Kept counts of the lists that carry one (`count` on a numbered page): every contract,
        // those with an escrow (the transactions list), each client's and each freelancer's,
        // and each freelancer's completed work. Moved by triggers on the contract row, which
        // fire once per contract written (a count moves only when a row is inserted or its
        // status or escrow status changes), so a count is read, never counted. Built once from
        // the contracts a version-7 file holds; `verify` checks the totals.
        r#"
CREATE TABLE list_counts (
    list TEXT PRIMARY KEY,
    n INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO list_counts SELECT 'contracts', COUNT(*) FROM contracts WHERE 1;
INSERT INTO list_counts SELECT 'escrows', COUNT(*) FROM contracts WHERE escrow_status IS NOT NULL;
INSERT INTO list_counts SELECT 'client:' || client_id, COUNT(*) FROM contracts GROUP BY client_id;
INSERT INTO list_counts SELECT 'freelancer:' || freelancer_id, COUNT(*) FROM contracts GROUP BY freelancer_id;
INSERT INTO list_counts SELECT 'completed:' || freelancer_id, COUNT(*) FROM contracts
    WHERE status = 'Completed' GROUP BY freelancer_id;
CREATE TRIGGER list_counts_insert AFTER INSERT ON contracts BEGIN
    INSERT INTO list_counts VALUES ('contracts', 1) ON CONFLICT(list) DO UPDATE SET n = n + 1;
    INSERT INTO list_counts VALUES ('client:' || NEW.client_id, 1)
        ON CONFLICT(list) DO UPDATE SET n = n + 1;
    INSERT INTO list_counts VALUES ('freelancer:' || NEW.freelancer_id, 1)
        ON CONFLICT(list) DO UPDATE SET n = n + 1;
    INSERT INTO list_counts SELECT 'escrows', 1 WHERE NEW.escrow_status IS NOT NULL
        ON CONFLICT(list) DO UPDATE SET n = n + 1;
    INSERT INTO list_counts SELECT 'completed:' || NEW.freelancer_id, 1 WHERE NEW.status = 'Completed'
        ON CONFLICT(list) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER list_counts_escrow AFTER UPDATE OF escrow_status ON contracts
    WHEN (OLD.escrow_status IS NULL) != (NEW.escrow_status IS NULL) BEGIN
    INSERT INTO list_counts VALUES ('escrows', IIF(NEW.escrow_status IS NULL, -1, 1))
        ON CONFLICT(list) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER list_counts_completed AFTER UPDATE OF status ON contracts
    WHEN (OLD.status = 'Completed') != (NEW.status = 'Completed') BEGIN
    INSERT INTO list_counts VALUES ('completed:' || NEW.freelancer_id, IIF(NEW.status = 'Completed', 1, -1))
        ON CONFLICT(list) DO UPDATE SET n = n + excluded.n;
END;
"#,
    ),
    (
        9,
        // Money out: payouts (the record is the document, as for contracts) and the
        // freelancers' connected accounts at the payment provider.
        r#"
CREATE TABLE payouts (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    status TEXT NOT NULL,
    provider_work INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL
) STRICT;
CREATE INDEX payouts_user ON payouts(user_id, created_at);
CREATE INDEX payouts_status ON payouts(status, created_at);
CREATE INDEX payouts_created ON payouts(created_at);
CREATE INDEX payouts_provider_work ON payouts(provider_work) WHERE provider_work = 1;

CREATE TABLE connected_accounts (
    user_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL UNIQUE,
    described_at INTEGER NOT NULL,
    doc TEXT NOT NULL
) STRICT;
"#,
    ),
    (
        10,
        // Durable timers: the claimable ones are found by (done, due_at).
        r#"
CREATE TABLE timers (
    id TEXT PRIMARY KEY,
    due_at INTEGER NOT NULL,
    lease_until INTEGER NOT NULL,
    done INTEGER NOT NULL,
    doc TEXT NOT NULL
) STRICT;
CREATE INDEX timers_due ON timers(done, due_at);
"#,
    ),
    (
        11,
        // Disputes: 0 none, 1 only settled ones, 2 an open one (`DisputeMark`), so an admin's
        // list of disputes is an index lookup. Every stored contract has none.
        r#"
ALTER TABLE contracts ADD COLUMN disputes INTEGER NOT NULL DEFAULT 0;
CREATE INDEX contracts_disputes ON contracts(disputes, created_at) WHERE disputes > 0;
"#,
    ),
    (
        12,
        // A refund failed at the provider (a milestone's, or a duplicate payment's) and waits
        // for an operator: 1, so `escrowctl refunds list --failed` is an index lookup. Marked
        // from each stored record's escrow states (no duplicate refund failed before this).
        r#"
ALTER TABLE contracts ADD COLUMN refund_failed INTEGER NOT NULL DEFAULT 0;
UPDATE contracts SET refund_failed = 1 WHERE doc LIKE '%"status":"refund_failed"%';
CREATE INDEX contracts_refund_failed ON contracts(refund_failed, created_at) WHERE refund_failed = 1;
"#,
    ),
];

pub(super) fn open_connection(path: &Path) -> StoreResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(map_err)?;
    conn.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS))
        .map_err(map_err)?;
    // WAL: readers never block writers; FULL: a commit is durable before it returns.
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .map_err(map_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::other(format!(
            "could not switch {} to WAL (got {mode})",
            path.display()
        )));
    }
    conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")
        .map_err(map_err)?;
    // Query plans that do not depend on bound values: otherwise SQLite re-prepares a cached
    // statement on every call where an `= ?` constraint meets an ORDER BY (the show-reviews
    // page, for one), and every plan here is an index lookup whatever the value.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map_err(map_err)?;
    Ok(conn)
}

/// The writer's connection. Each write of a batch runs in its own savepoint, so a page that
/// an earlier write of the batch changed is copied to the statement journal before a later
/// write changes it again (every write moves the same few kept-balance pages): that journal
/// is kept in memory, not in a temporary file. The page cache holds a whole batch's pages, so
/// a batch never spills into the WAL before it commits.
pub(super) fn open_writer(path: &Path) -> StoreResult<Connection> {
    let conn = open_connection(path)?;
    conn.execute_batch("PRAGMA temp_store=MEMORY; PRAGMA cache_size=-65536;")
        .map_err(map_err)?;
    Ok(conn)
}

pub(super) fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")
        .map_err(map_err)?;
    let current: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )
        .map_err(map_err)?;
    for (version, sql) in MIGRATIONS {
        if *version > current {
            // A migration that builds kept rows reads the whole file once: on a large store
            // that takes seconds, so the log says what the start is waiting for.
            let started = std::time::Instant::now();
            if current > 0 {
                tracing::info!(version, "schema migration: applying");
            }
            tx.execute_batch(sql).map_err(map_err)?;
            if current > 0 {
                tracing::info!(
                    version,
                    ms = started.elapsed().as_millis() as u64,
                    "schema migration: applied"
                );
            }
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                params![version, chrono::Utc::now().timestamp_millis()],
            )
            .map_err(map_err)?;
        }
    }
    let newest = MIGRATIONS.last().map(|m| m.0).unwrap_or(0);
    if current > newest {
        return Err(StoreError::other(format!(
            "the database schema is version {current}, newer than this binary's {newest}: upgrade escrow"
        )));
    }
    tx.commit().map_err(map_err)
}
