#!/usr/bin/env python3
"""Independent cross-check of hush's device vectors (linking.json, device_lists.json and the
frozen format-1 device_lists_v1.json).

Written from docs/wire/linking.md, docs/wire/device-list.md and docs/wire/backup.md alone,
sharing no code with hush. The primitives come from ../tools/hushpy.py (AES-256-GCM, HKDF,
HMAC, X25519, Base45) and XEdDSA verification from ../prekey/check_prekey_vectors.py.

For every valid linking it rebuilds the offer from the recorded random inputs, derives every
key itself from the published ephemeral private keys, decrypts the linking message and the
countersignature, checks the MAC, both signatures, the transcript hash, the history key and the
history stream. For every invalid case it computes the error the documents prescribe and
compares it with the recorded one (Rust Debug form, e.g. Malformed("base45")).

Usage: python3 check_device_vectors.py [DIR]   (DIR defaults to this script's directory)
Python 3.8+, standard library only. Exit status 0 when every case agrees.
"""

import importlib.util
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))

import hushpy  # noqa: E402
from hushpy import aes256_gcm_open, base45_decode, base45_encode, hkdf_sha256, hmac_sha256, x25519, x25519_base  # noqa: E402


def _load_prekey_checker():
    path = os.path.join(HERE, "..", "prekey", "check_prekey_vectors.py")
    spec = importlib.util.spec_from_file_location("check_prekey_vectors", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


xeddsa_verify = _load_prekey_checker().xeddsa_verify

# --------------------------------------------------------------------------------------------
# Constants from the documents

OFFER_PUBLIC_HASH = b"hush-device v1 offer public hash"
LINKING_MESSAGE_KEY = b"hush-device v1 linking message key"
LINKING_MAC_KEY = b"hush-device v1 linking secret mac key"
TRANSCRIPT = b"hush-device v1 linking transcript"
COUNTERSIGNATURE_KEY = b"hush-device v1 countersignature key"
HISTORY_KEY = b"hush-device v1 history key"
DEVICE_LIST_DIGEST = b"hush-device v1 device list digest"
ACCOUNT_PREFIX = bytes([0x06, 0x00])
DEVICE_PREFIX = bytes([0x06, 0x01])
LIST_PREFIX = bytes([0x06, 0x02])
MEMBERSHIP_PREFIX = bytes([0x06, 0x03])

VERSION = 2  # of the offer, the linking message, the countersignature and the states
GRACE_MS = 30_000
MAX_LIFETIME_MS = 600_000
MAX_SKEW_MS = 60_000
MAX_REFERENCE = 64
MAX_OFFER_TEXT = 258
MAX_DEVICES = 17
MAX_ADDRESS = 64
ZERO_NONCE = bytes(12)

BACKUP_MAGIC = b"HUSHBAK\x00"
BACKUP_ID_LABEL = b"hush backup v1 id"
BACKUP_ENCRYPTION_LABEL = b"hush backup v1 encryption"
MIN_CHUNK, MAX_CHUNK = 1024, 4 * 1024 * 1024


def malformed(what):
    return f'Malformed("{what}")'


def u32(b):
    return int.from_bytes(b, "big")


def clamp(scalar):
    k = bytearray(scalar)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    return bytes(k)


def identity_key_of(private):
    return b"\x05" + x25519_base(private)


def canonical(u):
    """An X25519 u-coordinate in its one encoding: top bit clear and below 2^255 - 19."""
    if u[31] & 0x80:
        return False
    return int.from_bytes(u, "little") < 2 ** 255 - 19


def membership_bytes(account, user, device_id):
    return MEMBERSHIP_PREFIX + account + device_id.to_bytes(4, "big") + bytes([len(user)]) + user


# --------------------------------------------------------------------------------------------
# Offers


def decode_offer(b):
    """(fields, None) or (None, error)."""
    if not b:
        return None, malformed("linking offer")
    if b[0] != VERSION:
        return None, f"UnknownVersion({b[0]})"
    if not 108 <= len(b) <= 171 or not canonical(b[1:33]) or b[65] != 0x05:
        return None, malformed("linking offer")
    n = b[106]
    if n == 0 or n > MAX_REFERENCE or len(b) != 107 + n:
        return None, malformed("linking offer")
    return {
        "bytes": b,
        "eph_c": b[1:33],
        "secret": b[33:65],
        "companion": b[65:98],
        "expiry": int.from_bytes(b[98:106], "big"),
        "reference": b[107:],
    }, None


def offer_from_text(text):
    # Rust's ASCII whitespace: tab, line feed, form feed, carriage return, space (kept).
    text = text.strip("\t\n\x0c\r")
    if len(text) > MAX_OFFER_TEXT:
        return None, malformed("base45")
    b = base45_decode(text)
    if b is None:
        return None, malformed("base45")
    return decode_offer(b)


def offer_public_hash(offer):
    return hmac_sha256(OFFER_PUBLIC_HASH, offer[:33] + offer[65:])


# --------------------------------------------------------------------------------------------
# Linking message and countersignature


def decode_message(b):
    if not b:
        return malformed("linking message")
    if b[0] != VERSION:
        return f"UnknownVersion({b[0]})"
    if not 198 <= len(b) <= 324 or not canonical(b[1:33]):
        return malformed("linking message")
    return None


def decode_countersignature(b):
    if not b:
        return malformed("countersignature")
    if b[0] != VERSION:
        return f"UnknownVersion({b[0]})"
    if len(b) != 145:
        return malformed("countersignature")
    return None


def message_keys(offer, shared):
    oph = offer_public_hash(offer["bytes"])
    return (hkdf_sha256(shared, oph, LINKING_MESSAGE_KEY, 32),
            hkdf_sha256(offer["secret"], oph, LINKING_MAC_KEY, 32))


def parse_contents(p):
    """(account key, metadata, signature, mac, signed body) or None.

    metadata = device id (4) || key index (4) || timestamp (8) || n (1) || reference (n)
               || u (1) || user id (u)
    """
    if len(p) < 33 + 17 or p[0] != 0x05:
        return None
    n = p[49]
    if n == 0 or n > MAX_REFERENCE or len(p) < 33 + 17 + n + 1:
        return None
    u = p[33 + 17 + n]
    if u == 0 or u > MAX_ADDRESS:
        return None
    end = 33 + 17 + n + 1 + u
    if len(p) != end + 64 + 32:
        return None
    if u32(p[33:37]) in (0, 1):
        return None
    return p[:33], p[33:end], p[end:end + 64], p[end + 64:], p[:end + 64]


def metadata_fields(m):
    n = m[16]
    return {
        "device_id": u32(m[0:4]),
        "key_index": u32(m[4:8]),
        "timestamp": int.from_bytes(m[8:16], "big"),
        "reference": m[17:17 + n],
        "user_id": m[17 + n + 1:],
    }


def receive(offer, eph_c_private, identity_key, message, now):
    """The companion's checks, in the documented order: (result, details)."""
    error = decode_message(message)
    if error:
        return error, None
    if now > offer["expiry"] + GRACE_MS:
        return "Expired", None
    if identity_key != offer["companion"]:
        return "WrongIdentityKey", None
    header = message[:33]
    shared = x25519(eph_c_private, message[1:33])
    if shared == bytes(32):
        return "Tampered", None
    message_key, mac_key = message_keys(offer, shared)
    plaintext = aes256_gcm_open(message_key, ZERO_NONCE, header, message[33:])
    if plaintext is None:
        return "Tampered", None
    parsed = parse_contents(plaintext)
    if parsed is None:
        return malformed("linking message contents"), None
    account, metadata, signature, mac, body = parsed
    if hmac_sha256(mac_key, offer["bytes"] + header + body) != mac:
        return "WrongLinkingSecret", None
    if metadata_fields(metadata)["reference"] != offer["reference"]:
        return "Tampered", None
    if not xeddsa_verify(account[1:], ACCOUNT_PREFIX + metadata + offer["companion"], signature):
        return "BadSignature", None
    return "ok", {"shared": shared, "message_key": message_key, "mac_key": mac_key,
                  "account": account, "metadata": metadata, "signature": signature}


def transcript_keys(offer, message, shared):
    th = hmac_sha256(TRANSCRIPT, offer["bytes"] + message)
    return (th, hkdf_sha256(shared, th, COUNTERSIGNATURE_KEY, 32),
            hkdf_sha256(shared + offer["secret"], th, HISTORY_KEY, 32))


def finish(offer, metadata, account, countersign_key, countersignature, now):
    """The primary's checks: (result, (device signature, membership signature))."""
    error = decode_countersignature(countersignature)
    if error:
        return error, None
    if now > offer["expiry"] + GRACE_MS:
        return "Expired", None
    signatures = aes256_gcm_open(countersign_key, ZERO_NONCE, bytes([VERSION]), countersignature[1:])
    if signatures is None:
        return "Tampered", None
    device_signature, membership = signatures[:64], signatures[64:]
    companion = offer["companion"]
    if not xeddsa_verify(companion[1:], DEVICE_PREFIX + metadata + companion + account, device_signature):
        return "BadSignature", None
    fields = metadata_fields(metadata)
    if not xeddsa_verify(companion[1:], membership_bytes(account, fields["user_id"], fields["device_id"]),
                         membership):
        return "BadSignature", None
    return "ok", (device_signature, membership)


def accept_error(offer, now, seen_ids, device_id, user_id, some_scalar):
    if now > offer["expiry"]:
        return "Expired"
    if offer["expiry"] > now + MAX_LIFETIME_MS + MAX_SKEW_MS:
        return malformed("offer lifetime")
    if offer["eph_c"] in seen_ids:
        return "Replayed"
    if device_id in (0, 1):
        return malformed("companion device id")
    if not 1 <= len(user_id) <= MAX_ADDRESS:
        return malformed("account address")
    if x25519(some_scalar, offer["eph_c"]) == bytes(32):
        return malformed("offer ephemeral key")
    return "ok"


# --------------------------------------------------------------------------------------------
# History stream (docs/wire/backup.md)


def decrypt_stream(key, context, data):
    """(plaintext, None) or (None, error name)."""
    if data[:8] != BACKUP_MAGIC[:len(data[:8])]:
        return None, "NotABackup"
    if len(data) < 9:
        return None, "Truncated { chunks_read: 0 }"
    if data[8] != 1:
        return None, f"UnknownVersion({data[8]})"
    if len(data) < 93:
        return None, "Truncated { chunks_read: 0 }"
    chunk = u32(data[57:61])
    if not MIN_CHUNK <= chunk <= MAX_CHUNK:
        return None, malformed("chunk size")
    if data[9:25] != hkdf_sha256(key, b"", BACKUP_ID_LABEL, 16):
        return None, "WrongKey"
    okm = hkdf_sha256(key, data[25:57], BACKUP_ENCRYPTION_LABEL + context, 71)
    aes_key, prefix, header_key = okm[:32], okm[32:39], okm[39:71]
    if hmac_sha256(header_key, data[:61]) != data[61:93]:
        return None, "HeaderAuthentication"
    out, position, index = b"", 93, 0
    while True:
        record = data[position:position + chunk + 16]
        if not record:
            return None, f"Truncated {{ chunks_read: {index} }}"
        last = len(record) < chunk + 16
        nonce = prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")
        opened = aes256_gcm_open(aes_key, nonce, b"", record)
        if opened is None:
            return None, f"CorruptedChunk {{ index: {index} }}"
        out += opened
        position += len(record)
        index += 1
        if last:
            return out, None


# --------------------------------------------------------------------------------------------
# Linking cases


def check_valid_linking(case):
    """A list of the values that disagree (empty when all agree)."""
    bad = []

    def same(label, got, want):
        if got != want:
            bad.append(label)

    h = lambda field: bytes.fromhex(case[field])  # noqa: E731
    account = identity_key_of(h("account_private_key"))
    companion = identity_key_of(h("companion_private_key"))
    same("account_identity_key", account, h("account_identity_key"))
    same("companion_identity_key", companion, h("companion_identity_key"))
    companion_random, primary_random = h("companion_random"), h("primary_random")
    same("companion_random length", len(companion_random), 64)
    same("primary_random length", len(primary_random), 96)
    same("countersign_random length", len(h("countersign_random")), 128)
    eph_c_private = clamp(companion_random[:32])
    eph_p_private = clamp(primary_random[:32])
    same("companion_ephemeral_private", eph_c_private, h("companion_ephemeral_private"))
    same("primary_ephemeral_private", eph_p_private, h("primary_ephemeral_private"))

    reference = h("server_reference")
    expiry = case["created_at_ms"] + case["lifetime_ms"]
    offer_bytes = (bytes([VERSION]) + x25519_base(eph_c_private) + companion_random[32:] + companion
                   + expiry.to_bytes(8, "big") + bytes([len(reference)]) + reference)
    same("offer", offer_bytes, h("offer"))
    same("qr_text", base45_encode(offer_bytes), case["qr_text"])
    offer, error = offer_from_text(case["qr_text"])
    if error or offer["bytes"] != offer_bytes:
        bad.append("qr_text does not decode to the offer")
        return bad
    same("offer_public_hash", offer_public_hash(offer_bytes), h("offer_public_hash"))
    same("companion_state", bytes([VERSION, 1]) + eph_c_private + offer_bytes, h("companion_state"))
    if case["accepted_at_ms"] > expiry:
        bad.append("accepted after expiry")

    message = h("linking_message")
    same("linking message ephemeral key", message[1:33], x25519_base(eph_p_private))
    result, details = receive(offer, eph_c_private, companion, message, case["received_at_ms"])
    if result != "ok":
        bad.append(f"linking message: {result}")
        return bad
    shared = details["shared"]
    same("shared secret from the primary's side", x25519(eph_p_private, offer["eph_c"]), shared)
    same("message_key", details["message_key"], h("message_key"))
    same("mac_key", details["mac_key"], h("mac_key"))
    same("account key in the message", details["account"], account)
    metadata = details["metadata"]
    same("metadata", metadata, h("metadata"))
    fields = metadata_fields(metadata)
    same("metadata device id", fields["device_id"], case["device_id"])
    same("metadata key index", fields["key_index"], case["key_index"])
    same("metadata timestamp", fields["timestamp"], case["accepted_at_ms"])
    same("metadata user id", fields["user_id"], h("user_id"))
    same("account_signature", details["signature"], h("account_signature"))

    th, countersign_key, history_key = transcript_keys(offer, message, shared)
    same("transcript_hash", th, h("transcript_hash"))
    same("countersignature_key", countersign_key, h("countersignature_key"))
    same("history_key", history_key, h("history_key"))
    result, signatures = finish(offer, metadata, account, countersign_key,
                                h("countersignature"), case["finished_at_ms"])
    if result != "ok":
        bad.append(f"countersignature: {result}")
    else:
        same("device_signature", signatures[0], h("device_signature"))
        same("membership_signature", signatures[1], h("membership_signature"))
    same("device_entry", case["device_entry"], {
        "device_id": case["device_id"], "identity_key": companion.hex(),
        "key_index": case["key_index"], "added_at_ms": case["accepted_at_ms"],
        "membership_signature": case["membership_signature"]})

    stream = h("history_stream")
    same("history chunk size", u32(stream[57:61]), case["history_chunk_size"])
    plaintext, error = decrypt_stream(history_key, th, stream)
    if error:
        bad.append(f"history stream: {error}")
    else:
        same("history_plaintext", plaintext, h("history_plaintext"))
    return bad


def linking_case_error(case, valid):
    step = case["step"]
    h = lambda field: bytes.fromhex(case[field])  # noqa: E731
    if step == "parse_offer_text":
        return offer_from_text(case["qr_text"])[1] or "ok"
    if step == "parse_offer":
        return decode_offer(h("offer"))[1] or "ok"
    if step == "parse_linking_message":
        return decode_message(h("linking_message")) or "ok"
    if step == "parse_countersignature":
        return decode_countersignature(h("countersignature")) or "ok"

    base = valid[case["base"]]
    b = lambda field: bytes.fromhex(base[field])  # noqa: E731
    base_offer, _ = decode_offer(b("offer"))
    eph_c_private = b("companion_ephemeral_private")
    if step == "accept":
        offer, error = decode_offer(h("offer"))
        if error:
            return error
        seen = {bytes.fromhex(i) for i in case["seen_offer_ids"]}
        user_id = h("user_id") if "user_id" in case else b("user_id")
        return accept_error(offer, case["now_ms"], seen, case["device_id"], user_id,
                            b("primary_ephemeral_private"))
    if step == "receive":
        identity = (identity_key_of(h("identity_private_key")) if "identity_private_key" in case
                    else identity_key_of(b("companion_private_key")))
        return receive(base_offer, eph_c_private, identity, h("linking_message"), case["now_ms"])[0]
    message = b("linking_message")
    shared = x25519(eph_c_private, message[1:33])
    th, countersign_key, history_key = transcript_keys(base_offer, message, shared)
    if step == "finish":
        return finish(base_offer, b("metadata"), b("account_identity_key"), countersign_key,
                      h("countersignature"), case["now_ms"])[0]
    if step == "history":
        error = decrypt_stream(history_key, th, h("history_stream"))[1]
        return f"HistoryStream({error})" if error else "ok"
    return f"unknown step {step}"


# --------------------------------------------------------------------------------------------
# Device lists


def parse_list(b, fmt):
    """(fields, None) or (None, error). Format 2 entries are 113 bytes (the format-1 fields,
    then the membership signature); format 1 entries are 49 bytes."""
    entry = 113 if fmt == 2 else 49
    if not b:
        return None, malformed("device list")
    if b[0] != fmt:
        return None, f"UnknownVersion({b[0]})"
    if len(b) < 51 or b[1] != 0x05:
        return None, malformed("device list")
    count = b[50]
    if count == 0 or count > MAX_DEVICES or len(b) != 51 + entry * count + 64:
        return None, malformed("device list")
    devices = []
    for i in range(count):
        e = b[51 + entry * i:51 + entry * (i + 1)]
        device = {"device_id": u32(e[0:4]), "identity_key": e[4:37].hex(),
                  "key_index": u32(e[37:41]), "added_at_ms": int.from_bytes(e[41:49], "big")}
        if fmt == 2:
            device["membership_signature"] = e[49:113].hex()
        if e[4] != 0x05:
            return None, malformed("device list")
        if (i == 0 and device["device_id"] != 1) or (i > 0 and device["device_id"] <= devices[-1]["device_id"]):
            return None, malformed("device list")
        if any(d["identity_key"] == device["identity_key"] for d in devices):
            return None, malformed("device list")
        devices.append(device)
    return {
        "account": b[1:34],
        "version": int.from_bytes(b[34:42], "big"),
        "signed_at_ms": int.from_bytes(b[42:50], "big"),
        "devices": devices,
        "list_bytes": b[:-64],
        "signature": b[-64:],
    }, None


class Contact:
    """A contact's memory: per address, the account key, highest version and digest."""

    def __init__(self, policy, fmt=2):
        self.policy = policy
        self.fmt = fmt
        self.known = {}

    def verify(self, address, signed):
        if not 1 <= len(address) <= MAX_ADDRESS:
            return malformed("account address"), None
        fields, error = parse_list(signed, self.fmt)
        if error:
            return error, None
        if not xeddsa_verify(fields["account"][1:], LIST_PREFIX + fields["list_bytes"], fields["signature"]):
            return "BadSignature", None
        if self.fmt == 2:
            for d in fields["devices"]:
                key = bytes.fromhex(d["identity_key"])
                signed_bytes = membership_bytes(fields["account"], address, d["device_id"])
                if not xeddsa_verify(key[1:], signed_bytes, bytes.fromhex(d["membership_signature"])):
                    return "BadSignature", None
        limit = min(self.policy["max_companions"], MAX_DEVICES - 1)
        if len(fields["devices"]) - 1 > limit:
            return f"TooManyCompanions {{ max: {limit} }}", None
        digest = hmac_sha256(DEVICE_LIST_DIGEST, fields["list_bytes"])
        if address in self.known:
            account, version, known_digest = self.known[address]
            if account != fields["account"]:
                return "IdentityChanged", None
            if fields["version"] < version:
                return f"Rollback {{ seen: {version}, received: {fields['version']} }}", None
            if fields["version"] == version and digest != known_digest:
                return f"Equivocation {{ version: {version} }}", None
        self.known[address] = (fields["account"], fields["version"], digest)
        return "ok", fields


def devices_to_send(fields, now, policy):
    fresh = max(0, now - fields["signed_at_ms"]) <= policy["companion_expiry_ms"]
    return [d["device_id"] for d in fields["devices"] if d["device_id"] == 1 or fresh]


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

    problems = hushpy.self_test()
    report(not problems, "hushpy self-test", "; ".join(problems))

    with open(os.path.join(directory, "linking.json")) as f:
        linking = json.load(f)
    valid = {case["name"]: case for case in linking["valid"]}
    report(len(linking["valid"]) > 0 and len(linking["invalid"]) > 0, "linking.json", "needs valid and invalid cases")
    for case in linking["valid"]:
        bad = check_valid_linking(case)
        report(not bad, "linking.json valid " + case["name"], ", ".join(bad))
    for case in linking["invalid"]:
        got = linking_case_error(case, valid)
        report(got == case["error"], "linking.json invalid " + case["name"],
               f"computed {got}, file says {case['error']}")

    for name, fmt in (("device_lists.json", 2), ("device_lists_v1.json", 1)):
        with open(os.path.join(directory, name)) as f:
            lists = json.load(f)
        policy = lists["policy"]
        report(policy == {"max_companions": 4, "companion_expiry_ms": 14 * 24 * 3600 * 1000},
               name + " policy", "not the documented defaults")
        for case in lists["valid"]:
            user = case["user_id"].encode() if fmt == 2 else b"vectors"
            result, fields = Contact(policy, fmt).verify(user, bytes.fromhex(case["signed_list"]))
            ok = result == "ok"
            detail = result
            if ok:
                want = {k: case[k] for k in ("version", "signed_at_ms", "devices")}
                want["account"] = case["account_identity_key"]
                got = {k: fields[k] for k in ("version", "signed_at_ms", "devices")}
                got["account"] = fields["account"].hex()
                sends = [devices_to_send(fields, c["now_ms"], policy) for c in case["send_checks"]]
                ok = got == want and sends == [c["device_ids"] for c in case["send_checks"]]
                detail = f"computed {got} {sends}"
            report(ok, f"{name} valid " + case["name"], detail)
        for case in lists["invalid"]:
            address = case.get("address", "alice").encode()
            got, _ = Contact(policy, fmt).verify(address, bytes.fromhex(case["signed_list"]))
            report(got == case["error"], f"{name} invalid " + case["name"],
                   f"computed {got}, file says {case['error']}")
        for case in lists["sequences"]:
            contact = Contact(policy, fmt)
            got = [contact.verify(s["address"].encode(), bytes.fromhex(s["signed_list"]))[0] for s in case["steps"]]
            want = [s["result"] for s in case["steps"]]
            report(got == want, f"{name} sequence " + case["name"], f"computed {got}, file says {want}")

    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
