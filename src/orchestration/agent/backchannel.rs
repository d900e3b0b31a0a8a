//! Telling "go on" from "stop": what the caller says over the agent, read as a backchannel
//! ("mm-hmm", "right") that should not cut the reply off, or as a real interruption.

/// Said over the agent, these mean "go on", not "stop".
const BACKCHANNELS: &[&str] = &[
    "mm hmm", "mhm", "mm", "hmm", "uh huh", "yeah", "yep", "okay", "ok", "right", "i see", "sure",
    "got it", "go on", "uh", "um",
];

/// Of the backchannels, the ones that also answer a question ("Shall I book it?" "Yeah.").
const ANSWERS: &[&str] = &["yeah", "yep", "okay", "ok", "right", "sure", "got it"];

/// True when `text`, said over the agent after the caller heard `heard`, means "go on": no
/// words, or only backchannel words, except that a yes-word right after the agent asked a
/// question is the caller's answer.
pub fn is_backchannel_after(heard: &str, text: &str) -> bool {
    if !is_backchannel(text) {
        return false;
    }
    let asked = heard
        .trim_end()
        .trim_end_matches(super::INTERRUPTED_MARK.trim())
        .trim_end()
        .ends_with('?');
    !(asked && ANSWERS.contains(&normalized(text).as_str()))
}

/// True when a transcript holds no words, or only backchannel words.
pub fn is_backchannel(text: &str) -> bool {
    let norm = normalized(text);
    norm.is_empty() || BACKCHANNELS.contains(&norm.as_str())
}

/// Lower case, letters, digits and single spaces.
fn normalized(text: &str) -> String {
    let norm: String = text
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == ' ' {
                c
            } else {
                ' '
            }
        })
        .collect();
    norm.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backchannels_go_on_unless_they_answer_a_question() {
        assert!(is_backchannel("Mm-hmm."));
        assert!(is_backchannel(""));
        assert!(!is_backchannel("Wait, stop."));
        let told = "Doctor Patel is free on Monday at 9, 9:30 and";
        assert!(is_backchannel_after(told, "Yeah."));
        assert!(is_backchannel_after(told, "uh huh"));
        let asked = "Shall I book it? I can also";
        assert!(
            is_backchannel_after(asked, "Yeah."),
            "the question was not the end"
        );
        let asked = "Just to confirm: Doctor Patel on Monday at 10 AM. Shall I book it?";
        assert!(!is_backchannel_after(asked, "Yeah."));
        assert!(!is_backchannel_after(
            &format!("{asked} [interrupted]"),
            "Sure"
        ));
        assert!(is_backchannel_after(asked, "Mm-hmm."));
    }
}
