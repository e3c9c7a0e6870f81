//! The real providers against fakes that speak their wire formats, the webhook signature
//! against the official Stripe SDK, the sandbox checkout in a real headless Chromium, and the
//! production-mode refusals of the `escrow-server` process. One test binary.

#[path = "../support/mod.rs"]
mod support;

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;

mod fake_cloudinary;
mod fake_stripe;
mod tools;

mod browser;
mod cloudinary;
mod payouts;
mod process;
mod signatures;
mod stripe;
