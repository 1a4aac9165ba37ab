#!/usr/bin/env python3
"""Independent cross-check of hush-backup's formats, written from docs/wire/backup.md alone.

Reads a JSON file of cases (written by crates/hush-backup/tests/cross_check.rs from the Rust
implementation) and re-derives every recorded value with its own code: recovery codes
(CRC-64/XZ + Crockford base32), backup ids (HKDF-SHA256), backup streams (header, HMAC
header tag, per-chunk AES-256-GCM with STREAM nonces), and password-wrapped keys (given the
Argon2id output, which the standard library cannot compute).

Shares no code with hush. Primitives come from test-vectors/tools/hushpy.py, which checks
itself against published answers before anything else runs here.

Usage: python3 check_backup.py CASES.json
Exit status 0 when every case agrees; the last line reads "N passed, M failed".
"""

import hmac
import json
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "test-vectors", "tools"))
import hushpy  # noqa: E402

MAGIC = b"HUSHBAK\x00"
HEADER_LEN = 93
MIN_CHUNK, MAX_CHUNK = 1024, 4 * 1024 * 1024
ID_INFO = b"hush backup v1 id"
ENC_INFO = b"hush backup v1 encryption"


def recovery_code(key):
    data = key + hushpy.crc64_xz(key).to_bytes(8, "little")
    text = hushpy.crockford_encode(data)
    return " ".join(text[i : i + 4] for i in range(0, 64, 4))


def parse_recovery_code(text):
    """Returns ("ok", key) or an error class, per the documented rules."""
    significant = []
    for position, ch in enumerate(text):
        if ch == "-" or ch in " \t\n\r\x0c":
            continue
        up = ch.upper() if ch.isascii() else ch
        up = {"O": "0", "I": "1", "L": "1"}.get(up, up)
        if len(up) != 1 or up not in hushpy.CROCKFORD:
            return ("character", position)
        significant.append(up)
    if len(significant) != 64:
        return ("length", len(significant))
    data = hushpy.crockford_decode("".join(significant))
    key, check = data[:32], data[32:]
    if hushpy.crc64_xz(key).to_bytes(8, "little") != check:
        return ("typo", None)
    return ("ok", key.hex())


def backup_id(key):
    return hushpy.hkdf_sha256(key, b"", ID_INFO, 16)


def decrypt_stream(key, context, data):
    """Returns ("ok", plaintext) or an error class with its detail."""
    if data[: min(len(data), 8)] != MAGIC[: min(len(data), 8)]:
        return ("not_a_backup", None)
    if len(data) < 9:
        return ("truncated", 0)
    if data[8] != 1:
        return ("unknown_version", data[8])
    if len(data) < HEADER_LEN:
        return ("truncated", 0)
    header = data[:HEADER_LEN]
    key_id, salt = header[9:25], header[25:57]
    (chunk_size,) = struct.unpack(">I", header[57:61])
    tag = header[61:93]
    if not MIN_CHUNK <= chunk_size <= MAX_CHUNK:
        return ("malformed", "chunk size")
    if key_id != backup_id(key):
        return ("wrong_key", None)
    okm = hushpy.hkdf_sha256(key, salt, ENC_INFO + context, 71)
    aes_key, prefix, mac_key = okm[:32], okm[32:39], okm[39:71]
    if not hmac.compare_digest(hushpy.hmac_sha256(mac_key, header[:61]), tag):
        return ("header_authentication", None)
    record = chunk_size + 16
    body = data[HEADER_LEN:]
    plaintext = b""
    index = 0
    while True:
        chunk = body[index * record : (index + 1) * record]
        if len(chunk) == 0:
            return ("truncated", index)
        last = len(chunk) < record
        nonce = prefix + struct.pack(">I", index) + (b"\x01" if last else b"\x00")
        opened = hushpy.aes256_gcm_open(aes_key, nonce, b"", chunk)
        if opened is None:
            return ("corrupted", index)
        plaintext += opened
        index += 1
        if last:
            return ("ok", plaintext.hex())


def unwrap_password_key(encoded, kek):
    if len(encoded) < 1:
        return ("malformed", None)
    if encoded[0] != 1:
        return ("unknown_version", encoded[0])
    if len(encoded) != 77:
        return ("malformed", None)
    memory, iterations, lanes = struct.unpack(">III", encoded[1:13])
    opened = hushpy.aes256_gcm_open(kek, bytes(12), encoded[:29], encoded[29:])
    if opened is None:
        return ("wrong_password", None)
    return ("ok", {"key": opened.hex(), "params": [memory, iterations, lanes], "salt": encoded[13:29].hex()})


def main():
    problems = hushpy.self_test()
    if problems:
        for problem in problems:
            print("FAIL hushpy", problem)
        print("0 passed, 1 failed")
        return 1
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    passed = failed = 0

    def check(name, got, want):
        nonlocal passed, failed
        if got == want:
            passed += 1
        else:
            failed += 1
            print(f"FAIL {name}: got {got!r}, want {want!r}")

    for i, case in enumerate(cases["keys"]):
        key = bytes.fromhex(case["key"])
        check(f"keys[{i}] recovery code", recovery_code(key), case["recovery_code"])
        check(f"keys[{i}] id", backup_id(key).hex(), case["id"])
    for i, case in enumerate(cases["recovery_parse"]):
        got = parse_recovery_code(case["text"])
        check(f"recovery_parse[{i}]", list(got), case["verdict"])
    for i, case in enumerate(cases["streams"]):
        got = decrypt_stream(bytes.fromhex(case["key"]), bytes.fromhex(case["context"]), bytes.fromhex(case["backup"]))
        check(f"streams[{i}] {case['name']}", list(got), case["verdict"])
    for i, case in enumerate(cases["password"]):
        got = unwrap_password_key(bytes.fromhex(case["encoded"]), bytes.fromhex(case["kek"]))
        check(f"password[{i}] {case['name']}", list(got) if got[0] != "ok" else ["ok", got[1]], case["verdict"])
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
