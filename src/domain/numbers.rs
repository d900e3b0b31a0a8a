//! Spoken text as it comes out of speech-to-text, normalised for parsing: lowercase, no
//! sentence punctuation, "p.m." as "pm", and number words turned into digits
//! ("twenty first" -> "21st", "three thirty" -> "3 30", "nineteen eighty five" -> "19 85").
//!
//! Year pairs ("19 85") are deliberately left split: only the date parser knows whether two
//! numbers are a year or a time.

use crate::foundation::text::words::{SMALL_NUMBERS, TENS};

const ORDINAL_UNITS: [&str; 20] = [
    "zeroth",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Word {
    /// 0-19.
    Small(u64),
    /// 20, 30, ... 90.
    Tens(u64),
    Hundred,
    Thousand,
    /// An ordinal below 20, or 20/30 ("twentieth", "thirtieth").
    Ordinal(u64),
}

fn classify(word: &str) -> Option<Word> {
    if let Some(i) = SMALL_NUMBERS.iter().position(|w| *w == word) {
        return Some(Word::Small(i as u64));
    }
    if let Some(i) = TENS.iter().position(|w| !w.is_empty() && *w == word) {
        return Some(Word::Tens(10 * i as u64));
    }
    if let Some(i) = ORDINAL_UNITS.iter().position(|w| *w == word) {
        return Some(Word::Ordinal(i as u64));
    }
    match word {
        "hundred" => Some(Word::Hundred),
        "thousand" => Some(Word::Thousand),
        "twentieth" => Some(Word::Ordinal(20)),
        "thirtieth" => Some(Word::Ordinal(30)),
        // As speech-to-text sometimes spells them.
        "forth" => Some(Word::Ordinal(4)),
        "fith" | "fifht" => Some(Word::Ordinal(5)),
        "nineth" => Some(Word::Ordinal(9)),
        "twelth" => Some(Word::Ordinal(12)),
        _ => None,
    }
}

/// "1st", "2nd", "3rd", "11th", "22nd".
pub fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// The number of a digit token with an ordinal suffix ("3rd" -> 3), if it is one.
pub fn parse_ordinal(token: &str) -> Option<u32> {
    let digits = token.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &token[digits.len()..];
    if digits.is_empty() || !matches!(suffix, "st" | "nd" | "rd" | "th") {
        return None;
    }
    digits.parse().ok()
}

/// Lowercase, separate punctuation, spell "a.m."/"p.m." as "am"/"pm", split "3pm" into
/// "3 pm", turn number words into digits. Keeps ':' '/' '-' inside numbers and apostrophes.
pub fn normalize(text: &str) -> String {
    let lower = text
        .to_lowercase()
        .replace(['\u{2019}', '\u{2018}'], "'")
        .replace("a.m.", " am ")
        .replace("p.m.", " pm ")
        .replace("a. m.", " am ")
        .replace("p. m.", " pm ")
        .replace("o'clock", " oclock ");
    let chars: Vec<char> = lower.chars().collect();
    let mut cleaned = String::with_capacity(lower.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        let prev = if i > 0 { chars[i - 1] } else { ' ' };
        let next = chars.get(i + 1).copied().unwrap_or(' ');
        let between_digits = prev.is_ascii_digit() && next.is_ascii_digit();
        match c {
            ':' | '/' if between_digits => cleaned.push(c),
            '-' if between_digits => cleaned.push(c),
            // British "3.30" is a time; a decimal point elsewhere is nothing we need.
            '.' if between_digits => cleaned.push(':'),
            // "2026-12-03T15:00" is a date and a time.
            't' if between_digits => cleaned.push(' '),
            '\'' if prev.is_alphabetic() && next.is_alphabetic() => cleaned.push(c),
            c if c.is_alphanumeric() => {
                // "3pm" -> "3 pm", "10am" -> "10 am" (but keep "3rd", "21st").
                if c.is_alphabetic() && prev.is_ascii_digit() {
                    let rest: String = chars[i..]
                        .iter()
                        .take_while(|c| c.is_alphabetic())
                        .collect();
                    if rest == "am" || rest == "pm" {
                        cleaned.push(' ');
                    }
                }
                cleaned.push(c);
            }
            _ => cleaned.push(' '),
        }
    }
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        // "p m" / "a m" as two letters after a number.
        if (words[i] == "p" || words[i] == "a")
            && words.get(i + 1) == Some(&"m")
            && out
                .last()
                .is_some_and(|w| w.starts_with(|c: char| c.is_ascii_digit()))
        {
            out.push(format!("{}m", words[i]));
            i += 2;
            continue;
        }
        match number_group(&words, i) {
            Some((text, used)) => {
                out.push(text);
                i += used;
            }
            None => {
                out.push(words[i].to_string());
                i += 1;
            }
        }
    }
    out.join(" ")
}

