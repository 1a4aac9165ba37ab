//! Every bound `hush-backup` enforces, in one place.
//!
//! Values decoded from untrusted bytes (a stream header, a password-wrapped key) are
//! checked against these before anything is allocated or any work is done.

/// Smallest chunk size (plaintext bytes per chunk) a stream may declare: 1 KiB. Smaller
/// chunks would spend more on tags and nonces than on data.
pub const MIN_CHUNK_SIZE: u32 = 1024;

/// Largest chunk size a stream may declare: 4 MiB. The decoder holds one chunk (plus its
/// 16-byte tag) in memory, so this bounds its memory use whatever the header says.
pub const MAX_CHUNK_SIZE: u32 = 4 * 1024 * 1024;

/// Chunk size used unless the caller picks another: 64 KiB.
pub const DEFAULT_CHUNK_SIZE: u32 = 64 * 1024;

/// Argon2id memory cost used by default, in KiB: 19 MiB (OWASP's recommended setting
/// with 2 iterations and parallelism 1).
pub const DEFAULT_ARGON2_MEMORY_KIB: u32 = 19 * 1024;

/// Argon2id iterations used by default.
pub const DEFAULT_ARGON2_ITERATIONS: u32 = 2;

/// Argon2id parallelism used by default.
pub const DEFAULT_ARGON2_PARALLELISM: u32 = 1;

/// Smallest Argon2id memory cost accepted, in KiB: 7 MiB, the lowest memory setting in
/// OWASP's table (which pairs it with 5 iterations).
pub const MIN_ARGON2_MEMORY_KIB: u32 = 7 * 1024;

/// Largest Argon2id memory cost accepted, in KiB: 1 GiB, so that a hostile wrapped key
/// cannot make the unwrapping device allocate more.
pub const MAX_ARGON2_MEMORY_KIB: u32 = 1024 * 1024;

/// Fewest Argon2id iterations accepted.
pub const MIN_ARGON2_ITERATIONS: u32 = 1;

/// Most Argon2id iterations accepted, so that a hostile wrapped key cannot make
/// unwrapping run for hours.
pub const MAX_ARGON2_ITERATIONS: u32 = 100;

/// Fewest Argon2id lanes accepted.
pub const MIN_ARGON2_PARALLELISM: u32 = 1;

/// Most Argon2id lanes accepted.
pub const MAX_ARGON2_PARALLELISM: u32 = 16;

/// Smallest accepted product of memory (KiB) and iterations: 35 840, the weakest row of
/// OWASP's table (7 MiB x 5). Every OWASP setting (47 MiB x 1, 19 MiB x 2, 12 MiB x 3,
/// 9 MiB x 4, 7 MiB x 5) meets it; 7 MiB x 1 does not.
pub const MIN_ARGON2_WORK: u64 = 7 * 1024 * 5;
