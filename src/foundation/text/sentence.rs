//! Streaming sentence segmentation: LLM text deltas in, speakable chunks out.
//!
//! The LLM produces text a token at a time, but a TTS engine needs whole phrases to sound natural.
//! [`SentenceBuffer`] sits between them: it accumulates deltas and releases each chunk the moment
//! its end is certain, so speech can start while the model is still writing the next sentence.
//!
//! Every decision depends only on text already received plus a small, fixed look-ahead; when the
//! look-ahead is not there yet the buffer waits. That makes the output identical however the input
//! happens to be split into deltas.
//!
//! Rules, in short:
//! - `.` `!` `?` `;` `…` `...` end a sentence once whitespace follows them (plus any closing quotes,
//!   brackets or markdown emphasis marks right after). CJK `。！？；` need no space.
//! - A period does not end a sentence after titles (`Dr.`, `Mr.`, `e.g.` …), initials (`J. R. R.`),
//!   dotted acronyms (`U.S.A.`), a list number at line start (`1.`), nor inside numbers, e-mail
//!   addresses, URLs or versions (no whitespace follows those dots).
//! - Abbreviations that often close a sentence (`a.m.`, `p.m.`, `etc.`, `Jr.` …) end it only when the
//!   next word starts with a capital letter: `at 3 p.m. Then` splits, `at 3 p.m. on Monday` does not.
//!   An ellipsis followed by a lowercase word (`I think... maybe`) does not end a sentence either.
//! - A blank line ends a chunk. Markdown blocks start a new chunk regardless of length: a line
//!   break before a bullet, numbered item, heading or code fence, and the end of a heading line.
//!   Nothing inside a ``` code fence ends a chunk, so clean-up can drop the whole block.
//! - Chunks shorter than [`SentenceConfig::min_chars`] wait and join the next one.
//! - The first chunk of a reply may end early at a clause boundary (`, ` `: ` ` - ` ` — `) once it
//!   is [`SentenceConfig::first_clause_min_chars`] long: that cuts time-to-first-audio. Without
//!   punctuation it may also end before a word that opens a new phrase (`and`, `but`, `because`,
//!   `which`, `from` …, see [`PHRASE_OPENERS`]) once that long, but never between digits (`9 and 5`):
//!   a long comma-free first sentence otherwise costs the listener a second of synthesis.
//! - Released chunks are trimmed and their internal whitespace (newlines included) collapsed.
//!
//! What counts as an abbreviation, a closing quote or a markdown block lives in [`super::boundary`].

pub use super::boundary::PHRASE_OPENERS;
use super::boundary::{
    block_marker, char_at, is_closer, is_dotted_acronym, is_initial, is_list_number, is_opener,
    normalize, skip_while, skip_ws, Marker, BEFORE_NUMBER, MAYBE_FINAL, NEVER_FINAL,
};

/// Tuning for [`SentenceBuffer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentenceConfig {
    /// Chunks shorter than this many characters wait and join the next one.
    pub min_chars: usize,
    /// The first chunk of a reply may end at a clause boundary once it is this many characters long.
    pub first_clause_min_chars: usize,
    /// Release the first chunk at a clause boundary (comma, colon, dash) to cut time-to-first-audio.
    pub early_first_clause: bool,
}

impl Default for SentenceConfig {
    fn default() -> Self {
        Self {
            min_chars: 10,
            first_clause_min_chars: 25,
            early_first_clause: true,
        }
    }
}

/// What the scanner concluded about one position of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    /// The look-ahead needed to decide has not arrived yet.
    Wait,
    /// Not a boundary.
    No,
    /// A sentence ends at this byte offset (released if at least `min_chars` long).
    Sentence(usize),
    /// A clause ends at this byte offset (released only as a reply's early first chunk).
    Clause(usize),
    /// A markdown block starts: release whatever precedes this byte offset.
    Forced(usize),
    /// A ``` code fence opens or closes here.
    ToggleFence,
}

/// What the next non-space text after a position looks like.
enum Next {
    /// Only whitespace so far: wait.
    Pending,
    /// A blank line follows (a paragraph break).
    Blank,
    /// The first non-space character.
    Char(char),
}

/// Accumulates streamed text and releases speakable chunks (see the module docs for the rules).
#[derive(Debug, Clone)]
pub struct SentenceBuffer {
    config: SentenceConfig,
    /// Text received but not yet released.
    buf: String,
    /// Byte offset in `buf` where scanning resumes; everything before it has been decided.
    scan: usize,
    /// Whether `scan` lies inside a ``` code fence.
    in_fence: bool,
    /// Whether the next chunk is the first of the reply (eligible for early clause release).
    first: bool,
    /// Whether `buf` starts at the beginning of a line.
    buf_at_line_start: bool,
}

