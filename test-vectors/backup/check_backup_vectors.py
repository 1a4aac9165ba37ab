#!/usr/bin/env python3
"""Independent cross-check of hush's backup vectors (backup_recovery_codes.json,
backup_streams.json, backup_password_wraps.json).

Written from docs/wire/backup.md alone, sharing no code with hush. For every case it computes
the result again from the bytes (or the text) and the document's rules, and compares it with
what the file records; a recorded verdict is never taken on trust:

- recovery codes: CRC-64/XZ, Crockford base32, the parsing rules and their error order, and
  the backup id (HKDF-SHA256);
- backup streams: the header checks in the documented order, the per-stream HKDF keys, the
  header HMAC, every chunk opened with its STREAM nonce, the failure class of damaged streams,
  and each valid stream encrypted again from its plaintext and salt;
- password-wrapped keys: the layout, the version, length and parameter-bound checks in the
  documented order, and the AES-256-GCM unwrap. Argon2id itself is the one step the standard
  library cannot run at these sizes: the files record its output (`argon2id_output`), which
  `hush vectors check` recomputes with the `argon2` crate; everything after it is checked
  here.

Primitives come from ../tools/hushpy.py, whose self-test against published answers runs
first.

Usage: python3 check_backup_vectors.py [DIR]   (DIR defaults to this script's directory)
Python 3.8+, standard library only. Exit status 0 when every case agrees; the last line
reads "N passed, M failed".
"""

import hmac
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import hushpy  # noqa: E402

# Recovery codes
CODE_CHARS = 64
SKIPPED = "- \t\n\x0c\r"
MISREAD = {"O": "0", "I": "1", "L": "1"}
ID_LABEL = b"hush backup v1 id"

# Streams
MAGIC = b"HUSHBAK\x00"
STREAM_VERSION = 1
HEADER_LEN = 93
MIN_CHUNK, MAX_CHUNK = 1024, 4 * 1024 * 1024
ENCRYPTION_LABEL = b"hush backup v1 encryption"
TAG_LEN = 16

# Password-wrapped keys
WRAP_VERSION = 1
WRAP_LEN = 77
MIN_MEMORY, MAX_MEMORY = 7 * 1024, 256 * 1024
MIN_ITERATIONS, MAX_ITERATIONS = 1, 100
MIN_LANES, MAX_LANES = 1, 16
MIN_WORK, MAX_WORK = 7 * 1024 * 5, 512 * 1024

# The fields a case uses to name its expected error.
ERROR_FIELDS = ("error", "index", "chunks_read", "version", "what", "position", "found")


def failure(name, **detail):
    out = {"error": name}
    out.update(detail)
    return out


def expected_error(case):
    return {k: case[k] for k in ERROR_FIELDS if k in case}


def shown(result):
    """A computed result as the files write it: bytes as hex, errors as they are."""
    return result.hex() if isinstance(result, bytes) else result


# --------------------------------------------------------------------------------------------
# Keys and recovery codes


def backup_id(key):
    return hushpy.hkdf_sha256(key, b"", ID_LABEL, 16)


def recovery_code(key):
    text = hushpy.crockford_encode(key + hushpy.crc64_xz(key).to_bytes(8, "little"))
    return " ".join(text[i : i + 4] for i in range(0, CODE_CHARS, 4))


def parse_recovery_code(text):
    """The key, or the error the document names."""
    significant = []
    for position, ch in enumerate(text):
        if ch in SKIPPED:
            continue
        if "a" <= ch <= "z":
            ch = chr(ord(ch) - 32)
        ch = MISREAD.get(ch, ch)
        if ch not in hushpy.CROCKFORD:
            return failure("RecoveryCodeCharacter", position=position)
        significant.append(ch)
    if len(significant) != CODE_CHARS:
        return failure("RecoveryCodeLength", found=len(significant))
    data = hushpy.crockford_decode("".join(significant))
    key, check = data[:32], data[32:]
    if hushpy.crc64_xz(key).to_bytes(8, "little") != check:
        return failure("RecoveryCodeTypo")
    return key


# --------------------------------------------------------------------------------------------
# Streams


