//! Key encoding tests (T2): property tests for every `Key` type and for
//! `#[derive(Key)]`, plus the derive's compile-fail diagnostics (`tests/ui`).
//!
//! The properties, for every type: byte order equals value order (`Ord`, or
//! `total_cmp` for floats), decoding inverts encoding, decoding stops exactly at
//! the end of the value, tuple prefixes are byte prefixes exactly when the
//! leading components match, and arbitrary bytes never make decoding panic
//! (whatever decodes is the canonical encoding of what it decodes to).
//!
//! Main properties run 10 000 cases; `SKIFF_STRESS=1` multiplies every case
//! count by 1000 (10 000 000 for the main ones).

use std::cmp::Ordering;
use std::fmt::Debug;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use skiff::{Desc, Key, KeyPrefix, KeyRef};

/// `n` cases, or `1000 * n` under `SKIFF_STRESS=1`.
fn config(n: u32) -> ProptestConfig {
    let stress = std::env::var("SKIFF_STRESS").is_ok_and(|v| v == "1");
    ProptestConfig {
        cases: if stress { n.saturating_mul(1000) } else { n },
        rng_algorithm: proptest::test_runner::RngAlgorithm::XorShift,
        ..ProptestConfig::default()
    }
}

/// Round trip through `from_key_bytes` and through `decode_key` with bytes
/// after the value; returns the decoded value.
fn round_trip<K: Key + Debug>(value: &K) -> Result<K, TestCaseError> {
    let bytes = value.to_key_bytes();
    let decoded = K::from_key_bytes(&bytes).map_err(|e| TestCaseError::fail(format!("{value:?}: {e}")))?;
    prop_assert_eq!(decoded.to_key_bytes(), bytes.clone(), "re-encoding {:?}", value);

    let mut longer = bytes;
    longer.extend_from_slice(&[0x00, 0xFF]);
    let mut input = &longer[..];
    K::decode_key(&mut input).map_err(|e| TestCaseError::fail(format!("{value:?} + suffix: {e}")))?;
    prop_assert_eq!(input, &[0x00, 0xFF][..], "{:?} must stop at its end", value);
    Ok(decoded)
}

/// The encodings of `a` and `b` compare as `expected`; both round-trip.
fn check_pair<K: Key + Debug>(a: &K, b: &K, expected: Ordering) -> Result<(), TestCaseError> {
    let (ea, eb) = (a.to_key_bytes(), b.to_key_bytes());
    prop_assert_eq!(
        ea.cmp(&eb),
        expected,
        "{:?} vs {:?}: {:02x?} vs {:02x?}",
        a,
        b,
        ea,
        eb
    );
    round_trip(a)?;
    round_trip(b)?;
    Ok(())
}

/// For `Ord` keys: byte order is `Ord` order and decoding gives back equal values.
fn check_ord<K: Key + Ord + Debug>(a: &K, b: &K) -> Result<(), TestCaseError> {
    check_pair(a, b, a.cmp(b))?;
    prop_assert_eq!(&round_trip(a)?, a);
    prop_assert_eq!(&round_trip(b)?, b);
    Ok(())
}

/// Arbitrary bytes: decoding never panics, and what decodes re-encodes to the
/// bytes it consumed.
fn check_garbage<K: Key + Debug>(bytes: &[u8]) -> Result<(), TestCaseError> {
    let mut input = bytes;
    if let Ok(value) = K::decode_key(&mut input) {
        let consumed = &bytes[..bytes.len() - input.len()];
        prop_assert_eq!(value.to_key_bytes(), consumed.to_vec(), "{:?}", value);
    }
    if let Ok(value) = K::from_key_bytes(bytes) {
        prop_assert_eq!(value.to_key_bytes(), bytes.to_vec());
    }
    Ok(())
}

mod strategies {
    use proptest::prelude::*;
    use proptest::sample::select;

    /// Integers, often at the edges.
    macro_rules! int {
        ($($name:ident: $t:ty),*) => {$(
            pub fn $name() -> impl Strategy<Value = $t> {
                prop_oneof![
                    3 => any::<$t>(),
                    1 => select(vec![<$t>::MIN, <$t>::MIN.wrapping_add(1), 0 as $t, 1, <$t>::MAX.wrapping_sub(1), <$t>::MAX]),
                    1 => (0..4 as $t),
                    1 => any::<i8>().prop_map(|x| x as $t),
                ]
            }
        )*};
    }
    int!(u8_: u8, u16_: u16, u32_: u32, u64_: u64, u128_: u128, usize_: usize,
         i8_: i8, i16_: i16, i32_: i32, i64_: i64, i128_: i128, isize_: isize);

