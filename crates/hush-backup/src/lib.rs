//! # hush-backup
//!
//! (Crate documentation to be written: backup keys, recovery codes, the stream format,
//! the vault.)

#![forbid(unsafe_code)]

pub mod error;
pub mod limits;

pub use error::{Error, Result};
