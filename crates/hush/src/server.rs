//! The server API (to be written).
