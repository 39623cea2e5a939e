//! `deploy`: a declarative AWS stack from one `stack.yaml`.
pub mod aws;
pub mod cli;
pub mod commands;
pub mod engine;
pub mod error;
pub mod logging;
pub mod plan;
pub mod public_ip;
pub mod redact;
pub mod resources;
pub mod stack;
pub mod value;
