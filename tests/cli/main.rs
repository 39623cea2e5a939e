//! Integration tests: the real `deploy` binary against a private moto server per test.

mod common;

mod apply_aws_timing;
mod apply_environments;
mod apply_example_stack;
mod apply_ordering;
mod credentials;
mod db_connection;
mod faults;
mod harness;
mod iam_policy;
mod interrupts;
mod kind_db_engine_versions;
mod kind_db_instances;
mod kind_db_states;
mod kind_functions;
mod kind_security_groups;
mod kind_user_pools;
mod locks;
mod migrations;
mod operator_commands;
mod output;
mod ownership;
mod plans;
mod scale;
mod scale_pagination;
mod scale_pool_reads;
mod secrets;
mod shipped;
mod stack_outputs;
mod terminal;
mod usage;
mod validation;
mod validation_vpcs;
