//! Every bound `hush-backup` enforces, in one place.
