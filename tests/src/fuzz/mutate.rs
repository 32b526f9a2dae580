//! Mutations of encoded messages (bit flips, truncation, duplicated fields,
//! wrong wire types, unknown field numbers, length prefixes past the end,
//! invalid UTF-8 in strings, overlong varints, deep nesting) and plain
//! random bytes.

use prost_reflect::{Kind, MessageDescriptor};
use rand::{Rng as _, RngCore as _, rngs::StdRng, seq::IndexedRandom as _};

pub(super) fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(super) fn tag(number: u32, wire_type: u8, out: &mut Vec<u8>) {
    varint((u64::from(number) << 3) | u64::from(wire_type), out);
}

/// A field number of `desc` (or a made-up one when it has none).
fn field_number(rng: &mut StdRng, desc: &MessageDescriptor) -> u32 {
    let numbers: Vec<u32> = desc.fields().map(|f| f.number()).collect();
    numbers.choose(rng).copied().unwrap_or(1)
}

/// `bytes` (an encoded message of `desc`) changed in one to three ways.
pub fn mutate(rng: &mut StdRng, desc: &MessageDescriptor, bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for _ in 0..rng.random_range(1..=3) {
        mutate_once(rng, desc, &mut out);
    }
    out
}

fn mutate_once(rng: &mut StdRng, desc: &MessageDescriptor, out: &mut Vec<u8>) {
    match rng.random_range(0..12) {
        // Bit flips.
        0 | 1 if !out.is_empty() => {
            for _ in 0..rng.random_range(1..=8) {
                let i = rng.random_range(0..out.len());
                out[i] ^= 1 << rng.random_range(0..8);
            }
        }
        // Truncation.
        2 if !out.is_empty() => out.truncate(rng.random_range(0..out.len())),
        // A field repeated: the message (or a piece of it) appended again.
        3 => {
            let from = rng.random_range(0..=out.len());
            let piece = out[from..].to_vec();
            out.extend_from_slice(
                if rng.random_bool(0.5) {
                    out.clone()
                } else {
                    piece
                }
                .as_slice(),
            );
        }
        // A known field number with the wrong wire type.
        4 => {
            let number = field_number(rng, desc);
            let field = desc.get_field(number);
            let wire = match field.map(|f| f.kind()) {
                Some(Kind::String | Kind::Bytes | Kind::Message(_)) => {
                    *[0u8, 1, 5].choose(rng).unwrap_or(&0)
                }
                _ => 2,
            };
            tag(number, wire, out);
            match wire {
                0 => varint(rng.next_u64(), out),
                1 => out.extend_from_slice(&rng.next_u64().to_le_bytes()),
                5 => out.extend_from_slice(&rng.next_u32().to_le_bytes()),
                _ => {
                    let n = rng.random_range(0..16);
                    varint(n, out);
                    (0..n).for_each(|_| out.push(rng.random()));
                }
            }
        }
        // Unknown field numbers, every wire type, up to the largest number.
        5 => {
            let number = *[19_000u32, 1000, 536_870_911, 99, 50_000]
                .choose(rng)
                .unwrap_or(&99);
            match rng.random_range(0..4) {
                0 => {
                    tag(number, 0, out);
                    varint(rng.next_u64(), out);
                }
                1 => {
                    tag(number, 2, out);
                    varint(3, out);
                    out.extend_from_slice(b"abc");
                }
                2 => {
                    tag(number, 3, out);
                    tag(number, 4, out);
                }
                _ => {
                    tag(number, 5, out);
                    out.extend_from_slice(&[1, 2, 3, 4]);
                }
            }
        }
        // A length prefix past the end.
        6 => {
            tag(field_number(rng, desc), 2, out);
            varint(
                *[100u64, 1 << 30, u64::from(u32::MAX), u64::MAX]
                    .choose(rng)
                    .unwrap_or(&100),
                out,
            );
            out.extend_from_slice(b"short");
        }
        // Invalid UTF-8 in a string field.
        7 => {
            let strings: Vec<u32> = desc
                .fields()
                .filter(|f| f.kind() == Kind::String)
                .map(|f| f.number())
                .collect();
            let number = strings.choose(rng).copied().unwrap_or(1);
            let bad: &[u8] = [
                &[0xc3, 0x28][..],
                &[0xed, 0xa0, 0x80],
                &[0xff, 0xfe],
                &[b'a', 0x80],
            ]
            .choose(rng)
            .copied()
            .unwrap_or(&[0xff]);
            tag(number, 2, out);
            varint(bad.len() as u64, out);
            out.extend_from_slice(bad);
        }
        // An overlong varint (eleven bytes) after a varint field's tag.
        8 => {
            tag(field_number(rng, desc), 0, out);
            out.extend_from_slice(&[0xff; 10]);
            out.push(0x01);
        }
        // Deep nesting: groups inside groups, or a message field inside
        // itself far past any sane depth.
        9 => out.extend_from_slice(&nested(rng, desc)),
        // Random bytes spliced in.
        _ => {
            let at = rng.random_range(0..=out.len());
            let mut junk = vec![0u8; rng.random_range(1..32)];
            rng.fill_bytes(&mut junk);
            out.splice(at..at, junk);
        }
    }
}

fn nested(rng: &mut StdRng, desc: &MessageDescriptor) -> Vec<u8> {
    let depth = rng.random_range(50..1500);
    if rng.random_bool(0.5) {
        let mut out = Vec::new();
        (0..depth).for_each(|_| tag(7777, 3, &mut out));
        (0..depth).for_each(|_| tag(7777, 4, &mut out));
        return out;
    }
    let messages: Vec<u32> = desc
        .fields()
        .filter(|f| matches!(f.kind(), Kind::Message(_)))
        .map(|f| f.number())
        .collect();
    let number = messages.choose(rng).copied().unwrap_or(1);
    let mut inner = Vec::new();
    for _ in 0..depth {
        let mut outer = Vec::new();
        tag(number, 2, &mut outer);
        varint(inner.len() as u64, &mut outer);
        outer.extend_from_slice(&inner);
        inner = outer;
    }
    inner
}

/// Plain random bytes: empty, short, all ones, or a few kilobytes.
pub fn random_bytes(rng: &mut StdRng) -> Vec<u8> {
    let len = match rng.random_range(0..10) {
        0 => 0,
        1..=6 => rng.random_range(1..64),
        7 | 8 => rng.random_range(64..1024),
        _ => rng.random_range(1024..16_384),
    };
    let mut out = vec![0u8; len];
    match rng.random_range(0..8) {
        0 => out.fill(0xff),
        1 => out.fill(0),
        _ => rng.fill_bytes(&mut out),
    }
    out
}
