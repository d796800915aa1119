//! Black-box tests: the real server on 127.0.0.1:0, a temporary database, HTTP as clients speak it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod account;
mod accounts;
mod admin;
mod binary;
mod classification;
mod compat;
mod crash;
mod errors;
mod first_hour;
mod hardening;
mod helpers;
mod idempotency;
mod import;
mod languages;
mod lists;
mod live;
#[path = "../support/mock_llm.rs"]
mod mock_llm;
mod openapi;
mod operations;
mod pages;
mod photo_links;
mod photos;
mod requests;
mod seed;
mod sessions;
mod smtp;
