//! Black-box HTTP tests: each starts the server on a real socket with a fresh SQLite file.

#[path = "../support/mod.rs"]
mod support;

mod helpers;

#[allow(dead_code)]
#[path = "../providers/fake_stripe.rs"]
mod fake_stripe;

mod auto_release;
mod chargebacks;
mod concurrency;
mod cors;
mod directory;
mod disputes;
mod flow;
mod holes;
mod idempotency;
mod media;
mod milestones;
mod operations;
mod original;
mod outside_refunds;
mod payouts;
mod refunds;
mod validation;
mod webhooks;