    /// Every bit pattern (all NaN payloads too), often a special value.
    pub fn f64_() -> impl Strategy<Value = f64> {
        prop_oneof![
            2 => any::<u64>().prop_map(f64::from_bits),
            1 => any::<f64>(),
            1 => select(vec![
                0.0, -0.0, 1.0, -1.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, -f64::NAN,
                f64::MIN, f64::MAX, f64::MIN_POSITIVE, -f64::MIN_POSITIVE, f64::EPSILON,
                f64::from_bits(1), f64::from_bits(0x7FF0_0000_0000_0001), f64::from_bits(u64::MAX),
            ]),
        ]
    }

    /// Every bit pattern (all NaN payloads too), often a special value.
    pub fn f32_() -> impl Strategy<Value = f32> {
        prop_oneof![
            2 => any::<u32>().prop_map(f32::from_bits),
            1 => any::<f32>(),
            1 => select(vec![
                0.0, -0.0, 1.0, -1.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, -f32::NAN,
                f32::MIN, f32::MAX, f32::MIN_POSITIVE, f32::from_bits(1), f32::from_bits(u32::MAX),
            ]),
        ]
    }

    /// Characters, often ones next to encoding boundaries.
    pub fn char_() -> impl Strategy<Value = char> {
        prop_oneof![
            2 => any::<char>(),
            1 => select(vec!['\0', '\u{1}', 'a', 'b', '\u{7F}', '\u{80}', '\u{FF}', '\u{D7FF}', '\u{E000}', '\u{FFFF}', '\u{10000}', char::MAX]),
        ]
    }

    /// Strings over a small alphabet (so pairs often share prefixes) rich in
    /// `\0`, or arbitrary ones.
    pub fn string() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => prop::collection::vec(select(vec!['\0', '\0', '\u{1}', 'a', 'b', '\u{FF}', '\u{10FFFF}']), 0..6)
                .prop_map(String::from_iter),
            1 => any::<String>(),
            1 => Just(String::new()),
        ]
    }

    /// Byte strings over a small alphabet rich in 0x00 and 0xFF, or arbitrary.
    pub fn bytes() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            3 => prop::collection::vec(select(vec![0x00, 0x00, 0x01, 0x7F, 0xFE, 0xFF, 0xFF]), 0..6),
            1 => prop::collection::vec(any::<u8>(), 0..32),
        ]
    }

    /// Arbitrary input for decoders, often made of the bytes that matter.
    pub fn garbage() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..48),
            prop::collection::vec(
                select(vec![0x00, 0x01, 0x02, 0x7F, 0x80, 0xF7, 0xF8, 0xFB, 0xFE, 0xFF]),
                0..48
            ),
        ]
    }
}

use strategies::*;

/// `a` and `b` in total order, and equal bit patterns after a round trip.
fn check_float<K: Key + Debug + Copy>(
    a: K,
    b: K,
    total_cmp: impl Fn(&K, &K) -> Ordering,
    bits: impl Fn(K) -> u64,
) -> Result<(), TestCaseError> {
    check_pair(&a, &b, total_cmp(&a, &b))?;
    prop_assert_eq!(bits(round_trip(&a)?), bits(a));
    Ok(())
}

mod primitives {
    use super::*;

    macro_rules! int_tests {
        ($($test:ident: $strategy:ident),*) => {
            proptest! {
                #![proptest_config(config(10_000))]
                $(
                    #[test]
                    fn $test(a in $strategy(), b in $strategy()) {
                        check_ord(&a, &b)?;
                    }
                )*
            }
        };
    }

    int_tests!(u8_order: u8_, u16_order: u16_, u32_order: u32_, u64_order: u64_, u128_order: u128_,
               usize_order: usize_, i8_order: i8_, i16_order: i16_, i32_order: i32_, i64_order: i64_,
               i128_order: i128_, isize_order: isize_);

    proptest! {
        #![proptest_config(config(10_000))]

        #[test]
        fn bool_order(a: bool, b: bool) {
            check_ord(&a, &b)?;
        }

        #[test]
        fn char_order(a in char_(), b in char_()) {
            check_ord(&a, &b)?;
        }

        #[test]
        fn unit_order(a: (), b: ()) {
            check_ord(&a, &b)?;
        }

        #[test]
        fn f64_total_order(a in f64_(), b in f64_()) {
            check_float(a, b, f64::total_cmp, f64::to_bits)?;
        }

        #[test]
        fn f32_total_order(a in f32_(), b in f32_()) {
            check_float(a, b, f32::total_cmp, |x| u64::from(x.to_bits()))?;
        }
    }
}

