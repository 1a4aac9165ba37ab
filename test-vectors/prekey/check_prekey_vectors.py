#!/usr/bin/env python3
"""Independent cross-check of hush's prekey vectors (prekey_bundles.json, prekey_uploads.json).

Written from docs/wire/prekeys.md alone, sharing no code with hush: a protobuf reader, Ed25519
arithmetic for XEdDSA verification (libsignal's convention, with hush's strict encoding rules),
the Kyber/ML-KEM public key coefficient check, and the validation rules. For every case it
computes the verdict again and compares it with the one the file records.

Usage: python3 check_prekey_vectors.py [DIR]   (DIR defaults to this script's directory)
Python 3.8+, standard library only. Exit status 0 when every case agrees.
"""

import hashlib
import json
import os
import sys

# --------------------------------------------------------------------------------------------
# Ed25519 / XEdDSA

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def inv(x):
    return pow(x, P - 2, P)


def recover_x(y, sign):
    """x for y on the curve -x^2 + y^2 = 1 + d x^2 y^2 with the given parity, or None."""
    u = (y * y - 1) % P
    v = (D * y * y + 1) % P
    x2 = u * inv(v) % P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if x & 1 != sign:
        x = P - x
    return x


def point(x, y):
    return (x, y, 1, x * y % P)


def add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    pa = (y1 - x1) * (y2 - x2) % P
    pb = (y1 + x1) * (y2 + x2) % P
    pc = t1 * 2 * D * t2 % P
    pd = z1 * 2 * z2 % P
    e, f, g, h = pb - pa, pd - pc, pd + pc, pb + pa
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def neg(a):
    x, y, z, t = a
    return ((-x) % P, y, z, (-t) % P)


def mul(k, a):
    result = (0, 1, 1, 0)
    while k:
        if k & 1:
            result = add(result, a)
        a = add(a, a)
        k >>= 1
    return result


def compress(a):
    x, y, z, _ = a
    zi = inv(z)
    x, y = x * zi % P, y * zi % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


BASE_Y = 4 * inv(5) % P
BASE = point(recover_x(BASE_Y, 0), BASE_Y)


def xeddsa_verify(montgomery_u_bytes, message, signature):
    """libsignal's XEdDSA verification, with hush's strict rules: canonical u, canonical s,
    and R compared byte for byte with the recomputed point."""
    if len(montgomery_u_bytes) != 32 or len(signature) != 64:
        return False
    u = int.from_bytes(montgomery_u_bytes, "little")
    if u >= P:  # also rejects the top bit set
        return False
    if (u + 1) % P == 0:
        return False
    y = (u - 1) * inv(u + 1) % P
    sign = signature[63] >> 7
    x = recover_x(y, 0)
    if x is None:
        return False
    a = point(x, y)
    if sign:
        a = neg(a)
    a_bytes = (y | (sign << 255)).to_bytes(32, "little")
    r_bytes = signature[:32]
    s = int.from_bytes(signature[32:63] + bytes([signature[63] & 0x7F]), "little")
    if s >= L:
        return False
    h = int.from_bytes(hashlib.sha512(r_bytes + a_bytes + message).digest(), "little") % L
    check = add(mul(s, BASE), neg(mul(h, a)))
    return compress(check) == r_bytes


# --------------------------------------------------------------------------------------------
# Keys

def ec_key_issue(data):
    """None if data is a 33-byte 0x05-typed key, else the issue name."""
    if len(data) == 0:
        return "wrong_key_length"
    if data[0] != 0x05:
        return "wrong_key_type"
    if len(data) != 33:
        return "wrong_key_length"
    return None


def kem_key_issue(data):
    """None if data is a typed Kyber1024 (0x08) or ML-KEM-1024 (0x0a) public key whose 1024
    12-bit coefficients are all below q = 3329, else the issue name."""
    if len(data) == 0:
        return "wrong_key_length"
    if data[0] not in (0x08, 0x0A):
        return "wrong_key_type"
    if len(data) != 1569:
        return "wrong_key_length"
    packed = data[1:1537]
    for i in range(0, len(packed), 3):
        b0, b1, b2 = packed[i], packed[i + 1], packed[i + 2]
        if (b0 | ((b1 & 0x0F) << 8)) >= 3329 or ((b1 >> 4) | (b2 << 4)) >= 3329:
            return "invalid_key"
    return None


# --------------------------------------------------------------------------------------------
# Protobuf

class Truncated(Exception):
    pass


