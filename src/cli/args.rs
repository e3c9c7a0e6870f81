//! The clap definition of `escrowctl`: every command, option and help text. Nothing here runs;
//! [`crate::cli::run`] dispatches on it. Help texts follow fd and ripgrep: a one-line `help`
//! and a longer doc comment, with examples in `after_long_help` (`--help` shows them and the
//! man pages render them as EXAMPLES).

use std::path::PathBuf;

use clap::builder::NonEmptyStringValueParser;
use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

use crate::domain::{PayoutId, UserId};
use crate::store::{Cursor, Page};

/// Examples at the end of `escrowctl --help`, after the exit codes.
const TOP_EXAMPLES: &str = "\
Examples:
  escrowctl escrow list --release-requested
  escrowctl escrow release 65f1c0ffee0123456789abcd
  escrowctl --json wallet show 65f1c0ffee0123456789abce | jq .balance
  escrowctl verify";

/// The text after the options of `escrowctl --help`: exit codes, then examples.
fn top_after_help() -> String {
    let mut text = String::from("Exit status:\n");
    for (exit, meaning) in super::exit::CODES {
        text.push_str(&format!("  {}  {meaning}\n", *exit as u8));
    }
    text.push('\n');
    text.push_str(TOP_EXAMPLES);
    text
}

/// Admin CLI of the escrow backend: release, refund, inspect escrows, wallets and reviews.
///
/// escrowctl calls the escrow library directly (no HTTP) on the same store as escrow-server,
/// configured the same way (environment variables, or a TOML file with --config), and is safe to
/// run while the server runs on the same SQLite file. Tables are for people (money in rupees
/// with two decimals); --json prints one JSON document for scripts (money in integer minor
/// units, as the HTTP API). Errors are one line on stderr. Releases and refunds show what will
/// move and ask first; --yes answers for scripts.
#[derive(Parser, Debug)]
#[command(
    name = "escrowctl",
    version,
    after_long_help = top_after_help(),
    propagate_version = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// The help heading of the options every command takes.
const GLOBAL: &str = "Global options";

#[derive(Args, Debug, Clone, Default)]
pub struct GlobalArgs {
    /// The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL).
    ///
    /// Default: ESCROW_DATABASE_URL, else the server's default file
    /// sqlite://$ESCROW_DATA_DIR/escrow.db. A SQLite file must exist: escrowctl never creates an
    /// empty store by mistake.
    #[arg(long, global = true, value_name = "URL", value_parser = NonEmptyStringValueParser::new(), help_heading = GLOBAL)]
    pub database_url: Option<String>,

    /// A TOML file with settings (same keys as the environment variables; the environment wins).
    #[arg(long, global = true, value_name = "FILE", help_heading = GLOBAL)]
    pub config: Option<PathBuf>,

    /// Print one JSON document on stdout instead of tables.
    ///
    /// Money is integer minor units beside its currency, as in the HTTP API. Nothing else is
    /// written to stdout; errors stay on stderr as one JSON line {"error": message, "code": code}.
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List, show, release and refund escrows.
    #[command(subcommand)]
    Escrow(EscrowCommand),
    /// Cancel a contract no money is held for (frees its job).
    #[command(subcommand)]
    Contract(ContractCommand),
    /// List disputes (`escrowctl escrow resolve` settles one).
    #[command(subcommand)]
    Disputes(DisputesCommand),
    /// List refunds waiting for the payment provider or failed there; retry a failed one.
    #[command(subcommand)]
    Refunds(RefundsCommand),
    /// List a freelancer's reviews (with the average) or the review of a contract.
    #[command(subcommand)]
    Reviews(ReviewsCommand),
    /// Show a wallet: balance and ledger entries.
    #[command(subcommand)]
    Wallet(WalletCommand),
    /// Funds held, platform revenue, monthly sales.
    #[command(subcommand)]
    Report(ReportCommand),
    /// List, show, send and retry payouts (money out to freelancers' connected accounts).
    #[command(subcommand)]
    Payouts(PayoutsCommand),
    /// List the durable timers: work scheduled to run at a time (payouts at release, …).
    #[command(subcommand)]
    Timers(TimersCommand),
    /// Check every ledger invariant over the whole store.
    #[command(
        after_long_help = "Examples:\n  escrowctl verify\n  escrowctl --json verify | jq .violations"
    )]
    Verify(VerifyArgs),
    /// List received payment-provider webhook events.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// Mint an access token with the configured secret (development and tests only).
    #[command(
        after_long_help = "Examples:\n  escrowctl token --role admin --id 65f1c0ffee0123456789abcd --ttl 10m\n  TOKEN=$(escrowctl token --role client --id 65f1c0ffee0123456789abce)"
    )]
    Token(TokenArgs),
    /// Print a shell completion script.
    #[command(
        after_long_help = "Examples:\n  escrowctl completions bash > ~/.local/share/bash-completion/completions/escrowctl\n  escrowctl completions zsh > ~/.zfunc/_escrowctl"
    )]
    Completions(CompletionsArgs),
}

