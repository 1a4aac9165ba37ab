//! The client API (to be written).