class Malformed(Exception):
    pass


def read_varint(data, at):
    value = 0
    for i in range(10):
        if at >= len(data):
            raise Truncated()
        byte = data[at]
        at += 1
        bits = byte & 0x7F
        if i == 9 and bits > 1:
            raise Malformed("varint overflows 64 bits")
        value |= bits << (7 * i)
        if byte & 0x80 == 0:
            return value, at
    raise Malformed("varint longer than 10 bytes")


def read_fields(data):
    """All fields as (number, wire_type, value); value is int or bytes. Raises Truncated or
    Malformed on framing errors."""
    fields = []
    at = 0
    while at < len(data):
        key, at = read_varint(data, at)
        number, wire_type = key >> 3, key & 7
        if number == 0 or number > (1 << 29) - 1:
            raise Malformed("field number")
        if wire_type == 0:
            value, at = read_varint(data, at)
        elif wire_type == 1:
            if at + 8 > len(data):
                raise Truncated()
            value, at = int.from_bytes(data[at:at + 8], "little"), at + 8
        elif wire_type == 2:
            length, at = read_varint(data, at)
            if at + length > len(data):
                raise Truncated()
            value, at = data[at:at + length], at + length
        elif wire_type == 5:
            if at + 4 > len(data):
                raise Truncated()
            value, at = int.from_bytes(data[at:at + 4], "little"), at + 4
        else:
            raise Malformed("wire type")
        fields.append((number, wire_type, value))
    return fields


def strict_top_level(body, specs):
    """hush's top-level rules: known fields only, right wire type, singular fields once.
    specs: number -> (wire_type, repeated). Returns the fields."""
    fields = read_fields(body)
    seen = {}
    for number, wire_type, _ in fields:
        if number not in specs:
            raise Malformed("unknown field")
        expected, repeated = specs[number]
        if wire_type != expected:
            raise Malformed("wire type of a known field")
        seen[number] = seen.get(number, 0) + 1
        if not repeated and seen[number] > 1:
            raise Malformed("singular field twice")
    return fields


def lenient_message(data, specs):
    """Ordinary protobuf decoding of a nested message: unknown fields skipped, the last
    value of a known field wins. Any framing error is Malformed. specs: number -> (wire_type, default)."""
    try:
        fields = read_fields(data)
    except Truncated:
        raise Malformed("truncated nested message")
    out = {number: default for number, (_, default) in specs.items()}
    for number, wire_type, value in fields:
        if number in specs:
            if wire_type != specs[number][0]:
                raise Malformed("nested wire type")
            out[number] = value
    return out


# --------------------------------------------------------------------------------------------
# Uploads

KIND_ORDER = ["upload", "identity_key", "signed_prekey", "one_time_prekey", "kem_prekey", "last_resort_kem_prekey"]
MAX_ID = 0xFFFFFF
SIGNED_ENTRY = {1: (0, 0), 2: (2, b""), 3: (2, b""), 4: (0, 0)}
ONE_TIME_ENTRY = {1: (0, 0), 2: (2, b"")}