#[derive(Subcommand, Debug)]
pub enum EscrowCommand {
    /// List escrows, newest first.
    ///
    /// Shows every contract that has an escrow, filtered by escrow status and by whether the
    /// client has asked for the release.
    #[command(
        after_long_help = "Examples:\n  escrowctl escrow list --release-requested\n  escrowctl escrow list --status refund_pending --limit 100"
    )]
    List(ListArgs),
    /// Show a contract: its escrow, history (who did what when) and ledger entries.
    #[command(
        after_long_help = "Examples:\n  escrowctl escrow show 65f1c0ffee0123456789abcd\n  escrowctl --json escrow show 65f1c0ffee0123456789abcd | jq .escrow.history"
    )]
    Show(ShowArgs),
    /// Release an escrow: the earning to the freelancer's wallet, the fee to the platform.
    ///
    /// Only a funded escrow whose release the client has requested is released, unless --force
    /// (which needs --reason; both are recorded in the escrow history with the actor). Shows what
    /// will move and asks; --yes skips the question and is required without a terminal.
    #[command(
        after_long_help = "Examples:\n  escrowctl escrow release 65f1c0ffee0123456789abcd\n  escrowctl escrow release 65f1c0ffee0123456789abcd --force --reason \"client gone\" --yes"
    )]
    Release(ReleaseArgs),
    /// Refund an escrow: the client's share back through the payment provider.
    ///
    /// Only a funded escrow of a contract that is not Completed. By default the platform keeps
    /// its fee and the freelancer a kill fee of 0 %, 15 % or 40 % of the earning (contract
    /// Pending, Started, Ongoing); --freelancer-share sets an explicit split for a dispute. The
    /// client's share goes back through the payment provider exactly as the HTTP refund does.
    /// Shows the split and asks; --yes skips the question and is required without a terminal.
    #[command(
        after_long_help = "Examples:\n  escrowctl escrow refund 65f1c0ffee0123456789abcd --reason \"Freelancer not responding\"\n  escrowctl escrow refund 65f1c0ffee0123456789abcd --reason dispute --freelancer-share 450 --yes"
    )]
    Refund(RefundArgs),
    /// Resolve a contract's open dispute with an explicit split.
    ///
    /// The client's share goes back through the payment provider, the freelancer's to their
    /// wallet, and the platform keeps the fee of the disputed milestones: the two shares and
    /// the fee must add up to the disputed escrow's amount. Exactly once. Shows the split and
    /// asks; --yes skips the question and is required without a terminal.
    #[command(
        after_long_help = "Examples:\n  escrowctl escrow resolve 65f1c0ffee0123456789abcd --client-share 300 --freelancer-share 600 --reason \"half delivered\"\n  escrowctl disputes list --open"
    )]
    Resolve(ResolveArgs),
}

