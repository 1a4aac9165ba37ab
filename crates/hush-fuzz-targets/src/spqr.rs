//! Targets for `hush-spqr`: the `pq_ratchet` payload decoder, hush's state decoder, and
//! the erasure code's chunk decoder fed any sequence of chunks.

use std::sync::OnceLock;

use hush_spqr::erasure::{CHUNK_LEN, Chunk, Decoder, encode_chunk};
use hush_spqr::limits::MAX_CODE_CHUNKS;
use hush_spqr::{ChainParams, Direction, Payload, SpqrState, Version};
use hush_test_support::test_rng;

/// The auth key of the fixed states the payload target feeds.
pub const FIXED_AUTH_KEY: [u8; 32] = [0x5A; 32];

/// A responder that has received nothing yet, and one that has answered: the states
/// every decoded payload is offered to.
fn fixed_states() -> &'static [SpqrState; 2] {
    static STATES: OnceLock<[SpqrState; 2]> = OnceLock::new();
    STATES.get_or_init(|| {
        let new = |direction| {
            SpqrState::new(
                &FIXED_AUTH_KEY,
                direction,
                Version::V1,
                Version::V1,
                ChainParams::default(),
            )
            .unwrap_or_else(|error| unexpected("starting a state", &error))
        };
        let fresh = new(Direction::B2A);
        let mut alice = new(Direction::A2B);
        let mut bob = new(Direction::B2A);
        let mut rng = test_rng(7);
        for _ in 0..4 {
            let sent = alice
                .send(&mut rng)
                .unwrap_or_else(|error| unexpected("sending", &error));
            bob.recv(sent.payload())
                .unwrap_or_else(|error| unexpected("receiving", &error));
        }
        [fresh, bob]
    })
}

/// `Payload::decode`: a decoded payload re-encodes canonically to bytes that decode to
/// the same payload, and the canonical encoding is stable. Every input (decodable or
/// not) is then offered to two fixed states: planning must not change them.
pub fn spqr_payload(data: &[u8]) {
    if let Ok(payload) = Payload::decode(data) {
        let encoded = payload.encode();
        let again = Payload::decode(encoded.as_bytes());
        assert!(
            again.as_ref().is_ok_and(|again| *again == payload),
            "payload does not round-trip"
        );
        assert_eq!(
            again.map(|p| p.encode()).ok(),
            Some(encoded),
            "canonical encoding is not stable"
        );
        assert!(
            encoded.as_bytes().len() <= data.len(),
            "the canonical encoding is never longer than what was decoded"
        );
    }
    for state in fixed_states() {
        let before = state.encode();
        let _ = state.plan_recv(data);
        assert_eq!(*state.encode(), *before, "planning changed the state");
    }
}

/// `SpqrState::decode`: a decoded state re-encodes to bytes that decode to a state with
/// the same encoding. It is then asked to plan a send and a receive, which must not
/// change it, and a successful send is applied and must round-trip too.
pub fn spqr_state(data: &[u8]) {
    let Ok(state) = SpqrState::decode(data) else {
        return;
    };
    let encoded = state.encode();
    let again = SpqrState::decode(&encoded)
        .unwrap_or_else(|error| unexpected("decoding a re-encoded state", &error));
    assert_eq!(*again.encode(), *encoded, "state does not round-trip");

    let mut state = again;
    let _ = state.plan_recv(&[1, 1, 1, 0]);
    assert_eq!(
        *state.encode(),
        *encoded,
        "planning a receive changed the state"
    );
    if let Ok(plan) = state.plan_send(&mut test_rng(1)) {
        assert_eq!(
            *state.encode(),
            *encoded,
            "planning a send changed the state"
        );
        if let Err(error) = state.apply_send(plan) {
            unexpected("applying a fresh send plan", &error);
        }
        let after = state.encode();
        let reloaded = SpqrState::decode(&after)
            .unwrap_or_else(|error| unexpected("decoding a state after a send", &error));
        assert_eq!(
            *reloaded.encode(),
            *after,
            "state after a send does not round-trip"
        );
    }
}

/// The erasure code's decoder fed a sequence of chunks.
///
/// Input: one byte choosing the message length (1 to 64 chunks), then records of a flag
/// byte and a big-endian chunk index, followed by 32 bytes of chunk data when the flag is
/// odd; an even flag sends the index's genuine chunk of a fixed message. The decoder must
/// never hold more than `n - 1` chunks or two of one index; whatever it decodes has `n`
/// chunks, re-encodes at every index it was decoded from to the chunks it was decoded
/// from, and is the fixed message when every chunk was genuine.
pub fn spqr_chunks(data: &[u8]) {
    let Some((&first, mut rest)) = data.split_first() else {
        return;
    };
    let count = usize::from(first) % MAX_CODE_CHUNKS + 1;
    let message: Vec<u8> = (0..count * CHUNK_LEN)
        .map(|i| u8::try_from((i * 7 + count) % 251).unwrap_or(0))
        .collect();
    let new_decoder =
        || Decoder::new(message.len()).unwrap_or_else(|error| unexpected("a decoder", &error));
    let mut decoder = new_decoder();
    let mut all_genuine = true;
    while let Some((&flag, tail)) = rest.split_first() {
        let Some((index, tail)) = tail.split_first_chunk::<2>() else {
            return;
        };
        let index = u16::from_be_bytes(*index);
        let chunk = if flag % 2 == 1 {
            let Some((bytes, tail)) = tail.split_first_chunk::<CHUNK_LEN>() else {
                return;
            };
            rest = tail;
            all_genuine = false;
            Chunk::new(index, *bytes)
        } else {
            rest = tail;
            encode_chunk(&message, index).unwrap_or_else(|error| unexpected("encoding", &error))
        };
        match decoder.decode_with(&chunk) {
            Some(decoded) => {
                assert_eq!(decoded.len(), message.len(), "decoded length");
                for used in decoder.held().iter().chain([&chunk]) {
                    let again = encode_chunk(&decoded, used.index())
                        .unwrap_or_else(|error| unexpected("re-encoding", &error));
                    assert_eq!(
                        again, *used,
                        "decoded message does not give back its chunks"
                    );
                }
                if all_genuine {
                    assert_eq!(
                        decoded, message,
                        "genuine chunks decoded to another message"
                    );
                }
                decoder = new_decoder();
                all_genuine = true;
            }
            None => {
                assert!(
                    decoder.add(&chunk),
                    "a chunk that completes nothing was refused"
                );
                let held = decoder.held();
                assert!(held.len() < count, "decoder holds a complete message");
                for (i, c) in held.iter().enumerate() {
                    assert!(
                        held.iter().skip(i + 1).all(|d| d.index() != c.index()),
                        "decoder holds an index twice"
                    );
                }
            }
        }
    }
}

