//! Scripted runs, which are also the seed corpus of `group_membership` (written by
//! `write_group_seed_corpus` in `group.rs`, with the other hush-made group seeds).

use super::*;

fn add(slot: u8) -> Vec<u8> {
    vec![0, slot]
}
fn remove(slot: u8) -> Vec<u8> {
    vec![1, slot]
}
fn remove_member(name: u8) -> Vec<u8> {
    vec![2, name]
}
fn set(mask: u8) -> Vec<u8> {
    vec![3, mask]
}
fn new_key(slot: u8, tell_now: bool) -> Vec<u8> {
    vec![4, slot, u8::from(!tell_now)]
}
/// A send whose listed devices picked by `mask` are reported delivered at once.
fn send(mask: u8) -> Vec<u8> {
    vec![5, 3, mask]
}
fn report(index: u8) -> Vec<u8> {
    vec![6, index]
}
fn resend(slot: u8, honest: bool) -> Vec<u8> {
    vec![7, slot, u8::from(honest)]
}
fn process(slot: u8, generation: u8, index: u8) -> Vec<u8> {
    vec![8, slot, generation, index]
}
fn read(slot: u8, generation: u8, index: u8, wrong_key: bool) -> Vec<u8> {
    vec![9, slot, generation, index, u8::from(wrong_key)]
}
fn post(slot: u8, generation: u8, new_chain: bool) -> Vec<u8> {
    vec![10, slot, generation, 5, u8::from(new_chain)]
}
fn hub_process(index: u8) -> Vec<u8> {
    vec![11, index]
}
fn hub_read(index: u8, shift: u8) -> Vec<u8> {
    vec![12, index, shift]
}
fn reload_tracker() -> Vec<u8> {
    vec![13, 0]
}
fn reload_identity(slot: u8, generation: u8) -> Vec<u8> {
    vec![13, 1, slot, generation]
}
fn reload_hub(slot: u8) -> Vec<u8> {
    vec![13, 2, slot]
}
fn lose_record() -> Vec<u8> {
    vec![14]
}

/// The seeds, each with how many decrypts it makes.
pub(in crate::group) fn seeds() -> Vec<(&'static str, Vec<u8>, usize)> {
    vec![
        (
            // A member asks for a resend (keeping its record), is removed, and
            // tries to read what is sent next: the chain rotated.
            "resend-then-remove",
            [
                add(0),
                add(1),
                send(0xff),
                process(0, 0, 0),
                process(1, 0, 0),
                read(0, 0, 0, false),
                resend(0, false),
                remove(0),
                send(0xff),
                process(0, 0, 0),
                read(0, 0, 1, false),
                process(1, 0, 1),
                read(1, 0, 1, false),
                read(1, 0, 0, false),
                read(1, 0, 0, true),
            ]
            .concat(),
            3,
        ),
        (
            // Carol's devices are listed, removed before their delivery is
            // reported, and the late reports count for nothing; an honest resend
            // and a lying one at bob.1.
            "remove-between-plan-and-report",
            [
                add(0),
                add(2),
                add(3),
                send(0x01),
                remove_member(1),
                report(0),
                report(0),
                send(0xff),
                process(2, 0, 0),
                process(3, 0, 0),
                read(2, 0, 0, false),
                read(3, 0, 1, false),
                resend(0, true),
                send(0x00),
                report(0),
                process(0, 0, 2),
                read(0, 0, 2, false),
                remove_member(2),
                resend(0, false),
                set(0x01),
            ]
            .concat(),
            2,
        ),
        (
            // bob.2 is replaced by a new identity under the same address, told to
            // the tracker at once; then carol.1 is, told only at the next send. The
            // thieves read nothing sent after, the new identities read it.
            "device-id-reuse",
            [
                add(0),
                add(1),
                add(2),
                send(0xff),
                process(1, 0, 0),
                process(2, 0, 0),
                new_key(1, true),
                send(0xff),
                process(1, 0, 1),
                read(1, 0, 0, false),
                read(1, 0, 1, false),
                process(1, 1, 0),
                read(1, 1, 1, false),
                new_key(2, false),
                send(0x05),
                read(2, 0, 2, false),
                process(2, 1, 0),
                read(2, 1, 2, false),
                report(0),
                add(1),
                reload_tracker(),
            ]
            .concat(),
            3,
        ),
        (
            // bob.1 posts; its laptop is replaced under the same address; the
            // thief posts on the old chain (refused, the chain is bound to the old
            // key), the new identity's distribution drops the old chain, and only
            // the new identity's posts are read. One post is misattributed.
            "thief-posts-under-a-reused-address",
            [
                add(0),
                post(0, 0, false),
                hub_process(0),
                hub_read(0, 0),
                new_key(0, true),
                post(0, 0, false),
                hub_read(1, 0),
                hub_process(0),
                post(0, 1, false),
                hub_process(1),
                hub_read(1, 0),
                hub_read(2, 0),
                hub_read(2, 1),
                post(0, 0, true),
                hub_process(2),
                hub_read(3, 0),
                reload_hub(0),
                post(0, 1, false),
                hub_read(4, 0),
            ]
            .concat(),
            3,
        ),
        (
            // set_devices with subsets, a refused one naming an address twice with
            // two keys, a lost record, reloads.
            "set-devices-lost-record",
            [
                set(0x0f),
                send(0x0f),
                set(0x85),
                set(0x05),
                send(0xff),
                process(0, 0, 1),
                read(0, 0, 1, false),
                reload_identity(0, 0),
                lose_record(),
                report(0),
                send(0xff),
                process(2, 0, 2),
                read(2, 0, 2, false),
                read(2, 0, 1, false),
                remove_member(2),
            ]
            .concat(),
            2,
        ),
    ]
}

#[test]
fn seeds_decrypt_what_they_claim() {
    for (name, bytes, decrypts) in seeds() {
        assert_eq!(run(&bytes), decrypts, "{name}");
    }
}

#[test]
fn bounded_and_total_on_any_bytes() {
    for byte in 0..=u8::MAX {
        run(&[byte; 200]);
    }
    run(&[]);
}