def stream_keys(key, salt, context):
    okm = hushpy.hkdf_sha256(key, salt, ENCRYPTION_LABEL + context, 71)
    return okm[:32], okm[32:39], okm[39:71]


def nonce(prefix, index, last):
    return prefix + struct.pack(">I", index) + (b"\x01" if last else b"\x00")


def decrypt_stream(key, context, data):
    """The plaintext, or the error the document names."""
    present = min(len(data), len(MAGIC))
    if data[:present] != MAGIC[:present]:
        return failure("NotABackup")
    if len(data) < len(MAGIC) + 1:
        return failure("Truncated", chunks_read=0)
    if data[8] != STREAM_VERSION:
        return failure("UnknownVersion", version=data[8])
    if len(data) < HEADER_LEN:
        return failure("Truncated", chunks_read=0)
    key_id, salt = data[9:25], data[25:57]
    (chunk_size,) = struct.unpack(">I", data[57:61])
    if not MIN_CHUNK <= chunk_size <= MAX_CHUNK:
        return failure("Malformed", what="chunk size")
    if key_id != backup_id(key):
        return failure("WrongKey")
    aes_key, prefix, header_key = stream_keys(key, salt, context)
    if not hmac.compare_digest(hushpy.hmac_sha256(header_key, data[:61]), data[61:HEADER_LEN]):
        return failure("HeaderAuthentication")
    record = chunk_size + TAG_LEN
    at, index, plaintext = HEADER_LEN, 0, b""
    while True:
        chunk = data[at : at + record]
        if not chunk:
            return failure("Truncated", chunks_read=index)
        last = len(chunk) < record
        opened = hushpy.aes256_gcm_open(aes_key, nonce(prefix, index, last), b"", chunk)
        if opened is None:
            return failure("CorruptedChunk", index=index)
        plaintext += opened
        at += len(chunk)
        index += 1
        if last:
            # Reading a byte string, a short record always ends the input.
            return plaintext


def encrypt_stream(key, context, chunk_size, plaintext, salt):
    aes_key, prefix, header_key = stream_keys(key, salt, context)
    header = MAGIC + bytes([STREAM_VERSION]) + backup_id(key) + salt + struct.pack(">I", chunk_size)
    out = header + hushpy.hmac_sha256(header_key, header)
    full = len(plaintext) // chunk_size
    for index in range(full + 1):
        piece = plaintext[index * chunk_size : (index + 1) * chunk_size]
        out += hushpy.aes256_gcm_seal(aes_key, nonce(prefix, index, index == full), b"", piece)
    return out


# --------------------------------------------------------------------------------------------
# Password-wrapped keys


def decode_wrap(data):
    """(memory, iterations, lanes, salt, sealed), or the error the document names."""
    if not data:
        return failure("Malformed", what="password-wrapped key")
    if data[0] != WRAP_VERSION:
        return failure("UnknownVersion", version=data[0])
    if len(data) != WRAP_LEN:
        return failure("Malformed", what="password-wrapped key length")
    memory, iterations, lanes = struct.unpack(">III", data[1:13])
    if not MIN_MEMORY <= memory <= MAX_MEMORY:
        return failure("InvalidParameters", what="argon2 memory")
    if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        return failure("InvalidParameters", what="argon2 iterations")
    if not MIN_LANES <= lanes <= MAX_LANES:
        return failure("InvalidParameters", what="argon2 parallelism")
    if not MIN_WORK <= memory * iterations <= MAX_WORK:
        return failure("InvalidParameters", what="argon2 work (memory x iterations)")
    if memory < 8 * lanes:
        return failure("InvalidParameters", what="argon2 memory per lane")
    return (memory, iterations, lanes, data[13:29], data[29:])


def unwrap(data, argon2id_output):
    """The key, or the error the document names, given the Argon2id output."""
    decoded = decode_wrap(data)
    if isinstance(decoded, dict):
        return decoded
    key = hushpy.aes256_gcm_open(argon2id_output, bytes(12), data[:29], decoded[4])
    return failure("WrongPassword") if key is None else key


