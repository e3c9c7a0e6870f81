//! `escrow`: an escrow and payments backend for freelance marketplaces.
//!
//! Where things live (each module's own docs go one level deeper):
//! - [`domain`] — pure types and rules: money, ids and references, the contract and escrow
//!   state machines (every money transition), the double-entry ledger and its invariants,
//!   reviews, media types. No I/O.
//! - [`service`] — every use case, once: contracts, checkout, applying webhook events
//!   (`service::webhooks`), release/refund/provider settlement (`service::escrow`), reports,
//!   wallets, reviews, media, verification, the maintenance task; who may call what
//!   (`service::access`), every stable error code (`service::error`).
//! - [`store`] — one object-safe trait per entity (contracts, ledger, webhook events, reviews,
//!   idempotency keys) and the backends: embedded SQLite, MongoDB (feature `mongodb`).
//! - [`payment`] — the `PaymentProvider` trait, Stripe and the sandbox, webhook signature
//!   verification and parsing (`payment::webhook`).
//! - [`directory`] — who users and jobs are: the original app's own database, read only, or
//!   nothing.
//! - [`media`] — the `MediaStore` trait, upload spooling and sniffing, local storage,
//!   Cloudinary.
//! - [`views`] — the JSON shapes of the HTTP API and `escrowctl --json`, and their schemas.
//! - [`http`] — the HTTP adapter (axum on hyper): routes, request bodies, errors,
//!   `Idempotency-Key` (what a key means: `http::idempotency`; how its records are kept and
//!   decided: `store::idempotency` and each backend's `idempotency` file), the line of requests
//!   on the store (`http::admission`).
//! - [`cli`] — the `escrowctl` adapter (clap, tables, JSON), its completions and man pages.
//! - [`startup`] — wiring from configuration to the service, shared by both binaries;
//!   [`config`] — typed settings; [`auth`] — JWT verification and roles; [`metrics`].

pub mod auth;
pub mod cli;
pub mod config;
pub mod directory;
pub mod domain;
pub mod http;
pub mod media;
pub mod metrics;
pub mod payment;
pub mod service;
pub mod startup;
pub mod store;
pub mod views;
