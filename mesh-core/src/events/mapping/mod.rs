//! Declarative mappings (placeholder, filled next).
