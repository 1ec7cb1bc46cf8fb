//! The account domain, pure: account ids and records, the shared pool state and its rules, the
//! failover policy and the health report.

pub mod credentials;
pub mod failover;
pub mod id;
pub mod key_account;
pub mod kinds;
pub mod pool;
pub mod report;
pub mod state;
