//! `hush link offer`: the companion's side.

use std::path::Path;

use hush_core::rng::os_rng;
use hush_device::limits::{MAX_OFFER_LIFETIME_MS, MAX_SERVER_REFERENCE_LEN};
use hush_device::render::OfferQr;
use hush_device::{CompanionLinking, LinkingMessage};

use super::{
    Failure, fingerprint, flush_stdout, load_identity, now_ms, read_hex_line, step, write_private,
};

/// PNG pixels per QR module.
const PNG_SCALE: u32 = 8;

pub(super) fn offer(
    identity: Option<&Path>,
    reference: Option<&str>,
    lifetime_ms: u64,
    png: Option<&Path>,
    svg: Option<&Path>,
) -> Result<(), Failure> {
    if lifetime_ms == 0 || lifetime_ms > MAX_OFFER_LIFETIME_MS {
        return Err(Failure::Usage(format!(
            "--lifetime-ms must be 1 to {MAX_OFFER_LIFETIME_MS}"
        )));
    }
    if reference.is_some_and(|r| r.is_empty() || r.len() > MAX_SERVER_REFERENCE_LEN) {
        return Err(Failure::Usage(format!(
            "--reference must be 1 to {MAX_SERVER_REFERENCE_LEN} bytes"
        )));
    }
    let mut rng = os_rng();
    let identity = load_identity(identity)?;
    let reference = reference.map_or_else(
        || {
            let mut bytes = [0u8; 16];
            hush_core::rng::Rng::fill_bytes(&mut rng, &mut bytes);
            hex::encode(bytes)
        },
        str::to_owned,
    );
    let linking = CompanionLinking::new(
        &mut rng,
        identity.identity_key(),
        reference.as_bytes(),
        now_ms(),
        lifetime_ms,
    )
    .map_err(|e| Failure::Usage(format!("cannot make an offer: {e}")))?;
    let qr = OfferQr::new(linking.offer()).map_err(step("QR code"))?;
    eprint!("{}", qr.render_unicode().as_str());
    eprintln!(
        "Scan this code with the primary device (QR version {}), or run there:\n  hush link accept 'PAYLOAD'\nwith the payload printed on stdout. It expires in {} s.",
        qr.version(),
        lifetime_ms / 1000
    );
    if let Some(path) = png {
        let image = qr.render_png(PNG_SCALE).map_err(step("PNG"))?;
        write_private(path, &image)
            .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", path.display())))?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(path) = svg {
        write_private(path, qr.render_svg().as_bytes())
            .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", path.display())))?;
        eprintln!("wrote {}", path.display());
    }
    println!("{}", linking.offer().to_qr_text().as_str());
    flush_stdout();
    eprintln!("Waiting for the linking message (one line of hex) on stdin...");

    let bytes = read_hex_line("linking message")?;
    let message = LinkingMessage::decode(&bytes).map_err(step("linking message"))?;
    let (linked, countersignature) = linking
        .receive(&message, &identity, now_ms(), &mut rng)
        .map_err(step("linking message"))?;
    println!("{}", hex::encode(countersignature.encode()));
    flush_stdout();
    eprintln!(
        "linked as device {} (key index {}) of user {:?}, the account whose key fingerprint is\n  {}\nCompare it with the one the primary shows.",
        linked.metadata.device_id,
        linked.metadata.key_index,
        String::from_utf8_lossy(&linked.metadata.user_id),
        fingerprint(&linked.account_identity)
    );
    Ok(())
}
