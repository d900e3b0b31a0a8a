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
//!   is [`SentenceConfig::first_clause_min_chars`] long: that cuts time-to-first-audio.
//! - Released chunks are trimmed and their internal whitespace (newlines included) collapsed.

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

/// Abbreviations after which a period never ends a sentence (a name or an example follows).
const NEVER_FINAL: &[&str] = &[
    "dr", "mr", "mrs", "ms", "prof", "st", "mt", "vs", "e.g", "i.e", "cf", "approx",
];
/// Abbreviations that often close a sentence: they end one only before a capitalised word.
const MAYBE_FINAL: &[&str] = &["a.m", "p.m", "etc", "jr", "sr", "inc", "ltd", "ph.d"];
/// Abbreviations followed by a number (`Rm. 204`, `ext. 12`): no sentence end before a digit.
const BEFORE_NUMBER: &[&str] = &[
    "no", "nos", "vol", "ext", "apt", "rm", "ste", "fig", "pg", "pp",
];

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

/// Whether a markdown block marker starts a line.
enum Marker {
    Incomplete,
    Yes,
    No,
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
            _ => (Decision::No, after),
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
        if NEVER_FINAL.contains(&lower.as_str()) {
            Decision::No
        } else if MAYBE_FINAL.contains(&bare) {
            self.sentence_if_next(end, char::is_uppercase)
        } else if BEFORE_NUMBER.contains(&lower.as_str()) {
            self.sentence_if_next(end, |c| !c.is_ascii_digit())
        } else if is_initial(word) || is_dotted_acronym(word) {
            Decision::No
        } else if is_list_number(raw) && self.at_line_start(word_start) {
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
        match self.buf[..pos].chars().rev().find(|&c| c != ' ' && c != '\t') {
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

/// Trims and collapses every whitespace run (newlines included) to one space.
fn normalize(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn char_at(s: &str, i: usize) -> Option<char> {
    s[i..].chars().next()
}

/// Byte offset of the first character at or after `from` that fails `pred`.
fn skip_while(s: &str, from: usize, pred: impl Fn(char) -> bool) -> usize {
    s[from..]
        .char_indices()
        .find(|&(_, c)| !pred(c))
        .map_or(s.len(), |(off, _)| from + off)
}

/// Skips whitespace from `from`: returns where it stops and whether it crossed a blank line
/// (two line breaks; then it stops at the second one, as nothing after it matters).
fn skip_ws(s: &str, from: usize) -> (usize, bool) {
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
fn is_closer(c: char) -> bool {
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
fn is_opener(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | '“' | '‘' | '(' | '[' | '{' | '«' | '‹' | '*' | '_' | '¿' | '¡'
    )
}

/// A single capital letter, as in "J. R. R. Tolkien" ("I" is a word, not an initial).
fn is_initial(word: &str) -> bool {
    let mut chars = word.chars();
    matches!((chars.next(), chars.next()), (Some(c), None) if c.is_uppercase() && c != 'I')
}

/// Single letters joined by periods: "U.S.A", "D.C".
fn is_dotted_acronym(word: &str) -> bool {
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
fn is_list_number(word: &str) -> bool {
    (1..=3).contains(&word.len()) && word.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `rest` (the start of a line, after indentation) begins a markdown block.
fn block_marker(rest: &str) -> Marker {
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
