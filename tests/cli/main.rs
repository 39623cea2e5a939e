//! Integration tests: the real `deploy` binary against a private moto server per test.

mod common;

mod basics;
mod cognito;
mod credentials;
mod db_instances;
mod full_stack;
mod functions;
mod iam_policy;
mod migrations;
mod realism;
mod security_groups;
