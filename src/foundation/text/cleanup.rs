//! Text clean-up before speech: LLMs write markdown and emoji, a TTS engine would read them aloud
//! ("asterisk asterisk") or stumble on them.
//!
//! [`clean_for_speech`] removes code fences and their content (code is not speakable), line-start
//! block marks (headings, bullets, numbered items, quotes, rules), link targets, emphasis marks,
//! inline-code backticks and emoji, then collapses whitespace. It leaves arithmetic (`2 * 3`,
//! `5 - 3`), identifiers (`*args`, `snake_case`), prices and times alone: emphasis marks are only
//! removed in matched pairs that open before a word and close after one.

/// Cleans one chunk of reply text for TTS (see the module docs).
pub fn clean_for_speech(text: &str) -> String {
    let text = strip_code_fences(text);
    let text: String = text.chars().filter(|&c| !is_emoji(c)).collect();
    let text = text
        .lines()
        .map(strip_block_mark)
        .collect::<Vec<_>>()
        .join("\n");
    let text = unwrap_links(&text);
    let text = strip_emphasis(&text);
    collapse(&text)
}

/// Whether `text` still has something to say once cleaned: false for text made only of
/// punctuation, emoji, markup, code or whitespace.
pub fn is_speakable(text: &str) -> bool {
    clean_for_speech(text).chars().any(char::is_alphanumeric)
}

/// Drops ``` fenced blocks with their content (an unclosed fence runs to the end).
fn strip_code_fences(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("```") {
        out.push_str(&rest[..open]);
        // Keep the words on either side apart.
        out.push(' ');
        let inner = &rest[open + 3..];
        rest = match inner.find("```") {
            Some(close) => inner[close + 3..].trim_start_matches('`'),
            None => "",
        };
    }
    out.push_str(rest);
    out
}

/// Removes a heading, quote, bullet or list-number mark at the start of a line, and rule lines.
fn strip_block_mark(line: &str) -> &str {
    let mut t = line.trim_start();
    // Block quotes, possibly nested: "> > text".
    while let Some(rest) = t.strip_prefix('>') {
        t = rest.trim_start();
    }
    // Horizontal rules: "---", "***", "___".
    if t.len() >= 3 && t.chars().all(|c| matches!(c, '-' | '*' | '_' | ' ')) {
        let marks = t.chars().filter(|&c| c != ' ').count();
        if marks >= 3 {
            return "";
        }
    }
    let hashes = t.chars().take_while(|&c| c == '#').count();
    if (1..=6).contains(&hashes) {
        // '#' is one byte, so `hashes` is also a byte offset.
        if let Some(rest) = t[hashes..].strip_prefix([' ', '\t']) {
            return rest.trim_start();
        }
    }
    for bullet in ['-', '*', '+', '•'] {
        if let Some(rest) = t.strip_prefix(bullet) {
            if let Some(rest) = rest.strip_prefix([' ', '\t']) {
                return rest.trim_start();
            }
        }
    }
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if (1..=3).contains(&digits) {
        if let Some(rest) = t[digits..].strip_prefix(['.', ')']) {
            if let Some(rest) = rest.strip_prefix([' ', '\t']) {
                return rest.trim_start();
            }
        }
    }
    t
}