#[derive(Args, Debug)]
pub struct ResolveArgs {
    /// The contract: its id (24 hex characters) or its human id (CON00000042).
    #[arg(value_name = "CONTRACT_ID")]
    pub contract_id: String,
    /// Back to the client through the payment provider, in rupees ("300", "0").
    #[arg(long, value_name = "AMOUNT", allow_hyphen_values = true)]
    pub client_share: String,
    /// To the freelancer's wallet, in rupees ("600", "0").
    #[arg(long, value_name = "AMOUNT", allow_hyphen_values = true)]
    pub freelancer_share: String,
    /// Why; recorded in the dispute and the escrow history.
    #[arg(long, value_name = "REASON", value_parser = NonEmptyStringValueParser::new())]
    pub reason: String,
    #[command(flatten)]
    pub act: ActArgs,
}

#[derive(Subcommand, Debug)]
pub enum RefundsCommand {
    /// List contracts whose refund waits for the payment provider (or, with --failed, failed
    /// there), newest first.
    #[command(
        after_long_help = "Examples:\n  escrowctl refunds list --failed\n  escrowctl --json refunds list | jq '.data[].refund'"
    )]
    List(RefundsListArgs),
    /// Send a contract's failed refunds to the payment provider again, under a new
    /// idempotency key. Shows what goes back and asks; --yes skips the question.
    #[command(after_long_help = "Examples:\n  escrowctl refunds retry 65f1c0ffee0123456789abcd")]
    Retry(RefundsRetryArgs),
    /// Settle a contract's failed refunds by other means (a bank transfer made by hand): the
    /// client's share is booked as sent and the escrow refunded; nothing goes to the provider.
    /// Asks first; --yes skips the question.
    #[command(
        after_long_help = "Examples:\n  escrowctl refunds settle 65f1c0ffee0123456789abcd --reason \"paid by bank transfer, ref 4711\""
    )]
    Settle(RefundsSettleArgs),
}

#[derive(Args, Debug)]
pub struct RefundsSettleArgs {
    /// The contract: its id (24 hex characters) or its human id (CON00000042).
    #[arg(value_name = "CONTRACT_ID")]
    pub contract_id: String,
    /// How the client was paid; recorded in the escrow history.
    #[arg(long, value_name = "REASON", value_parser = NonEmptyStringValueParser::new())]
    pub reason: String,
    #[command(flatten)]
    pub act: ActArgs,
}

#[derive(Args, Debug)]
pub struct RefundsListArgs {
    /// Only refunds the provider failed or canceled.
    #[arg(long)]
    pub failed: bool,
    #[command(flatten)]
    pub page: PageArgs,
}

#[derive(Args, Debug)]
pub struct RefundsRetryArgs {
    /// The contract: its id (24 hex characters) or its human id (CON00000042).
    #[arg(value_name = "CONTRACT_ID")]
    pub contract_id: String,
    #[command(flatten)]
    pub act: ActArgs,
}

#[derive(Subcommand, Debug)]
pub enum DisputesCommand {
    /// List the contracts with disputes, newest first: who opened each, why, and how it ended.
    #[command(
        after_long_help = "Examples:\n  escrowctl disputes list --open\n  escrowctl --json disputes list | jq '.data[].disputes'"
    )]
    List(DisputesListArgs),
}

#[derive(Args, Debug)]
pub struct DisputesListArgs {
    /// Only contracts with an open dispute (their escrow is frozen).
    #[arg(long)]
    pub open: bool,
    #[command(flatten)]
    pub page: PageArgs,
}

#[derive(Subcommand, Debug)]
pub enum ContractCommand {
    /// Cancel a contract no money is held for, freeing its job for a new contract.
    ///
    /// Without a directory of the original app's jobs, any client can open a contract on any
    /// job id, and the job's real owner is then locked out: this frees it. A funded contract is
    /// refunded instead (`escrowctl escrow refund`).
    #[command(after_long_help = "Examples:
  escrowctl contract cancel 65f1c0ffee0123456789abcd --reason \"job squatted\"")]
    Cancel(CancelArgs),
}

