#!/usr/bin/env python3
"""Primitives for hush's independent vector checkers, in plain Python 3 (standard library only).

The checkers under test-vectors/<format>/ re-derive every recorded value from the format
documents in docs/wire/ without sharing code with hush. What they need beyond hashlib/hmac
lives here, written from the specifications, and `python3 hushpy.py` checks each primitive
against published answers first:

- AES-256 (FIPS 197) and AES-256-GCM (NIST SP 800-38D)
- HKDF-SHA256 (RFC 5869)
- X25519 (RFC 7748)
- CRC-64/XZ (the catalogue check value for "123456789")
- Crockford base32 (hush's recovery-code alphabet) and Base45 (RFC 9285)

Slow but small: the vector files are a few kilobytes.
"""

import hashlib
import hmac
import sys

# ----------------------------------------------------------------------------------------------
# AES-256, encryption direction only (GCM needs nothing else)


def _xtime(a):
    a <<= 1
    return (a ^ 0x11B) if a & 0x100 else a


def _gf_mul(a, b):
    out = 0
    while b:
        if b & 1:
            out ^= a
        a = _xtime(a)
        b >>= 1
    return out


def _make_sbox():
    # The S-box is the multiplicative inverse in GF(2^8) followed by the affine map.
    inverse = [0] * 256
    for a in range(1, 256):
        for b in range(1, 256):
            if _gf_mul(a, b) == 1:
                inverse[a] = b
                break
    box = []
    for a in range(256):
        x = inverse[a]
        y = x
        for shift in range(1, 5):
            y ^= ((x << shift) | (x >> (8 - shift))) & 0xFF
        box.append(y ^ 0x63)
    return box


SBOX = _make_sbox()


def _expand_key_256(key):
    assert len(key) == 32
    words = [list(key[4 * i : 4 * i + 4]) for i in range(8)]
    rcon = 1
    for i in range(8, 60):
        temp = list(words[i - 1])
        if i % 8 == 0:
            temp = temp[1:] + temp[:1]
            temp = [SBOX[b] for b in temp]
            temp[0] ^= rcon
            rcon = _xtime(rcon)
        elif i % 8 == 4:
            temp = [SBOX[b] for b in temp]
        words.append([a ^ b for a, b in zip(words[i - 8], temp)])
    return [sum(words[4 * r : 4 * r + 4], []) for r in range(15)]


def _encrypt_block(round_keys, block):
    state = [b ^ k for b, k in zip(block, round_keys[0])]
    for rnd in range(1, 15):
        state = [SBOX[b] for b in state]
        # ShiftRows: the state is column-major, byte (row r, column c) at 4c + r.
        state = [state[(4 * (c + r) + r) % 16] for c in range(4) for r in range(4)]
        if rnd != 14:
            mixed = []
            for c in range(4):
                a = state[4 * c : 4 * c + 4]
                mixed += [
                    _xtime(a[0]) ^ (_xtime(a[1]) ^ a[1]) ^ a[2] ^ a[3],
                    a[0] ^ _xtime(a[1]) ^ (_xtime(a[2]) ^ a[2]) ^ a[3],
                    a[0] ^ a[1] ^ _xtime(a[2]) ^ (_xtime(a[3]) ^ a[3]),
                    (_xtime(a[0]) ^ a[0]) ^ a[1] ^ a[2] ^ _xtime(a[3]),
                ]
            state = [b & 0xFF for b in mixed]
        state = [b ^ k for b, k in zip(state, round_keys[rnd])]
    return bytes(state)


def aes256_encrypt_block(key, block):
    """One AES-256 block encryption (FIPS 197)."""
    return _encrypt_block(_expand_key_256(key), block)


# ----------------------------------------------------------------------------------------------
# AES-256-GCM with 96-bit nonces and 128-bit tags


def _ghash_mul(x, y):
    r = 0xE1 << 120
    z = 0
    for i in range(127, -1, -1):
        if (y >> i) & 1:
            z ^= x
        x = (x >> 1) ^ r if x & 1 else x >> 1
    return z


def _ghash(h, aad, ciphertext):
    def blocks(data):
        for i in range(0, len(data), 16):
            yield data[i : i + 16].ljust(16, b"\0")

    y = 0
    for block in list(blocks(aad)) + list(blocks(ciphertext)):
        y = _ghash_mul(y ^ int.from_bytes(block, "big"), h)
    lengths = (len(aad) * 8).to_bytes(8, "big") + (len(ciphertext) * 8).to_bytes(8, "big")
    return _ghash_mul(y ^ int.from_bytes(lengths, "big"), h)