# --------------------------------------------------------------------------------------------


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else HERE
    passed = failed = 0

    def report(ok, label, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
            print(f"FAIL {label}: {detail}")

    def same(label, got, want):
        report(got == want, label, f"computed {got!r}, file says {want!r}")

    problems = hushpy.self_test()
    for problem in problems:
        report(False, "hushpy self-test", problem)
    if problems:
        print(f"{passed} passed, {failed} failed")
        return 1

    def load(name):
        with open(os.path.join(directory, name)) as f:
            data = json.load(f)
        if not data.get("valid") or not data.get("invalid"):
            report(False, name, "needs valid and invalid cases")
        return data

    name = "backup_recovery_codes.json"
    codes = load(name)
    if not codes.get("keys"):
        report(False, name, "holds no keys")
    for case in codes.get("keys", []):
        label = f"{name} key {case['name']}"
        key = bytes.fromhex(case["key"])
        same(label + " code", recovery_code(key), case["recovery_code"])
        same(label + " id", backup_id(key).hex(), case["backup_id"])
        same(label + " parsed", shown(parse_recovery_code(case["recovery_code"])), case["key"])
    for case in codes["valid"]:
        same(f"{name} {case['name']}", shown(parse_recovery_code(case["text"])), case["key"])
    for case in codes["invalid"]:
        same(f"{name} {case['name']}", shown(parse_recovery_code(case["text"])), expected_error(case))

    name = "backup_streams.json"
    streams = load(name)
    for case in streams["valid"]:
        label = f"{name} {case['name']}"
        key, context = bytes.fromhex(case["key"]), bytes.fromhex(case["context"])
        salt, stream = bytes.fromhex(case["salt"]), bytes.fromhex(case["stream"])
        plaintext, chunk_size = bytes.fromhex(case["plaintext"]), case["chunk_size"]
        same(label + " id", backup_id(key).hex(), case["backup_id"])
        aes_key, prefix, header_key = stream_keys(key, salt, context)
        same(label + " keys", [aes_key.hex(), prefix.hex(), header_key.hex()],
             [case["aes_key"], case["nonce_prefix"], case["header_key"]])
        same(label + " header", [stream[25:57].hex(), struct.unpack(">I", stream[57:61])[0]],
             [case["salt"], chunk_size])
        same(label + " decrypted", shown(decrypt_stream(key, context, stream)), case["plaintext"])
        again = encrypt_stream(key, context, chunk_size, plaintext, salt)
        report(again == stream, label + " encrypted again", "the stream differs")
        chunks = len(plaintext) // chunk_size + 1
        same(label + " length", len(stream), HEADER_LEN + len(plaintext) + TAG_LEN * chunks)
    for case in streams["invalid"]:
        got = decrypt_stream(bytes.fromhex(case["key"]), bytes.fromhex(case["context"]),
                             bytes.fromhex(case["stream"]))
        same(f"{name} {case['name']}", shown(got), expected_error(case))

    name = "backup_password_wraps.json"
    wraps = load(name)
    for case in wraps["valid"]:
        label = f"{name} {case['name']}"
        data, kek = bytes.fromhex(case["wrapped"]), bytes.fromhex(case["argon2id_output"])
        decoded = decode_wrap(data)
        if isinstance(decoded, dict):
            report(False, label, f"does not decode: {decoded}")
            continue
        same(label + " fields", [decoded[0], decoded[1], decoded[2], decoded[3].hex()],
             [case["memory_kib"], case["iterations"], case["parallelism"], case["salt"]])
        same(label + " key", shown(unwrap(data, kek)), case["key"])
        sealed = hushpy.aes256_gcm_seal(kek, bytes(12), data[:29], bytes.fromhex(case["key"]))
        report(data[29:] == sealed, label + " wrapped again", "the encoding differs")
    for case in wraps["invalid"]:
        data = bytes.fromhex(case["wrapped"])
        if "argon2id_output" in case:
            got = unwrap(data, bytes.fromhex(case["argon2id_output"]))
        else:
            got = decode_wrap(data)
            got = got if isinstance(got, dict) else "decodes"
        same(f"{name} {case['name']}", shown(got), expected_error(case))

    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