def upload_verdict(data, account_key, now, policy):
    if len(data) > policy["max_upload_bytes"]:
        return {"verdict": "too_large"}
    if len(data) == 0:
        return {"verdict": "empty"}
    if data[0] != 1:
        return {"verdict": "unsupported_version"}
    specs = {1: (2, False), 2: (2, False), 3: (2, True), 4: (2, True), 5: (2, False)}
    try:
        fields = strict_top_level(data[1:], specs)
    except Truncated:
        return {"verdict": "truncated"}
    except Malformed:
        return {"verdict": "malformed"}
    if sum(1 for f in fields if f[0] == 3) > policy["max_one_time_prekeys"]:
        return {"verdict": "too_many_keys"}
    if sum(1 for f in fields if f[0] == 4) > policy["max_kem_prekeys"]:
        return {"verdict": "too_many_keys"}
    try:
        identity = next((v for n, _, v in fields if n == 1), b"")
        signed = [lenient_message(v, SIGNED_ENTRY) for n, _, v in fields if n == 2]
        one_time = [lenient_message(v, ONE_TIME_ENTRY) for n, _, v in fields if n == 3]
        kem = [lenient_message(v, SIGNED_ENTRY) for n, _, v in fields if n == 4]
        last = [lenient_message(v, SIGNED_ENTRY) for n, _, v in fields if n == 5]
    except Malformed:
        return {"verdict": "malformed"}

    problems = []

    def flag(slot, issue):
        slot["faulty"] = True
        problems.append((slot["kind"], slot["position"], slot["id"], issue))

    def make_slot(kind, position, entry, signed_entry):
        slot = {"kind": kind, "position": position, "id": entry[1] & 0xFFFFFFFF, "key_bytes": entry[2],
                "faulty": False, "key_ok": False, "signature": None,
                "timestamp": entry[4] if signed_entry else 0}
        if slot["id"] > MAX_ID:
            flag(slot, "id_out_of_range")
        if signed_entry:
            if len(entry[3]) != 64:
                flag(slot, "wrong_signature_length")
            else:
                slot["signature"] = entry[3]
        return slot

    # Parsing, in upload order.
    identity_ok = False
    if len(identity) == 0:
        problems.append(("identity_key", None, None, "missing"))
    elif ec_key_issue(identity):
        problems.append(("identity_key", None, None, ec_key_issue(identity)))
    else:
        identity_ok = True
    signed_slot = None
    for entry in signed:
        signed_slot = make_slot("signed_prekey", None, entry, True)
        issue = ec_key_issue(entry[2])
        if issue:
            flag(signed_slot, issue)
        else:
            signed_slot["key_ok"] = True
    one_time_slots = []
    for position, entry in enumerate(one_time):
        slot = make_slot("one_time_prekey", position, entry, False)
        issue = ec_key_issue(entry[2])
        if issue:
            flag(slot, issue)
        else:
            slot["key_ok"] = True
        one_time_slots.append(slot)

    def kem_slot(kind, position, entry):
        slot = make_slot(kind, position, entry, True)
        issue = kem_key_issue(entry[2])
        if issue:
            flag(slot, issue)
        else:
            slot["key_ok"] = True  # both KEM types accepted by the default policy
        return slot

    kem_slots = [kem_slot("kem_prekey", i, e) for i, e in enumerate(kem)]
    last_slot = kem_slot("last_resort_kem_prekey", None, last[0]) if last else None

    # Account-level rules.
    if identity_ok and identity != account_key:
        problems.append(("identity_key", None, None, "identity_mismatch"))
    if signed_slot is None and not one_time_slots and not kem_slots and last_slot is None:
        problems.append(("upload", None, None, "no_keys"))

    def duplicates(slots):
        seen = set()
        for slot in slots:
            if slot["id"] in seen:
                flag(slot, "duplicate_id")
            seen.add(slot["id"])

    duplicates(one_time_slots)
    duplicates(kem_slots + ([last_slot] if last_slot else []))

    signed_slots = ([signed_slot] if signed_slot else []) + kem_slots + ([last_slot] if last_slot else [])
    for slot in signed_slots:
        t = slot["timestamp"]
        if t > now:
            if t - now > policy["max_clock_skew_ms"]:
                flag(slot, "timestamp_in_future")
        elif now - t > policy["max_key_age_ms"]:
            flag(slot, "timestamp_too_old")
    for slot in signed_slots:
        if slot["key_ok"] and slot["signature"] is not None:
            if not xeddsa_verify(account_key[1:], slot["key_bytes"], slot["signature"]):
                flag(slot, "bad_signature")

    if problems:
        order = sorted(range(len(problems)), key=lambda i: (
            KIND_ORDER.index(problems[i][0]),
            -1 if problems[i][1] is None else problems[i][1], i))
        return {"verdict": "rejected", "problems": [
            {"kind": problems[i][0], "position": problems[i][1], "id": problems[i][2], "issue": problems[i][3]}
            for i in order]}
    return {"verdict": "valid", "summary": {
        "signed_prekey_id": signed_slot["id"] if signed_slot else None,
        "one_time_prekey_ids": [s["id"] for s in one_time_slots],
        "kem_prekey_ids": [s["id"] for s in kem_slots],
        "last_resort_kem_prekey_id": last_slot["id"] if last_slot else None,
    }}


# --------------------------------------------------------------------------------------------
# Bundles

BUNDLE_SPECS = {1: (0, False), 2: (0, False), 3: (2, False), 4: (0, False), 5: (2, False), 6: (2, False),
                7: (0, False), 8: (2, False), 9: (0, False), 10: (2, False), 11: (2, False)}