#[derive(Args, Debug)]
pub struct CancelArgs {
    /// The contract: its id (24 hex characters) or its human id (CON00000042).
    #[arg(value_name = "CONTRACT_ID")]
    pub contract_id: String,
    /// Why; recorded as the contract's cancel reason.
    #[arg(long, value_name = "REASON", value_parser = NonEmptyStringValueParser::new())]
    pub reason: String,
    /// Who acts, recorded in the logs [default: cli:<OS user>@<host>].
    #[arg(long, value_name = "ACTOR", value_parser = parse_actor)]
    pub actor: Option<String>,
}

/// Escrow statuses, as the API writes them.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusArg {
    /// Paid in and held.
    Funded,
    /// Paid out to the freelancer's wallet and the platform.
    Released,
    /// Refund decided; the client's share waits for the payment provider.
    #[value(name = "refund_pending")]
    RefundPending,
    /// Refund completed.
    Refunded,
    /// A lost chargeback took all it held.
    #[value(name = "charged_back")]
    ChargedBack,
    /// The provider failed the refund: owed to the client until `escrowctl refunds retry`.
    #[value(name = "refund_failed")]
    RefundFailed,
}

#[derive(Args, Debug)]
pub struct PageArgs {
    /// How many rows per page (1–100).
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub limit: u32,
    /// Which page, from 1.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub page: u32,
    /// The page after this cursor (the `next` of the page before, as --json prints it): a
    /// deep page costs what the first does. Not with --page.
    #[arg(long, value_name = "CURSOR", value_parser = parse_cursor, conflicts_with = "page")]
    pub after: Option<Cursor>,
}

impl PageArgs {
    /// The page these flags ask for.
    pub fn page(&self) -> Page {
        match &self.after {
            Some(cursor) => Page::after(Some(cursor.clone()), self.limit),
            None => Page::new(self.page, self.limit),
        }
    }
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only escrows in this status.
    #[arg(long, value_enum, value_name = "STATUS")]
    pub status: Option<StatusArg>,
    /// Only escrows whose release the client has requested (and that are not released yet).
    #[arg(long)]
    pub release_requested: bool,
    #[command(flatten)]
    pub page: PageArgs,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The contract: its id (24 hex characters) or its human id (CON00000042).
    #[arg(value_name = "CONTRACT_ID")]
    pub contract_id: String,
}