/// `[text](url)` -> `text`; images `![alt](url)` -> `alt`.
fn unwrap_links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let inner = &rest[open + 1..];
        let link = inner.find(']').and_then(|close| {
            let label = &inner[..close];
            let target = inner[close + 1..].strip_prefix('(')?;
            let end = target.find(')')?;
            (!label.contains('[')).then_some((label, &target[end + 1..]))
        });
        match link {
            Some((label, after)) => {
                let before = &rest[..open];
                out.push_str(before.strip_suffix('!').unwrap_or(before));
                out.push_str(label);
                rest = after;
            }
            None => {
                out.push_str(&rest[..=open]);
                rest = inner;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A run of `*` or `_` that may open or close emphasis.
struct Delim {
    start: usize,
    len: usize,
    mark: char,
    can_open: bool,
    can_close: bool,
}

/// Removes emphasis marks that come in matched pairs (`**b**`, `__b__`, `*i*`, `_i_`, `***bi***`).
///
/// A mark opens only before a word and not inside one, and closes only after a word and not inside
/// one: so `2 * 3`, `*args`, `a_b` and `snake_case_names` are left alone.
fn strip_emphasis(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut delims = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let mark = chars[i];
        if mark != '*' && mark != '_' {
            i += 1;
            continue;
        }
        let len = chars[i..].iter().take_while(|&&c| c == mark).count();
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + len).copied();
        if len <= 3 {
            delims.push(Delim {
                start: i,
                len,
                mark,
                can_open: next.is_some_and(|c| !c.is_whitespace())
                    && prev.is_none_or(|c| !c.is_alphanumeric()),
                can_close: prev.is_some_and(|c| !c.is_whitespace())
                    && next.is_none_or(|c| !c.is_alphanumeric()),
            });
        }
        i += len;
    }

    let mut remove = vec![false; chars.len()];
    // Indices into `delims` of runs that may still be closed.
    let mut openers: Vec<usize> = Vec::new();
    for (d, delim) in delims.iter().enumerate() {
        if delim.can_close {
            let matching = openers
                .iter()
                .rposition(|&o| delims[o].mark == delim.mark && delims[o].len == delim.len);
            if let Some(pos) = matching {
                let opener = &delims[openers[pos]];
                remove[opener.start..opener.start + opener.len].fill(true);
                remove[delim.start..delim.start + delim.len].fill(true);
                // Openers inside the pair can no longer match across its end.
                openers.truncate(pos);
                continue;
            }
        }
        if delim.can_open {
            openers.push(d);
        }
    }
    chars
        .iter()
        .zip(&remove)
        .filter(|&(_, &r)| !r)
        .map(|(&c, _)| c)
        .collect()
}

/// Drops inline-code backticks, stray bullets and rule tokens; collapses whitespace; re-attaches
/// punctuation left alone by a removed emoji ("Great 🎉!" -> "Great!").
fn collapse(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for token in text.split_whitespace() {
        let token: String = token.chars().filter(|&c| c != '`' && c != '•').collect();
        let is_rule =
            token.chars().count() >= 3 && token.chars().all(|c| matches!(c, '-' | '*' | '_' | '='));
        if token.is_empty() || is_rule {
            continue;
        }
        let punctuation_only = token
            .chars()
            .all(|c| matches!(c, '.' | ',' | '!' | '?' | ';' | ':' | '…'));
        if !out.is_empty() && !punctuation_only {
            out.push(' ');
        }
        out.push_str(&token);
    }
    out
}

