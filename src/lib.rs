//! `escrow`: an escrow and payments backend for freelance marketplaces.
//!
//! Where things live:
//! - [`domain`] — pure types and rules: money, ids, the contract and escrow state machines,
//!   the double-entry ledger and its invariants, reviews, media types. No I/O.
//! - [`service`] — the use cases; HTTP and the CLI call only this.
//! - [`store`] — the `Store` trait and its backends (embedded SQLite; MongoDB behind the
//!   default `mongodb` feature).
//! - [`payment`] — the `PaymentProvider` trait, the sandbox, webhook verification.
//! - [`media`] — the `MediaStore` trait, upload spooling and sniffing, local storage.
//! - [`auth`] — JWT verification and roles. [`config`] — typed settings.
//! - [`http`] — the HTTP adapter (axum on hyper). [`app`] — wiring shared by the binaries.
//! - [`admission`] — the line of requests working on the store at once.
//! - [`cli`] — the `escrowctl` adapter (clap, tables, JSON), its completions and man pages.

pub mod admission;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod media;
pub mod metrics;
pub mod payment;
pub mod service;
pub mod store;