def bundle_decode(data):
    """(error class, None) or (None, fields dict)."""
    if len(data) > 4096:
        return "too_large", None
    if len(data) == 0:
        return "empty", None
    if data[0] != 1:
        return "unsupported_version", None
    try:
        fields = strict_top_level(data[1:], BUNDLE_SPECS)
    except Truncated:
        return "truncated", None
    except Malformed:
        return "malformed", None
    values = {n: v for n, _, v in fields}
    get_int = lambda n: values.get(n, 0) & 0xFFFFFFFF
    get_bytes = lambda n: values.get(n, b"")
    one_time_id = values.get(7)
    one_time_key = get_bytes(8)
    if (one_time_id is None) != (len(one_time_key) == 0):
        return "malformed", None
    if one_time_id is not None:
        if ec_key_issue(one_time_key):
            return "invalid_field", None
        if one_time_id & 0xFFFFFFFF > MAX_ID:
            return "id_out_of_range", None
    if ec_key_issue(get_bytes(3)) or ec_key_issue(get_bytes(5)) or len(get_bytes(6)) != 64:
        return "invalid_field", None
    if kem_key_issue(get_bytes(10)) or len(get_bytes(11)) != 64:
        return "invalid_field", None
    if not 1 <= get_int(2) <= 127:
        return "device_id_out_of_range", None
    if get_int(4) > MAX_ID or get_int(9) > MAX_ID:
        return "id_out_of_range", None
    return None, {
        "registration_id": get_int(1),
        "device_id": get_int(2),
        "identity_key": get_bytes(3).hex(),
        "signed_prekey_id": get_int(4),
        "signed_prekey": get_bytes(5).hex(),
        "signed_prekey_signature": get_bytes(6).hex(),
        "one_time_prekey_id": None if one_time_id is None else one_time_id & 0xFFFFFFFF,
        "one_time_prekey": one_time_key.hex() if one_time_id is not None else None,
        "kem_prekey_id": get_int(9),
        "kem_prekey": get_bytes(10).hex(),
        "kem_prekey_signature": get_bytes(11).hex(),
    }


# --------------------------------------------------------------------------------------------

def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    passed = failed = 0

    def report(ok, label, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
            print(f"FAIL {label}: {detail}")

    # A known-answer check of the Ed25519 arithmetic first: RFC 8032 test 1 (empty message).
    rfc_public = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    rfc_signature = bytes.fromhex(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
    y = int.from_bytes(rfc_public, "little") & ((1 << 255) - 1)
    x = recover_x(y, rfc_public[31] >> 7)
    h = int.from_bytes(hashlib.sha512(rfc_signature[:32] + rfc_public).digest(), "little") % L
    s = int.from_bytes(rfc_signature[32:], "little")
    report(compress(add(mul(s, BASE), neg(mul(h, point(x, y))))) == rfc_signature[:32], "RFC 8032 test 1")

    with open(os.path.join(directory, "prekey_uploads.json")) as f:
        uploads = json.load(f)
    default_policy = uploads["default_policy"]
    for case in uploads["valid"] + uploads["invalid"]:
        policy = dict(default_policy)
        policy.update(case["policy"])
        got = upload_verdict(bytes.fromhex(case["upload"]), bytes.fromhex(case["identity_key"]),
                             case["now_ms"], policy)
        want = {k: case[k] for k in ("verdict", "summary", "problems") if k in case}
        report(got == want, "prekey_uploads.json " + case["name"], f"computed {got}, file says {want}")

    with open(os.path.join(directory, "prekey_bundles.json")) as f:
        bundles = json.load(f)
    for case in bundles["valid"]:
        error, fields = bundle_decode(bytes.fromhex(case["bundle"]))
        if error:
            report(False, "prekey_bundles.json " + case["name"], f"decode error {error}")
            continue
        mismatched = [k for k, v in fields.items() if case.get(k) != v]
        report(not mismatched, "prekey_bundles.json " + case["name"], f"fields differ: {mismatched}")
        identity = bytes.fromhex(fields["identity_key"])[1:]
        valid = (xeddsa_verify(identity, bytes.fromhex(fields["signed_prekey"]),
                               bytes.fromhex(fields["signed_prekey_signature"]))
                 and xeddsa_verify(identity, bytes.fromhex(fields["kem_prekey"]),
                                   bytes.fromhex(fields["kem_prekey_signature"])))
        report(valid == case["signatures_valid"], "prekey_bundles.json " + case["name"] + " signatures",
               f"computed {valid}")
    for case in bundles["invalid"]:
        error, _ = bundle_decode(bytes.fromhex(case["bundle"]))
        report(error == case["error"], "prekey_bundles.json " + case["name"],
               f"computed {error}, file says {case['error']}")

    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
