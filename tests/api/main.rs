//! Integration tests through fathom's HTTP router. Every test runs on SQLite, and on
//! PostgreSQL when `FATHOM_TEST_POSTGRES_URL` is set (`.ci/run` sets it).

#[macro_use]
mod common;

mod accounts;
mod auth;
mod billing;
mod catalog;
mod churn;
mod cli;
mod collections;
mod compiled;
mod cors;
mod crash;
mod delinquency;
mod delinquency_exclusions;
mod disconnect;
mod disconnection_runs;
mod errors;
mod faults;
mod forecast;
mod graphiql;
mod harness;
mod hostile;
mod http_spec;
mod idempotency;
mod instances;
mod large_bodies;
mod limits;
mod observability;
mod payments;
mod phone_numbers;
mod reactivation;
mod reasons;
mod replica;
mod report;
mod scheduled;
mod schema;
mod seed;
mod tallies;
mod users;
mod verify;
mod webhooks;
