//! The terminal view of a running session: the agent's state, the caller's words as they are
//! recognised, the agent's words as they are spoken, tool calls, and a latency line per turn.
//!
//! On a terminal, a live line at the bottom shows the state and the partial transcript, rewritten
//! in place with plain ANSI codes; everything else scrolls above it. Elsewhere (a pipe, a file,
//! `TERM=dumb`, `NO_COLOR`) the view degrades to plain lines without partials.

use std::io::{self, IsTerminal, Write};

use crossbeam_channel::Receiver;

use crate::orchestration::pipeline::{AgentState, Event, TurnReport};

/// How the view writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Colours and a live line rewritten in place.
    Ansi,
    /// One plain line per thing that happened.
    Plain,
}

impl Style {
    /// ANSI when stdout is a terminal that takes it.
    pub fn detect() -> Self {
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        if io::stdout().is_terminal() && !dumb && !no_color {
            Self::Ansi
        } else {
            Self::Plain
        }
    }
}

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const MAGENTA: &str = "\x1b[35m";
const CYAN: &str = "\x1b[36m";
/// Back to the start of the line and erase it.
const CLEAR_LINE: &str = "\r\x1b[2K";
/// The live line keeps the end of a long partial, so it never wraps (wrapping breaks `\r`).
const LIVE_CHARS: usize = 70;
/// Long tool results are cut in the view (the turn report keeps them whole).
const RESULT_CHARS: usize = 160;

/// What the view calls each state.
pub fn state_label(state: AgentState) -> &'static str {
    match state {
        AgentState::Idle => "ready",
        AgentState::Listening => "listening",
        AgentState::Processing => "thinking",
        AgentState::Speaking => "speaking",
        AgentState::Interrupted => "interrupted",
    }
}

fn state_colour(state: AgentState) -> &'static str {
    match state {
        AgentState::Idle => DIM,
        AgentState::Listening => GREEN,
        AgentState::Processing => YELLOW,
        AgentState::Speaking => CYAN,
        AgentState::Interrupted => RED,
    }
}

