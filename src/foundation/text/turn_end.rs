//! Has the caller finished? A judgement of the transcript heard at the first pause, so the end
//! of a turn is decided by what was said rather than by a fixed silence: "is Doctor Patel free
//! on Monday" is done, "I'd like to book with..." and "my date of birth is March" are not.
//!
//! The rules read only words every request shares (conjunctions, prepositions, a name or date
//! cue left open), never a domain's vocabulary, so they serve any brain.

/// What the words at a pause say about the turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TurnVerdict {
    /// A whole request, question or answer: answer as soon as the caller is quiet.
    Complete,
    /// Trailing off mid-sentence: wait longer for the rest.
    Incomplete,
    /// Nothing to go on (no words, a greeting alone, a breath at a comma): keep the usual wait.
    Unsure,
}

/// Words a sentence does not end on.
#[rustfmt::skip]
const OPEN_ENDS: &[&str] = &[
    "and", "or", "but", "so", "because", "with", "to", "for", "of", "on", "at", "in", "from",
    "by", "about", "than", "the", "a", "an", "my", "your", "his", "her", "our", "their", "is",
    "are", "was", "were", "be", "am", "i'm", "im", "it's", "its", "i", "we", "if", "this", "um",
    "uh", "er", "erm", "hmm", "like", "maybe", "also", "can", "could", "would", "will", "should",
    "i'd", "id", "i'll", "called", "named", "next", "before", "after", "around", "between",
    "until", "till", "either", "whether",
];

/// Words that end a sentence only as a noun or verb: open unless the recogniser closed it
/// ("can I see doctor" vs "do you have an eye doctor?").
const OPEN_IF_UNCLOSED: &[&str] = &["doctor", "dr", "mister", "mr", "mrs", "ms", "miss", "see"];

/// Prepositions a question may end on, when it opens with a question word.
const STRANDED: &[&str] = &[
    "in", "on", "at", "for", "with", "to", "from", "about", "of", "by",
];
const WH: &[&str] = &["what", "which", "who", "whom", "where", "when", "how"];
/// Phrases that open a detail still to come ("my name is", "born on").
#[rustfmt::skip]
const OPEN_PHRASES: &[&str] = &[
    "name is", "birth is", "date of birth", "born on", "born in", "birthday is", "number is",
    "let me think", "let me see", "hang on", "one second", "just a second",
];

/// Words that open a turn more often than they make one ("Hello, ... I'd like to book";
/// "Yes, | please book it", "No, | I meant Tuesday": a bare yes or no at a breath is taken
/// for a whole answer, and the rest then cuts into the agent's reply): alone, they keep the
/// usual wait.
#[rustfmt::skip]
const OPENERS: &[&str] = &[
    "hello", "hi", "hey", "hiya", "morning", "afternoon", "evening", "good", "there", "okay",
    "ok", "so", "well", "right", "alright", "oh", "yeah", "now", "sorry", "excuse", "me",
    "yes", "yep", "no", "nope", "sure",
];

const MONTHS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// The words' verdict with the brain's beside it (see `ChatModel::judge_turn`): words that
/// trail off hold the turn whatever the brain thinks; otherwise the brain, which knows what it
/// asked, decides ("My name is John Smith." is whole words but half of "your name and date of
/// birth"); with no view from the brain the words stand.
pub fn with_brain(words: TurnVerdict, brain: Option<TurnVerdict>) -> TurnVerdict {
    match (words, brain) {
        (TurnVerdict::Incomplete, _) => TurnVerdict::Incomplete,
        (_, Some(b)) => b,
        (w, None) => w,
    }
}

