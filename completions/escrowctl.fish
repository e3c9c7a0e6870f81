# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_escrowctl_global_optspecs
    string join \n database-url= config= json h/help V/version
end

function __fish_escrowctl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_escrowctl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_escrowctl_using_subcommand
    set -l cmd (__fish_escrowctl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c escrowctl -n "__fish_escrowctl_needs_command" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_needs_command" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_needs_command" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_needs_command" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_needs_command" -f -a "escrow" -d 'List, show, release and refund escrows'
complete -c escrowctl -n "__fish_escrowctl_needs_command" -f -a "contract" -d 'Cancel a contract no money is held for (frees its job)'
complete -c escrowctl -n "__fish_escrowctl_needs_command" -f -a "disputes" -d 'List disputes (`escrowctl escrow resolve` settles one)'
complete -c escrowctl -n "__fish_escrowctl_needs_command" -f -a "refunds" -d 'List refunds waiting for the payment provider or failed there; retry a failed one'
complete -c escrowctl -n "__fish_escrowctl_needs_command" -f -a "reviews" -d 'List a freelancer\'s reviews (with the average) or the review of a contract'
complete -c escrowctl -n "__fish_escrowctl_needs_command" -f -a "wallet" -d 'Show a wallet: balance and ledger entries'
complete -c escrowctl -n "__fish_escrowctl_needs_command" -f -a "report" -d 'Funds held, platform revenue, monthly sales'
complete -c escrowctl -n "__fish_escrowctl_needs_command" -f -a "payouts" -d 'List, show, send and retry payouts (money out to freelancers\' connected accounts)'
complete -c escrowctl -n "__fish_escrowctl_needs_command" -f -a "timers" -d 'List the durable timers: work scheduled to run at a time (payouts at release, …)'
complete -c escrowctl -n "__fish_escrowctl_needs_command" -f -a "verify" -d 'Check every ledger invariant over the whole store'
complete -c escrowctl -n "__fish_escrowctl_needs_command" -f -a "webhooks" -d 'List received payment-provider webhook events'
complete -c escrowctl -n "__fish_escrowctl_needs_command" -f -a "token" -d 'Mint an access token with the configured secret (development and tests only)'
complete -c escrowctl -n "__fish_escrowctl_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and not __fish_seen_subcommand_from list show release refund resolve" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and not __fish_seen_subcommand_from list show release refund resolve" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and not __fish_seen_subcommand_from list show release refund resolve" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and not __fish_seen_subcommand_from list show release refund resolve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and not __fish_seen_subcommand_from list show release refund resolve" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and not __fish_seen_subcommand_from list show release refund resolve" -f -a "list" -d 'List escrows, newest first'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and not __fish_seen_subcommand_from list show release refund resolve" -f -a "show" -d 'Show a contract: its escrow, history (who did what when) and ledger entries'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and not __fish_seen_subcommand_from list show release refund resolve" -f -a "release" -d 'Release an escrow: the earning to the freelancer\'s wallet, the fee to the platform'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and not __fish_seen_subcommand_from list show release refund resolve" -f -a "refund" -d 'Refund an escrow: the client\'s share back through the payment provider'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and not __fish_seen_subcommand_from list show release refund resolve" -f -a "resolve" -d 'Resolve a contract\'s open dispute with an explicit split'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from list" -l status -d 'Only escrows in this status' -r -f -a "funded\t'Paid in and held'
released\t'Paid out to the freelancer\'s wallet and the platform'
refund_pending\t'Refund decided; the client\'s share waits for the payment provider'
refunded\t'Refund completed'
charged_back\t'A lost chargeback took all it held'
refund_failed\t'The provider failed the refund: owed to the client until `escrowctl refunds retry`'"
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from list" -l limit -d 'How many rows per page (1–100)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from list" -l page -d 'Which page, from 1' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from list" -l after -d 'The page after this cursor (the `next` of the page before, as --json prints it): a deep page costs what the first does. Not with --page' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from list" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from list" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from list" -l release-requested -d 'Only escrows whose release the client has requested (and that are not released yet)'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from list" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from show" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from show" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from show" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from release" -l milestone -d 'Release this milestone only (its number); without it, every held milestone whose release the client requested (every held one with --force)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from release" -l reason -d 'Why a forced release happens; recorded in the escrow history' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from release" -l actor -d 'Who acts, recorded in the escrow history [default: cli:<OS user>@<host>]' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from release" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from release" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from release" -l force -d 'Release even though the client has not requested it (needs --reason)'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from release" -s y -l yes -d 'Do not ask: act at once (required when stdin is not a terminal)'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from release" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from release" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from release" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from refund" -l reason -d 'Why the contract is refunded (its cancel reason); recorded in the escrow history' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from refund" -l description -d 'A longer description of the reason' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from refund" -l freelancer-share -d 'The freelancer\'s share in rupees ("450", "199.99", "0"), between 0 and the earning' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from refund" -l actor -d 'Who acts, recorded in the escrow history [default: cli:<OS user>@<host>]' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from refund" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from refund" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from refund" -s y -l yes -d 'Do not ask: act at once (required when stdin is not a terminal)'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from refund" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from refund" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from refund" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from resolve" -l client-share -d 'Back to the client through the payment provider, in rupees ("300", "0")' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from resolve" -l freelancer-share -d 'To the freelancer\'s wallet, in rupees ("600", "0")' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from resolve" -l reason -d 'Why; recorded in the dispute and the escrow history' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from resolve" -l actor -d 'Who acts, recorded in the escrow history [default: cli:<OS user>@<host>]' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from resolve" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from resolve" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from resolve" -s y -l yes -d 'Do not ask: act at once (required when stdin is not a terminal)'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from resolve" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from resolve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand escrow; and __fish_seen_subcommand_from resolve" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand contract; and not __fish_seen_subcommand_from cancel" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand contract; and not __fish_seen_subcommand_from cancel" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand contract; and not __fish_seen_subcommand_from cancel" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand contract; and not __fish_seen_subcommand_from cancel" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand contract; and not __fish_seen_subcommand_from cancel" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand contract; and not __fish_seen_subcommand_from cancel" -f -a "cancel" -d 'Cancel a contract no money is held for, freeing its job for a new contract'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand contract; and __fish_seen_subcommand_from cancel" -l reason -d 'Why; recorded as the contract\'s cancel reason' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand contract; and __fish_seen_subcommand_from cancel" -l actor -d 'Who acts, recorded in the logs [default: cli:<OS user>@<host>]' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand contract; and __fish_seen_subcommand_from cancel" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand contract; and __fish_seen_subcommand_from cancel" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand contract; and __fish_seen_subcommand_from cancel" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand contract; and __fish_seen_subcommand_from cancel" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand contract; and __fish_seen_subcommand_from cancel" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand disputes; and not __fish_seen_subcommand_from list" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand disputes; and not __fish_seen_subcommand_from list" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand disputes; and not __fish_seen_subcommand_from list" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand disputes; and not __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand disputes; and not __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand disputes; and not __fish_seen_subcommand_from list" -f -a "list" -d 'List the contracts with disputes, newest first: who opened each, why, and how it ended'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand disputes; and __fish_seen_subcommand_from list" -l limit -d 'How many rows per page (1–100)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand disputes; and __fish_seen_subcommand_from list" -l page -d 'Which page, from 1' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand disputes; and __fish_seen_subcommand_from list" -l after -d 'The page after this cursor (the `next` of the page before, as --json prints it): a deep page costs what the first does. Not with --page' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand disputes; and __fish_seen_subcommand_from list" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand disputes; and __fish_seen_subcommand_from list" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand disputes; and __fish_seen_subcommand_from list" -l open -d 'Only contracts with an open dispute (their escrow is frozen)'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand disputes; and __fish_seen_subcommand_from list" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand disputes; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand disputes; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and not __fish_seen_subcommand_from list retry settle" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and not __fish_seen_subcommand_from list retry settle" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and not __fish_seen_subcommand_from list retry settle" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and not __fish_seen_subcommand_from list retry settle" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and not __fish_seen_subcommand_from list retry settle" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and not __fish_seen_subcommand_from list retry settle" -f -a "list" -d 'List contracts whose refund waits for the payment provider (or, with --failed, failed there), newest first'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and not __fish_seen_subcommand_from list retry settle" -f -a "retry" -d 'Send a contract\'s failed refunds to the payment provider again, under a new idempotency key. Shows what goes back and asks; --yes skips the question'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and not __fish_seen_subcommand_from list retry settle" -f -a "settle" -d 'Settle a contract\'s failed refunds by other means (a bank transfer made by hand): the client\'s share is booked as sent and the escrow refunded; nothing goes to the provider. Asks first; --yes skips the question'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and __fish_seen_subcommand_from list" -l limit -d 'How many rows per page (1–100)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and __fish_seen_subcommand_from list" -l page -d 'Which page, from 1' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and __fish_seen_subcommand_from list" -l after -d 'The page after this cursor (the `next` of the page before, as --json prints it): a deep page costs what the first does. Not with --page' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and __fish_seen_subcommand_from list" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and __fish_seen_subcommand_from list" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and __fish_seen_subcommand_from list" -l failed -d 'Only refunds the provider failed or canceled'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and __fish_seen_subcommand_from list" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and __fish_seen_subcommand_from retry" -l actor -d 'Who acts, recorded in the escrow history [default: cli:<OS user>@<host>]' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and __fish_seen_subcommand_from retry" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and __fish_seen_subcommand_from retry" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and __fish_seen_subcommand_from retry" -s y -l yes -d 'Do not ask: act at once (required when stdin is not a terminal)'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and __fish_seen_subcommand_from retry" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and __fish_seen_subcommand_from retry" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and __fish_seen_subcommand_from retry" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and __fish_seen_subcommand_from settle" -l reason -d 'How the client was paid; recorded in the escrow history' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and __fish_seen_subcommand_from settle" -l actor -d 'Who acts, recorded in the escrow history [default: cli:<OS user>@<host>]' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and __fish_seen_subcommand_from settle" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and __fish_seen_subcommand_from settle" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and __fish_seen_subcommand_from settle" -s y -l yes -d 'Do not ask: act at once (required when stdin is not a terminal)'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and __fish_seen_subcommand_from settle" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and __fish_seen_subcommand_from settle" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand refunds; and __fish_seen_subcommand_from settle" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand reviews; and not __fish_seen_subcommand_from list" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand reviews; and not __fish_seen_subcommand_from list" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand reviews; and not __fish_seen_subcommand_from list" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand reviews; and not __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand reviews; and not __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand reviews; and not __fish_seen_subcommand_from list" -f -a "list" -d 'List the reviews of a freelancer (newest first, with the average) or of a contract'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand reviews; and __fish_seen_subcommand_from list" -l freelancer -d 'The freelancer\'s user id' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand reviews; and __fish_seen_subcommand_from list" -l contract -d 'The contract (its id or its human id, CON00000042): its review, if the client wrote one' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand reviews; and __fish_seen_subcommand_from list" -l limit -d 'How many rows per page (1–100)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand reviews; and __fish_seen_subcommand_from list" -l page -d 'Which page, from 1' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand reviews; and __fish_seen_subcommand_from list" -l after -d 'The page after this cursor (the `next` of the page before, as --json prints it): a deep page costs what the first does. Not with --page' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand reviews; and __fish_seen_subcommand_from list" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand reviews; and __fish_seen_subcommand_from list" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand reviews; and __fish_seen_subcommand_from list" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand reviews; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand reviews; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand wallet; and not __fish_seen_subcommand_from show" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand wallet; and not __fish_seen_subcommand_from show" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand wallet; and not __fish_seen_subcommand_from show" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand wallet; and not __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand wallet; and not __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand wallet; and not __fish_seen_subcommand_from show" -f -a "show" -d 'Show a user\'s wallet: balance, payouts in flight and ledger entries, newest first'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand wallet; and __fish_seen_subcommand_from show" -l limit -d 'How many rows per page (1–100)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand wallet; and __fish_seen_subcommand_from show" -l page -d 'Which page, from 1' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand wallet; and __fish_seen_subcommand_from show" -l after -d 'The page after this cursor (the `next` of the page before, as --json prints it): a deep page costs what the first does. Not with --page' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand wallet; and __fish_seen_subcommand_from show" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand wallet; and __fish_seen_subcommand_from show" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand wallet; and __fish_seen_subcommand_from show" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand wallet; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand wallet; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand report; and not __fish_seen_subcommand_from balance revenue sales" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand report; and not __fish_seen_subcommand_from balance revenue sales" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand report; and not __fish_seen_subcommand_from balance revenue sales" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand report; and not __fish_seen_subcommand_from balance revenue sales" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand report; and not __fish_seen_subcommand_from balance revenue sales" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand report; and not __fish_seen_subcommand_from balance revenue sales" -f -a "balance" -d 'Funds held in escrow now'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand report; and not __fish_seen_subcommand_from balance revenue sales" -f -a "revenue" -d 'Platform fee revenue so far'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand report; and not __fish_seen_subcommand_from balance revenue sales" -f -a "sales" -d 'Released escrows per month: gross, fee, earning, count'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand report; and __fish_seen_subcommand_from balance" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand report; and __fish_seen_subcommand_from balance" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand report; and __fish_seen_subcommand_from balance" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand report; and __fish_seen_subcommand_from balance" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand report; and __fish_seen_subcommand_from balance" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand report; and __fish_seen_subcommand_from revenue" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand report; and __fish_seen_subcommand_from revenue" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand report; and __fish_seen_subcommand_from revenue" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand report; and __fish_seen_subcommand_from revenue" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand report; and __fish_seen_subcommand_from revenue" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand report; and __fish_seen_subcommand_from sales" -l from -d 'First day included (YYYY-MM-DD, UTC)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand report; and __fish_seen_subcommand_from sales" -l to -d 'Last day included (YYYY-MM-DD, UTC)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand report; and __fish_seen_subcommand_from sales" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand report; and __fish_seen_subcommand_from sales" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand report; and __fish_seen_subcommand_from sales" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand report; and __fish_seen_subcommand_from sales" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand report; and __fish_seen_subcommand_from sales" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and not __fish_seen_subcommand_from list show create retry" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and not __fish_seen_subcommand_from list show create retry" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and not __fish_seen_subcommand_from list show create retry" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and not __fish_seen_subcommand_from list show create retry" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and not __fish_seen_subcommand_from list show create retry" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and not __fish_seen_subcommand_from list show create retry" -f -a "list" -d 'List payouts, newest first, by status and user'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and not __fish_seen_subcommand_from list show create retry" -f -a "show" -d 'Show a payout: amount, destination, transfer, attempts and history'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and not __fish_seen_subcommand_from list show create retry" -f -a "create" -d 'Send a freelancer\'s wallet (or part of it) to their connected account'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and not __fish_seen_subcommand_from list show create retry" -f -a "retry" -d 'Retry a failed payout: debit the wallet again and send it under a new attempt'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from list" -l status -d 'Only payouts in this status' -r -f -a "requested\t'Asked for; the wallet debit is being made'
pending\t'Debited; the transfer is not confirmed yet (retried by the server)'
paid\t'Sent to the connected account'
failed\t'Refused by the provider; the money is back in the wallet'
reversed\t'Paid, then reversed in full by the provider'"
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from list" -l user -d 'Only this user\'s payouts' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from list" -l limit -d 'How many rows per page (1–100)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from list" -l page -d 'Which page, from 1' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from list" -l after -d 'The page after this cursor (the `next` of the page before, as --json prints it): a deep page costs what the first does. Not with --page' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from list" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from list" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from list" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from show" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from show" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from show" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from create" -l user -d 'Whose wallet (the freelancer\'s user id)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from create" -l amount -d 'How much, in rupees ("250", "250.50"); default: the whole balance' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from create" -l actor -d 'Who acts, recorded in the escrow history [default: cli:<OS user>@<host>]' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from create" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from create" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from create" -s y -l yes -d 'Do not ask: act at once (required when stdin is not a terminal)'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from create" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from retry" -l actor -d 'Who acts, recorded in the escrow history [default: cli:<OS user>@<host>]' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from retry" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from retry" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from retry" -s y -l yes -d 'Do not ask: act at once (required when stdin is not a terminal)'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from retry" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from retry" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand payouts; and __fish_seen_subcommand_from retry" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand timers; and not __fish_seen_subcommand_from list" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand timers; and not __fish_seen_subcommand_from list" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand timers; and not __fish_seen_subcommand_from list" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand timers; and not __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand timers; and not __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand timers; and not __fish_seen_subcommand_from list" -f -a "list" -d 'List the timers not done yet, soonest due first'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand timers; and __fish_seen_subcommand_from list" -l limit -d 'How many timers at most (1–1000)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand timers; and __fish_seen_subcommand_from list" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand timers; and __fish_seen_subcommand_from list" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand timers; and __fish_seen_subcommand_from list" -l due -d 'Only timers due now'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand timers; and __fish_seen_subcommand_from list" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand timers; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand timers; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand verify" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand verify" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand verify" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand verify" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand webhooks; and not __fish_seen_subcommand_from list" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand webhooks; and not __fish_seen_subcommand_from list" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand webhooks; and not __fish_seen_subcommand_from list" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand webhooks; and not __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand webhooks; and not __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand webhooks; and not __fish_seen_subcommand_from list" -f -a "list" -d 'List received events, newest first: type, outcome, error, contract'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand webhooks; and __fish_seen_subcommand_from list" -l limit -d 'How many events at most (1–1000)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand webhooks; and __fish_seen_subcommand_from list" -l after -d 'The events after this cursor (the `next` of the list before, as --json prints it)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand webhooks; and __fish_seen_subcommand_from list" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand webhooks; and __fish_seen_subcommand_from list" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand webhooks; and __fish_seen_subcommand_from list" -l failed -d 'Only events that failed'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand webhooks; and __fish_seen_subcommand_from list" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand webhooks; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand webhooks; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand token" -l role -d 'The role the token carries' -r -f -a "client\t''
freelancer\t''
admin\t''"
complete -c escrowctl -n "__fish_escrowctl_using_subcommand token" -l id -d 'The user id the token carries (24 hex characters)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand token" -l ttl -d 'How long the token lives: a number with s, m, h or d (at most 30d)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand token" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand token" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand token" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand token" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand token" -s V -l version -d 'Print version'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand completions" -l database-url -d 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)' -r
complete -c escrowctl -n "__fish_escrowctl_using_subcommand completions" -l config -d 'A TOML file with settings (same keys as the environment variables; the environment wins)' -r -F
complete -c escrowctl -n "__fish_escrowctl_using_subcommand completions" -l json -d 'Print one JSON document on stdout instead of tables'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c escrowctl -n "__fish_escrowctl_using_subcommand completions" -s V -l version -d 'Print version'
