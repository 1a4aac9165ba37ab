//! `hush link demo`: both roles in one process, checking every step.

use std::process::ExitCode;

use hush_core::IdentityKeyPair;
use hush_core::rng::os_rng;
use hush_device::limits::DEFAULT_OFFER_LIFETIME_MS;
use hush_device::render::OfferQr;
use hush_device::{
    CompanionAssignment, CompanionLinking, Countersignature, DeviceList, DeviceListPolicy,
    KnownDeviceLists, LinkingMessage, LinkingOffer, PrimaryLinking, SeenOffers,
};

use super::now_ms;

/// Counts the demo's checks and prints one line per step.
#[derive(Default)]
struct Story {
    failed: usize,
}

impl Story {
    fn say(line: &str) {
        println!("  {line}");
    }

    fn check(&mut self, ok: bool, line: &str) {
        if ok {
            println!("ok    {line}");
        } else {
            self.failed += 1;
            println!("FAIL  {line}");
        }
    }

    /// Records a failed step that stops the story.
    fn stop(&mut self, line: &str, error: &hush_device::Error) -> ExitCode {
        self.failed += 1;
        println!("FAIL  {line}: {error}");
        println!("demo stopped: {} check(s) failed", self.failed);
        ExitCode::from(1)
    }
}

/// A stand-in for the server: carries bytes and says only how many.
fn relay(what: &str, bytes: Vec<u8>) -> Vec<u8> {
    Story::say(&format!(
        "relay: carried the {what} ({} bytes)",
        bytes.len()
    ));
    bytes
}

/// Some "recent history" for the hand-off: 6 000 bytes of chat lines.
fn recent_history() -> Vec<u8> {
    let mut text = String::new();
    let mut i = 0u32;
    while text.len() < 6_000 {
        text.push_str(&format!(
            "[{:02}:{:02}] alice: message {i} of the week\n",
            8 + i / 60 % 12,
            i % 60
        ));
        i += 1;
    }
    let mut bytes = text.into_bytes();
    bytes.truncate(6_000);
    bytes
}

