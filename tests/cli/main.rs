//! Integration tests: the real `deploy` binary against a private moto server per test.

mod common;

mod basics;
mod db_instances;
mod functions;
mod migrations;
mod security_groups;
