//! Commands beside plan/apply that work on what a stack made (the seed's old scripts as
//! commands): `migrate`, `psql`, `logs`, `invoke`. Each module takes the loaded stack and its
//! arguments and prints its own results; `commands` only dispatches to them.

pub mod dburl;
pub mod invoke;
pub mod logs;
pub mod migrate;
pub mod psql;
