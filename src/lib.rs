//! maintenance: building-maintenance requests, classified, triaged and resolved.

pub mod accounts;
pub mod api;
pub mod auth;
pub mod body_deadline;
pub mod classify;
pub mod cli_classify;
pub mod client_address;
pub mod config;
pub mod connections;
pub mod db;
pub mod errors;
pub mod events;
pub mod idempotency;
pub mod ids;
pub mod photos;
pub mod private_files;
pub mod queue;
pub mod realtime;
pub mod requests;
pub mod routing;
pub mod startup;
pub mod state;
pub mod submission_limit;
pub mod taxonomy;
pub mod telemetry;
pub mod web;