#[derive(Args, Debug)]
pub struct ActArgs {
    /// Who acts, recorded in the escrow history [default: cli:<OS user>@<host>].
    #[arg(long, value_name = "ACTOR", value_parser = parse_actor)]
    pub actor: Option<String>,
    /// Do not ask: act at once (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Args, Debug)]
pub struct ReleaseArgs {
    /// The contract: its id (24 hex characters) or its human id (CON00000042).
    #[arg(value_name = "CONTRACT_ID")]
    pub contract_id: String,
    /// Release this milestone only (its number); without it, every held milestone whose
    /// release the client requested (every held one with --force).
    #[arg(long, value_name = "M", value_parser = clap::value_parser!(u8).range(1..=50))]
    pub milestone: Option<u8>,
    /// Release even though the client has not requested it (needs --reason).
    #[arg(long, requires = "reason")]
    pub force: bool,
    /// Why a forced release happens; recorded in the escrow history.
    #[arg(long, value_name = "REASON", requires = "force", value_parser = NonEmptyStringValueParser::new())]
    pub reason: Option<String>,
    #[command(flatten)]
    pub act: ActArgs,
}

#[derive(Args, Debug)]
pub struct RefundArgs {
    /// The contract: its id (24 hex characters) or its human id (CON00000042).
    #[arg(value_name = "CONTRACT_ID")]
    pub contract_id: String,
    /// Why the contract is refunded (its cancel reason); recorded in the escrow history.
    #[arg(long, value_name = "REASON", value_parser = NonEmptyStringValueParser::new())]
    pub reason: String,
    /// A longer description of the reason.
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    /// The freelancer's share in rupees ("450", "199.99", "0"), between 0 and the earning.
    ///
    /// An explicit split for dispute resolution: the platform keeps its fee, the freelancer
    /// gets this share, the client gets the rest of the earning back.
    #[arg(long, value_name = "AMOUNT", allow_hyphen_values = true)]
    pub freelancer_share: Option<String>,
    #[command(flatten)]
    pub act: ActArgs,
}

#[derive(Subcommand, Debug)]
pub enum ReviewsCommand {
    /// List the reviews of a freelancer (newest first, with the average) or of a contract.
    #[command(
        after_long_help = "Examples:\n  escrowctl reviews list --freelancer 65f1c0ffee0123456789abce\n  escrowctl reviews list --contract 65f1c0ffee0123456789abcd"
    )]
    List(ReviewsListArgs),
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("whose").required(true).args(["freelancer", "contract"])))]
pub struct ReviewsListArgs {
    /// The freelancer's user id.
    #[arg(long, value_name = "ID")]
    pub freelancer: Option<String>,
    /// The contract (its id or its human id, CON00000042): its review, if the client wrote one.
    #[arg(long, value_name = "ID")]
    pub contract: Option<String>,
    #[command(flatten)]
    pub page: PageArgs,
}

#[derive(Subcommand, Debug)]
pub enum WalletCommand {
    /// Show a user's wallet: balance, payouts in flight and ledger entries, newest first.
    #[command(
        after_long_help = "Examples:\n  escrowctl wallet show 65f1c0ffee0123456789abce\n  escrowctl --json wallet show 65f1c0ffee0123456789abce | jq .balance"
    )]
    Show(WalletShowArgs),
}

#[derive(Args, Debug)]
pub struct WalletShowArgs {
    /// The user id (24 hex characters).
    #[arg(value_name = "USER_ID", value_parser = parse_user_id)]
    pub user_id: UserId,
    #[command(flatten)]
    pub page: PageArgs,
}

#[derive(Subcommand, Debug)]
pub enum PayoutsCommand {
    /// List payouts, newest first, by status and user.
    #[command(
        after_long_help = "Examples:\n  escrowctl payouts list --status failed\n  escrowctl payouts list --user 65f1c0ffee0123456789abce"
    )]
    List(PayoutListArgs),
    /// Show a payout: amount, destination, transfer, attempts and history.
    #[command(after_long_help = "Examples:\n  escrowctl payouts show 65f1c0ffee0123456789abcf")]
    Show(PayoutShowArgs),
    /// Send a freelancer's wallet (or part of it) to their connected account.
    ///
    /// What the freelancer's own request does (POST /api/freelancer/payouts): refused without a
    /// connected account that takes payouts, under ESCROW_PAYOUT_MIN or over the balance. Asks
    /// first; --yes skips the question and is required without a terminal.
    #[command(
        after_long_help = "Examples:\n  escrowctl payouts create --user 65f1c0ffee0123456789abce\n  escrowctl payouts create --user 65f1c0ffee0123456789abce --amount 250.50 --yes"
    )]
    Create(PayoutCreateArgs),
    /// Retry a failed payout: debit the wallet again and send it under a new attempt.
    ///
    /// Only a failed payout (the provider refused it and its money went back to the wallet).
    /// The wallet must still hold the amount. Asks first; --yes skips the question.
    #[command(
        after_long_help = "Examples:\n  escrowctl payouts retry 65f1c0ffee0123456789abcf\n  escrowctl payouts retry 65f1c0ffee0123456789abcf --yes"
    )]
    Retry(PayoutRetryArgs),
}