mod byte_strings {
    use super::*;

    proptest! {
        #![proptest_config(config(10_000))]

        #[test]
        fn string_order(a in string(), b in string(), ext in string()) {
            check_ord(&a, &b)?;
            let longer = format!("{a}{ext}");
            check_ord(&a, &longer)?;
            prop_assert_eq!(KeyRef::<String>::to_key_ref_bytes(a.as_str()), a.to_key_bytes());
        }

        #[test]
        fn bytes_order(a in bytes(), b in bytes(), ext in bytes()) {
            check_ord(&a, &b)?;
            let longer = [&a[..], &ext[..]].concat();
            check_ord(&a, &longer)?;
            prop_assert_eq!(KeyRef::<Vec<u8>>::to_key_ref_bytes(&a[..]), a.to_key_bytes());
        }

        #[test]
        fn array_order(a: [u8; 3], b: [u8; 3], c: [u8; 0], d: [u8; 0]) {
            check_ord(&a, &b)?;
            check_ord(&c, &d)?;
        }
    }
}

mod compound {
    use super::*;

    proptest! {
        #![proptest_config(config(10_000))]

        #[test]
        fn option_order(a in prop::option::of(string()), b in prop::option::of(string())) {
            check_ord(&a, &b)?;
        }

        #[test]
        fn nested_option_order(
            a in prop::option::of(prop::option::of(i8_())),
            b in prop::option::of(prop::option::of(i8_())),
        ) {
            check_ord(&a, &b)?;
        }

        #[test]
        fn desc_reverses_fixed_width(a in i32_(), b in i32_()) {
            check_ord(&Desc(a), &Desc(b))?;
            prop_assert_eq!(Desc(a).to_key_bytes().cmp(&Desc(b).to_key_bytes()), b.cmp(&a));
        }

        #[test]
        fn desc_reverses_variable_length(a in string(), b in string(), ext in string()) {
            check_ord(&Desc(a.clone()), &Desc(b.clone()))?;
            check_ord(&Desc(a.clone()), &Desc(format!("{a}{ext}")))?;
            check_ord(&Desc(Desc(a.clone())), &Desc(Desc(b.clone())))?;
        }

        #[test]
        fn desc_then_more_components(
            a in (bytes(), string(), u8_()),
            b in (bytes(), string(), u8_()),
        ) {
            let wrap = |(x, y, z): (Vec<u8>, String, u8)| (Desc(x), Desc(Some(Desc(y))), z);
            check_ord(&wrap(a), &wrap(b))?;
        }

        #[test]
        fn desc_f64_reverses_total_order(a in f64_(), b in f64_()) {
            check_pair(&Desc(a), &Desc(b), b.total_cmp(&a))?;
            prop_assert_eq!(round_trip(&Desc(a))?.0.to_bits(), a.to_bits());
        }

        #[test]
        fn pair_order(a in (string(), i64_()), b in (string(), i64_())) {
            check_ord(&a, &b)?;
        }

        #[test]
        fn triple_order(
            a in (bytes(), prop::option::of(u16_()), char_()),
            b in (bytes(), prop::option::of(u16_()), char_()),
        ) {
            check_ord(&a, &b)?;
        }

        #[test]
        fn tuple_with_floats(a in (f64_(), string(), f32_()), b in (f64_(), string(), f32_())) {
            let expected = a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)).then_with(|| a.2.total_cmp(&b.2));
            check_pair(&a, &b, expected)?;
        }

        #[test]
        fn one_tuple_order(a in (string(),), b in (string(),)) {
            check_ord(&a, &b)?;
        }
    }

    type Eight = (u8, i16, bool, char, String, Vec<u8>, Option<i64>, Desc<u32>);

    fn eight() -> impl Strategy<Value = Eight> {
        (
            u8_(),
            i16_(),
            any::<bool>(),
            char_(),
            string(),
            bytes(),
            prop::option::of(i64_()),
            u32_().prop_map(Desc),
        )
    }

    proptest! {
        #![proptest_config(config(2_000))]

        #[test]
        fn eight_tuple_order(a in eight(), b in eight()) {
            check_ord(&a, &b)?;
            // Often equal in the leading components, so later ones decide.
            let mut c = a.clone();
            c.7 = b.7;
            c.6 = b.6;
            check_ord(&a, &c)?;
        }
    }
}