def _gctr(round_keys, counter_block, data):
    out = bytearray()
    counter = int.from_bytes(counter_block, "big")
    for i in range(0, len(data), 16):
        stream = _encrypt_block(round_keys, counter.to_bytes(16, "big"))
        chunk = data[i : i + 16]
        out += bytes(a ^ b for a, b in zip(chunk, stream))
        counter = (counter & ~0xFFFFFFFF) | ((counter + 1) & 0xFFFFFFFF)
    return bytes(out)


def aes256_gcm_seal(key, nonce, aad, plaintext):
    """Ciphertext followed by the 16-byte tag (SP 800-38D, 96-bit IV)."""
    assert len(nonce) == 12
    round_keys = _expand_key_256(key)
    h = int.from_bytes(_encrypt_block(round_keys, bytes(16)), "big")
    j0 = nonce + b"\0\0\0\1"
    counter1 = (int.from_bytes(j0, "big") + 1).to_bytes(16, "big")
    ciphertext = _gctr(round_keys, counter1, plaintext)
    s = _ghash(h, aad, ciphertext)
    tag = int.from_bytes(_encrypt_block(round_keys, j0), "big") ^ s
    return ciphertext + tag.to_bytes(16, "big")


def aes256_gcm_open(key, nonce, aad, sealed):
    """The plaintext, or None if the tag does not verify (or the input is shorter than one)."""
    if len(sealed) < 16:
        return None
    ciphertext, tag = sealed[:-16], sealed[-16:]
    round_keys = _expand_key_256(key)
    h = int.from_bytes(_encrypt_block(round_keys, bytes(16)), "big")
    j0 = nonce + b"\0\0\0\1"
    s = _ghash(h, aad, ciphertext)
    expected = (int.from_bytes(_encrypt_block(round_keys, j0), "big") ^ s).to_bytes(16, "big")
    if not hmac.compare_digest(expected, tag):
        return None
    counter1 = (int.from_bytes(j0, "big") + 1).to_bytes(16, "big")
    return _gctr(round_keys, counter1, ciphertext)


# ----------------------------------------------------------------------------------------------
# HKDF-SHA256 and HMAC-SHA256


def hmac_sha256(key, data):
    return hmac.new(key, data, hashlib.sha256).digest()


def hkdf_sha256(ikm, salt, info, length):
    """RFC 5869. An empty salt means 32 zero bytes."""
    prk = hmac_sha256(salt if salt else bytes(32), ikm)
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac_sha256(prk, block + info + bytes([counter]))
        out += block
        counter += 1
    return out[:length]


# ----------------------------------------------------------------------------------------------
# X25519 (RFC 7748)

_P = 2**255 - 19
_A24 = 121665


def x25519(scalar, u_bytes):
    k = bytearray(scalar)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    k = int.from_bytes(k, "little")
    u = int.from_bytes(u_bytes, "little") & ((1 << 255) - 1)
    x1, x2, z2, x3, z3, swap = u, 1, 0, u, 1, 0
    for t in range(254, -1, -1):
        bit = (k >> t) & 1
        swap ^= bit
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a, b = (x2 + z2) % _P, (x2 - z2) % _P
        aa, bb = a * a % _P, b * b % _P
        e = (aa - bb) % _P
        c, d = (x3 + z3) % _P, (x3 - z3) % _P
        da, cb = d * a % _P, c * b % _P
        x3 = (da + cb) ** 2 % _P
        z3 = x1 * (da - cb) ** 2 % _P
        x2 = aa * bb % _P
        z2 = e * (aa + _A24 * e) % _P
    if swap:
        x2, z2 = x3, z3
    return (x2 * pow(z2, _P - 2, _P) % _P).to_bytes(32, "little")


def x25519_base(scalar):
    return x25519(scalar, (9).to_bytes(32, "little"))


# ----------------------------------------------------------------------------------------------
# CRC-64/XZ: reflected polynomial 0x42F0E1EBA9EA3693, initial value and final xor all ones


_CRC64_REFLECTED = int("{:064b}".format(0x42F0E1EBA9EA3693)[::-1], 2)


def crc64_xz(data):
    crc = 0xFFFFFFFFFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ _CRC64_REFLECTED if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFFFFFFFFFF


