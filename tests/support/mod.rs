//! What several test crates need alike, written once. Each crate includes it by path
//! (`#[path = "../support/mod.rs"] mod support;`), as the crates already share their helpers;
//! a crate uses what it needs of it.

#![allow(dead_code)]

pub mod env;
pub mod money;
pub mod stripe;
