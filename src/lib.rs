//! `deploy`: a declarative AWS stack from one `stack.yaml`.
pub mod stack;
pub mod value;
pub mod aws;
pub mod error;
pub mod plan;
pub mod resources;
pub mod redact;
pub mod engine;
pub mod public_ip;
pub mod cli;
pub mod commands;
pub mod logging;