/// `s` cut to at most `n` characters, keeping the start (`…` marks the cut).
fn head(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

/// `s` cut to at most `n` characters, keeping the end.
fn tail(s: &str, n: usize) -> String {
    let count = s.chars().count();
    if count <= n {
        s.to_string()
    } else {
        format!("…{}", s.chars().skip(count - n).collect::<String>())
    }
}

/// Renders events one by one; keeps what the live line shows.
pub struct ConsoleView {
    style: Style,
    state: AgentState,
    partial: Option<String>,
    /// The live line is on screen (ANSI only).
    live_shown: bool,
    /// The turn whose agent text is being printed (its later chunks are indented).
    agent_turn: Option<u64>,
}

impl ConsoleView {
    pub fn new(style: Style) -> Self {
        Self {
            style,
            state: AgentState::Idle,
            partial: None,
            live_shown: false,
            agent_turn: None,
        }
    }

    fn paint(&self, colour: &str, text: &str) -> String {
        match self.style {
            Style::Ansi => format!("{colour}{text}{RESET}"),
            Style::Plain => text.to_string(),
        }
    }

    /// Print a line that stays, keeping the live line below it.
    fn line(&mut self, out: &mut dyn Write, text: &str) -> io::Result<()> {
        if self.style == Style::Ansi {
            writeln!(out, "{CLEAR_LINE}{text}")?;
            self.live_shown = false;
            self.draw_live(out)
        } else {
            writeln!(out, "{text}")
        }
    }

    fn draw_live(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if self.style != Style::Ansi {
            return Ok(());
        }
        let state = self.paint(
            state_colour(self.state),
            &format!("[{}]", state_label(self.state)),
        );
        let partial = match &self.partial {
            Some(p) => format!(
                " {}",
                self.paint(DIM, &format!("you: {}", tail(p, LIVE_CHARS)))
            ),
            None => String::new(),
        };
        write!(out, "{CLEAR_LINE}{state}{partial}")?;
        self.live_shown = true;
        Ok(())
    }

    /// Render one event.
    pub fn render(&mut self, event: &Event, out: &mut dyn Write) -> io::Result<()> {
        match event {
            Event::State { state } => {
                if *state == self.state {
                    return Ok(());
                }
                self.state = *state;
                if *state == AgentState::Listening {
                    self.partial = None;
                }
                match self.style {
                    Style::Ansi => self.draw_live(out),
                    Style::Plain => writeln!(out, "[{}]", state_label(*state)),
                }
            }
            Event::Transcript { text, is_final, .. } => {
                if !is_final {
                    self.partial = Some(text.clone());
                    return self.draw_live(out);
                }
                self.partial = None;
                if text.trim().is_empty() {
                    return self.draw_live(out);
                }
                let who = self.paint(BOLD, "you:");
                self.line(out, &format!("{who} {text}"))
            }
            Event::AgentText { turn, text } => {
                let prefix = if self.agent_turn == Some(*turn) {
                    "      ".to_string()
                } else {
                    self.agent_turn = Some(*turn);
                    self.paint(CYAN, "agent:")
                };
                self.line(out, &format!("{prefix} {text}"))
            }
            Event::ToolCall {
                name,
                arguments,
                result,
                ..
            } => {
                let call = self.paint(MAGENTA, &format!("  tool {name}"));
                let result = head(&result.to_string(), RESULT_CHARS);
                self.line(out, &format!("{call}({arguments}) -> {result}"))
            }
            Event::AgentDone { interrupted, .. } => {
                if *interrupted {
                    let cut = self.paint(RED, "  (interrupted)");
                    self.line(out, &cut)
                } else {
                    Ok(())
                }
            }
            Event::Metrics(report) => {
                if report.interrupted && !report.played_text.is_empty() {
                    let heard = format!("  heard before the cut: {}", report.played_text);
                    let heard = self.paint(DIM, &heard);
                    self.line(out, &heard)?;
                }
                let latency = format!("  turn {}: {}", report.turn, report.latency_line());
                let latency = self.paint(DIM, &latency);
                self.line(out, &latency)
            }
            Event::Error { stage, message } => {
                let text = self.paint(RED, &format!("! {stage}: {message}"));
                self.line(out, &text)
            }
            Event::AgentSpeaking { .. } | Event::Clear => Ok(()),
        }
    }

    /// Take the live line off the screen (before a summary is printed).
    pub fn finish(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if self.live_shown {
            write!(out, "{CLEAR_LINE}")?;
            self.live_shown = false;
        }
        out.flush()
    }
}

/// Render a session's events until every sender is gone (the session ended), in the style
/// stdout supports. Used by `voice-agent mic`; any caller writing to stdout can use it.
pub fn render_events(rx: Receiver<Event>, out: impl Write) -> io::Result<()> {
    render_events_with(rx, out, Style::detect())
}

/// [`render_events`] in a given style.
pub fn render_events_with(
    rx: Receiver<Event>,
    mut out: impl Write,
    style: Style,
) -> io::Result<()> {
    let mut view = ConsoleView::new(style);
    for event in rx.iter() {
        view.render(&event, &mut out)?;
        out.flush()?;
    }
    view.finish(&mut out)
}

/// Closing lines for a session: turns, interruptions, tool calls, time to first audio.
pub fn summary_lines(reports: &[TurnReport]) -> Vec<String> {
    let interrupted = reports.iter().filter(|r| r.interrupted).count();
    let tools: usize = reports.iter().map(|r| r.tool_calls.len()).sum();
    let mut lines = vec![format!(
        "{} turn(s), {interrupted} interrupted, {tools} tool call(s)",
        reports.len()
    )];
    let mut ttfa: Vec<f64> = reports.iter().filter_map(|r| r.latency.ttfa_ms).collect();
    if !ttfa.is_empty() {
        ttfa.sort_by(f64::total_cmp);
        let median = if ttfa.len() % 2 == 1 {
            ttfa[ttfa.len() / 2]
        } else {
            (ttfa[ttfa.len() / 2 - 1] + ttfa[ttfa.len() / 2]) / 2.0
        };
        lines.push(format!(
            "time to first audio: median {median:.0} ms (min {:.0}, max {:.0})",
            ttfa[0],
            ttfa[ttfa.len() - 1]
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orchestration::pipeline::turn::Turn;
    use serde_json::json;

    fn report(turn: u64, interrupted: bool, ttfa: Option<f64>) -> TurnReport {
        let t = Turn::new(turn);
        t.set_transcript("book me with doctor patel", false);
        t.push_agent_text("Doctor Patel is free on Tuesday at nine.");
        let mut r = t.report(
            if interrupted { "Doctor Patel is" } else { "" },
            interrupted,
        );
        r.latency.ttfa_ms = ttfa;
        r.latency.stt_ms = Some(120.0);
        r
    }

    fn script() -> Vec<Event> {
        vec![
            Event::State {
                state: AgentState::Listening,
            },
            Event::Transcript {
                turn: 1,
                text: "book me".into(),
                is_final: false,
            },
            Event::Transcript {
                turn: 1,
                text: "book me with doctor".into(),
                is_final: false,
            },
            Event::Transcript {
                turn: 1,
                text: "book me with doctor patel".into(),
                is_final: true,
            },
            Event::State {
                state: AgentState::Processing,
            },
            Event::ToolCall {
                turn: 1,
                name: "find_slots".into(),
                arguments: json!({"doctor": "patel"}),
                result: json!({"slots": ["Tue 09:00"]}),
            },
            Event::State {
                state: AgentState::Speaking,
            },
            Event::AgentSpeaking { turn: 1 },
            Event::AgentText {
                turn: 1,
                text: "Doctor Patel is free".into(),
            },
            Event::AgentText {
                turn: 1,
                text: "on Tuesday at nine.".into(),
            },
            Event::State {
                state: AgentState::Interrupted,
            },
            Event::Clear,
            Event::AgentDone {
                turn: 1,
                interrupted: true,
            },
            Event::Metrics(Box::new(report(1, true, Some(812.0)))),
            Event::Error {
                stage: "tts".into(),
                message: "voice missing".into(),
            },
        ]
    }

    fn render(style: Style) -> String {
        let (tx, rx) = crossbeam_channel::unbounded();
        for e in script() {
            tx.send(e).unwrap();
        }
        drop(tx);
        let mut out = Vec::new();
        render_events_with(rx, &mut out, style).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn plain_lines_show_states_finals_agent_text_tools_and_latency() {
        let text = render(Style::Plain);
        let latency = report(1, true, Some(812.0)).latency_line();
        assert!(latency.contains("812"), "{latency}");
        let want = format!(
            "\
[listening]
you: book me with doctor patel
[thinking]
  tool find_slots({{\"doctor\":\"patel\"}}) -> {{\"slots\":[\"Tue 09:00\"]}}
[speaking]
agent: Doctor Patel is free
       on Tuesday at nine.
[interrupted]
  (interrupted)
  heard before the cut: Doctor Patel is
  turn 1: {latency}
! tts: voice missing
"
        );
        assert_eq!(text, want);
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn ansi_rewrites_the_live_line_in_place() {
        let text = render(Style::Ansi);
        // Partials replace each other on the live line: no newline between them.
        let a = text.find("you: book me").unwrap();
        let b = text.find("you: book me with doctor\x1b").unwrap();
        assert!(a < b);
        assert!(!text[a..b].contains('\n'), "{:?}", &text[a..b]);
        // The final transcript is a line of its own, after the live line was erased.
        assert!(text.contains("\r\x1b[2K\x1b[1myou:\x1b[0m book me with doctor patel\n"));
        for label in ["[listening]", "[thinking]", "[speaking]", "[interrupted]"] {
            assert!(text.contains(label), "{label}");
        }
        // The live line is erased at the end.
        assert!(text.ends_with("\r\x1b[2K"));
    }

    #[test]
    fn long_texts_are_cut_for_the_screen() {
        assert_eq!(head("abcdef", 3), "abc…");
        assert_eq!(tail("abcdef", 3), "…def");
        assert_eq!(head("abc", 3), "abc");
    }

    #[test]
    fn summary_counts_turns_and_takes_the_median_ttfa() {
        let lines = summary_lines(&[
            report(1, false, Some(700.0)),
            report(2, true, Some(900.0)),
            report(3, false, Some(1_300.0)),
            report(4, false, None),
        ]);
        assert_eq!(lines[0], "4 turn(s), 1 interrupted, 0 tool call(s)");
        assert_eq!(
            lines[1],
            "time to first audio: median 900 ms (min 700, max 1300)"
        );
        assert_eq!(
            summary_lines(&[]),
            vec!["0 turn(s), 0 interrupted, 0 tool call(s)"]
        );
    }
}
