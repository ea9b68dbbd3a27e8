//! fastdata-kv (being built).
