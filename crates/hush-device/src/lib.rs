//! # hush-device
//!
//! (Crate documentation to be written: linking, device lists, history hand-off.)

#![forbid(unsafe_code)]

pub mod error;
pub mod limits;

pub use error::{Error, Result};
