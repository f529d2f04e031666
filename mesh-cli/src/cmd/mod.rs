//! One module per top-level command.

pub mod bundle;
pub mod keys;
pub mod report;
pub mod token;
