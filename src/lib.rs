//! `deploy`: a declarative AWS stack from one `stack.yaml`.
pub mod stack;
pub mod value;
