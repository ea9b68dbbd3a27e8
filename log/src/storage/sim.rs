//! Placeholder replaced by the simulated storage.
