//! Text normalisation for speech: numbers, money, times, dates, phone numbers and common
//! abbreviations are spelled out before phonemisation, so we control how they are read
//! (espeak would otherwise read "$29.95" or "3:30 PM" its own way), and symbols that have no
//! reading (emoji, markdown marks) are dropped.

use crate::foundation::text::words::{MONTHS, SMALL_NUMBERS, TENS};

const SCALES: [(u64, &str); 4] = [
    (1_000_000_000_000, "trillion"),
    (1_000_000_000, "billion"),
    (1_000_000, "million"),
    (1_000, "thousand"),
];
/// Words after which a bare four-digit number is read as a year ("in 1985").
const YEAR_CUES: [&str; 10] = [
    "in", "since", "until", "till", "year", "circa", "before", "after", "during", "from",
];
/// Longest digit string read as a number; longer ones are read digit by digit.
const MAX_CARDINAL_DIGITS: usize = 15;

/// Rewrites `text` into words espeak reads the way a person would say them.
pub fn normalize(text: &str) -> String {
    let chars: Vec<char> = text.chars().map(fold_char).collect();
    let mut out = String::with_capacity(text.len() + 16);
    let mut i = 0;
    while i < chars.len() {
        let at_token_start = i == 0 || !chars[i - 1].is_alphanumeric();
        if at_token_start {
            if let Some((end, spoken)) = match_token(&chars, i) {
                out.push(' ');
                out.push_str(&spoken);
                out.push(' ');
                i = end.max(i + 1);
                continue;
            }
        }
        push_plain(&mut out, &chars, i);
        i += 1;
    }
    tidy(&out)
}

/// Typographic variants folded to the plain characters handled below.
fn fold_char(c: char) -> char {
    match c {
        '\u{2018}' | '\u{2019}' | '\u{02BC}' => '\'',
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{00AB}' | '\u{00BB}' => '"',
        '\u{2013}' | '\u{2014}' => '\u{2014}',
        '\u{00A0}' | '\u{2009}' | '\u{202F}' => ' ',
        c => c,
    }
}

fn match_token(c: &[char], i: usize) -> Option<(usize, String)> {
    match_iso_date(c, i)
        .or_else(|| match_slash_date(c, i))
        .or_else(|| match_phone(c, i))
        .or_else(|| match_time(c, i))
        .or_else(|| match_money(c, i))
        .or_else(|| match_number(c, i))
        .or_else(|| match_month_date(c, i))
        .or_else(|| match_abbreviation(c, i))
}

/// Copies one character that no matcher claimed, spelling out or dropping symbols.
fn push_plain(out: &mut String, c: &[char], i: usize) {
    let ch = c[i];
    let prev = i.checked_sub(1).map(|p| c[p]);
    let next = c.get(i + 1).copied();
    match ch {
        '&' => out.push_str(" and "),
        '@' => out.push_str(" at "),
        '+' => out.push_str(" plus "),
        '=' => out.push_str(" equals "),
        '%' => out.push_str(" percent "),
        '°' => out.push_str(" degrees "),
        '#' if next.is_some_and(|n| n.is_ascii_digit()) => out.push_str(" number "),
        '\u{2014}' => out.push_str(", "),
        '\u{2026}' => out.push_str("..."),
        // A dash standing alone between spaces (or a list bullet) is a pause.
        '-' if prev.is_none_or(char::is_whitespace) && next.is_none_or(char::is_whitespace) => {
            out.push_str(", ")
        }
        '\n' => {
            // A line break after a bare word (list items, headings) ends a sentence.
            if out
                .trim_end()
                .chars()
                .next_back()
                .is_some_and(char::is_alphanumeric)
            {
                out.push('.');
            }
            out.push(' ');
        }
        '½' => out.push_str(" one half "),
        '¼' => out.push_str(" one quarter "),
        '¾' => out.push_str(" three quarters "),
        c if c.is_ascii_digit()
            || is_latin_letter(c)
            || c.is_whitespace()
            || ".,?!;:'\"()-".contains(c) =>
        {
            out.push(c)
        }
        // Emoji, markdown marks and other symbols have no reading here; nor have letters of
        // other scripts for an English voice (espeak would spell them out as "Chinese letter").
        _ => out.push(' '),
    }
}

/// Letters of the Latin script (with accents), the only ones an English voice can read.
fn is_latin_letter(c: char) -> bool {
    c.is_ascii_alphabetic()
        || (c.is_alphabetic() && matches!(c, '\u{00C0}'..='\u{024F}' | '\u{1E00}'..='\u{1EFF}'))
}

