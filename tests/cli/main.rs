//! Integration tests: the real `deploy` binary against a private moto server per test.

mod common;

mod basics;
mod cognito;
mod corpus;
mod credentials;
mod db_instances;
mod db_tls;
mod edges;
mod engine_versions;
mod environments;
mod faults;
mod full_stack;
mod functions;
mod iam_policy;
mod interrupts;
mod locks;
mod migrations;
mod networks;
mod ops;
mod ordering;
mod output;
mod ownership;
mod pagination;
mod plans;
mod pool_reads;
mod rds_states;
mod realism;
mod safety;
mod scale;
mod secrets;
mod security_groups;
mod terminal;
mod trust;
