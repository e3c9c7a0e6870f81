
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'escrowctl' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'escrowctl'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'escrowctl' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('escrow', 'escrow', [CompletionResultType]::ParameterValue, 'List, show, release and refund escrows')
            [CompletionResult]::new('contract', 'contract', [CompletionResultType]::ParameterValue, 'Cancel a contract no money is held for (frees its job)')
            [CompletionResult]::new('disputes', 'disputes', [CompletionResultType]::ParameterValue, 'List disputes (`escrowctl escrow resolve` settles one)')
            [CompletionResult]::new('refunds', 'refunds', [CompletionResultType]::ParameterValue, 'List refunds waiting for the payment provider or failed there; retry a failed one')
            [CompletionResult]::new('reviews', 'reviews', [CompletionResultType]::ParameterValue, 'List a freelancer''s reviews (with the average) or the review of a contract')
            [CompletionResult]::new('wallet', 'wallet', [CompletionResultType]::ParameterValue, 'Show a wallet: balance and ledger entries')
            [CompletionResult]::new('report', 'report', [CompletionResultType]::ParameterValue, 'Funds held, platform revenue, monthly sales')
            [CompletionResult]::new('payouts', 'payouts', [CompletionResultType]::ParameterValue, 'List, show, send and retry payouts (money out to freelancers'' connected accounts)')
            [CompletionResult]::new('timers', 'timers', [CompletionResultType]::ParameterValue, 'List the durable timers: work scheduled to run at a time (payouts at release, …)')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check every ledger invariant over the whole store')
            [CompletionResult]::new('webhooks', 'webhooks', [CompletionResultType]::ParameterValue, 'List received payment-provider webhook events')
            [CompletionResult]::new('token', 'token', [CompletionResultType]::ParameterValue, 'Mint an access token with the configured secret (development and tests only)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            break
        }
        'escrowctl;escrow' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List escrows, newest first')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a contract: its escrow, history (who did what when) and ledger entries')
            [CompletionResult]::new('release', 'release', [CompletionResultType]::ParameterValue, 'Release an escrow: the earning to the freelancer''s wallet, the fee to the platform')
            [CompletionResult]::new('refund', 'refund', [CompletionResultType]::ParameterValue, 'Refund an escrow: the client''s share back through the payment provider')
            [CompletionResult]::new('resolve', 'resolve', [CompletionResultType]::ParameterValue, 'Resolve a contract''s open dispute with an explicit split')
            break
        }
        'escrowctl;escrow;list' {
            [CompletionResult]::new('--status', '--status', [CompletionResultType]::ParameterName, 'Only escrows in this status')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'How many rows per page (1–100)')
            [CompletionResult]::new('--page', '--page', [CompletionResultType]::ParameterName, 'Which page, from 1')
            [CompletionResult]::new('--after', '--after', [CompletionResultType]::ParameterName, 'The page after this cursor (the `next` of the page before, as --json prints it): a deep page costs what the first does. Not with --page')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('--release-requested', '--release-requested', [CompletionResultType]::ParameterName, 'Only escrows whose release the client has requested (and that are not released yet)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'escrowctl;escrow;show' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'escrowctl;escrow;release' {
            [CompletionResult]::new('--milestone', '--milestone', [CompletionResultType]::ParameterName, 'Release this milestone only (its number); without it, every held milestone whose release the client requested (every held one with --force)')
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why a forced release happens; recorded in the escrow history')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who acts, recorded in the escrow history [default: cli:<OS user>@<host>]')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Release even though the client has not requested it (needs --reason)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask: act at once (required when stdin is not a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask: act at once (required when stdin is not a terminal)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'escrowctl;escrow;refund' {
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why the contract is refunded (its cancel reason); recorded in the escrow history')
            [CompletionResult]::new('--description', '--description', [CompletionResultType]::ParameterName, 'A longer description of the reason')
            [CompletionResult]::new('--freelancer-share', '--freelancer-share', [CompletionResultType]::ParameterName, 'The freelancer''s share in rupees ("450", "199.99", "0"), between 0 and the earning')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who acts, recorded in the escrow history [default: cli:<OS user>@<host>]')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask: act at once (required when stdin is not a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask: act at once (required when stdin is not a terminal)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'escrowctl;escrow;resolve' {
            [CompletionResult]::new('--client-share', '--client-share', [CompletionResultType]::ParameterName, 'Back to the client through the payment provider, in rupees ("300", "0")')
            [CompletionResult]::new('--freelancer-share', '--freelancer-share', [CompletionResultType]::ParameterName, 'To the freelancer''s wallet, in rupees ("600", "0")')
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why; recorded in the dispute and the escrow history')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who acts, recorded in the escrow history [default: cli:<OS user>@<host>]')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask: act at once (required when stdin is not a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask: act at once (required when stdin is not a terminal)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'escrowctl;contract' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('cancel', 'cancel', [CompletionResultType]::ParameterValue, 'Cancel a contract no money is held for, freeing its job for a new contract')
            break
        }
        'escrowctl;contract;cancel' {
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why; recorded as the contract''s cancel reason')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who acts, recorded in the logs [default: cli:<OS user>@<host>]')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'escrowctl;disputes' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the contracts with disputes, newest first: who opened each, why, and how it ended')
            break
        }
        'escrowctl;disputes;list' {
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'How many rows per page (1–100)')
            [CompletionResult]::new('--page', '--page', [CompletionResultType]::ParameterName, 'Which page, from 1')
            [CompletionResult]::new('--after', '--after', [CompletionResultType]::ParameterName, 'The page after this cursor (the `next` of the page before, as --json prints it): a deep page costs what the first does. Not with --page')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('--open', '--open', [CompletionResultType]::ParameterName, 'Only contracts with an open dispute (their escrow is frozen)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'escrowctl;refunds' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List contracts whose refund waits for the payment provider (or, with --failed, failed there), newest first')
            [CompletionResult]::new('retry', 'retry', [CompletionResultType]::ParameterValue, 'Send a contract''s failed refunds to the payment provider again, under a new idempotency key. Shows what goes back and asks; --yes skips the question')
            [CompletionResult]::new('settle', 'settle', [CompletionResultType]::ParameterValue, 'Settle a contract''s failed refunds by other means (a bank transfer made by hand): the client''s share is booked as sent and the escrow refunded; nothing goes to the provider. Asks first; --yes skips the question')
            break
        }
        'escrowctl;refunds;list' {
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'How many rows per page (1–100)')
            [CompletionResult]::new('--page', '--page', [CompletionResultType]::ParameterName, 'Which page, from 1')
            [CompletionResult]::new('--after', '--after', [CompletionResultType]::ParameterName, 'The page after this cursor (the `next` of the page before, as --json prints it): a deep page costs what the first does. Not with --page')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('--failed', '--failed', [CompletionResultType]::ParameterName, 'Only refunds the provider failed or canceled')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'escrowctl;refunds;retry' {
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who acts, recorded in the escrow history [default: cli:<OS user>@<host>]')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask: act at once (required when stdin is not a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask: act at once (required when stdin is not a terminal)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'escrowctl;refunds;settle' {
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'How the client was paid; recorded in the escrow history')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who acts, recorded in the escrow history [default: cli:<OS user>@<host>]')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask: act at once (required when stdin is not a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask: act at once (required when stdin is not a terminal)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'escrowctl;reviews' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the reviews of a freelancer (newest first, with the average) or of a contract')
            break
        }
        'escrowctl;reviews;list' {
            [CompletionResult]::new('--freelancer', '--freelancer', [CompletionResultType]::ParameterName, 'The freelancer''s user id')
            [CompletionResult]::new('--contract', '--contract', [CompletionResultType]::ParameterName, 'The contract (its id or its human id, CON00000042): its review, if the client wrote one')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'How many rows per page (1–100)')
            [CompletionResult]::new('--page', '--page', [CompletionResultType]::ParameterName, 'Which page, from 1')
            [CompletionResult]::new('--after', '--after', [CompletionResultType]::ParameterName, 'The page after this cursor (the `next` of the page before, as --json prints it): a deep page costs what the first does. Not with --page')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'escrowctl;wallet' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a user''s wallet: balance, payouts in flight and ledger entries, newest first')
            break
        }
        'escrowctl;wallet;show' {
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'How many rows per page (1–100)')
            [CompletionResult]::new('--page', '--page', [CompletionResultType]::ParameterName, 'Which page, from 1')
            [CompletionResult]::new('--after', '--after', [CompletionResultType]::ParameterName, 'The page after this cursor (the `next` of the page before, as --json prints it): a deep page costs what the first does. Not with --page')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'escrowctl;report' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('balance', 'balance', [CompletionResultType]::ParameterValue, 'Funds held in escrow now')
            [CompletionResult]::new('revenue', 'revenue', [CompletionResultType]::ParameterValue, 'Platform fee revenue so far')
            [CompletionResult]::new('sales', 'sales', [CompletionResultType]::ParameterValue, 'Released escrows per month: gross, fee, earning, count')
            break
        }
        'escrowctl;report;balance' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'escrowctl;report;revenue' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'escrowctl;report;sales' {
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'First day included (YYYY-MM-DD, UTC)')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Last day included (YYYY-MM-DD, UTC)')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'escrowctl;payouts' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List payouts, newest first, by status and user')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a payout: amount, destination, transfer, attempts and history')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Send a freelancer''s wallet (or part of it) to their connected account')
            [CompletionResult]::new('retry', 'retry', [CompletionResultType]::ParameterValue, 'Retry a failed payout: debit the wallet again and send it under a new attempt')
            break
        }
        'escrowctl;payouts;list' {
            [CompletionResult]::new('--status', '--status', [CompletionResultType]::ParameterName, 'Only payouts in this status')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Only this user''s payouts')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'How many rows per page (1–100)')
            [CompletionResult]::new('--page', '--page', [CompletionResultType]::ParameterName, 'Which page, from 1')
            [CompletionResult]::new('--after', '--after', [CompletionResultType]::ParameterName, 'The page after this cursor (the `next` of the page before, as --json prints it): a deep page costs what the first does. Not with --page')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'escrowctl;payouts;show' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'escrowctl;payouts;create' {
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Whose wallet (the freelancer''s user id)')
            [CompletionResult]::new('--amount', '--amount', [CompletionResultType]::ParameterName, 'How much, in rupees ("250", "250.50"); default: the whole balance')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who acts, recorded in the escrow history [default: cli:<OS user>@<host>]')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask: act at once (required when stdin is not a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask: act at once (required when stdin is not a terminal)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'escrowctl;payouts;retry' {
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Who acts, recorded in the escrow history [default: cli:<OS user>@<host>]')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask: act at once (required when stdin is not a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask: act at once (required when stdin is not a terminal)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'escrowctl;timers' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the timers not done yet, soonest due first')
            break
        }
        'escrowctl;timers;list' {
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'How many timers at most (1–1000)')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('--due', '--due', [CompletionResultType]::ParameterName, 'Only timers due now')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'escrowctl;verify' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'escrowctl;webhooks' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List received events, newest first: type, outcome, error, contract')
            break
        }
        'escrowctl;webhooks;list' {
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'How many events at most (1–1000)')
            [CompletionResult]::new('--after', '--after', [CompletionResultType]::ParameterName, 'The events after this cursor (the `next` of the list before, as --json prints it)')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('--failed', '--failed', [CompletionResultType]::ParameterName, 'Only events that failed')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'escrowctl;token' {
            [CompletionResult]::new('--role', '--role', [CompletionResultType]::ParameterName, 'The role the token carries')
            [CompletionResult]::new('--id', '--id', [CompletionResultType]::ParameterName, 'The user id the token carries (24 hex characters)')
            [CompletionResult]::new('--ttl', '--ttl', [CompletionResultType]::ParameterName, 'How long the token lives: a number with s, m, h or d (at most 30d)')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'escrowctl;completions' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'The store: sqlite://PATH or mongodb://… (overrides ESCROW_DATABASE_URL)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A TOML file with settings (same keys as the environment variables; the environment wins)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout instead of tables')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
