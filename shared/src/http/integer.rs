//! Integers as JSON Schema counts them: `1`, `1.0` and `1e3` are all integers there, so a body
//! field the API documents as `integer` takes each of them; `1.5` is still a type error (400
//! `invalid_field`). Use it as `#[serde(deserialize_with = "integer")]`.
//!
//! The field gets the same typed value however the number was written, and an action's digest
//! is taken over the typed action, so `1` and `1.0` are one delivery: the second is a replay.

use serde::de::{Deserializer, Error, Unexpected, Visitor};
use std::fmt;
use std::marker::PhantomData;

/// 2^63 and 2^64 as floats: a float below them converts to `i64` or `u64` exactly.
const I64_END: f64 = 9_223_372_036_854_775_808.0;
const U64_END: f64 = 18_446_744_073_709_551_616.0;

/// An integer of type `T` from a JSON number with no fractional part, within `T`'s range.
pub fn integer<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64> + TryFrom<u64>,
{
    d.deserialize_any(Integral(PhantomData))
}

struct Integral<T>(PhantomData<T>);

impl<T: TryFrom<i64> + TryFrom<u64>> Visitor<'_> for Integral<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an integer that fits {}", std::any::type_name::<T>())
    }

    fn visit_u64<E: Error>(self, v: u64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
    }

    fn visit_i64<E: Error>(self, v: i64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
    }

    fn visit_f64<E: Error>(self, v: f64) -> Result<T, E> {
        // NaN and the infinities have no zero fraction either.
        if v.fract() != 0.0 {
            return Err(E::invalid_type(Unexpected::Float(v), &self));
        }
        if (-I64_END..I64_END).contains(&v) {
            self.visit_i64(v as i64)
        } else if (0.0..U64_END).contains(&v) {
            self.visit_u64(v as u64)
        } else {
            Err(E::invalid_value(Unexpected::Float(v), &self))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::integer;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    struct Body {
        #[serde(deserialize_with = "integer")]
        n: u32,
        #[serde(deserialize_with = "integer")]
        at: i64,
    }

    fn parse(json: &str) -> Result<(u32, i64), String> {
        serde_json::from_str::<Body>(json)
            .map(|b| (b.n, b.at))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn integral_numbers_in_any_notation_are_integers() {
        assert_eq!(parse(r#"{"n": 3, "at": -5}"#), Ok((3, -5)));
        assert_eq!(parse(r#"{"n": 3.0, "at": -5.0}"#), Ok((3, -5)));
        assert_eq!(
            parse(r#"{"n": 1e3, "at": 1.7e9}"#),
            Ok((1000, 1_700_000_000))
        );
        assert_eq!(parse(r#"{"n": -0.0, "at": 0}"#), Ok((0, 0)));
    }

    #[test]
    fn fractions_strings_and_out_of_range_numbers_are_refused() {
        for bad in [
            r#"{"n": 1.5, "at": 0}"#,
            r#"{"n": "1", "at": 0}"#,
            r#"{"n": -1, "at": 0}"#,
            r#"{"n": 4294967296, "at": 0}"#,
            r#"{"n": 4294967296.0, "at": 0}"#,
            r#"{"n": 1, "at": 1e19}"#,
            r#"{"n": 1, "at": 1e300}"#,
        ] {
            let e = parse(bad).expect_err(bad);
            assert!(e.contains("expected an integer"), "{bad}: {e}");
        }
    }
}
