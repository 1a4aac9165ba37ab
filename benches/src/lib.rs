//! Criterion benches for hush live in `benches/`; this library is empty.