/// Judge the words heard so far.
pub fn judge(text: &str) -> TurnVerdict {
    let trimmed = text.trim();
    // A recogniser's own mark of speech trailing off.
    if trimmed.ends_with("...") || trimmed.ends_with('…') {
        return TurnVerdict::Incomplete;
    }
    // A comma says a breath, not an end: Whisper puts one after whole requests ("which doctors
    // work in cardiology,") and inside them ("My name is John Smith, | and my date of birth").
    let comma = trimmed.ends_with(',');
    let closed = trimmed.ends_with(['?', '.', '!']);
    let question = trimmed.ends_with('?');
    let words: Vec<String> = trimmed
        .split(|c: char| c.is_whitespace() || c == '-')
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'')
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect();
    let Some(last) = words.last() else {
        return TurnVerdict::Unsure;
    };
    if words.iter().all(|w| OPENERS.contains(&w.as_str())) {
        return TurnVerdict::Unsure;
    }
    let tail = words[words.len().saturating_sub(3)..].join(" ");
    let last = last.as_str();
    // "What does Doctor Hassan specialise in?": a question may end on its preposition.
    let stranded = question
        && STRANDED.contains(&last)
        && words.first().is_some_and(|w| WH.contains(&w.as_str()));
    let open = (OPEN_ENDS.contains(&last) && !stranded)
        // A title or verb that ends a closed sentence ("do you have an eye doctor?") is whole.
        || (OPEN_IF_UNCLOSED.contains(&last) && !closed)
        || OPEN_PHRASES.iter().any(|p| tail.ends_with(p))
        // "March" without its day; "May" alone is a yes-no question's first word too, but
        // a request does not end on it either.
        || MONTHS.contains(&last);
    // "... my date of birth is March 4th." may go on with its year after a breath.
    let day = |w: &str| {
        let digits = w.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        !digits.is_empty() && digits.len() <= 2 && digits.chars().all(|c| c.is_ascii_digit())
    };
    let bare_date =
        words.len() >= 2 && day(last) && MONTHS.contains(&words[words.len() - 2].as_str());
    if open {
        TurnVerdict::Incomplete
    } else if comma || bare_date {
        TurnVerdict::Unsure
    } else {
        TurnVerdict::Complete
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_requests_questions_and_answers_are_complete() {
        for t in [
            "Is Doctor Patel free on Monday?",
            "I'd like to book with Doctor Patel.",
            "My date of birth is March 4th, 1985.",
            "Yes, please.",
            "no thanks",
            "John Smith",
            "Tuesday at three",
            "Can you cancel my appointment please?",
            "I'll take that one then",
            "thank you",
            "sorry, what?",
            "Do you have an eye doctor?",
            "What does Dr. Hassen specialize in?",
            "Who should I speak to?",
        ] {
            assert_eq!(judge(t), TurnVerdict::Complete, "{t}");
        }
    }

    #[test]
    fn speech_trailing_off_is_incomplete() {
        for t in [
            "I'd like to book with",
            "I'd like to book with...",
            "my date of birth is",
            "My name is",
            "it's for my knee and",
            "my date of birth is March",
            "Can I see Doctor",
            "I need an appointment on,",
            "um, let me think",
            "Is there anything on Tuesday or",
            "Is Dhaka or Akhafar free-on?",
            "Can I see a children's doctor on?",
            "Hello, I would like to book an appointment with.",
        ] {
            assert_eq!(judge(t), TurnVerdict::Incomplete, "{t}");
        }
    }

    #[test]
    fn no_words_or_a_greeting_alone_is_no_evidence() {
        for t in [
            "Hello.",
            "Hi there",
            "Good morning!",
            "Sorry?",
            // A bare yes or no: "Yes, | please book it."
            "Yes.",
            "No.",
            // A comma: a breath inside the request as often as after it.
            "which doctors work in cardiology,",
            "My name is John Smith,",
            "before that,",
            "my date of birth is March 4th.",
        ] {
            assert_eq!(judge(t), TurnVerdict::Unsure, "{t}");
        }
        assert_eq!(judge(""), TurnVerdict::Unsure);
        assert_eq!(judge("  . "), TurnVerdict::Unsure);
    }

    #[test]
    fn the_brain_decides_unless_the_words_trail_off() {
        use TurnVerdict::*;
        // "My name is John Smith." when a name and a birth date were asked.
        assert_eq!(with_brain(Complete, Some(Incomplete)), Incomplete);
        // "My date of birth is March 4th, 1985," is all that was asked.
        assert_eq!(with_brain(Unsure, Some(Complete)), Complete);
        assert_eq!(with_brain(Incomplete, Some(Complete)), Incomplete);
        for words in [Complete, Incomplete, Unsure] {
            assert_eq!(with_brain(words, None), words);
        }
    }
}