fn unexpected(what: &str, error: &hush_spqr::Error) -> ! {
    #[expect(clippy::panic, reason = "a fuzz target reports a bug by panicking")]
    {
        panic!("{what}: unexpected error {error:?}")
    }
}

/// A payload in flight and the key its sender derived.
type InFlight = (Vec<u8>, Option<[u8; 32]>);

/// Most operations one [`spqr_interaction`] input runs.
pub const MAX_INTERACTION_OPS: usize = 256;

/// Two parties exchanging SPQR payloads over a network the input controls: sends, losses,
/// deliveries in any order, replays, tampered deliveries and reloads. Whatever happens:
/// nothing panics; a refused payload leaves the receiver byte-identical; a replay of a
/// delivered payload is refused; and every accepted genuine payload gives the sender's key
/// (even after tampering, which may stall the braid but never yields a wrong key).
///
/// Input: a first byte choosing the chain limits (odd: a jump of 8, 4 keys kept), then
/// pairs of (operation, argument) bytes.
pub fn spqr_interaction(data: &[u8]) {
    let Some((&first, ops)) = data.split_first() else {
        return;
    };
    let params = if first % 2 == 1 {
        ChainParams::new(8, 4).unwrap_or_else(|error| unexpected("chain limits", &error))
    } else {
        ChainParams::default()
    };
    let new = |direction| {
        SpqrState::new(&FIXED_AUTH_KEY, direction, Version::V1, Version::V1, params)
            .unwrap_or_else(|error| unexpected("starting a state", &error))
    };
    let mut states = [new(Direction::A2B), new(Direction::B2A)];
    let mut rngs = [test_rng(1), test_rng(2)];
    // Payloads in flight to each party, with the key their sender derived.
    let mut inboxes: [Vec<InFlight>; 2] = [Vec::new(), Vec::new()];
    let mut delivered: [Option<Vec<u8>>; 2] = [None, None];
    for pair in ops.chunks_exact(2).take(MAX_INTERACTION_OPS) {
        let (op, arg) = (
            pair.first().copied().unwrap_or(0),
            pair.get(1).copied().unwrap_or(0),
        );
        let me = usize::from(op & 1);
        let (Some(state), Some(rng)) = (states.get_mut(me), rngs.get_mut(me)) else {
            return;
        };
        match (op >> 1) % 6 {
            0 | 1 => {
                let sent = state
                    .send(rng)
                    .unwrap_or_else(|error| unexpected("sending", &error));
                let key = sent.message_key().map(|k| *k.as_bytes());
                if arg % 8 != 0
                    && let Some(inbox) = inboxes.get_mut(1 - me)
                {
                    inbox.push((sent.payload().to_vec(), key));
                }
            }
            2 | 3 => {
                let Some(inbox) = inboxes.get_mut(me).filter(|inbox| !inbox.is_empty()) else {
                    continue;
                };
                let at = usize::from(arg) % inbox.len();
                let (payload, key) = inbox.remove(at);
                let tamper = (op >> 1) % 6 == 3 && arg >= 128;
                let mut bytes = payload.clone();
                if tamper {
                    let position = usize::from(arg) % bytes.len().max(1);
                    if let Some(byte) = bytes.get_mut(position) {
                        *byte ^= 1 << (arg % 8);
                    }
                }
                let before = state.encode();
                match state.plan_recv(&bytes) {
                    Ok(plan) => {
                        if !tamper {
                            assert!(
                                plan.message_key().map(|k| *k.as_bytes()) == key,
                                "a genuine payload gave another key"
                            );
                        }
                        if let Err(error) = state.apply_recv(plan) {
                            unexpected("applying a fresh receive plan", &error);
                        }
                        if !tamper && let Some(slot) = delivered.get_mut(me) {
                            *slot = Some(payload);
                        }
                    }
                    Err(_) => assert_eq!(*state.encode(), *before, "a refusal changed the state"),
                }
            }
            4 => {
                let Some(Some(payload)) = delivered.get(me) else {
                    continue;
                };
                let before = state.encode();
                assert!(state.plan_recv(payload).is_err(), "a replay was accepted");
                assert_eq!(
                    *state.encode(),
                    *before,
                    "a refused replay changed the state"
                );
            }
            _ => {
                let bytes = state.encode();
                *state = SpqrState::decode(&bytes)
                    .unwrap_or_else(|error| unexpected("reloading a state", &error));
                assert_eq!(*state.encode(), *bytes, "state does not round-trip");
            }
        }
    }
}