/// Payout statuses, as the API writes them.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayoutStatusArg {
    /// Asked for; the wallet debit is being made.
    Requested,
    /// Debited; the transfer is not confirmed yet (retried by the server).
    Pending,
    /// Sent to the connected account.
    Paid,
    /// Refused by the provider; the money is back in the wallet.
    Failed,
    /// Paid, then reversed in full by the provider.
    Reversed,
}

impl From<PayoutStatusArg> for crate::domain::PayoutStatus {
    fn from(s: PayoutStatusArg) -> crate::domain::PayoutStatus {
        use crate::domain::PayoutStatus as S;
        match s {
            PayoutStatusArg::Requested => S::Requested,
            PayoutStatusArg::Pending => S::Pending,
            PayoutStatusArg::Paid => S::Paid,
            PayoutStatusArg::Failed => S::Failed,
            PayoutStatusArg::Reversed => S::Reversed,
        }
    }
}

#[derive(Args, Debug)]
pub struct PayoutListArgs {
    /// Only payouts in this status.
    #[arg(long, value_enum, value_name = "STATUS")]
    pub status: Option<PayoutStatusArg>,
    /// Only this user's payouts.
    #[arg(long, value_name = "USER_ID", value_parser = parse_user_id)]
    pub user: Option<UserId>,
    #[command(flatten)]
    pub page: PageArgs,
}

#[derive(Args, Debug)]
pub struct PayoutShowArgs {
    /// The payout id (24 hex characters).
    #[arg(value_name = "PAYOUT_ID", value_parser = parse_payout_id)]
    pub payout_id: PayoutId,
}

#[derive(Args, Debug)]
pub struct PayoutCreateArgs {
    /// Whose wallet (the freelancer's user id).
    #[arg(long, value_name = "USER_ID", value_parser = parse_user_id)]
    pub user: UserId,
    /// How much, in rupees ("250", "250.50"); default: the whole balance.
    #[arg(long, value_name = "AMOUNT")]
    pub amount: Option<String>,
    #[command(flatten)]
    pub act: ActArgs,
}

#[derive(Args, Debug)]
pub struct PayoutRetryArgs {
    /// The payout id (24 hex characters).
    #[arg(value_name = "PAYOUT_ID", value_parser = parse_payout_id)]
    pub payout_id: PayoutId,
    #[command(flatten)]
    pub act: ActArgs,
}

#[derive(Subcommand, Debug)]
pub enum TimersCommand {
    /// List the timers not done yet, soonest due first.
    ///
    /// A timer is claimed by one server at a time (its holder, until its lease ends), done
    /// once, and put off with a growing delay when its work fails (attempts, last error).
    #[command(
        after_long_help = "Examples:\n  escrowctl timers list\n  escrowctl timers list --due"
    )]
    List(TimersListArgs),
}

#[derive(Args, Debug)]
pub struct TimersListArgs {
    /// Only timers due now.
    #[arg(long)]
    pub due: bool,
    /// How many timers at most (1–1000).
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
}

#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// Funds held in escrow now.
    Balance,
    /// Platform fee revenue so far.
    Revenue,
    /// Released escrows per month: gross, fee, earning, count.
    ///
    /// Months are UTC, by the day of release. --from and --to are inclusive days.
    #[command(
        after_long_help = "Examples:\n  escrowctl report sales\n  escrowctl report sales --from 2025-01-01 --to 2025-03-31"
    )]
    Sales(SalesArgs),
}

#[derive(Args, Debug)]
pub struct SalesArgs {
    /// First day included (YYYY-MM-DD, UTC).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub from: Option<chrono::NaiveDate>,
    /// Last day included (YYYY-MM-DD, UTC).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub to: Option<chrono::NaiveDate>,
}

/// `verify` takes no options; the struct keeps room for some.
#[derive(Args, Debug)]
pub struct VerifyArgs {}

