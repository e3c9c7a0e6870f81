//! The real `escrowctl` binary as a process (stdin closed: not a terminal) against a store
//! prepared through the library, in a temp data directory per test.

#[path = "../support/mod.rs"]
mod support;

mod helpers;

#[allow(dead_code)]
#[path = "../providers/fake_stripe.rs"]
mod fake_stripe;

mod contract;
mod escrow;
mod inspect;
mod output;
mod payouts;
mod server;
mod verify;
