//! Every bound `hush-device` enforces, in one place.