#[derive(Subcommand, Debug)]
pub enum WebhooksCommand {
    /// List received events, newest first: type, outcome, error, contract.
    ///
    /// Events that can never be applied (unknown contract, amount differs) are answered 200 so
    /// the provider stops retrying, and recorded as failed: --failed lists them.
    #[command(after_long_help = "Examples:\n  escrowctl webhooks list --failed")]
    List(WebhooksListArgs),
}

#[derive(Args, Debug)]
pub struct WebhooksListArgs {
    /// Only events that failed.
    #[arg(long)]
    pub failed: bool,
    /// How many events at most (1–1000).
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
    /// The events after this cursor (the `next` of the list before, as --json prints it).
    #[arg(long, value_name = "CURSOR", value_parser = parse_cursor)]
    pub after: Option<Cursor>,
}

/// Roles a token can carry.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleArg {
    Client,
    Freelancer,
    Admin,
}

#[derive(Args, Debug)]
pub struct TokenArgs {
    /// The role the token carries.
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// The user id the token carries (24 hex characters).
    #[arg(long, value_name = "ID", value_parser = parse_user_id)]
    pub id: UserId,
    /// How long the token lives: a number with s, m, h or d (at most 30d).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_ttl)]
    pub ttl: TtlSeconds,
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// Longest actor text written into the history.
pub const ACTOR_CHARS_MAX: usize = 128;
/// Longest token lifetime `token` mints.
pub const TTL_S_MAX: u64 = 30 * 24 * 3600;

/// A token lifetime in seconds, parsed from "90s", "10m", "2h", "7d".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtlSeconds(pub u64);

pub fn parse_ttl(text: &str) -> Result<TtlSeconds, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 90s, 10m, 2h or 7d"))?;
    let scale = match unit {
        "s" | "" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("unknown unit {unit:?}: use s, m, h or d")),
    };
    match number.checked_mul(scale) {
        Some(0) => Err("the lifetime must be longer than 0".into()),
        Some(s) if s <= TTL_S_MAX => Ok(TtlSeconds(s)),
        _ => Err("the lifetime is longer than 30d".into()),
    }
}

pub fn parse_user_id(text: &str) -> Result<UserId, String> {
    UserId::parse(text).map_err(|_| format!("{text:?} is not a 24-character hex id"))
}

pub fn parse_payout_id(text: &str) -> Result<PayoutId, String> {
    PayoutId::parse(text).map_err(|_| format!("{text:?} is not a 24-character hex id"))
}

pub fn parse_cursor(text: &str) -> Result<Cursor, String> {
    Cursor::decode(text)
        .ok_or_else(|| format!("{text:?} is not a `next` cursor of an earlier page"))
}

pub fn parse_date(text: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("{text:?} is not a date in the form YYYY-MM-DD"))
}

pub fn parse_actor(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("the actor must not be empty".into());
    }
    if text.chars().count() > ACTOR_CHARS_MAX {
        return Err(format!(
            "the actor is longer than {ACTOR_CHARS_MAX} characters"
        ));
    }
    if text.chars().any(char::is_control) {
        return Err("the actor must not contain control characters".into());
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn lifetimes_take_a_unit_and_a_limit() {
        assert_eq!(parse_ttl("2h"), Ok(TtlSeconds(7200)));
        assert_eq!(parse_ttl("90"), Ok(TtlSeconds(90)));
        assert_eq!(parse_ttl("30d"), Ok(TtlSeconds(TTL_S_MAX)));
        assert!(parse_ttl("31d").is_err());
        assert!(parse_ttl("0m").is_err());
        assert!(parse_ttl("2w").is_err());
        assert!(parse_ttl("h").is_err());
        assert!(parse_ttl("99999999999999999999d").is_err());
    }

    #[test]
    fn actors_are_short_printable_text() {
        assert_eq!(parse_actor(" alice "), Ok("alice".into()));
        assert!(parse_actor("").is_err());
        assert!(parse_actor("a\nb").is_err());
        assert!(parse_actor(&"x".repeat(ACTOR_CHARS_MAX + 1)).is_err());
    }
}