mod prefixes {
    use super::*;

    proptest! {
        #![proptest_config(config(10_000))]

        #[test]
        fn one_component_prefix(key in (string(), u32_(), prop::option::of(any::<bool>())), other in string()) {
            for first in [key.0.clone(), other] {
                let prefix = KeyPrefix::<(String, u32, Option<bool>)>::to_prefix_bytes(&(first.as_str(),));
                prop_assert_eq!(key.to_key_bytes().starts_with(&prefix), key.0 == first);
            }
        }

        #[test]
        fn two_component_prefix(key in (bytes(), i8_(), string()), first in bytes(), second in i8_()) {
            for prefix in [(key.0.clone(), key.1), (key.0.clone(), second), (first, key.1)] {
                let bytes = KeyPrefix::<(Vec<u8>, i8, String)>::to_prefix_bytes(&(&prefix.0[..], prefix.1));
                prop_assert_eq!(key.to_key_bytes().starts_with(&bytes), (key.0.clone(), key.1) == prefix);
            }
        }

        #[test]
        fn desc_component_prefix(key in (string(), string()), other in string()) {
            let key = (Desc(key.0), key.1);
            for first in [key.0.clone(), Desc(other)] {
                let prefix = KeyPrefix::<(Desc<String>, String)>::to_prefix_bytes(&(first.clone(),));
                prop_assert_eq!(key.to_key_bytes().starts_with(&prefix), key.0 == first);
            }
        }

        #[test]
        fn full_and_empty_prefix(key in (u64_(), string())) {
            let full = KeyPrefix::<(u64, String)>::to_prefix_bytes(&(key.0, key.1.as_str()));
            prop_assert_eq!(full, key.to_key_bytes());
            prop_assert!(KeyPrefix::<(u64, String)>::to_prefix_bytes(&()).is_empty());
        }
    }
}

mod derived {
    use super::*;

    #[derive(Key, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
    struct UserId(u64);

    #[derive(Key, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
    struct Record {
        city: String,
        age: u32,
        nickname: Option<String>,
        score: Desc<i64>,
        raw: Vec<u8>,
        id: UserId,
    }

    #[derive(Key, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
    enum Event {
        Empty,
        Login(UserId),
        Named { name: String, flag: bool },
        Pair(i8, Desc<String>),
        Nested(Event2),
    }

    /// A derived enum inside a derived enum.
    #[derive(Key, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
    enum Event2 {
        Inner(Option<UserId>),
    }

    #[derive(Key, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
    struct Generic<T, const N: usize>(T, [u8; N]);

    #[derive(Key, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    #[repr(i16)]
    enum Level {
        Low = -3,
        Mid = 5,
        High,
        Top = 100,
    }

    #[derive(Key, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
    struct Unit;

    #[derive(Key, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
    enum Never {}

    #[derive(Key, Debug, Clone, Copy, PartialEq)]
    struct Point {
        x: f64,
        y: Desc<f32>,
    }

    fn user_id() -> impl Strategy<Value = UserId> {
        u64_().prop_map(UserId)
    }

    fn record() -> impl Strategy<Value = Record> {
        (
            string(),
            u32_(),
            prop::option::of(string()),
            i64_(),
            bytes(),
            user_id(),
        )
            .prop_map(|(city, age, nickname, score, raw, id)| Record {
                city,
                age,
                nickname,
                score: Desc(score),
                raw,
                id,
            })
    }

    fn event() -> impl Strategy<Value = Event> {
        prop_oneof![
            Just(Event::Empty),
            user_id().prop_map(Event::Login),
            (string(), any::<bool>()).prop_map(|(name, flag)| Event::Named { name, flag }),
            (i8_(), string()).prop_map(|(a, s)| Event::Pair(a, Desc(s))),
            prop::option::of(user_id()).prop_map(|u| Event::Nested(Event2::Inner(u))),
        ]
    }

    fn level() -> impl Strategy<Value = Level> {
        prop::sample::select(vec![Level::Low, Level::Mid, Level::High, Level::Top])
    }

