//! What a sentence boundary looks like, for the [`super::sentence::SentenceBuffer`]: the
//! abbreviations that do or do not end a sentence, the words that open a phrase, and the
//! character classes and markdown block marks the scanner asks about.

/// Abbreviations after which a period never ends a sentence (a name or an example follows).
pub const NEVER_FINAL: &[&str] = &[
    "dr", "mr", "mrs", "ms", "prof", "st", "mt", "vs", "e.g", "i.e", "cf", "approx",
];
/// Abbreviations that often close a sentence: they end one only before a capitalised word.
pub const MAYBE_FINAL: &[&str] = &["a.m", "p.m", "etc", "jr", "sr", "inc", "ltd", "ph.d"];
/// Abbreviations followed by a number (`Rm. 204`, `ext. 12`): no sentence end before a digit.
pub const BEFORE_NUMBER: &[&str] = &[
    "no", "nos", "vol", "ext", "apt", "rm", "ste", "fig", "pg", "pp",
];

/// Words that usually open a new phrase: a long first chunk may end just before one of them.
pub const PHRASE_OPENERS: &[&str] = &[
    "and", "but", "or", "so", "because", "which", "who", "whose", "where", "when", "while", "if",
    "unless", "although", "though", "since", "until", "from", "with", "after", "before",
];

/// Whether a markdown block marker starts a line.
pub enum Marker {
    Incomplete,
    Yes,
    No,
}

/// Trims and collapses every whitespace run (newlines included) to one space.
pub fn normalize(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn char_at(s: &str, i: usize) -> Option<char> {
    s[i..].chars().next()
}

/// Byte offset of the first character at or after `from` that fails `pred`.
pub fn skip_while(s: &str, from: usize, pred: impl Fn(char) -> bool) -> usize {
    s[from..]
        .char_indices()
        .find(|&(_, c)| !pred(c))
        .map_or(s.len(), |(off, _)| from + off)
}

/// Skips whitespace from `from`: returns where it stops and whether it crossed a blank line
/// (two line breaks; then it stops at the second one, as nothing after it matters).
pub fn skip_ws(s: &str, from: usize) -> (usize, bool) {
    let mut newlines = 0;
    for (off, c) in s[from..].char_indices() {
        if c == '\n' {
            newlines += 1;
            if newlines == 2 {
                return (from + off, true);
            }
        } else if !c.is_whitespace() {
            return (from + off, false);
        }
    }
    (s.len(), false)
}

/// Closing quotes, brackets and emphasis marks that belong to the sentence before them.
pub fn is_closer(c: char) -> bool {
    matches!(
        c,
        '"' | '\''
            | '”'
            | '’'
            | ')'
            | ']'
            | '}'
            | '»'
            | '›'
            | '*'
            | '_'
            | '」'
            | '』'
            | '）'
            | '》'
            | '】'
    )
}

/// Opening quotes, brackets and emphasis marks before a word.
pub fn is_opener(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | '“' | '‘' | '(' | '[' | '{' | '«' | '‹' | '*' | '_' | '¿' | '¡'
    )
}

/// A single capital letter, as in "J. R. R. Tolkien" ("I" is a word, not an initial).
pub fn is_initial(word: &str) -> bool {
    let mut chars = word.chars();
    matches!((chars.next(), chars.next()), (Some(c), None) if c.is_uppercase() && c != 'I')
}

/// Single letters joined by periods: "U.S.A", "D.C".
pub fn is_dotted_acronym(word: &str) -> bool {
    let mut parts = 0;
    for part in word.split('.') {
        let mut chars = part.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if c.is_alphabetic() => parts += 1,
            _ => return false,
        }
    }
    parts >= 2
}

/// "1" to "999": a numbered-list mark when it starts a line.
pub fn is_list_number(word: &str) -> bool {
    (1..=3).contains(&word.len()) && word.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `rest` (the start of a line, after indentation) begins a markdown block.
pub fn block_marker(rest: &str) -> Marker {
    let mut chars = rest.chars();
    let Some(first) = chars.next() else {
        return Marker::Incomplete;
    };
    let spaced = |c: Option<char>| match c {
        None => Marker::Incomplete,
        Some(' ' | '\t') => Marker::Yes,
        Some(_) => Marker::No,
    };
    match first {
        '•' => Marker::Yes,
        '-' | '*' | '+' => spaced(chars.next()),
        '#' => {
            let mut n = 1;
            loop {
                match chars.next() {
                    Some('#') if n < 6 => n += 1,
                    other => return spaced(other),
                }
            }
        }
        '`' => {
            if rest.starts_with("```") {
                Marker::Yes
            } else if "```".starts_with(rest) {
                Marker::Incomplete
            } else {
                Marker::No
            }
        }
        d if d.is_ascii_digit() => {
            let mut n = 1;
            loop {
                match chars.next() {
                    None => return Marker::Incomplete,
                    Some(c) if c.is_ascii_digit() && n < 3 => n += 1,
                    Some('.' | ')') => return spaced(chars.next()),
                    Some(_) => return Marker::No,
                }
            }
        }
        _ => Marker::No,
    }
}
