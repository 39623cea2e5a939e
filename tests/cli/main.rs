//! Integration tests: the real `deploy` binary against a private moto server per test.

mod common;

mod basics;
mod cognito;
mod db_instances;
mod db_tls;
mod full_stack;
mod functions;
mod migrations;
mod security_groups;
