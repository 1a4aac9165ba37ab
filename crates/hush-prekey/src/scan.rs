//! A scan of a protobuf message's top-level fields, run before prost decodes it.
//!
//! prost decodes a whole message at once and cannot say "truncated" apart from "garbage",
//! nor stop after the hundred-and-first list entry. The scan walks the field framing
//! without allocating, and
//!
//! - tells a message that ends inside a field ([`ScanError::Truncated`]) from one whose
//!   framing is wrong ([`ScanError::Malformed`]);
//! - refuses unknown field numbers (unless the caller allows them), a known field sent
//!   with the wrong wire type, and a singular field sent twice (prost would silently
//!   merge or overwrite it);
//! - counts each field's occurrences, so list lengths are checked against limits before
//!   anything is allocated.

/// Protobuf wire types used by hush's formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WireType {
    Varint,
    Fixed64,
    LengthDelimited,
}

impl WireType {
    const fn code(self) -> u64 {
        match self {
            Self::Varint => 0,
            Self::Fixed64 => 1,
            Self::LengthDelimited => 2,
        }
    }
}

/// One field a message may carry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldSpec {
    pub(crate) number: u64,
    pub(crate) wire_type: WireType,
    pub(crate) repeated: bool,
}

impl FieldSpec {
    pub(crate) const fn single(number: u64, wire_type: WireType) -> Self {
        Self {
            number,
            wire_type,
            repeated: false,
        }
    }

    pub(crate) const fn repeated(number: u64, wire_type: WireType) -> Self {
        Self {
            number,
            wire_type,
            repeated: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScanError {
    Truncated,
    Malformed(&'static str),
}

/// Largest protobuf field number.
const MAX_FIELD_NUMBER: u64 = (1 << 29) - 1;

/// Walks `body`'s top-level fields, returning how often each field of `specs` occurs (in
/// the order of `specs`).
pub(crate) fn scan<const N: usize>(
    body: &[u8],
    specs: &[FieldSpec; N],
    allow_unknown: bool,
) -> Result<[usize; N], ScanError> {
    let mut counts = [0usize; N];
    let mut rest = body;
    while !rest.is_empty() {
        let key = read_varint(&mut rest)?;
        let number = key >> 3;
        let wire_type = key & 7;
        if number == 0 || number > MAX_FIELD_NUMBER {
            return Err(ScanError::Malformed("field number out of range"));
        }
        skip_value(&mut rest, wire_type)?;
        let known = specs
            .iter()
            .zip(counts.iter_mut())
            .find(|(spec, _)| spec.number == number);
        match known {
            Some((spec, count)) => {
                if spec.wire_type.code() != wire_type {
                    return Err(ScanError::Malformed("field has the wrong wire type"));
                }
                if !spec.repeated && *count > 0 {
                    return Err(ScanError::Malformed("singular field appears twice"));
                }
                *count = count.saturating_add(1);
            }
            None if allow_unknown => {}
            None => return Err(ScanError::Malformed("unknown field")),
        }
    }
    Ok(counts)
}

fn read_varint(rest: &mut &[u8]) -> Result<u64, ScanError> {
    let mut value = 0u64;
    for shift in (0..70).step_by(7) {
        let Some((&byte, tail)) = rest.split_first() else {
            return Err(ScanError::Truncated);
        };
        *rest = tail;
        let bits = u64::from(byte & 0x7f);
        if shift == 63 && bits > 1 {
            return Err(ScanError::Malformed("varint overflows 64 bits"));
        }
        value |= bits << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(ScanError::Malformed("varint longer than 10 bytes"))
}

fn skip(rest: &mut &[u8], len: u64) -> Result<(), ScanError> {
    let len = usize::try_from(len).map_err(|_| ScanError::Truncated)?;
    *rest = rest.get(len..).ok_or(ScanError::Truncated)?;
    Ok(())
}

fn skip_value(rest: &mut &[u8], wire_type: u64) -> Result<(), ScanError> {
    match wire_type {
        0 => read_varint(rest).map(|_| ()),
        1 => skip(rest, 8),
        2 => {
            let len = read_varint(rest)?;
            skip(rest, len)
        }
        5 => skip(rest, 4),
        3 | 4 => Err(ScanError::Malformed("protobuf groups are not used")),
        _ => Err(ScanError::Malformed("invalid wire type")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: [FieldSpec; 2] = [
        FieldSpec::single(1, WireType::Varint),
        FieldSpec::repeated(2, WireType::LengthDelimited),
    ];

    #[test]
    fn counts_and_classifies() {
        assert_eq!(scan(&[], &SPECS, false), Ok([0, 0]));
        assert_eq!(
            scan(
                &[0x08, 0x96, 0x01, 0x12, 0x00, 0x12, 0x01, 0xff],
                &SPECS,
                false
            ),
            Ok([1, 2])
        );
        // Length runs past the end.
        assert_eq!(
            scan(&[0x12, 0x05, 0x01], &SPECS, false),
            Err(ScanError::Truncated)
        );
        // Varint cut short.
        assert_eq!(
            scan(&[0x08, 0x96], &SPECS, false),
            Err(ScanError::Truncated)
        );
        assert_eq!(scan(&[0x08], &SPECS, false), Err(ScanError::Truncated));
        // Field 1 twice.
        assert_eq!(
            scan(&[0x08, 0x01, 0x08, 0x02], &SPECS, false),
            Err(ScanError::Malformed("singular field appears twice"))
        );
        // Wrong wire type for field 1.
        assert!(matches!(
            scan(&[0x0a, 0x00], &SPECS, false),
            Err(ScanError::Malformed(_))
        ));
        // Unknown field 3, allowed or not.
        assert!(matches!(
            scan(&[0x18, 0x01], &SPECS, false),
            Err(ScanError::Malformed(_))
        ));
        assert_eq!(scan(&[0x18, 0x01], &SPECS, true), Ok([0, 0]));
        // Field number 0, groups, invalid wire types.
        assert!(matches!(
            scan(&[0x00, 0x01], &SPECS, true),
            Err(ScanError::Malformed(_))
        ));
        assert!(matches!(
            scan(&[0x0b], &SPECS, true),
            Err(ScanError::Malformed(_))
        ));
        assert!(matches!(
            scan(&[0x0e], &SPECS, true),
            Err(ScanError::Malformed(_))
        ));
        // An 11-byte varint, and a 10-byte one that overflows.
        assert!(matches!(
            scan(
                &[
                    0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
                ],
                &SPECS,
                false
            ),
            Err(ScanError::Malformed(_))
        ));
        assert!(matches!(
            scan(
                &[
                    0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02
                ],
                &SPECS,
                false
            ),
            Err(ScanError::Malformed(_))
        ));
        assert_eq!(
            scan(
                &[
                    0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
                ],
                &SPECS,
                false
            ),
            Ok([1, 0])
        );
    }
}
