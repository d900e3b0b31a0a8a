//! Device sample formats. A callback only copies a sample's bits into (or out of) a 32-bit ring
//! word; the conversion to and from f32 happens on the pipeline side, by [`SampleKind`].

use std::fmt;

/// The sample formats a device stream may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleKind {
    I8,
    U8,
    I16,
    U16,
    /// 24-bit signed, carried in the low bits of an i32.
    I24,
    I32,
    U32,
    F32,
    /// Narrowed to f32 on the callback (the only format that does not fit a ring word).
    F64,
}

impl fmt::Display for SampleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::I8 => "i8",
            Self::U8 => "u8",
            Self::I16 => "i16",
            Self::U16 => "u16",
            Self::I24 => "i24",
            Self::I32 => "i32",
            Self::U32 => "u32",
            Self::F32 => "f32",
            Self::F64 => "f64",
        };
        f.write_str(s)
    }
}

const I32_SCALE: f64 = 2_147_483_648.0;

impl SampleKind {
    /// A ring word of this format as f32 in [-1, 1].
    pub fn decode(self, bits: u32) -> f32 {
        match self {
            Self::I8 => (bits as u8 as i8) as f32 / 128.0,
            Self::U8 => (bits as u8 as f32 - 128.0) / 128.0,
            Self::I16 => (bits as u16 as i16) as f32 / 32_768.0,
            Self::U16 => (bits as u16 as f32 - 32_768.0) / 32_768.0,
            Self::I24 => (bits as i32) as f32 / 8_388_608.0,
            Self::I32 => ((bits as i32) as f64 / I32_SCALE) as f32,
            Self::U32 => ((bits as f64 - I32_SCALE) / I32_SCALE) as f32,
            Self::F32 | Self::F64 => {
                let v = f32::from_bits(bits);
                if v.is_finite() {
                    v
                } else {
                    0.0
                }
            }
        }
    }

    /// f32 (clipped to [-1, 1], NaN as silence) as a ring word of this format.
    pub fn encode(self, v: f32) -> u32 {
        let v = if v.is_nan() { 0.0 } else { v.clamp(-1.0, 1.0) } as f64;
        // Integer formats: scale to the positive range and saturate at its top.
        let int = |max: f64| (v * (max + 1.0)).round().clamp(-(max + 1.0), max);
        match self {
            Self::I8 => int(127.0) as i8 as u8 as u32,
            Self::U8 => (int(127.0) + 128.0) as u8 as u32,
            Self::I16 => int(32_767.0) as i16 as u16 as u32,
            Self::U16 => (int(32_767.0) + 32_768.0) as u16 as u32,
            Self::I24 => int(8_388_607.0) as i32 as u32,
            Self::I32 => int(2_147_483_647.0) as i32 as u32,
            Self::U32 => (int(2_147_483_647.0) + I32_SCALE) as u32,
            Self::F32 | Self::F64 => (v as f32).to_bits(),
        }
    }
}

/// A sample type a callback can move through a ring word without converting it.
pub trait RawSample: Copy + Send + 'static {
    const KIND: SampleKind;
    /// The sample's silence (not zero for unsigned formats).
    const SILENCE: Self;
    fn to_word(self) -> u32;
    fn from_word(bits: u32) -> Self;
}

macro_rules! raw_int {
    ($t:ty, $u:ty, $kind:ident, $silence:expr) => {
        impl RawSample for $t {
            const KIND: SampleKind = SampleKind::$kind;
            const SILENCE: Self = $silence;
            fn to_word(self) -> u32 {
                self as $u as u32
            }
            fn from_word(bits: u32) -> Self {
                bits as $u as $t
            }
        }
    };
}

raw_int!(i8, u8, I8, 0);
raw_int!(u8, u8, U8, 128);
raw_int!(i16, u16, I16, 0);
raw_int!(u16, u16, U16, 32_768);
raw_int!(i32, u32, I32, 0);
raw_int!(u32, u32, U32, 1 << 31);

impl RawSample for f32 {
    const KIND: SampleKind = SampleKind::F32;
    const SILENCE: Self = 0.0;
    fn to_word(self) -> u32 {
        f32::to_bits(self)
    }
    fn from_word(bits: u32) -> Self {
        f32::from_bits(bits)
    }
}

impl RawSample for f64 {
    const KIND: SampleKind = SampleKind::F64;
    const SILENCE: Self = 0.0;
    fn to_word(self) -> u32 {
        (self as f32).to_bits()
    }
    fn from_word(bits: u32) -> Self {
        f32::from_bits(bits) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: RawSample + PartialEq + std::fmt::Debug>(values: &[T]) {
        for &v in values {
            assert_eq!(T::from_word(v.to_word()), v);
        }
    }

    #[test]
    fn raw_samples_survive_a_ring_word() {
        round_trip(&[i8::MIN, -1, 0, i8::MAX]);
        round_trip(&[0u8, 128, 255]);
        round_trip(&[i16::MIN, -1, 0, i16::MAX]);
        round_trip(&[0u16, 32_768, u16::MAX]);
        round_trip(&[i32::MIN, -1, 0, i32::MAX]);
        round_trip(&[0u32, 1 << 31, u32::MAX]);
        round_trip(&[-1.0f32, 0.25, 1.0]);
        round_trip(&[-0.5f64, 0.0, 0.75]);
    }

    #[test]
    fn decode_maps_each_format_onto_the_same_scale() {
        use SampleKind::*;
        let half = [
            (I8, RawSample::to_word(64i8)),
            (U8, RawSample::to_word(192u8)),
            (I16, RawSample::to_word(16_384i16)),
            (U16, RawSample::to_word(49_152u16)),
            (I24, 4_194_304i32 as u32),
            (I32, RawSample::to_word(1i32 << 30)),
            (U32, RawSample::to_word(3u32 << 30)),
            (F32, RawSample::to_word(0.5f32)),
            (F64, RawSample::to_word(0.5f64)),
        ];
        for (kind, bits) in half {
            assert!((kind.decode(bits) - 0.5).abs() < 1e-6, "{kind}");
        }
        assert_eq!(U8.decode(u8::SILENCE.to_word()), 0.0);
        assert_eq!(U16.decode(u16::SILENCE.to_word()), 0.0);
        assert_eq!(U32.decode(u32::SILENCE.to_word()), 0.0);
        assert_eq!(F32.decode(f32::NAN.to_bits()), 0.0);
    }

    #[test]
    fn encode_is_the_inverse_and_clips() {
        use SampleKind::*;
        for kind in [I8, U8, I16, U16, I24, I32, U32, F32, F64] {
            for v in [-1.0f32, -0.5, 0.0, 0.3, 0.999] {
                let back = kind.decode(kind.encode(v));
                assert!((back - v).abs() < 0.01, "{kind} {v} -> {back}");
            }
            assert!(kind.decode(kind.encode(3.0)) > 0.99, "{kind}");
            assert!(kind.decode(kind.encode(-3.0)) <= -0.99, "{kind}");
            assert_eq!(kind.decode(kind.encode(f32::NAN)), 0.0, "{kind}");
        }
        assert_eq!(I16.encode(1.0), i16::MAX.to_word());
        assert_eq!(U16.encode(0.0), u16::SILENCE.to_word());
    }
}
