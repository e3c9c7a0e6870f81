//! Hostile input against the real `escrow-server` binary as a process: forged, expired,
//! tampered and misdirected tokens on every secured route (`jwt`), forged, stale, oversized and
//! replayed webhooks (`webhook`), hostile uploads (`upload`), slow and oversized clients
//! (`slow`), a property-based fuzz of every route driven by `/openapi.json` with schemathesis
//! (`fuzz`), and a full run whose logs and bodies are searched for secrets (`secrets`). Every
//! attack must be refused or be a no-op, and change nothing. One test binary.

#[path = "../support/mod.rs"]
mod support;

#[allow(dead_code)]
#[path = "../providers/fake_cloudinary.rs"]
mod fake_cloudinary;
#[allow(dead_code)]
#[path = "../providers/fake_stripe.rs"]
mod fake_stripe;
#[allow(dead_code)]
mod process;
mod world;

mod fuzz;
mod jwt;
mod secrets;
mod slow;
mod upload;
mod webhook;