/// The normalised text as tokens.
pub fn tokens(text: &str) -> Vec<String> {
    normalize(text)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Read one number made of words starting at `words[start]`: its digits and how many words
/// it used. A new number starts where English would not continue the current one, so
/// "nineteen eighty five" is two numbers (19, 85) and "two thousand and five" is one.
fn number_group(words: &[&str], start: usize) -> Option<(String, usize)> {
    let first = classify(words[start])?;
    if words[start] == "one" && !one_is_a_number(words, start) {
        return None;
    }
    let mut total = 0u64; // thousands already closed
    let mut current = 0u64;
    let mut last: Option<Word> = None;
    let mut i = start;
    let mut ordinal_end = false;
    while i < words.len() {
        let Some(w) = (if i == start {
            Some(first)
        } else {
            classify(words[i])
        }) else {
            // "two thousand and five": skip the "and" inside a number.
            if words[i] == "and"
                && matches!(last, Some(Word::Hundred | Word::Thousand))
                && words.get(i + 1).and_then(|n| classify(n)).is_some()
            {
                i += 1;
                continue;
            }
            break;
        };
        let continues = match (last, w) {
            (None, _) => true,
            (Some(Word::Tens(_)), Word::Small(v) | Word::Ordinal(v)) => (1..=9).contains(&v),
            (Some(Word::Small(_) | Word::Tens(_)), Word::Hundred) => current > 0,
            (Some(Word::Small(_) | Word::Tens(_) | Word::Hundred), Word::Thousand) => current > 0,
            (Some(Word::Hundred), Word::Small(_) | Word::Tens(_) | Word::Ordinal(_)) => true,
            (Some(Word::Thousand), Word::Small(_) | Word::Tens(_) | Word::Ordinal(_)) => true,
            _ => false,
        };
        if !continues {
            break;
        }
        match w {
            Word::Small(v) | Word::Tens(v) => current += v,
            Word::Ordinal(v) => {
                current += v;
                ordinal_end = true;
            }
            Word::Hundred => current *= 100,
            Word::Thousand => {
                total += current * 1000;
                current = 0;
            }
        }
        last = Some(w);
        i += 1;
        if ordinal_end {
            break;
        }
    }
    let value = total + current;
    let text = if ordinal_end {
        ordinal(value)
    } else {
        value.to_string()
    };
    Some((text, i - start))
}

/// "one" is a pronoun in "the one with doctor chen" and "one of them", a number elsewhere.
fn one_is_a_number(words: &[&str], i: usize) -> bool {
    let before = if i > 0 { words[i - 1] } else { "" };
    let after = words.get(i + 1).copied().unwrap_or("");
    let pronoun_before = matches!(
        before,
        "the"
            | "that"
            | "this"
            | "which"
            | "no"
            | "any"
            | "every"
            | "some"
            | "each"
            | "earlier"
            | "later"
            | "other"
            | "another"
            | "first"
            | "last"
            | "morning"
            | "afternoon"
    );
    !(pronoun_before || after == "of")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cardinals_and_ordinals_become_digits() {
        assert_eq!(normalize("March fourth"), "march 4th");
        assert_eq!(normalize("the twenty-first of June"), "the 21st of june");
        assert_eq!(normalize("thirty first"), "31st");
        assert_eq!(normalize("twelve"), "12");
        assert_eq!(normalize("forty two"), "42");
        assert_eq!(normalize("the twentieth"), "the 20th");
    }

    #[test]
    fn years_stay_as_pairs_but_thousands_join() {
        assert_eq!(normalize("nineteen eighty five"), "19 85");
        assert_eq!(normalize("twenty twenty six"), "20 26");
        assert_eq!(normalize("two thousand and five"), "2005");
        assert_eq!(normalize("two thousand twelve"), "2012");
        assert_eq!(normalize("nineteen hundred"), "1900");
        assert_eq!(normalize("nineteen oh five"), "19 oh 5");
    }

    #[test]
    fn times_split_into_hour_and_minutes() {
        assert_eq!(normalize("three thirty"), "3 30");
        assert_eq!(normalize("at 3PM"), "at 3 pm");
        assert_eq!(normalize("3:30 P.M."), "3:30 pm");
        assert_eq!(normalize("ten a m"), "10 am");
        assert_eq!(normalize("half past two"), "half past 2");
        assert_eq!(normalize("3 o'clock"), "3 oclock");
        assert_eq!(normalize("at 3.30"), "at 3:30");
    }

    #[test]
    fn punctuation_and_pronouns() {
        assert_eq!(
            normalize("Hi, it's Dr. Chen's office?"),
            "hi it's dr chen's office"
        );
        assert_eq!(
            normalize("the one with doctor chen"),
            "the one with doctor chen"
        );
        assert_eq!(normalize("one of them"), "one of them");
        assert_eq!(normalize("at one"), "at 1");
        assert_eq!(normalize("2026-12-03 or 12/03"), "2026-12-03 or 12/03");
        assert_eq!(normalize("follow-up"), "follow up");
        assert_eq!(normalize("3rd and 21st"), "3rd and 21st");
    }

    #[test]
    fn ordinal_helpers() {
        assert_eq!(ordinal(1), "1st");
        assert_eq!(ordinal(12), "12th");
        assert_eq!(ordinal(22), "22nd");
        assert_eq!(ordinal(13), "13th");
        assert_eq!(parse_ordinal("3rd"), Some(3));
        assert_eq!(parse_ordinal("3"), None);
        assert_eq!(parse_ordinal("rd"), None);
        assert_eq!(parse_ordinal("3x"), None);
    }
}
