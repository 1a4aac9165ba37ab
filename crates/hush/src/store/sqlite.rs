//! The SQLite store (to be written).

/// The SQLite store (to be written).
#[derive(Debug)]
pub struct SqliteStore {}

/// A key for encrypting secret columns at rest (to be written).
#[derive(Debug)]
pub struct AtRestKey {}
