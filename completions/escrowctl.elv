
use builtin;
use str;

set edit:completion:arg-completer[escrowctl] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'escrowctl'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'escrowctl'= {
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand escrow 'List, show, release and refund escrows'
            cand contract 'Cancel a contract no money is held for (frees its job)'
            cand disputes 'List disputes (`escrowctl escrow resolve` settles one)'
            cand refunds 'List refunds waiting for the payment provider or failed there; retry a failed one'
            cand reviews 'List a freelancer''s reviews (with the average) or the review of a contract'
            cand wallet 'Show a wallet: balance and ledger entries'
            cand report 'Funds held, platform revenue, monthly sales'
            cand payouts 'List, show, send and retry payouts (money out to freelancers'' connected accounts)'
            cand timers 'List the durable timers: work scheduled to run at a time (payouts at release, …)'
            cand verify 'Check every ledger invariant over the whole store'
            cand webhooks 'List received payment-provider webhook events'
            cand token 'Mint an access token with the configured secret (development and tests only)'
            cand completions 'Print a shell completion script'
        }
        &'escrowctl;escrow'= {
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List escrows, newest first'
            cand show 'Show a contract: its escrow, history (who did what when) and ledger entries'
            cand release 'Release an escrow: the earning to the freelancer''s wallet, the fee to the platform'
            cand refund 'Refund an escrow: the client''s share back through the payment provider'
            cand resolve 'Resolve a contract''s open dispute with an explicit split'
        }
        &'escrowctl;escrow;list'= {
            cand --status 'Only escrows in this status'
            cand --limit 'How many rows per page (1–100)'
            cand --page 'Which page, from 1'
            cand --after 'The page after this cursor (the `next` of the page before, as --json prints it): a deep page costs what the first does. Not with --page'
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand --release-requested 'Only escrows whose release the client has requested (and that are not released yet)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'escrowctl;escrow;show'= {
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'escrowctl;escrow;release'= {
            cand --milestone 'Release this milestone only (its number); without it, every held milestone whose release the client requested (every held one with --force)'
            cand --reason 'Why a forced release happens; recorded in the escrow history'
            cand --actor 'Who acts, recorded in the escrow history [default: cli:<OS user>@<host>]'
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand --force 'Release even though the client has not requested it (needs --reason)'
            cand -y 'Do not ask: act at once (required when stdin is not a terminal)'
            cand --yes 'Do not ask: act at once (required when stdin is not a terminal)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'escrowctl;escrow;refund'= {
            cand --reason 'Why the contract is refunded (its cancel reason); recorded in the escrow history'
            cand --description 'A longer description of the reason'
            cand --freelancer-share 'The freelancer''s share in rupees ("450", "199.99", "0"), between 0 and the earning'
            cand --actor 'Who acts, recorded in the escrow history [default: cli:<OS user>@<host>]'
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand -y 'Do not ask: act at once (required when stdin is not a terminal)'
            cand --yes 'Do not ask: act at once (required when stdin is not a terminal)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'escrowctl;escrow;resolve'= {
            cand --client-share 'Back to the client through the payment provider, in rupees ("300", "0")'
            cand --freelancer-share 'To the freelancer''s wallet, in rupees ("600", "0")'
            cand --reason 'Why; recorded in the dispute and the escrow history'
            cand --actor 'Who acts, recorded in the escrow history [default: cli:<OS user>@<host>]'
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand -y 'Do not ask: act at once (required when stdin is not a terminal)'
            cand --yes 'Do not ask: act at once (required when stdin is not a terminal)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'escrowctl;contract'= {
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand cancel 'Cancel a contract no money is held for, freeing its job for a new contract'
        }
        &'escrowctl;contract;cancel'= {
            cand --reason 'Why; recorded as the contract''s cancel reason'
            cand --actor 'Who acts, recorded in the logs [default: cli:<OS user>@<host>]'
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'escrowctl;disputes'= {
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List the contracts with disputes, newest first: who opened each, why, and how it ended'
        }
        &'escrowctl;disputes;list'= {
            cand --limit 'How many rows per page (1–100)'
            cand --page 'Which page, from 1'
            cand --after 'The page after this cursor (the `next` of the page before, as --json prints it): a deep page costs what the first does. Not with --page'
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand --open 'Only contracts with an open dispute (their escrow is frozen)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'escrowctl;refunds'= {
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List contracts whose refund waits for the payment provider (or, with --failed, failed there), newest first'
            cand retry 'Send a contract''s failed refunds to the payment provider again, under a new idempotency key. Shows what goes back and asks; --yes skips the question'
            cand settle 'Settle a contract''s failed refunds by other means (a bank transfer made by hand): the client''s share is booked as sent and the escrow refunded; nothing goes to the provider. Asks first; --yes skips the question'
        }
        &'escrowctl;refunds;list'= {
            cand --limit 'How many rows per page (1–100)'
            cand --page 'Which page, from 1'
            cand --after 'The page after this cursor (the `next` of the page before, as --json prints it): a deep page costs what the first does. Not with --page'
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand --failed 'Only refunds the provider failed or canceled'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'escrowctl;refunds;retry'= {
            cand --actor 'Who acts, recorded in the escrow history [default: cli:<OS user>@<host>]'
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand -y 'Do not ask: act at once (required when stdin is not a terminal)'
            cand --yes 'Do not ask: act at once (required when stdin is not a terminal)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'escrowctl;refunds;settle'= {
            cand --reason 'How the client was paid; recorded in the escrow history'
            cand --actor 'Who acts, recorded in the escrow history [default: cli:<OS user>@<host>]'
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand -y 'Do not ask: act at once (required when stdin is not a terminal)'
            cand --yes 'Do not ask: act at once (required when stdin is not a terminal)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'escrowctl;reviews'= {
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List the reviews of a freelancer (newest first, with the average) or of a contract'
        }
        &'escrowctl;reviews;list'= {
            cand --freelancer 'The freelancer''s user id'
            cand --contract 'The contract (its id or its human id, CON00000042): its review, if the client wrote one'
            cand --limit 'How many rows per page (1–100)'
            cand --page 'Which page, from 1'
            cand --after 'The page after this cursor (the `next` of the page before, as --json prints it): a deep page costs what the first does. Not with --page'
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'escrowctl;wallet'= {
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand show 'Show a user''s wallet: balance, payouts in flight and ledger entries, newest first'
        }
        &'escrowctl;wallet;show'= {
            cand --limit 'How many rows per page (1–100)'
            cand --page 'Which page, from 1'
            cand --after 'The page after this cursor (the `next` of the page before, as --json prints it): a deep page costs what the first does. Not with --page'
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'escrowctl;report'= {
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand balance 'Funds held in escrow now'
            cand revenue 'Platform fee revenue so far'
            cand sales 'Released escrows per month: gross, fee, earning, count'
        }
        &'escrowctl;report;balance'= {
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'escrowctl;report;revenue'= {
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'escrowctl;report;sales'= {
            cand --from 'First day included (YYYY-MM-DD, UTC)'
            cand --to 'Last day included (YYYY-MM-DD, UTC)'
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'escrowctl;payouts'= {
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List payouts, newest first, by status and user'
            cand show 'Show a payout: amount, destination, transfer, attempts and history'
            cand create 'Send a freelancer''s wallet (or part of it) to their connected account'
            cand retry 'Retry a failed payout: debit the wallet again and send it under a new attempt'
        }
        &'escrowctl;payouts;list'= {
            cand --status 'Only payouts in this status'
            cand --user 'Only this user''s payouts'
            cand --limit 'How many rows per page (1–100)'
            cand --page 'Which page, from 1'
            cand --after 'The page after this cursor (the `next` of the page before, as --json prints it): a deep page costs what the first does. Not with --page'
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'escrowctl;payouts;show'= {
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'escrowctl;payouts;create'= {
            cand --user 'Whose wallet (the freelancer''s user id)'
            cand --amount 'How much, in rupees ("250", "250.50"); default: the whole balance'
            cand --actor 'Who acts, recorded in the escrow history [default: cli:<OS user>@<host>]'
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand -y 'Do not ask: act at once (required when stdin is not a terminal)'
            cand --yes 'Do not ask: act at once (required when stdin is not a terminal)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'escrowctl;payouts;retry'= {
            cand --actor 'Who acts, recorded in the escrow history [default: cli:<OS user>@<host>]'
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand -y 'Do not ask: act at once (required when stdin is not a terminal)'
            cand --yes 'Do not ask: act at once (required when stdin is not a terminal)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'escrowctl;timers'= {
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List the timers not done yet, soonest due first'
        }
        &'escrowctl;timers;list'= {
            cand --limit 'How many timers at most (1–1000)'
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand --due 'Only timers due now'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'escrowctl;verify'= {
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'escrowctl;webhooks'= {
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List received events, newest first: type, outcome, error, contract'
        }
        &'escrowctl;webhooks;list'= {
            cand --limit 'How many events at most (1–1000)'
            cand --after 'The events after this cursor (the `next` of the list before, as --json prints it)'
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand --failed 'Only events that failed'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'escrowctl;token'= {
            cand --role 'The role the token carries'
            cand --id 'The user id the token carries (24 hex characters)'
            cand --ttl 'How long the token lives: a number with s, m, h or d (at most 30d)'
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'escrowctl;completions'= {
            cand --database-url 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)'
            cand --config 'A TOML file with settings (same keys as the environment variables; the environment wins)'
            cand --json 'Print one JSON document on stdout instead of tables'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
    ]
    $completions[$command]
}