    proptest! {
        #![proptest_config(config(10_000))]

        #[test]
        fn newtype_order(a in user_id(), b in user_id()) {
            check_ord(&a, &b)?;
            prop_assert_eq!(a.to_key_bytes(), a.0.to_key_bytes());
        }

        #[test]
        fn struct_order(a in record(), b in record()) {
            check_ord(&a, &b)?;
            // Same leading fields, so the later ones decide.
            let c = Record { raw: b.raw.clone(), id: b.id.clone(), ..a.clone() };
            check_ord(&a, &c)?;
        }

        #[test]
        fn struct_encodes_fields_in_order(a in record()) {
            let fields = (&a.city, a.age, &a.nickname, a.score, &a.raw, a.id.0);
            let expected = (fields.0.clone(), fields.1, fields.2.clone(), fields.3, fields.4.clone(), fields.5);
            prop_assert_eq!(a.to_key_bytes(), expected.to_key_bytes());
        }

        #[test]
        fn enum_order(a in event(), b in event()) {
            check_ord(&a, &b)?;
        }

        #[test]
        fn generic_order(a in (string(), any::<[u8; 2]>()), b in (string(), any::<[u8; 2]>())) {
            check_ord(&Generic(a.0, a.1), &Generic(b.0, b.1))?;
        }

        #[test]
        fn explicit_discriminants_order(a in level(), b in level()) {
            check_ord(&a, &b)?;
        }

        #[test]
        fn struct_with_floats(a in (f64_(), f32_()), b in (f64_(), f32_())) {
            let (a, b) = (Point { x: a.0, y: Desc(a.1) }, Point { x: b.0, y: Desc(b.1) });
            let expected = a.x.total_cmp(&b.x).then_with(|| b.y.0.total_cmp(&a.y.0));
            check_pair(&a, &b, expected)?;
            let back = round_trip(&a)?;
            prop_assert_eq!((back.x.to_bits(), back.y.0.to_bits()), (a.x.to_bits(), a.y.0.to_bits()));
        }
    }

    #[test]
    fn unit_and_uninhabited() {
        assert!(Unit.to_key_bytes().is_empty());
        assert_eq!(Unit::from_key_bytes(&[]), Ok(Unit));
        assert!(Never::from_key_bytes(&[]).is_err());
        assert!(Never::from_key_bytes(&[0]).is_err());
    }

    #[test]
    fn variant_index_comes_first() {
        assert_eq!(Event::Empty.to_key_bytes(), [0]);
        assert_eq!(
            Event::Login(UserId(1)).to_key_bytes(),
            [1, 0, 0, 0, 0, 0, 0, 0, 1]
        );
        assert_eq!(Level::Low.to_key_bytes(), [0]);
        assert_eq!(Level::Top.to_key_bytes(), [3]);
        let err = Event::from_key_bytes(&[5]).unwrap_err();
        assert_eq!(
            err.kind(),
            &skiff::KeyDecodeErrorKind::UnknownVariant {
                index: 5,
                variants: 5
            }
        );
    }

    proptest! {
        #![proptest_config(config(10_000))]

        #[test]
        fn derived_garbage_never_panics(bytes in garbage()) {
            check_garbage::<Record>(&bytes)?;
            check_garbage::<Event>(&bytes)?;
            check_garbage::<Level>(&bytes)?;
            check_garbage::<Never>(&bytes)?;
            check_garbage::<Generic<Option<Desc<String>>, 3>>(&bytes)?;
        }
    }
}

mod garbage {
    use super::*;

    proptest! {
        #![proptest_config(config(10_000))]

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in garbage()) {
            check_garbage::<u8>(&bytes)?;
            check_garbage::<i128>(&bytes)?;
            check_garbage::<usize>(&bytes)?;
            check_garbage::<isize>(&bytes)?;
            check_garbage::<bool>(&bytes)?;
            check_garbage::<char>(&bytes)?;
            check_garbage::<f32>(&bytes)?;
            check_garbage::<f64>(&bytes)?;
            check_garbage::<()>(&bytes)?;
            check_garbage::<String>(&bytes)?;
            check_garbage::<Vec<u8>>(&bytes)?;
            check_garbage::<[u8; 5]>(&bytes)?;
            check_garbage::<Option<String>>(&bytes)?;
            check_garbage::<Desc<String>>(&bytes)?;
            check_garbage::<Desc<Option<Desc<Vec<u8>>>>>(&bytes)?;
            check_garbage::<(bool, String, Desc<char>)>(&bytes)?;
            check_garbage::<(u8, u8, u8, u8, u8, u8, u8, Vec<u8>)>(&bytes)?;
        }
    }
}

/// Compile-fail tests for `#[derive(Key)]`, one per diagnostic.
#[test]
fn derive_diagnostics() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
