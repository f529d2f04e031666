//! Differential testing and benchmarking of mesh's policy engine against
//! `cedar-policy`, kept in its own crate so Cedar never enters mesh-core's
//! dependency tree.