pub(super) fn demo() -> ExitCode {
    let mut story = Story::default();
    let mut rng = os_rng();
    let now = now_ms();
    println!("Alice links her new desktop to the account on her phone.");

    let account = IdentityKeyPair::generate(&mut rng);
    let desktop = IdentityKeyPair::generate(&mut rng);
    let policy = DeviceListPolicy::default();
    let key = account.identity_key();
    let mut list = match DeviceList::new(key, b"alice", &account, 1, now, policy, &mut rng) {
        Ok(list) => list,
        Err(e) => return story.stop("the phone makes its device list", &e),
    };
    let mut seen = SeenOffers::new();

    // 1. The desktop shows an offer.
    let companion = match CompanionLinking::new(
        &mut rng,
        desktop.identity_key(),
        b"demo-relay-ref-01",
        now,
        DEFAULT_OFFER_LIFETIME_MS,
    ) {
        Ok(c) => c,
        Err(e) => return story.stop("the desktop makes a linking offer", &e),
    };
    match OfferQr::new(companion.offer()) {
        Ok(qr) => {
            print!("{}", qr.render_unicode().as_str());
            story.check(
                qr.version() <= 9,
                &format!(
                    "the desktop shows its offer as a QR code (version {}, {} modules wide)",
                    qr.version(),
                    qr.width()
                ),
            );
        }
        Err(e) => return story.stop("the desktop draws the QR code", &e),
    }
    let payload = companion.offer().to_qr_text();

    // 2. The phone scans it.
    let offer = match LinkingOffer::from_qr_text(&payload) {
        Ok(offer) => offer,
        Err(e) => return story.stop("the phone scans the QR code", &e),
    };
    story.check(
        offer == *companion.offer(),
        &format!(
            "the phone scans the QR code ({} characters of Base45) and reads the same offer",
            payload.len()
        ),
    );
    let assignment = CompanionAssignment {
        user_id: b"alice".to_vec(),
        device_id: list.next_device_id(),
        key_index: 1,
    };
    let (primary, message) = match PrimaryLinking::accept(
        &offer,
        &account,
        &assignment,
        &mut seen,
        now + 2_000,
        &mut rng,
    ) {
        Ok(x) => x,
        Err(e) => return story.stop("the phone accepts the offer", &e),
    };
    story.check(
        seen.contains(&offer.id()),
        "the phone signs the desktop in with the account key and remembers the offer",
    );

    // 3. The relay carries the linking message; a forged copy is refused.
    let carried = relay("linking message", message.encode());
    let forged = carried
        .iter()
        .enumerate()
        .map(|(i, b)| if i == 40 { b ^ 1 } else { *b })
        .collect::<Vec<u8>>();
    let refused = LinkingMessage::decode(&forged).map(|m| {
        companion
            .clone()
            .receive(&m, &desktop, now + 3_000, &mut rng)
            .map(|_| ())
    });
    story.check(
        matches!(refused, Ok(Err(hush_device::Error::Tampered))),
        "a linking message the relay changed is refused as tampered",
    );
    let message = match LinkingMessage::decode(&carried) {
        Ok(m) => m,
        Err(e) => return story.stop("the desktop reads the linking message", &e),
    };
    let (linked, countersignature) =
        match companion.receive(&message, &desktop, now + 3_000, &mut rng) {
            Ok(x) => x,
            Err(e) => return story.stop("the desktop checks the linking message", &e),
        };
    story.check(
        linked.account_identity == account.identity_key() && linked.metadata.user_id == b"alice",
        &format!(
            "the desktop checks the account signature and countersigns as device {} of {:?}",
            linked.metadata.device_id,
            String::from_utf8_lossy(&linked.metadata.user_id)
        ),
    );

    // 4. The countersignature goes back; the phone adds the desktop.
    let carried = relay("countersignature", countersignature.encode());
    let added =
        match Countersignature::decode(&carried).and_then(|cs| primary.finish(&cs, now + 4_000)) {
            Ok(added) => added,
            Err(e) => return story.stop("the phone checks the countersignature", &e),
        };
    story.check(
        added.history.transcript_hash() == linked.history.transcript_hash()
            && added.entry.identity_key == desktop.identity_key(),
        "the phone checks the desktop's signature; both hold the same transcript hash",
    );
    if let Err(e) = list.add_companion(added.entry) {
        return story.stop("the phone adds the desktop to its device list", &e);
    }
    let signed = match list.sign(&account, now + 5_000, &mut rng) {
        Ok(s) => s,
        Err(e) => return story.stop("the phone signs the device list", &e),
    };
    let carried = relay("signed device list", signed.encode());

    // 5. A contact checks the list before sending.
    let mut bob = KnownDeviceLists::new(policy);
    match bob.verify(b"alice", &carried) {
        Ok(verified) => {
            let to = verified.devices_to_send(now + 6_000);
            story.check(
                to.len() == 2
                    && verified
                        .check_device(added.entry.device_id, &desktop.identity_key(), now + 6_000)
                        .is_ok(),
                &format!(
                    "Bob verifies version {} of Alice's device list and will send to {} devices",
                    verified.version(),
                    to.len()
                ),
            );
        }
        Err(e) => return story.stop("Bob verifies Alice's device list", &e),
    }

    // 6. Recent history moves to the desktop.
    let history = recent_history();
    let mut stream = Vec::new();
    let total = u64::try_from(history.len()).unwrap_or(u64::MAX);
    let sent = added.history.send(
        &mut rng,
        history.as_slice(),
        &mut stream,
        Some(total),
        |p| {
            Story::say(&format!(
                "phone: sealed {} of {} bytes of history",
                p.bytes_done,
                p.bytes_total.unwrap_or(0)
            ));
        },
    );
    if let Err(e) = sent {
        return story.stop("the phone sends recent history", &e);
    }
    let carried = relay("history stream", stream);
    let mut restored = Vec::new();
    let stream_len = u64::try_from(carried.len()).unwrap_or(u64::MAX);
    let received =
        linked
            .history
            .receive(carried.as_slice(), &mut restored, Some(stream_len), |p| {
                Story::say(&format!(
                    "desktop: opened {} of {} bytes of the stream",
                    p.bytes_done,
                    p.bytes_total.unwrap_or(0)
                ));
            });
    story.check(
        received.is_ok() && restored == history,
        &format!(
            "the desktop restores {} bytes of recent history, bound to this linking",
            restored.len()
        ),
    );

    // 7. Offers are single-use and short-lived.
    let again = PrimaryLinking::accept(
        &offer,
        &account,
        &assignment,
        &mut seen,
        now + 7_000,
        &mut rng,
    );
    story.check(
        matches!(again, Err(hush_device::Error::Replayed)),
        "the same QR code scanned again is refused as replayed",
    );
    let late = CompanionLinking::new(
        &mut rng,
        desktop.identity_key(),
        b"demo-relay-ref-02",
        now,
        DEFAULT_OFFER_LIFETIME_MS,
    )
    .and_then(|c| {
        PrimaryLinking::accept(
            c.offer(),
            &account,
            &CompanionAssignment {
                user_id: b"alice".to_vec(),
                device_id: 3,
                key_index: 1,
            },
            &mut seen,
            now + DEFAULT_OFFER_LIFETIME_MS + 1,
            &mut rng,
        )
        .map(|_| ())
    });
    story.check(
        matches!(late, Err(hush_device::Error::Expired)),
        "an offer scanned after its 60 s lifetime is refused as expired",
    );

    if story.failed == 0 {
        println!("demo complete: every check held");
        ExitCode::SUCCESS
    } else {
        println!("demo finished: {} check(s) failed", story.failed);
        ExitCode::from(1)
    }
}
