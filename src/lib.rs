//! CyberHub umbrella crate.