impl SentenceBuffer {
    pub fn new(config: SentenceConfig) -> Self {
        Self {
            config,
            buf: String::new(),
            scan: 0,
            in_fence: false,
            first: true,
            buf_at_line_start: true,
        }
    }

    /// Adds a text delta; returns the chunks it completed, in order.
    pub fn push(&mut self, delta: &str) -> Vec<String> {
        self.buf.push_str(delta);
        let mut out = Vec::new();
        while let Some(chunk) = self.next_chunk() {
            out.push(chunk);
        }
        out
    }

    /// Ends the stream: returns whatever remains (trimmed, `None` if empty) and starts afresh.
    ///
    /// The next chunk counts as a reply's first again, which is also right after a mid-reply flush
    /// (before a tool call): the listener is waiting once more, so an early clause helps again.
    pub fn finish(&mut self) -> Option<String> {
        let rest = normalize(&self.buf);
        self.reset();
        (!rest.is_empty()).then_some(rest)
    }

    /// Forgets all buffered text; the next chunk is a reply's first again.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.scan = 0;
        self.in_fence = false;
        self.first = true;
        self.buf_at_line_start = true;
    }

    /// Scans from `self.scan` for the next releasable chunk.
    fn next_chunk(&mut self) -> Option<String> {
        let mut i = self.scan;
        while let Some(c) = self.buf[i..].chars().next() {
            let (decision, next) = self.decide(i, c);
            let release = match decision {
                Decision::Wait => {
                    self.scan = i;
                    return None;
                }
                Decision::No => None,
                Decision::ToggleFence => {
                    self.in_fence = !self.in_fence;
                    None
                }
                Decision::Sentence(end) => {
                    (self.chunk_len(end) >= self.config.min_chars.max(1)).then_some(end)
                }
                Decision::Clause(end) => (self.chunk_len(end)
                    >= self.config.first_clause_min_chars.max(1))
                .then_some(end),
                Decision::Forced(end) => (self.chunk_len(end) > 0).then_some(end),
            };
            if let Some(end) = release {
                return Some(self.release(end));
            }
            i = next;
        }
        self.scan = i;
        None
    }

    fn release(&mut self, end: usize) -> String {
        let chunk = normalize(&self.buf[..end]);
        self.buf_at_line_start = self.buf[..end].ends_with('\n');
        self.buf.drain(..end);
        self.scan = 0;
        self.first = false;
        chunk
    }

    /// Length in characters of the chunk `buf[..end]` once normalised.
    fn chunk_len(&self, end: usize) -> usize {
        let (mut chars, mut words) = (0usize, 0usize);
        for w in self.buf[..end].split_whitespace() {
            chars += w.chars().count();
            words += 1;
        }
        chars + words.saturating_sub(1)
    }

    /// Decides about the character `c` at byte `i`; also returns where scanning continues.
    fn decide(&self, i: usize, c: char) -> (Decision, usize) {
        let after = i + c.len_utf8();
        if self.in_fence && c != '`' {
            return (Decision::No, after);
        }
        match c {
            '`' => self.fence(i),
            '.' | '!' | '?' | ';' | '…' => self.terminator(i),
            '。' | '！' | '？' | '；' => self.cjk_terminator(i),
            ',' | ':' | '，' | '：' | '—' | '-' | '–'
                if self.first && self.config.early_first_clause =>
            {
                (self.clause(i, c), after)
            }
            '\n' => (self.newline(i), after),
            ' ' if self.first && self.config.early_first_clause => (self.phrase_break(i), after),
            _ => (Decision::No, after),
        }
    }

    /// The space at byte `i`, before a word that opens a new phrase, in a first chunk that is
    /// long enough: a place to end it early when no punctuation came.
    fn phrase_break(&self, i: usize) -> Decision {
        let s = &self.buf;
        // After a letter only: not "9 and 5", not after punctuation (decided there).
        if !s[..i].chars().next_back().is_some_and(char::is_alphabetic)
            || self.chunk_len(i) < self.config.first_clause_min_chars.max(1)
        {
            return Decision::No;
        }
        let start = i + 1;
        let end = skip_while(s, start, char::is_alphabetic);
        let word = &s[start..end];
        if end == s.len() {
            // The word may still grow ("an" -> "and" -> "android"): wait if it could be one.
            return if PHRASE_OPENERS.iter().any(|w| w.starts_with(word)) {
                Decision::Wait
            } else {
                Decision::No
            };
        }
        let followed_by_space = char_at(s, end).is_some_and(char::is_whitespace);
        if followed_by_space && PHRASE_OPENERS.contains(&word) {
            Decision::Clause(i)
        } else {
            Decision::No
        }
    }

    /// A run of backticks: three or more open or close a code fence.
    fn fence(&self, i: usize) -> (Decision, usize) {
        let end = skip_while(&self.buf, i, |c| c == '`');
        if end == self.buf.len() {
            (Decision::Wait, i)
        } else if end - i >= 3 {
            (Decision::ToggleFence, end)
        } else {
            (Decision::No, end)
        }
    }

    /// `.` `!` `?` `;` `…` and runs of them (`?!`, `...`).
    fn terminator(&self, i: usize) -> (Decision, usize) {
        let s = &self.buf;
        let run_end = skip_while(s, i, |c| matches!(c, '.' | '!' | '?' | ';' | '…'));
        let end = skip_while(s, run_end, is_closer);
        let Some(next) = char_at(s, end) else {
            return (Decision::Wait, i);
        };
        // No whitespace after: a decimal, an address, a URL, a version, an inner initial.
        if !next.is_whitespace() {
            return (Decision::No, run_end);
        }
        let run = &s[i..run_end];
        let decision = if run == "." {
            self.period(i, end)
        } else if run.chars().all(|c| c == '.' || c == '…') {
            // An ellipsis before a lowercase word trails into the same sentence.
            self.sentence_if_next(end, |c| !c.is_lowercase())
        } else {
            Decision::Sentence(end)
        };
        (decision, run_end)
    }

    /// A single period at byte `i` followed (after closers, at `end`) by whitespace.
    fn period(&self, i: usize, end: usize) -> Decision {
        let s = &self.buf;
        let word_start = s[..i]
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
            .map_or(0, |(p, c)| p + c.len_utf8());
        let raw = &s[word_start..i];
        let word = raw.trim_start_matches(is_opener);
        let lower = word.to_lowercase();
        // "3p.m." reads as "p.m.".
        let bare = lower.trim_start_matches(|c: char| c.is_ascii_digit());
        if MAYBE_FINAL.contains(&bare) {
            return self.sentence_if_next(end, char::is_uppercase);
        }
        if BEFORE_NUMBER.contains(&lower.as_str()) {
            return self.sentence_if_next(end, |c| !c.is_ascii_digit());
        }
        let not_final = NEVER_FINAL.contains(&lower.as_str())
            || is_initial(word)
            || is_dotted_acronym(word)
            || (is_list_number(raw) && self.at_line_start(word_start));
        if not_final {
            Decision::No
        } else {
            Decision::Sentence(end)
        }
    }

    /// A sentence ending at `end` if the next word's first character satisfies `pred`.
    fn sentence_if_next(&self, end: usize, pred: impl Fn(char) -> bool) -> Decision {
        match self.next_word(end) {
            Next::Pending => Decision::Wait,
            Next::Blank => Decision::Sentence(end),
            Next::Char(c) if pred(c) => Decision::Sentence(end),
            Next::Char(_) => Decision::No,
        }
    }

    /// CJK full stops end a sentence without a following space.
    fn cjk_terminator(&self, i: usize) -> (Decision, usize) {
        let s = &self.buf;
        let run_end = skip_while(s, i, |c| {
            matches!(c, '。' | '！' | '？' | '；' | '!' | '?' | '.' | '…')
        });
        let end = skip_while(s, run_end, is_closer);
        if end == s.len() {
            // A closing quote may still follow.
            return (Decision::Wait, i);
        }
        (Decision::Sentence(end), run_end)
    }

    /// Clause punctuation, considered only for a reply's first chunk.
    fn clause(&self, i: usize, c: char) -> Decision {
        let s = &self.buf;
        let after = i + c.len_utf8();
        match c {
            ',' | ':' => {
                let end = skip_while(s, after, is_closer);
                match char_at(s, end) {
                    None => Decision::Wait,
                    // "1,000", "3:30", "https://".
                    Some(n) if !n.is_whitespace() => Decision::No,
                    // "1, 2": keep number lists together.
                    Some(_) if self.prev_non_space_is_digit(i) => {
                        self.clause_if_next(end, |n| !n.is_ascii_digit())
                    }
                    Some(_) => Decision::Clause(end),
                }
            }
            '，' | '：' => {
                let end = skip_while(s, after, is_closer);
                if end == s.len() {
                    Decision::Wait
                } else {
                    Decision::Clause(end)
                }
            }
            '—' => {
                let end = skip_while(s, i, |c| c == '—');
                let digit_before = self.prev_non_space_is_digit(i);
                self.clause_if_next(end, |n| !(digit_before && n.is_ascii_digit()))
            }
            // '-' and '–': only spaced (" - "), not a bullet, a hyphen or a minus ("5 - 3").
            _ => {
                let spaced_left = matches!(s[..i].chars().next_back(), Some(' ' | '\t'));
                let mid_line = s[..i]
                    .chars()
                    .rev()
                    .find(|&c| c != ' ' && c != '\t')
                    .is_some_and(|c| c != '\n' && c != '\r');
                if !spaced_left || !mid_line {
                    return Decision::No;
                }
                match char_at(s, after) {
                    None => Decision::Wait,
                    Some(n) if !n.is_whitespace() => Decision::No,
                    Some(_) if self.prev_non_space_is_digit(i) => Decision::No,
                    Some(_) => self.clause_if_next(after, |n| !n.is_ascii_digit()),
                }
            }
        }
    }

    /// A clause ending at `end` if the next word's first character satisfies `pred`.
    fn clause_if_next(&self, end: usize, pred: impl Fn(char) -> bool) -> Decision {
        match self.next_word(end) {
            Next::Pending => Decision::Wait,
            Next::Blank => Decision::Clause(end),
            Next::Char(c) if pred(c) => Decision::Clause(end),
            Next::Char(_) => Decision::No,
        }
    }

    /// A line break: blank lines end a chunk, markdown blocks force one.
    fn newline(&self, i: usize) -> Decision {
        if self.line_is_heading(i) {
            return Decision::Forced(i);
        }
        let (k, blank) = skip_ws(&self.buf, i);
        if blank {
            return Decision::Sentence(i);
        }
        if k == self.buf.len() {
            return Decision::Wait;
        }
        match block_marker(&self.buf[k..]) {
            Marker::Incomplete => Decision::Wait,
            Marker::Yes => Decision::Forced(i),
            Marker::No => Decision::No,
        }
    }

    /// Whether the line ending at byte `i` is a markdown heading (`# Title`).
    fn line_is_heading(&self, i: usize) -> bool {
        let before = &self.buf[..i];
        let line = match before.rfind('\n') {
            Some(p) => &before[p + 1..],
            None if self.buf_at_line_start => before,
            None => return false,
        };
        let line = line.trim_start();
        let hashes = line.chars().take_while(|&c| c == '#').count();
        // '#' is one byte, so `hashes` is also a byte offset.
        (1..=6).contains(&hashes) && line[hashes..].starts_with([' ', '\t'])
    }

    /// Whether only spaces separate byte `pos` from the start of its line.
    fn at_line_start(&self, pos: usize) -> bool {
        match self.buf[..pos]
            .chars()
            .rev()
            .find(|&c| c != ' ' && c != '\t')
        {
            None => self.buf_at_line_start,
            Some(c) => c == '\n',
        }
    }

    fn prev_non_space_is_digit(&self, i: usize) -> bool {
        self.buf[..i]
            .chars()
            .rev()
            .find(|c| !c.is_whitespace())
            .is_some_and(|c| c.is_ascii_digit())
    }

    /// The first non-space character at or after byte `from`.
    fn next_word(&self, from: usize) -> Next {
        let (k, blank) = skip_ws(&self.buf, from);
        if blank {
            return Next::Blank;
        }
        match char_at(&self.buf, k) {
            None => Next::Pending,
            Some(c) => Next::Char(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Xorshift64: reproducible random splits without a dependency.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    /// Cuts `text` at the given char-boundary byte offsets.
    fn cut(text: &str, mut cuts: Vec<usize>) -> Vec<&str> {
        cuts.push(text.len());
        let mut start = 0;
        let mut pieces = Vec::new();
        for end in cuts {
            pieces.push(&text[start..end]);
            start = end;
        }
        pieces
    }

    /// LLM-like tokens: whitespace leads a word, punctuation stands alone.
    fn tokens(text: &str) -> Vec<&str> {
        let mut cuts = Vec::new();
        let mut prev: Option<char> = None;
        for (i, c) in text.char_indices() {
            let starts_word = c.is_whitespace() && prev.is_some_and(|p| !p.is_whitespace());
            let punct = !c.is_alphanumeric() && !c.is_whitespace();
            let after_punct = prev.is_some_and(|p| !p.is_alphanumeric() && !p.is_whitespace());
            if i > 0 && (starts_word || punct || (after_punct && !c.is_whitespace())) {
                cuts.push(i);
            }
            prev = Some(c);
        }
        cut(text, cuts)
    }

    /// Every way of feeding `text` the tests compare: whole, per char, per word, per token, random.
    fn chunkings(text: &str) -> Vec<(String, Vec<&str>)> {
        let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).skip(1).collect();
        let mut ways = vec![
            ("whole".to_string(), vec![text]),
            ("chars".to_string(), cut(text, bounds.clone())),
            ("words".to_string(), text.split_inclusive(' ').collect()),
            ("tokens".to_string(), tokens(text)),
        ];
        for seed in 1..=4u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let cuts = bounds
                .iter()
                .copied()
                .filter(|_| rng.below(3) == 0)
                .collect();
            ways.push((format!("random seed {seed}"), cut(text, cuts)));
        }
        ways
    }

    fn feed(config: &SentenceConfig, pieces: &[&str]) -> Vec<String> {
        let mut buf = SentenceBuffer::new(config.clone());
        let mut out: Vec<String> = pieces.iter().flat_map(|p| buf.push(p)).collect();
        out.extend(buf.finish());
        out
    }

    /// Chunks of `text` under `config`, asserting that every way of feeding it agrees.
    fn chunks_with(config: &SentenceConfig, text: &str) -> Vec<String> {
        let whole = feed(config, &[text]);
        for (name, pieces) in chunkings(text) {
            assert_eq!(feed(config, &pieces), whole, "fed {name}: {pieces:?}");
        }
        whole
    }

    fn check(text: &str, expected: &[&str]) {
        assert_eq!(chunks_with(&SentenceConfig::default(), text), expected);
    }

    #[test]
    fn splits_at_question_mark_and_flushes_rest() {
        check(
            "Hello there, how are you doing today? I am fine.",
            &["Hello there, how are you doing today?", "I am fine."],
        );
    }

    #[test]
    fn short_sentence_joins_the_next() {
        check(
            "Sure. I can help with that.",
            &["Sure. I can help with that."],
        );
    }

    #[test]
    fn exclamation_and_question_marks_end_sentences() {
        check(
            "That is great news! Would you like to book it? Let me know soon.",
            &[
                "That is great news!",
                "Would you like to book it?",
                "Let me know soon.",
            ],
        );
    }

    #[test]
    fn semicolon_ends_a_sentence() {
        check(
            "The clinic opens at nine; the pharmacy opens at ten.",
            &["The clinic opens at nine;", "the pharmacy opens at ten."],
        );
    }

    #[test]
    fn terminator_runs_stay_together() {
        check(
            "Really?! That is wonderful news. Yes!!! We can do it.",
            &["Really?! That is wonderful news.", "Yes!!! We can do it."],
        );
    }

    #[test]
    fn unicode_ellipsis_before_capital_ends_sentence() {
        check(
            "Let me think about that… Okay, I found a slot.",
            &["Let me think about that…", "Okay, I found a slot."],
        );
    }

    #[test]
    fn ellipsis_before_lowercase_continues_the_sentence() {
        check(
            "I was thinking... maybe we could meet on Monday. Does that work?",
            &[
                "I was thinking... maybe we could meet on Monday.",
                "Does that work?",
            ],
        );
    }

    #[test]
    fn ellipsis_inside_a_word_is_not_a_boundary() {
        check(
            "Wait...what did you say about the visit? Tell me.",
            &["Wait...what did you say about the visit?", "Tell me."],
        );
    }

    #[test]
    fn closing_quotes_and_brackets_belong_to_the_sentence() {
        check(
            "He said \"see you soon.\" Then he left. (We open at nine.) Please come early.",
            &[
                "He said \"see you soon.\"",
                "Then he left.",
                "(We open at nine.)",
                "Please come early.",
            ],
        );
        check(
            "She replied ‘that is fine.’ Then we booked it.",
            &["She replied ‘that is fine.’", "Then we booked it."],
        );
    }

    #[test]
    fn titles_do_not_end_sentences() {
        check(
            "Dr. Smith will see you now. Mrs. Jones is next. Ms. Lee and Mr. Park wait.",
            &[
                "Dr. Smith will see you now.",
                "Mrs. Jones is next.",
                "Ms. Lee and Mr. Park wait.",
            ],
        );
        check(
            "It is Prof. Lee vs. Dr. Kim tonight at St. Mary's. Tickets are free.",
            &[
                "It is Prof. Lee vs. Dr. Kim tonight at St. Mary's.",
                "Tickets are free.",
            ],
        );
    }

    #[test]
    fn abbreviations_are_case_insensitive() {
        check(
            "I spoke with DR. Adams and mR. Brown today. They agree.",
            &["I spoke with DR. Adams and mR. Brown today.", "They agree."],
        );
    }

    #[test]
    fn eg_and_ie_do_not_end_sentences() {
        check(
            "Bring an ID, e.g. a passport. Cash, i.e. coins, is fine. E.g. Visa works.",
            &[
                "Bring an ID, e.g. a passport.",
                "Cash, i.e. coins, is fine.",
                "E.g. Visa works.",
            ],
        );
    }

    #[test]
    fn pm_inside_a_sentence_does_not_split() {
        check(
            "Your appointment is at 3:30 p.m. on Tuesday. See you then.",
            &[
                "Your appointment is at 3:30 p.m. on Tuesday.",
                "See you then.",
            ],
        );
    }

    #[test]
    fn pm_before_a_capitalised_word_ends_the_sentence() {
        check(
            "The clinic closes at 5 p.m. Then the night desk opens.",
            &["The clinic closes at 5 p.m.", "Then the night desk opens."],
        );
        check(
            "Come at 9 A.M. Bring your card. Or come at 10a.m. tomorrow.",
            &[
                "Come at 9 A.M.",
                "Bring your card.",
                "Or come at 10a.m. tomorrow.",
            ],
        );
    }

    #[test]
    fn etc_and_jr_end_a_sentence_only_before_a_capital() {
        check(
            "We sell apples, pears, etc. The shop opens at nine.",
            &["We sell apples, pears, etc.", "The shop opens at nine."],
        );
        check(
            "Bring forms, IDs, etc. and a pen. Then wait.",
            &["Bring forms, IDs, etc. and a pen.", "Then wait."],
        );
        check(
            "Martin Luther King Jr. was born in Atlanta. He was a pastor.",
            &[
                "Martin Luther King Jr. was born in Atlanta.",
                "He was a pastor.",
            ],
        );
    }

    #[test]
    fn room_and_number_abbreviations_before_digits() {
        check(
            "Please go to Rm. 204 on the second floor. Call ext. 12 if lost.",
            &[
                "Please go to Rm. 204 on the second floor.",
                "Call ext. 12 if lost.",
            ],
        );
    }

    #[test]
    fn initials_do_not_end_sentences() {
        check(
            "J. R. R. Tolkien wrote many books. They are long.",
            &["J. R. R. Tolkien wrote many books.", "They are long."],
        );
    }

    #[test]
    fn dotted_acronyms_do_not_end_sentences() {
        check(
            "The U.S. Army base is nearby. She moved to the U.S.A. in 1990. It was cold.",
            &[
                "The U.S. Army base is nearby.",
                "She moved to the U.S.A. in 1990.",
                "It was cold.",
            ],
        );
    }

    #[test]
    fn the_pronoun_i_is_not_an_initial() {
        check(
            "Yes, so do I. We can go together.",
            &["Yes, so do I.", "We can go together."],
        );
    }

    #[test]
    fn decimals_do_not_end_sentences() {
        check(
            "Pi is about 3.14 and e is 2.72. Both are irrational.",
            &["Pi is about 3.14 and e is 2.72.", "Both are irrational."],
        );
    }

    #[test]
    fn times_and_prices_stay_whole() {
        check(
            "We open at 8:30 and close at 17:45. It costs $29.95 plus $1,000.50 for the room. Is that okay?",
            &[
                "We open at 8:30 and close at 17:45.",
                "It costs $29.95 plus $1,000.50 for the room.",
                "Is that okay?",
            ],
        );
    }

    #[test]
    fn emails_urls_and_versions_stay_whole() {
        check(
            "Write to john.doe@example.com. See https://example.com/a.b and www.example.org for details. Update to v1.2.3 first.",
            &[
                "Write to john.doe@example.com.",
                "See https://example.com/a.b and www.example.org for details.",
                "Update to v1.2.3 first.",
            ],
        );
    }

    #[test]
    fn a_number_mid_line_can_end_a_sentence() {
        check(
            "I counted 3. Then I stopped counting.",
            &["I counted 3.", "Then I stopped counting."],
        );
    }

    #[test]
    fn newlines_become_spaces() {
        check(
            "This is line one\nand this  continues\tit. Next one here.",
            &["This is line one and this continues it.", "Next one here."],
        );
    }

    #[test]
    fn blank_line_ends_a_chunk() {
        check(
            "Here is the summary of it\n\nAnd here is more text.",
            &["Here is the summary of it", "And here is more text."],
        );
        check(
            "Hi!\n\nHow can I help you today?",
            &["Hi! How can I help you today?"],
        );
    }

    #[test]
    fn long_first_chunk_ends_before_a_phrase_opener() {
        check(
            "Doctor Chen works in dermatology and sees patients on Monday and Friday. Shall I book?",
            &[
                "Doctor Chen works in dermatology",
                "and sees patients on Monday and Friday.",
                "Shall I book?",
            ],
        );
        // Too short before the opener, a word that only starts like one, digits around it.
        check(
            "You and your son are welcome. The reception for android users is open.",
            &[
                "You and your son are welcome.",
                "The reception for android users is open.",
            ],
        );
        check(
            "The clinic is open every weekday 9 and 5 are the hours. Ok.",
            &[
                "The clinic is open every weekday 9 and 5 are the hours.",
                "Ok.",
            ],
        );
        // Off when early release is off.
        let late = SentenceConfig {
            early_first_clause: false,
            ..SentenceConfig::default()
        };
        assert_eq!(
            chunks_with(&late, "Doctor Chen works in dermatology and sees patients."),
            ["Doctor Chen works in dermatology and sees patients."]
        );
    }

    #[test]
    fn first_chunk_released_early_at_a_clause() {
        check(
            "Let me check the schedule for you, it will only take a moment. Thanks for waiting.",
            &[
                "Let me check the schedule for you,",
                "it will only take a moment.",
                "Thanks for waiting.",
            ],
        );
    }

    #[test]
    fn short_first_clause_waits_for_the_sentence() {
        check(
            "Sure, I can do that for you. Anything else?",
            &["Sure, I can do that for you.", "Anything else?"],
        );
    }

    #[test]
    fn only_the_first_chunk_splits_at_clauses() {
        let text = "Let me check the schedule for you, one moment please. After that, I will confirm the booking for you, okay?";
        check(
            text,
            &[
                "Let me check the schedule for you,",
                "one moment please.",
                "After that, I will confirm the booking for you, okay?",
            ],
        );
        let late = SentenceConfig {
            early_first_clause: false,
            ..SentenceConfig::default()
        };
        assert_eq!(
            chunks_with(&late, text),
            [
                "Let me check the schedule for you, one moment please.",
                "After that, I will confirm the booking for you, okay?"
            ]
        );
    }

    #[test]
    fn colon_and_dashes_are_clause_boundaries() {
        check(
            "Here is what I found for your visit: two open slots. Pick one.",
            &[
                "Here is what I found for your visit:",
                "two open slots.",
                "Pick one.",
            ],
        );
        check(
            "Your appointment is confirmed - see you on Monday.",
            &["Your appointment is confirmed -", "see you on Monday."],
        );
        check(
            "I found three open slots this week — Monday, Tuesday and Friday.",
            &[
                "I found three open slots this week —",
                "Monday, Tuesday and Friday.",
            ],
        );
    }

    #[test]
    fn no_clause_split_inside_numbers_times_or_arithmetic() {
        check(
            "We have seen 1,000 patients this year alone, and counting.",
            &[
                "We have seen 1,000 patients this year alone,",
                "and counting.",
            ],
        );
        check(
            "Choose one of the options numbered 1, 2 or 3 please.",
            &["Choose one of the options numbered 1, 2 or 3 please."],
        );
        check(
            "The answer to 15 - 3 is twelve, as you can see.",
            &["The answer to 15 - 3 is twelve,", "as you can see."],
        );
        check(
            "A well-known and long-standing clinic at 10:30 is here. Yes.",
            &[
                "A well-known and long-standing clinic at 10:30 is here.",
                "Yes.",
            ],
        );
    }

    #[test]
    fn cjk_terminators_need_no_space() {
        check(
            "你好！今天天气很好。我们去公园吧。",
            &["你好！今天天气很好。", "我们去公园吧。"],
        );
        check(
            "他说：「我明天来。」然后他走了很久很久。",
            &["他说：「我明天来。」", "然后他走了很久很久。"],
        );
    }

    #[test]
    fn multibyte_text_and_emoji() {
        check(
            "Café crème is très bon. Ça va très bien, merci.",
            &["Café crème is très bon.", "Ça va très bien, merci."],
        );
        check(
            "Great news 🎉! Your visit is booked 👍. See you.",
            &["Great news 🎉!", "Your visit is booked 👍.", "See you."],
        );
    }

    #[test]
    fn markdown_bullets_start_chunks() {
        check(
            "Here are your options:\n- Monday at 9 a.m.\n- Tuesday at 3 p.m.\nWhich one works?",
            &[
                "Here are your options:",
                "- Monday at 9 a.m.",
                "- Tuesday at 3 p.m.",
                "Which one works?",
            ],
        );
    }

    #[test]
    fn numbered_items_start_chunks_and_their_numbers_do_not_end_sentences() {
        check(
            "Steps:\n1. Fill in the form.\n2. Ok.\n3. Hand it in at the desk.",
            &[
                "Steps:",
                "1. Fill in the form.",
                "2. Ok.",
                "3. Hand it in at the desk.",
            ],
        );
    }

    #[test]
    fn heading_lines_are_chunks_of_their_own() {
        check(
            "## Opening hours\nWe open at nine every weekday. Welcome.",
            &[
                "## Opening hours",
                "We open at nine every weekday.",
                "Welcome.",
            ],
        );
        check(
            "# Hours\n\nWe open at nine every weekday.",
            &["# Hours", "We open at nine every weekday."],
        );
    }

    #[test]
    fn code_fences_are_never_split() {
        check(
            "Run this:\n```\nprint(\"a. b. c.\")\nx = 1. y\n\n```\nThat prints the letters. Done.",
            &[
                "Run this:",
                "``` print(\"a. b. c.\") x = 1. y ``` That prints the letters.",
                "Done.",
            ],
        );
    }

    #[test]
    fn emphasis_marks_after_a_terminator_belong_to_it() {
        check(
            "**Important:** bring your card. **Note.** It expires soon.",
            &[
                "**Important:** bring your card.",
                "**Note.** It expires soon.",
            ],
        );
    }

    #[test]
    fn sentence_released_as_soon_as_whitespace_follows() {
        let mut buf = SentenceBuffer::new(SentenceConfig::default());
        assert!(buf.push("Hi Dr. Smith.").is_empty());
        assert_eq!(buf.push(" "), ["Hi Dr. Smith."]);
        assert!(buf.push("Your appointment").is_empty());
        assert_eq!(buf.finish().as_deref(), Some("Your appointment"));
    }

    #[test]
    fn ambiguous_abbreviation_waits_for_the_next_word() {
        let mut buf = SentenceBuffer::new(SentenceConfig::default());
        assert!(buf.push("It ends at 5 p.m. ").is_empty());
        assert_eq!(buf.push("Then"), ["It ends at 5 p.m."]);
        assert!(buf.push(" we close").is_empty());
        assert_eq!(buf.finish().as_deref(), Some("Then we close"));
    }

    #[test]
    fn blank_line_releases_without_waiting_for_more() {
        let mut buf = SentenceBuffer::new(SentenceConfig::default());
        assert!(buf.push("The first paragraph is here").is_empty());
        assert_eq!(buf.push("\n\n"), ["The first paragraph is here"]);
    }

    #[test]
    fn finish_trims_and_returns_none_for_blank() {
        let mut buf = SentenceBuffer::new(SentenceConfig::default());
        assert!(buf.push("  \n ").is_empty());
        assert_eq!(buf.finish(), None);
        assert!(buf.push("  Thank you, Mr. ").is_empty());
        assert_eq!(buf.finish().as_deref(), Some("Thank you, Mr."));
        assert_eq!(buf.finish(), None);
    }

    #[test]
    fn reset_forgets_text_and_makes_the_next_chunk_first() {
        let mut buf = SentenceBuffer::new(SentenceConfig::default());
        assert_eq!(
            buf.push("This first sentence is long enough. "),
            ["This first sentence is long enough."]
        );
        // Not the first chunk any more: the clause does not release it.
        assert!(buf.push("Checking your records now, one moment").is_empty());
        buf.reset();
        assert!(buf.push("Checking your records now,").is_empty());
        assert_eq!(buf.push(" one moment"), ["Checking your records now,"]);
        assert_eq!(buf.finish().as_deref(), Some("one moment"));
        // finish() also starts afresh: the early clause applies again.
        assert_eq!(
            buf.push("Checking your records now, one"),
            ["Checking your records now,"]
        );
    }

    #[test]
    fn min_chars_is_configurable() {
        let eager = SentenceConfig {
            min_chars: 1,
            ..SentenceConfig::default()
        };
        assert_eq!(
            chunks_with(&eager, "Sure. I can. Okay."),
            ["Sure.", "I can.", "Okay."]
        );
        let patient = SentenceConfig {
            min_chars: 30,
            ..SentenceConfig::default()
        };
        assert_eq!(
            chunks_with(&patient, "That is fine. We will see. Goodbye now, friend."),
            ["That is fine. We will see. Goodbye now,", "friend."]
        );
    }

    #[test]
    fn output_is_identical_for_any_chunking() {
        let corpus = [
            "Hi Dr. Smith. Your appointment is at 3:30 p.m. on Tuesday, the 4th. Is that still okay? Great!",
            "Let me look that up for you, one moment… Okay. I found 2 slots: 9 a.m. and 1 p.m. Which one?",
            "Sure!\n\nHere are the steps:\n1. Call ext. 204.\n2. Ask for Prof. J. R. Smith Jr. He knows.\n3. Done",
            "## Prices\n- Visit: $29.95\n- Lab (e.g. blood work): $1,000.50 – roughly\n\nSee www.clinic.org/faq.html. Bye.",
            "Use `ls`:\n```sh\nls -la. ; echo \"x. Y\"\n```\nThat lists files... in detail. 好的。谢谢！再见。",
            "The U.S.A. office (john.doe@example.com) runs v1.2.3 — see https://a.b/c?d=e; it works!! Really?! Yes…",
        ];
        let configs = [
            SentenceConfig::default(),
            SentenceConfig {
                early_first_clause: false,
                ..SentenceConfig::default()
            },
            SentenceConfig {
                min_chars: 1,
                first_clause_min_chars: 5,
                early_first_clause: true,
            },
        ];
        for text in corpus {
            let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).skip(1).collect();
            for config in &configs {
                let whole = chunks_with(config, text);
                // No text is lost or invented: the chunks are the input, re-spaced.
                let squeeze = |s: &str| s.split_whitespace().collect::<String>();
                assert_eq!(squeeze(&whole.concat()), squeeze(text));
                for seed in 1..=50u64 {
                    let mut rng = Rng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D));
                    let cuts = bounds
                        .iter()
                        .copied()
                        .filter(|_| rng.below(4) == 0)
                        .collect();
                    let pieces = cut(text, cuts);
                    assert_eq!(feed(config, &pieces), whole, "seed {seed}: {pieces:?}");
                }
            }
        }
    }
}
