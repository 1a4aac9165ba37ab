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

/// Largest Argon2id memory cost accepted, in KiB: 256 MiB, an allocation a phone can
/// make without being killed for it, so that a hostile wrapped key (or vault) cannot make
/// the unwrapping device allocate more. Four times RFC 9106's memory-constrained
/// recommendation (64 MiB, 3 passes, 4 lanes), 13 times hush's default.
pub const MAX_ARGON2_MEMORY_KIB: u32 = 256 * 1024;

/// Largest accepted product of memory (KiB) and iterations: 512 MiB x passes (issue 16,
/// item 16). Argon2id's time is proportional to this product (lanes only split the
/// memory: hush's `argon2` runs them one after the other, so they add no work), and one
/// unwrap attempt may cost at most this much. hush's default (19 MiB x 2) costs about
/// 16 ms on the server in `docs/PERFORMANCE.md`; the cap is 13.5 times that, about 0.2 s
/// there and about 1 s on a phone-class core, 3 to 5 times slower. RFC 9106's
/// memory-constrained recommendation (64 MiB x 3 = 192 MiB x passes), every row of
/// OWASP's table and the default all fit; the old bounds allowed 1 GiB x 100 passes,
/// 200 times this, for every attempt.
pub const MAX_ARGON2_WORK: u64 = 512 * 1024;

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

// The defaults hush writes are within the bounds it accepts.
const _: () = {
    assert!(DEFAULT_ARGON2_MEMORY_KIB >= MIN_ARGON2_MEMORY_KIB);
    assert!(DEFAULT_ARGON2_MEMORY_KIB <= MAX_ARGON2_MEMORY_KIB);
    assert!(DEFAULT_ARGON2_ITERATIONS <= MAX_ARGON2_ITERATIONS);
    assert!(DEFAULT_ARGON2_PARALLELISM <= MAX_ARGON2_PARALLELISM);
    let work = DEFAULT_ARGON2_MEMORY_KIB as u64 * DEFAULT_ARGON2_ITERATIONS as u64;
    assert!(work >= MIN_ARGON2_WORK && work <= MAX_ARGON2_WORK);
    assert!(MIN_ARGON2_WORK < MAX_ARGON2_WORK);
};