# ----------------------------------------------------------------------------------------------
# Crockford base32 (5 bits per character, most significant first) and Base45 (RFC 9285)

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def crockford_encode(data):
    bits = int.from_bytes(data, "big")
    count = len(data) * 8
    assert count % 5 == 0
    return "".join(CROCKFORD[(bits >> (count - 5 * (i + 1))) & 31] for i in range(count // 5))


def crockford_decode(text):
    """Strict decoding of canonical upper-case text; None on any other character."""
    value = 0
    for ch in text:
        index = CROCKFORD.find(ch)
        if index < 0:
            return None
        value = (value << 5) | index
    count = len(text) * 5
    if count % 8:
        return None
    return value.to_bytes(count // 8, "big")


BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def base45_encode(data):
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        c, n = n % 45, n // 45
        d, e = n % 45, n // 45
        out += [BASE45[c], BASE45[d], BASE45[e]]
    if len(data) % 2:
        n = data[-1]
        out += [BASE45[n % 45], BASE45[n // 45]]
    return "".join(out)


def base45_decode(text):
    """The bytes, or None for a character outside the alphabet, a dangling character or a
    group whose value does not fit."""
    values = [BASE45.find(ch) for ch in text]
    if any(v < 0 for v in values) or len(values) % 3 == 1:
        return None
    out = bytearray()
    for i in range(0, len(values), 3):
        group = values[i : i + 3]
        if len(group) == 3:
            n = group[0] + 45 * group[1] + 2025 * group[2]
            if n > 0xFFFF:
                return None
            out += n.to_bytes(2, "big")
        else:
            n = group[0] + 45 * group[1]
            if n > 0xFF:
                return None
            out.append(n)
    return bytes(out)


# ----------------------------------------------------------------------------------------------
# Self-test against published answers


def self_test():
    """Returns a list of failures (empty when every primitive gives the published answer)."""
    failures = []

    def check(name, got, want):
        if got != want:
            failures.append(f"{name}: got {got!r}, want {want!r}")

    # FIPS 197 appendix C.3 (AES-256).
    check(
        "aes256 C.3",
        aes256_encrypt_block(bytes(range(32)), bytes.fromhex("00112233445566778899aabbccddeeff")).hex(),
        "8ea2b7ca516745bfeafc49904b496089",
    )
    # The GCM specification's test cases 13 and 14 (256-bit key, all zeros).
    check("gcm tc13", aes256_gcm_seal(bytes(32), bytes(12), b"", b"").hex(), "530f8afbc74536b9a963b4f1c4cb738b")
    check(
        "gcm tc14",
        aes256_gcm_seal(bytes(32), bytes(12), b"", bytes(16)).hex(),
        "cea7403d4d606b6e074ec5d3baf39d18" + "d0d1c8a799996bf0265b98b5d48ab919",
    )
    # Test case 16 (256-bit key, AAD, 60-byte plaintext).
    key16 = bytes.fromhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
    iv16 = bytes.fromhex("cafebabefacedbaddecaf888")
    pt16 = bytes.fromhex(
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525"
        "b16aedf5aa0de657ba637b39"
    )
    aad16 = bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
    sealed16 = aes256_gcm_seal(key16, iv16, aad16, pt16)
    check(
        "gcm tc16",
        sealed16.hex(),
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838"
        "c5f61e6393ba7a0abcc9f662" + "76fc6ece0f4e1768cddf8853bb2d551b",
    )
    check("gcm tc16 open", aes256_gcm_open(key16, iv16, aad16, sealed16), pt16)
    check("gcm tc16 bad tag", aes256_gcm_open(key16, iv16, aad16, sealed16[:-1] + b"\0"), None)
    # RFC 5869 test case 1 is SHA-256 with salt and info.
    check(
        "hkdf rfc5869 tc1",
        hkdf_sha256(bytes([0x0B] * 22), bytes(range(13)), bytes(range(0xF0, 0xFA)), 42).hex(),
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
    )
    # RFC 7748 section 5.2, first vector, and section 6.1 (Alice's public key).
    check(
        "x25519 5.2",
        x25519(
            bytes.fromhex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
            bytes.fromhex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"),
        ).hex(),
        "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
    )
    check(
        "x25519 6.1",
        x25519_base(bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")).hex(),
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
    )
    check("crc64/xz check", crc64_xz(b"123456789"), 0x995DC9BBDF1939FA)
    # Crockford: 5 bytes of 0xff are eight 'Z's; a round trip of every byte value.
    check("crockford ff", crockford_encode(b"\xff" * 5), "ZZZZZZZZ")
    check("crockford round trip", crockford_decode(crockford_encode(bytes(range(40)))), bytes(range(40)))
    # RFC 9285 section 4 examples and its decode-error example.
    check("base45 AB", base45_encode(b"AB"), "BB8")
    check("base45 Hello!!", base45_encode(b"Hello!!"), "%69 VD92EX0")
    check("base45 base-45", base45_encode(b"base-45"), "UJCLQE7W581")
    check("base45 decode ietf!", base45_decode("QED8WEX0"), b"ietf!")
    check("base45 decode GGW", base45_decode("GGW"), None)
    return failures


if __name__ == "__main__":
    problems = self_test()
    for problem in problems:
        print("FAIL", problem)
    print(f"hushpy self-test: {'ok' if not problems else str(len(problems)) + ' failed'}")
    sys.exit(1 if problems else 0)
