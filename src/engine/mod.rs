//! The one place that sequences I/O: executing a plan in dependency order with bounded
//! concurrency, through a [`crate::provider::Provider`] (never a kind's adapter directly); and
//! the [`session::Session`] a command runs in: the lock, the reads, the public-IP lookup and the
//! folders' hashing, in the order and with the overlap they need.

pub mod execute;
#[cfg(test)]
mod lifecycle_tests;
#[cfg(test)]
mod property_tests;
pub mod scope;
pub mod session;