/// Emoji and pictographs, plus the invisible characters that glue emoji sequences together.
fn is_emoji(c: char) -> bool {
    matches!(
        c as u32,
        // Mahjong, cards, enclosed alphanumerics, regional indicators (flags), symbols and
        // pictographs, emoticons, transport and map, supplemental symbols, symbols extended-A.
        0x1F000..=0x1FAFF
            // Miscellaneous symbols, dingbats.
            | 0x2600..=0x27BF
            // Miscellaneous symbols and arrows (⭐, ⬆).
            | 0x2B00..=0x2BFF
            // Watch, hourglass, keyboard, media controls.
            | 0x231A | 0x231B | 0x2328 | 0x23CF | 0x23E9..=0x23F3 | 0x23F8..=0x23FA
            // Wavy dash, part alternation mark, circled ideographs used as emoji.
            | 0x3030 | 0x303D | 0x3297 | 0x3299
            // Variation selectors, zero-width joiner, combining keycap, tags (subdivision flags).
            | 0xFE00..=0xFE0F
            | 0xE0100..=0xE01EF
            | 0x200D
            | 0x20E3
            | 0xE0000..=0xE007F
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        assert_eq!(clean_for_speech(input), expected, "input: {input:?}");
    }

    #[test]
    fn removes_bold() {
        check(
            "This is **very** important and __also__ this.",
            "This is very important and also this.",
        );
    }

    #[test]
    fn removes_italics() {
        check(
            "Please *do not* eat, _really_.",
            "Please do not eat, really.",
        );
    }

    #[test]
    fn removes_bold_italics_and_nested_emphasis() {
        check(
            "***Wow*** that is **bold *and italic* here**!",
            "Wow that is bold and italic here!",
        );
        check(
            "(*note*) **Note:** call *ext. 12*.",
            "(note) Note: call ext. 12.",
        );
    }

    #[test]
    fn unmatched_marks_stay() {
        check("a * b and *not closed", "a * b and *not closed");
        check("closing only* here_ too", "closing only* here_ too");
    }

    #[test]
    fn emphasis_next_to_punctuation() {
        check(
            "**Important!** Bring _your_ card.",
            "Important! Bring your card.",
        );
        check("\"*Yes*,\" she said.", "\"Yes,\" she said.");
    }

    #[test]
    fn leaves_arithmetic_alone() {
        check("2 * 3 = 6 and 5 - 3 = 2", "2 * 3 = 6 and 5 - 3 = 2");
        check("5*3*2 is thirty", "5*3*2 is thirty");
    }

    #[test]
    fn leaves_identifiers_alone() {
        check("Use *args and **kwargs here", "Use *args and **kwargs here");
        check(
            "snake_case_names and a_b stay",
            "snake_case_names and a_b stay",
        );
        check(
            "Write to first_last@example.com or https://x.org/a_b_c",
            "Write to first_last@example.com or https://x.org/a_b_c",
        );
    }

    #[test]
    fn leaves_prices_times_and_accents_alone() {
        check(
            "It costs $29.95 or $1,000.50 at 3:30 p.m. on 12/05.",
            "It costs $29.95 or $1,000.50 at 3:30 p.m. on 12/05.",
        );
        check(
            "你好，世界。Café crème, très bon!",
            "你好，世界。Café crème, très bon!",
        );
    }

    #[test]
    fn removes_inline_code_backticks() {
        check("Run `ls -la` now.", "Run ls -la now.");
    }

    #[test]
    fn removes_headings() {
        check("# Title", "Title");
        check("### Sub title here", "Sub title here");
        check("#1 priority stays", "#1 priority stays");
    }

    #[test]
    fn removes_bullets_and_list_numbers_at_line_start() {
        check("- Monday at nine", "Monday at nine");
        check("* Tuesday", "Tuesday");
        check("• Friday", "Friday");
        check("+ Sunday", "Sunday");
        check("1. Fill in the form.", "Fill in the form.");
        check("12) Sign it", "Sign it");
        check(
            "Options:\n- Monday\n  - Tuesday\n2. Friday",
            "Options: Monday Tuesday Friday",
        );
    }

    #[test]
    fn list_marks_mid_line_stay() {
        check(
            "I have 1. apple - and 2) pears",
            "I have 1. apple - and 2) pears",
        );
    }

    #[test]
    fn removes_block_quotes_and_rules() {
        check("> quoted text\n> > nested", "quoted text nested");
        check("Intro\n---\nMore\n* * *\nEnd", "Intro More End");
        check("Intro --- More", "Intro More");
    }

    #[test]
    fn drops_fenced_code_with_its_content() {
        check(
            "Here:\n```rust\nfn main() { println!(\"hi\"); }\n```\nDone.",
            "Here: Done.",
        );
        // As the sentence buffer hands it over, newlines collapsed.
        check("``` print(1) ``` That prints one.", "That prints one.");
        check("Look: ```python x = 1", "Look:");
    }

    #[test]
    fn unwraps_links_and_images() {
        check(
            "See [our site](https://example.com) today.",
            "See our site today.",
        );
        check("![the logo](logo.png) is blue", "the logo is blue");
        check("[not a link] (x) and [a] b", "[not a link] (x) and [a] b");
    }

    #[test]
    fn removes_emoji_and_reattaches_punctuation() {
        check(
            "Great news 🎉! You're booked 👍🏽.",
            "Great news! You're booked.",
        );
        check("I 😀 love it, 🚀 truly", "I love it, truly");
    }

    #[test]
    fn removes_flags_zwj_sequences_and_variation_selectors() {
        check("🇺🇸 USA", "USA");
        check("👨‍👩‍👧 family", "family");
        check("❤️ love ☎️ call ✅ done ⭐ star", "love call done star");
        check("Press 1️⃣ now", "Press 1 now");
    }

    #[test]
    fn collapses_whitespace() {
        check("  a \n\n b\t c  ", "a b c");
        check("", "");
    }

    #[test]
    fn cleans_a_markdown_reply() {
        check(
            "## Your options 🗓️\n\n- **Monday** at *9 a.m.*\n- __Tuesday__ at `3 p.m.`\n\nSee [the map](https://x.org/map).",
            "Your options Monday at 9 a.m. Tuesday at 3 p.m. See the map.",
        );
    }

    #[test]
    fn speakable_needs_a_letter_or_digit() {
        for silent in [
            "",
            "   ",
            "...",
            "!?",
            "🎉🎉",
            "👍🏽 !",
            "**",
            "- ",
            "```let x = 1;```",
            "---",
        ] {
            assert!(!is_speakable(silent), "{silent:?} should not be speakable");
        }
        for spoken in ["Hi", "42", "好", "Ça", "**Yes**", "✅ Done"] {
            assert!(is_speakable(spoken), "{spoken:?} should be speakable");
        }
    }
}
