//! The in-memory store (to be written).

/// The in-memory store (to be written).
#[derive(Debug, Default)]
pub struct MemoryStore {}
