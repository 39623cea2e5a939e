//! The one place that sequences I/O: executing a plan in dependency order with bounded
//! concurrency, through a [`crate::provider::Provider`] (never a kind's adapter directly).

pub mod execute;
#[cfg(test)]
mod lifecycle_tests;
#[cfg(test)]
mod property_tests;
