//! Client keys as objects, their limits, and usage accounting: the rules, pure. The Worker keeps
//! keys and usage in one Durable Object with SQLite storage (`worker::ledger`), which runs the
//! SQL written here; isolates cache keys and spend and hold rate permits (`limits`).
//!
//! - [`keys`]: named keys (`sk-qw-<id>-<secret>`), their settings, checking a presented key;
//! - [`limits`]: budgets against spend, rate permits;
//! - [`usage`]: the usage rows, the upsert per row of a batch, the reports.

pub mod keys;
pub mod limits;
pub mod usage;