/// Collapses whitespace and removes spaces before punctuation.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        let attaches = word.starts_with([',', '.', '?', '!', ';', ':']);
        // A pause mark with nothing before it (or right after another stop) says nothing.
        let pause_only = word.chars().all(|c| ",;:".contains(c));
        if pause_only && (out.is_empty() || out.ends_with(['.', '?', '!', ',', ';', ':'])) {
            continue;
        }
        if !out.is_empty() && !attaches {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

// ---------------------------------------------------------------- spelling numbers

/// "one hundred twenty-three" (US style, no "and").
pub fn cardinal(n: u64) -> String {
    if n < 20 {
        return SMALL_NUMBERS[n as usize].to_string();
    }
    if n < 100 {
        let tens = TENS[(n / 10) as usize];
        return match n % 10 {
            0 => tens.to_string(),
            unit => format!("{tens}-{}", SMALL_NUMBERS[unit as usize]),
        };
    }
    if n < 1000 {
        return join_rest(
            format!("{} hundred", SMALL_NUMBERS[(n / 100) as usize]),
            n % 100,
        );
    }
    for (value, name) in SCALES {
        if n >= value {
            return join_rest(format!("{} {name}", cardinal(n / value)), n % value);
        }
    }
    unreachable!("every n >= 1000 is at least one thousand")
}

fn join_rest(head: String, rest: u64) -> String {
    if rest == 0 {
        head
    } else {
        format!("{head} {}", cardinal(rest))
    }
}

/// "first", "twenty-second", "one hundred third".
pub fn ordinal(n: u64) -> String {
    let words = cardinal(n);
    let split = words.rfind([' ', '-']).map_or(0, |p| p + 1);
    let (head, last) = words.split_at(split);
    let last = match last {
        "one" => "first".to_string(),
        "two" => "second".to_string(),
        "three" => "third".to_string(),
        "five" => "fifth".to_string(),
        "eight" => "eighth".to_string(),
        "nine" => "ninth".to_string(),
        "twelve" => "twelfth".to_string(),
        w if w.ends_with('y') => format!("{}ieth", &w[..w.len() - 1]),
        w => format!("{w}th"),
    };
    format!("{head}{last}")
}

/// A year as people say it: "nineteen eighty-five", "two thousand five", "twenty twenty-six".
pub fn year(n: u64) -> String {
    if !(1000..10_000).contains(&n) || n.is_multiple_of(1000) || (2000..2010).contains(&n) {
        return cardinal(n);
    }
    let (century, rest) = (n / 100, n % 100);
    match rest {
        0 => format!("{} hundred", cardinal(century)),
        1..=9 => format!("{} oh {}", cardinal(century), SMALL_NUMBERS[rest as usize]),
        _ => format!("{} {}", cardinal(century), cardinal(rest)),
    }
}

/// "five five five" for "555".
fn digit_by_digit(digits: &str) -> String {
    digits
        .chars()
        .filter_map(|d| d.to_digit(10))
        .map(|d| SMALL_NUMBERS[d as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------- scanning helpers

fn digits_at(c: &[char], i: usize) -> usize {
    c[i.min(c.len())..]
        .iter()
        .take_while(|ch| ch.is_ascii_digit())
        .count()
}

fn text(c: &[char], from: usize, to: usize) -> String {
    c[from..to].iter().collect()
}

/// Value of the digits in `c[from..to]`, ignoring grouping commas.
fn value(c: &[char], from: usize, to: usize) -> u64 {
    c[from..to]
        .iter()
        .filter_map(|ch| ch.to_digit(10))
        .fold(0u64, |acc, d| {
            acc.saturating_mul(10).saturating_add(u64::from(d))
        })
}

fn is_word_char_at(c: &[char], i: usize) -> bool {
    c.get(i).is_some_and(|ch| ch.is_alphanumeric())
}

fn starts_with_ci(c: &[char], i: usize, pattern: &str) -> bool {
    let mut k = i;
    for p in pattern.chars() {
        match c.get(k) {
            Some(ch) if ch.to_lowercase().eq(p.to_lowercase()) => k += 1,
            _ => return false,
        }
    }
    true
}

/// True when the text at `end` looks like the start of a new sentence (or the end), so a
/// period that both closed an abbreviation and ended the sentence is kept as a full stop.
fn sentence_ends_at(c: &[char], end: usize) -> bool {
    let mut k = end;
    if c.get(k).is_some_and(|ch| !ch.is_whitespace()) {
        return false;
    }
    while c.get(k).is_some_and(|ch| ch.is_whitespace()) {
        k += 1;
    }
    c.get(k).is_none_or(|ch| ch.is_uppercase() || *ch == '"')
}

/// The word before position `i` in the original text, with any punctuation right after it.
fn previous_word(c: &[char], i: usize) -> String {
    let mut end = i;
    while end > 0 && c[end - 1].is_whitespace() {
        end -= 1;
    }
    let mut start = end;
    while start > 0 && !c[start - 1].is_whitespace() {
        start -= 1;
    }
    text(c, start, end)
}

fn next_word_capitalised(c: &[char], end: usize) -> bool {
    let mut k = end;
    if !c.get(k).is_some_and(|ch| ch.is_whitespace()) {
        return false;
    }
    while c.get(k).is_some_and(|ch| ch.is_whitespace()) {
        k += 1;
    }
    c.get(k).is_some_and(|ch| ch.is_uppercase())
}

// ---------------------------------------------------------------- numbers

/// A number as written: integer digits (with optional thousands commas) and a fraction.
struct Number {
    start: usize,
    int_end: usize,
    end: usize,
    grouped: bool,
    fraction: Option<(usize, usize)>,
}

impl Number {
    fn int_digits(&self, c: &[char]) -> String {
        c[self.start..self.int_end]
            .iter()
            .filter(|ch| ch.is_ascii_digit())
            .collect()
    }

    fn int_value(&self, c: &[char]) -> u64 {
        value(c, self.start, self.int_end)
    }

    fn is_plain_integer(&self) -> bool {
        self.fraction.is_none() && !self.grouped
    }

    /// "three point five", "one thousand two hundred", "zero zero seven".
    fn spoken(&self, c: &[char]) -> String {
        let digits = self.int_digits(c);
        let int = if digits.is_empty() {
            String::new()
        } else if digits.len() > MAX_CARDINAL_DIGITS
            || (digits.len() > 1 && digits.starts_with('0') && self.fraction.is_none())
        {
            digit_by_digit(&digits)
        } else {
            cardinal(self.int_value(c))
        };
        match self.fraction {
            None => int,
            Some((from, to)) => {
                let fraction = digit_by_digit(&text(c, from, to));
                if int.is_empty() {
                    format!("point {fraction}")
                } else {
                    format!("{int} point {fraction}")
                }
            }
        }
    }
}

fn parse_number(c: &[char], i: usize) -> Option<Number> {
    let lead = digits_at(c, i);
    let starts_with_point = lead == 0 && c.get(i) == Some(&'.') && digits_at(c, i + 1) > 0;
    if lead == 0 && !starts_with_point {
        return None;
    }
    let mut k = i + lead;
    let mut grouped = false;
    // Thousands separators: "1,234,567" (a comma followed by exactly three digits).
    if (1..=3).contains(&lead) {
        while c.get(k) == Some(&',') && digits_at(c, k + 1) == 3 {
            k += 4;
            grouped = true;
        }
    }
    let int_end = k;
    let mut fraction = None;
    if c.get(k) == Some(&'.') {
        let n = digits_at(c, k + 1);
        if n > 0 {
            fraction = Some((k + 1, k + 1 + n));
            k += 1 + n;
        }
    }
    Some(Number {
        start: i,
        int_end,
        end: k,
        grouped,
        fraction,
    })
}

fn match_number(c: &[char], i: usize) -> Option<(usize, String)> {
    // "-5" at the start of a word is "minus five".
    if c[i] == '-' && digits_at(c, i + 1) > 0 {
        let (end, spoken) = match_number(c, i + 1)?;
        return Some((end, format!("minus {spoken}")));
    }
    let number = parse_number(c, i)?;
    let mut end = number.end;
    let value = number.int_value(c);

    // Ordinals: "1st", "22nd", "15th".
    if number.is_plain_integer() {
        for suffix in ["st", "nd", "rd", "th"] {
            if starts_with_ci(c, end, suffix) && !is_word_char_at(c, end + 2) {
                return Some((end + 2, ordinal(value)));
            }
        }
    }
    // "3 December 2026", "3rd of December" is handled by the ordinal above plus plain words.
    if number.is_plain_integer() && (1..=31).contains(&value) {
        if let Some(found) = day_month_date(c, end, value) {
            return Some(found);
        }
    }
    let year_context = number.is_plain_integer()
        && number.end - number.start == 4
        && YEAR_CUES.contains(&previous_word(c, i).to_lowercase().as_str());
    // Decades: "1980s" -> "nineteen eighties", "90s" -> "nineties".
    let digits = number.end - number.start;
    if number.is_plain_integer()
        && (digits == 2 || digits == 4)
        && value.is_multiple_of(10)
        && value >= 10
        && c.get(end) == Some(&'s')
        && !is_word_char_at(c, end + 1)
    {
        let words = if digits == 4 {
            year(value)
        } else {
            cardinal(value)
        };
        let plural = match words.strip_suffix('y') {
            Some(stem) => format!("{stem}ies"),
            None => format!("{words}s"),
        };
        return Some((end + 1, plural));
    }
    let mut spoken = if year_context {
        year(value)
    } else {
        number.spoken(c)
    };
    // Ranges: "10-20" -> "ten to twenty".
    if number.is_plain_integer() && matches!(c.get(end), Some('-' | '\u{2014}')) {
        if let Some(second) = parse_number(c, end + 1).filter(Number::is_plain_integer) {
            let second_words = if year_context && second.end - second.start == 4 {
                year(second.int_value(c))
            } else {
                second.spoken(c)
            };
            spoken = format!("{spoken} to {second_words}");
            end = second.end;
        }
    }
    // Percentages: "15%", "2.5 %".
    let mut k = end;
    if c.get(k) == Some(&' ') && c.get(k + 1) == Some(&'%') {
        k += 1;
    }
    if c.get(k) == Some(&'%') {
        return Some((k + 1, format!("{spoken} percent")));
    }
    Some((end, spoken))
}

// ---------------------------------------------------------------- money

fn match_money(c: &[char], i: usize) -> Option<(usize, String)> {
    let (unit, units, sub, subs) = match c[i] {
        '$' => ("dollar", "dollars", "cent", "cents"),
        '€' => ("euro", "euros", "cent", "cents"),
        '£' => ("pound", "pounds", "penny", "pence"),
        _ => return None,
    };
    let number = parse_number(c, i + 1)?;
    let mut end = number.end;

    // "$2.5 million", "$5k": the currency word goes after the scale.
    let mut scale = None;
    for word in ["thousand", "million", "billion", "trillion"] {
        if c.get(end) == Some(&' ')
            && starts_with_ci(c, end + 1, word)
            && !is_word_char_at(c, end + 1 + word.len())
        {
            scale = Some(word);
            end += 1 + word.len();
            break;
        }
    }
    if scale.is_none() {
        for (abbreviation, word) in [("k", "thousand"), ("m", "million"), ("bn", "billion")] {
            if starts_with_ci(c, end, abbreviation) && !is_word_char_at(c, end + abbreviation.len())
            {
                scale = Some(word);
                end += abbreviation.len();
                break;
            }
        }
    }
    if let Some(scale) = scale {
        return Some((end, format!("{} {scale} {units}", number.spoken(c))));
    }

    let whole = number.int_value(c);
    let cents = match number.fraction {
        None => 0,
        Some((from, to)) if to - from == 2 => value(c, from, to),
        Some((from, to)) if to - from == 1 => value(c, from, to) * 10,
        // "$1.999" is not an amount of cents: read it as a decimal.
        Some(_) => return Some((end, format!("{} {units}", number.spoken(c)))),
    };
    let whole_words = format!(
        "{} {}",
        number.spoken_integer(c),
        if whole == 1 { unit } else { units }
    );
    let cent_words = format!(
        "{} {}",
        cardinal(cents),
        if cents == 1 { sub } else { subs }
    );
    let spoken = match (whole, cents) {
        (0, 0) => format!("zero {units}"),
        (0, _) => cent_words,
        (_, 0) => whole_words,
        _ => format!("{whole_words} and {cent_words}"),
    };
    Some((end, spoken))
}

impl Number {
    fn spoken_integer(&self, c: &[char]) -> String {
        let digits = self.int_digits(c);
        if digits.len() > MAX_CARDINAL_DIGITS {
            digit_by_digit(&digits)
        } else {
            cardinal(self.int_value(c))
        }
    }
}

// ---------------------------------------------------------------- times

/// "am"/"pm"/"a.m."/"p.m." (any case) after `i`, with at most one space before it.
/// Returns (end, is_pm, ended_with_period).
fn parse_meridiem(c: &[char], i: usize) -> Option<(usize, bool, bool)> {
    let start = if c.get(i) == Some(&' ') { i + 1 } else { i };
    for (pattern, pm) in [
        ("a.m.", false),
        ("p.m.", true),
        ("a.m", false),
        ("p.m", true),
        ("am", false),
        ("pm", true),
    ] {
        let end = start + pattern.chars().count();
        if starts_with_ci(c, start, pattern) && !is_word_char_at(c, end) {
            return Some((end, pm, pattern.ends_with('.')));
        }
    }
    None
}

fn match_time(c: &[char], i: usize) -> Option<(usize, String)> {
    let hour_digits = digits_at(c, i);
    if !(1..=2).contains(&hour_digits) {
        return None;
    }
    let hour = value(c, i, i + hour_digits);
    let mut k = i + hour_digits;
    let mut minute = None;
    if c.get(k) == Some(&':') && digits_at(c, k + 1) == 2 {
        minute = Some(value(c, k + 1, k + 3));
        k += 3;
    }
    if is_word_char_at(c, k) && parse_meridiem(c, k).is_none() {
        return None;
    }
    let meridiem = parse_meridiem(c, k);
    match (minute, meridiem) {
        (None, None) => return None,
        (Some(m), _) if hour > 23 || m > 59 => return None,
        (None, Some(_)) if !(1..=12).contains(&hour) => return None,
        _ => {}
    }
    let minute = minute.unwrap_or(0);
    let (end, suffix, keep_period) = match meridiem {
        Some((end, pm, dotted)) => (
            end,
            Some(if pm { "P M" } else { "A M" }),
            dotted && sentence_ends_at(c, end),
        ),
        // 24-hour clock: "15:00" is "three P M", "00:30" is "twelve thirty A M".
        None if hour == 0 => (k, Some("A M"), false),
        None if hour > 12 => (k, Some("P M"), false),
        None => (k, None, false),
    };
    let hour12 = match hour % 12 {
        0 => 12,
        h => h,
    };
    let mut spoken = cardinal(hour12);
    match minute {
        0 if suffix.is_none() => spoken.push_str(" o'clock"),
        0 => {}
        1..=9 => spoken.push_str(&format!(" oh {}", SMALL_NUMBERS[minute as usize])),
        _ => spoken.push_str(&format!(" {}", cardinal(minute))),
    }
    if let Some(suffix) = suffix {
        spoken.push(' ');
        spoken.push_str(suffix);
    }
    if keep_period {
        spoken.push('.');
    }
    Some((end, spoken))
}

// ---------------------------------------------------------------- dates

fn spoken_date(month: u64, day: u64, year_value: Option<u64>) -> String {
    let name = MONTHS[(month - 1) as usize];
    match year_value {
        Some(y) => format!("{name} {}, {}", ordinal(day), year(y)),
        None => format!("{name} {}", ordinal(day)),
    }
}

/// "2026-12-03".
fn match_iso_date(c: &[char], i: usize) -> Option<(usize, String)> {
    if digits_at(c, i) != 4
        || c.get(i + 4) != Some(&'-')
        || digits_at(c, i + 5) != 2
        || c.get(i + 7) != Some(&'-')
        || digits_at(c, i + 8) != 2
        || is_word_char_at(c, i + 10)
    {
        return None;
    }
    let (y, m, d) = (
        value(c, i, i + 4),
        value(c, i + 5, i + 7),
        value(c, i + 8, i + 10),
    );
    ((1..=12).contains(&m) && (1..=31).contains(&d)).then(|| (i + 10, spoken_date(m, d, Some(y))))
}

/// "12/3/2026" (US order; day first when the first part cannot be a month).
fn match_slash_date(c: &[char], i: usize) -> Option<(usize, String)> {
    let a = digits_at(c, i);
    if !(1..=2).contains(&a) || c.get(i + a) != Some(&'/') {
        return None;
    }
    let b_start = i + a + 1;
    let b = digits_at(c, b_start);
    if !(1..=2).contains(&b) || c.get(b_start + b) != Some(&'/') {
        return None;
    }
    let y_start = b_start + b + 1;
    if digits_at(c, y_start) != 4 || is_word_char_at(c, y_start + 4) {
        return None;
    }
    let (first, second) = (value(c, i, i + a), value(c, b_start, b_start + b));
    let (m, d) = if first > 12 {
        (second, first)
    } else {
        (first, second)
    };
    let y = value(c, y_start, y_start + 4);
    ((1..=12).contains(&m) && (1..=31).contains(&d))
        .then(|| (y_start + 4, spoken_date(m, d, Some(y))))
}

/// A month name or abbreviation ("Dec", "Dec.", "December") at `i`: (end, month 1-12).
fn parse_month(c: &[char], i: usize) -> Option<(usize, u64)> {
    if !c.get(i).is_some_and(|ch| ch.is_uppercase()) {
        return None;
    }
    for (index, name) in MONTHS.iter().enumerate() {
        let month = index as u64 + 1;
        let full = name.chars().count();
        if starts_with_ci(c, i, name) && !is_word_char_at(c, i + full) {
            return Some((i + full, month));
        }
        let short = if month == 9 && starts_with_ci(c, i, "Sept") {
            4
        } else {
            3
        };
        if starts_with_ci(c, i, &name[..short]) && !is_word_char_at(c, i + short) {
            let end = if c.get(i + short) == Some(&'.') {
                i + short + 1
            } else {
                i + short
            };
            return Some((end, month));
        }
    }
    None
}

/// A year after a date: ", 2026" or " 2026". Returns (end, year).
fn trailing_year(c: &[char], k: usize) -> Option<(usize, u64)> {
    let start = if c.get(k) == Some(&',') && c.get(k + 1) == Some(&' ') {
        k + 2
    } else if c.get(k) == Some(&' ') {
        k + 1
    } else {
        return None;
    };
    (digits_at(c, start) == 4 && !is_word_char_at(c, start + 4))
        .then(|| (start + 4, value(c, start, start + 4)))
}

/// "Dec 3", "December 3rd, 2026".
fn match_month_date(c: &[char], i: usize) -> Option<(usize, String)> {
    let (month_end, month) = parse_month(c, i)?;
    let day_start = month_end + usize::from(c.get(month_end) == Some(&' '));
    if day_start == month_end {
        return None;
    }
    let n = digits_at(c, day_start);
    if !(1..=2).contains(&n) {
        return None;
    }
    let day = value(c, day_start, day_start + n);
    let mut k = day_start + n;
    if ["st", "nd", "rd", "th"]
        .iter()
        .any(|s| starts_with_ci(c, k, s) && !is_word_char_at(c, k + 2))
    {
        k += 2;
    }
    if !(1..=31).contains(&day) || is_word_char_at(c, k) || c.get(k) == Some(&':') {
        return None;
    }
    match trailing_year(c, k) {
        Some((end, y)) => Some((end, spoken_date(month, day, Some(y)))),
        None => Some((k, spoken_date(month, day, None))),
    }
}

/// After a day number: " December 2026", "th of December" etc. `k` is just past the digits.
fn day_month_date(c: &[char], k: usize, day: u64) -> Option<(usize, String)> {
    if c.get(k) != Some(&' ') {
        return None;
    }
    let (month_end, month) = parse_month(c, k + 1)?;
    let name = MONTHS[(month - 1) as usize];
    match trailing_year(c, month_end) {
        Some((end, y)) => Some((end, format!("the {} of {name}, {}", ordinal(day), year(y)))),
        None => Some((month_end, format!("the {} of {name}", ordinal(day)))),
    }
}

// ---------------------------------------------------------------- phone numbers

/// "555-123-4567", "(555) 123-4567", "+1 555 123 4567", "1-800-555-0199": digit by digit,
/// a pause between groups.
fn match_phone(c: &[char], i: usize) -> Option<(usize, String)> {
    let mut k = i;
    let plus = c.get(k) == Some(&'+');
    if plus {
        k += 1;
    }
    let mut groups: Vec<String> = Vec::new();
    let paren = c.get(k) == Some(&'(');
    if paren {
        let n = digits_at(c, k + 1);
        if !(2..=4).contains(&n) || c.get(k + 1 + n) != Some(&')') {
            return None;
        }
        groups.push(text(c, k + 1, k + 1 + n));
        k += n + 2;
        if c.get(k) == Some(&' ') {
            k += 1;
        }
    }
    let mut separators = Vec::new();
    loop {
        let n = digits_at(c, k);
        if !(1..=4).contains(&n) {
            return None;
        }
        groups.push(text(c, k, k + n));
        k += n;
        let sep = match c.get(k) {
            Some(&s @ ('-' | '.')) => s,
            Some(' ') if plus || paren => ' ',
            _ => break,
        };
        if digits_at(c, k + 1) == 0 {
            break;
        }
        separators.push(sep);
        k += 1;
    }
    if is_word_char_at(c, k) {
        return None;
    }
    let total: usize = groups.iter().map(String::len).sum();
    let shaped = if plus || paren {
        groups.len() >= 2
    } else {
        // Without a "+" or "(", insist on the usual shape so that ranges ("1990-2000") and
        // decimals are not read as phone numbers.
        groups.len() >= 2
            && separators.windows(2).all(|w| w[0] == w[1])
            && groups.last().is_some_and(|g| g.len() == 4)
            && groups.iter().any(|g| g.len() == 3)
    };
    if !(7..=15).contains(&total) || !shaped {
        return None;
    }
    let spoken: Vec<String> = groups.iter().map(|g| digit_by_digit(g)).collect();
    let mut spoken = spoken.join(", ");
    if plus {
        spoken = format!("plus {spoken}");
    }
    Some((k, spoken))
}

// ---------------------------------------------------------------- abbreviations

enum Reading {
    /// Precedes a name or number: the period is never a full stop ("Dr. Smith").
    Prefix(&'static str),
    /// May end a sentence: the period is kept when a new sentence follows ("etc.").
    Word(&'static str),
}

fn abbreviation(token: &str) -> Option<Reading> {
    use Reading::{Prefix, Word};
    Some(match token.to_lowercase().as_str() {
        "dr." => Prefix("Doctor"),
        "mr." => Prefix("Mister"),
        "mrs." => Prefix("Missus"),
        "ms." => Prefix("Miz"),
        "prof." => Prefix("Professor"),
        "mt." => Prefix("Mount"),
        "e.g." | "eg." => Prefix("for example"),
        "i.e." | "ie." => Prefix("that is"),
        "vs." | "vs" => Prefix("versus"),
        "approx." => Prefix("approximately"),
        "ext." => Prefix("extension"),
        "apt." => Prefix("apartment"),
        "jr." => Word("Junior"),
        "sr." => Word("Senior"),
        "ave." => Word("Avenue"),
        "blvd." => Word("Boulevard"),
        "rd." => Word("Road"),
        "etc." => Word("et cetera"),
        "a.m." => Word("A M"),
        "p.m." => Word("P M"),
        _ => return None,
    })
}

fn match_abbreviation(c: &[char], i: usize) -> Option<(usize, String)> {
    if !c[i].is_alphabetic() {
        return None;
    }
    let mut end = i;
    while c
        .get(end)
        .is_some_and(|ch| ch.is_alphabetic() || *ch == '.')
    {
        end += 1;
    }
    // "e.g.," and "Dr.Smith": try the whole run first, then up to its first period.
    let first_period = c[i..end]
        .iter()
        .position(|ch| *ch == '.')
        .map(|p| i + p + 1);
    for candidate in [Some(end), first_period].into_iter().flatten() {
        let token = text(c, i, candidate);
        if let Some(found) = read_abbreviation(c, i, candidate, &token) {
            return Some(found);
        }
    }
    // Titles without a period before a name: "Dr Smith", "St John".
    let word: String = text(c, i, end);
    if ["Dr", "Mr", "Mrs", "Ms", "St"].contains(&word.as_str()) && next_word_capitalised(c, end) {
        return read_abbreviation(c, i, end, &format!("{word}."));
    }
    None
}

fn read_abbreviation(c: &[char], i: usize, end: usize, token: &str) -> Option<(usize, String)> {
    if token.eq_ignore_ascii_case("st.") {
        return Some(saint_or_street(c, i, end));
    }
    if token.eq_ignore_ascii_case("no.") {
        // "No. 5" is "number five"; "No." otherwise is the word.
        let k = end + usize::from(c.get(end) == Some(&' '));
        return (digits_at(c, k) > 0).then(|| (end, "number".to_string()));
    }
    match abbreviation(token)? {
        Reading::Prefix(words) => Some((end, words.to_string())),
        Reading::Word(words) if token.ends_with('.') && sentence_ends_at(c, end) => {
            Some((end, format!("{words}.")))
        }
        Reading::Word(words) => Some((end, words.to_string())),
    }
}

/// "St." is Street after a name or number ("Elm St.", "5th St.") and Saint before a name
/// ("St. Mary's").
fn saint_or_street(c: &[char], i: usize, end: usize) -> (usize, String) {
    let before = previous_word(c, i);
    let after_name_or_number = before
        .chars()
        .next()
        .is_some_and(|ch| ch.is_uppercase() || ch.is_ascii_digit())
        && !before.ends_with(['.', '!', '?', ':', ';', ','])
        && i > 0;
    if !after_name_or_number && next_word_capitalised(c, end) {
        return (end, "Saint".to_string());
    }
    let spoken = if c.get(end - 1) == Some(&'.') && sentence_ends_at(c, end) {
        "Street."
    } else {
        "Street"
    };
    (end, spoken.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        assert_eq!(normalize(input), expected, "input: {input:?}");
    }

    #[test]
    fn cardinals_up_to_billions() {
        assert_eq!(cardinal(0), "zero");
        assert_eq!(cardinal(13), "thirteen");
        assert_eq!(cardinal(40), "forty");
        assert_eq!(cardinal(99), "ninety-nine");
        assert_eq!(cardinal(100), "one hundred");
        assert_eq!(cardinal(105), "one hundred five");
        assert_eq!(cardinal(1_001), "one thousand one");
        assert_eq!(
            cardinal(1_234_567),
            "one million two hundred thirty-four thousand five hundred sixty-seven"
        );
        assert_eq!(cardinal(7_000_000_012), "seven billion twelve");
    }

    #[test]
    fn ordinals_and_years() {
        assert_eq!(ordinal(1), "first");
        assert_eq!(ordinal(12), "twelfth");
        assert_eq!(ordinal(20), "twentieth");
        assert_eq!(ordinal(22), "twenty-second");
        assert_eq!(ordinal(103), "one hundred third");
        assert_eq!(year(1985), "nineteen eighty-five");
        assert_eq!(year(2026), "twenty twenty-six");
        assert_eq!(year(2000), "two thousand");
        assert_eq!(year(2005), "two thousand five");
        assert_eq!(year(1905), "nineteen oh five");
        assert_eq!(year(1900), "nineteen hundred");
    }

    #[test]
    fn titles() {
        check("Dr. Smith will see you.", "Doctor Smith will see you.");
        check("Mr. Jones and Mrs. Jones", "Mister Jones and Missus Jones");
        check("Ask Ms. Lee", "Ask Miz Lee");
        check("Dr Patel is in", "Doctor Patel is in");
    }

    #[test]
    fn saint_or_street() {
        check(
            "Welcome to St. Mary's Hospital.",
            "Welcome to Saint Mary's Hospital.",
        );
        check("St. Louis is far.", "Saint Louis is far.");
        check(
            "We are at 12 Main St. Parking is free.",
            "We are at twelve Main Street. Parking is free.",
        );
        check(
            "Turn onto 5th St. near the park",
            "Turn onto fifth Street near the park",
        );
    }

    #[test]
    fn times() {
        check("Come at 3:30 PM.", "Come at three thirty P M.");
        check(
            "Come at 3:30 p.m. please",
            "Come at three thirty P M please",
        );
        check("See you at 3:30 p.m.", "See you at three thirty P M.");
        check("It opens at 9:00.", "It opens at nine o'clock.");
        check("It opens at 9:00 AM", "It opens at nine A M");
        check("The meeting is at 15:00", "The meeting is at three P M");
        check("at 10:05", "at ten oh five");
        check("at 00:30", "at twelve thirty A M");
        check(
            "at 3pm or 11 a.m. tomorrow",
            "at three P M or eleven A M tomorrow",
        );
    }

    #[test]
    fn money() {
        check(
            "It costs $29.95.",
            "It costs twenty-nine dollars and ninety-five cents.",
        );
        check("$5", "five dollars");
        check("$1", "one dollar");
        check("$0.50", "fifty cents");
        check("$1,250", "one thousand two hundred fifty dollars");
        check("$2.5 million", "two point five million dollars");
        check("£3.01", "three pounds and one penny");
    }

    #[test]
    fn decimals_percentages_and_plain_numbers() {
        check("3.5", "three point five");
        check("0.25 mg", "zero point two five mg");
        check("15% off", "fifteen percent off");
        check("2.5 % more", "two point five percent more");
        check("12 cats", "twelve cats");
        check("1,000,000 stars", "one million stars");
        check("It is -5 outside", "It is minus five outside");
        check("code 007", "code zero zero seven");
        check("pages 10-20", "pages ten to twenty");
    }

    #[test]
    fn ordinals_in_text() {
        check("the 1st and 15th", "the first and fifteenth");
        check("on the 22nd floor", "on the twenty-second floor");
    }

    #[test]
    fn dates_and_years() {
        check("Dec 3", "December third");
        check(
            "on Dec. 3rd, 2026.",
            "on December third, twenty twenty-six.",
        );
        check("2026-12-03", "December third, twenty twenty-six");
        check("12/3/2026", "December third, twenty twenty-six");
        check("born in 1985", "born in nineteen eighty-five");
        check("since 2026", "since twenty twenty-six");
        check(
            "3 December 2026",
            "the third of December, twenty twenty-six",
        );
        check("the 1980s", "the nineteen eighties");
        check(
            "the 2000s and the 90s",
            "the two thousands and the nineties",
        );
        check("from 1990-2000", "from nineteen ninety to two thousand");
        check("2026 patients", "two thousand twenty-six patients");
    }

    #[test]
    fn phone_numbers() {
        check(
            "Call 555-123-4567.",
            "Call five five five, one two three, four five six seven.",
        );
        check(
            "Call (555) 123-4567",
            "Call five five five, one two three, four five six seven",
        );
        check(
            "dial 555-0199 now",
            "dial five five five, zero one nine nine now",
        );
        check(
            "+1 555 123 4567",
            "plus one, five five five, one two three, four five six seven",
        );
    }

    #[test]
    fn symbols_and_latin_abbreviations() {
        check("Tom & Jerry", "Tom and Jerry");
        check("fruit, e.g. apples", "fruit, for example apples");
        check(
            "that one, i.e. the red one",
            "that one, that is the red one",
        );
        check("Cats vs. dogs", "Cats versus dogs");
        check("pens, paper, etc.", "pens, paper, et cetera.");
        check("Room No. 5", "Room number five");
        check("No. I can't.", "No. I can't.");
    }

    #[test]
    fn unspeakable_characters_are_dropped() {
        check("Great 🙂 thanks!", "Great thanks!");
        check("**Bold** text", "Bold text");
        check("🙂🎉", "");
        check("你好 Привет", "");
        check("Café au lait, ½ price", "Café au lait, one half price");
        check("Wait — what?", "Wait, what?");
        check("\u{201C}Hi,\u{201D} she said", "\"Hi,\" she said");
        check("- first item\n- second item", "first item. second item");
    }
}
