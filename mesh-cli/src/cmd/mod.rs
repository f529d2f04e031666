//! One module per top-level command.

pub mod authorize;
pub mod bundle;
pub mod demo;
pub mod detect;
pub mod keys;
pub mod normalize;
pub mod policy;
pub mod posture;
pub mod report;
pub mod token;
