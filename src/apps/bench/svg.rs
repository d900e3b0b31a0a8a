//! The bench's chart as a standalone SVG: the latency waterfall of a typical turn of each run
//! (the turn whose TTFA is nearest the median), and the TTFA of every turn of each run as a
//! strip, streaming and turn-based one above the other.

use std::fmt::Write;

use super::report::{BenchReport, PipelineRun};

const WIDTH: f64 = 960.0;
const LEFT: f64 = 270.0;
const RIGHT: f64 = 40.0;
const ROW: f64 = 18.0;
/// Height of one run's strip of TTFA dots (name, dots, P50 label).
const STRIP: f64 = 52.0;
const FONT: &str = "font-family=\"sans-serif\" font-size=\"12\"";

/// Waterfall segments: (label, colour).
const SEGMENTS: [(&str, &str); 6] = [
    ("Endpointing wait", "#bbbbbb"),
    ("STT", "#4e79a7"),
    ("LLM first token", "#f28e2b"),
    ("First chunk", "#76b7b2"),
    ("TTS first audio", "#59a14f"),
    ("Hold + sink", "#b07aa1"),
];

/// Text safe inside SVG elements and attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A round axis end at or above `v` and its tick step (1, 2 or 5 times a power of ten).
pub fn nice_axis(v: f64) -> (f64, f64) {
    let v = if v.is_finite() && v > 0.0 { v } else { 1.0 };
    let raw = v / 8.0;
    let pow = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * pow)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * pow);
    ((v / step).ceil() * step, step)
}

struct Scale {
    max: f64,
    step: f64,
}

impl Scale {
    fn x(&self, ms: f64) -> f64 {
        LEFT + (ms.max(0.0) / self.max) * (WIDTH - LEFT - RIGHT)
    }
}

fn axis(out: &mut String, scale: &Scale, top: f64, bottom: f64) {
    let mut t = 0.0;
    while t <= scale.max + 1e-9 {
        let x = scale.x(t);
        let _ = writeln!(
            out,
            "<line x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\" stroke=\"#e5e5e5\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" {FONT} text-anchor=\"middle\" fill=\"#666\">{t:.0}</text>",
            bottom + 14.0
        );
        t += scale.step;
    }
}

/// (start, length) of each waterfall segment, and the measured TTFA.
type Waterfall = ([(f64, f64); 6], f64);

/// The waterfall of a run's typical turn, its segments chained like the paper's estimate.
fn waterfall(run: &PipelineRun) -> Option<Waterfall> {
    let t = run.median_turn()?;
    let l = &t.latency;
    let (stt, llm, chunk, tts) = (
        l.stt_ms?,
        l.llm_first_token_ms?,
        l.first_chunk_ms?,
        l.tts_first_audio_ms?,
    );
    let hold = l.playout_ms.unwrap_or(0.0);
    let segs = [
        (0.0, l.endpoint_ms.unwrap_or(0.0)),
        (0.0, stt),
        (stt, llm),
        (stt + llm, chunk),
        (stt + llm + chunk, tts),
        (stt + llm + chunk + tts, hold),
    ];
    Some((segs, l.ttfa_ms?))
}

/// The chart of a report.
pub fn chart(report: &BenchReport) -> String {
    let falls: Vec<(&PipelineRun, Waterfall)> = report
        .runs
        .iter()
        .filter_map(|r| Some((r, waterfall(r)?)))
        .collect();
    let strips: Vec<(&PipelineRun, Vec<f64>)> = report
        .runs
        .iter()
        .map(|r| {
            (
                r,
                r.turns
                    .iter()
                    .filter_map(|t| t.latency.ttfa_ms)
                    .collect::<Vec<_>>(),
            )
        })
        .filter(|(_, v)| !v.is_empty())
        .collect();

    let wf_height = falls.len() as f64 * (SEGMENTS.len() as f64 + 1.6) * ROW;
    let strip_height = strips.len() as f64 * STRIP;
    let height = 40.0 + wf_height + 60.0 + strip_height + 30.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {WIDTH} {height:.0}\">"
    );
    let _ = writeln!(
        out,
        "<rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{height:.0}\" fill=\"white\"/>"
    );
    let _ = writeln!(
        out,
        "<text x=\"10\" y=\"22\" font-family=\"sans-serif\" font-size=\"16\" font-weight=\"bold\">\
         Latency waterfall of a typical turn (TTFA nearest the median), ms from caller speech end</text>"
    );
    if falls.is_empty() && strips.is_empty() {
        let _ = writeln!(
            out,
            "<text x=\"10\" y=\"50\" {FONT}>no pipeline runs to chart</text>"
        );
        out.push_str("</svg>\n");
        return out;
    }

    // Waterfalls on one shared scale.
    let wf_max = falls
        .iter()
        .flat_map(|(_, (segs, ttfa))| segs.iter().map(|(s, l)| s + l).chain([*ttfa]))
        .fold(0.0, f64::max);
    let (max, step) = nice_axis(wf_max);
    let scale = Scale { max, step };
    let mut y = 40.0;
    let wf_top = y;
    let mut body = String::new();
    for (run, (segs, ttfa)) in &falls {
        let _ = writeln!(
            body,
            "<text x=\"10\" y=\"{:.1}\" {FONT} font-weight=\"bold\">{}: TTFA {:.0} ms</text>",
            y + 12.0,
            escape(&run.label()),
            ttfa
        );
        y += ROW;
        let group_top = y;
        for ((label, colour), (start, len)) in SEGMENTS.iter().zip(segs.iter()) {
            let x = scale.x(*start);
            let w = (scale.x(start + len) - x).max(1.0);
            let _ = writeln!(
                body,
                "<text x=\"20\" y=\"{:.1}\" {FONT}>{label}</text>\
                 <rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{colour}\">\
                 <title>{label}: {len:.0} ms</title></rect>",
                y + 12.0,
                y + 3.0,
                ROW - 6.0
            );
            y += ROW;
        }
        let x = scale.x(*ttfa);
        let _ = writeln!(
            body,
            "<line class=\"ttfa\" x1=\"{x:.1}\" y1=\"{group_top:.1}\" x2=\"{x:.1}\" y2=\"{y:.1}\" \
             stroke=\"#e15759\" stroke-width=\"2\"><title>measured TTFA {ttfa:.0} ms</title></line>"
        );
        y += ROW * 0.6;
    }
    axis(&mut out, &scale, wf_top, y);
    out.push_str(&body);

    // TTFA of every turn, one strip per run.
    y += 40.0;
    let _ = writeln!(
        out,
        "<text x=\"10\" y=\"{y:.1}\" font-family=\"sans-serif\" font-size=\"16\" font-weight=\"bold\">\
         Time to first audio of every turn (ms; bar: P50)</text>"
    );
    y += 14.0;
    let st_max = strips
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0, f64::max);
    let (max, step) = nice_axis(st_max);
    let scale = Scale { max, step };
    let st_top = y;
    let mut body = String::new();
    for (run, values) in &strips {
        // The run's name on its own line, its turns below it.
        let _ = writeln!(
            body,
            "<text x=\"10\" y=\"{:.1}\" {FONT}>{}</text>",
            y + 12.0,
            escape(&run.label())
        );
        let mid = y + 28.0;
        let colour = match run.mode {
            super::report::Mode::Streaming => "#4e79a7",
            super::report::Mode::Sequential => "#e15759",
        };
        for (i, v) in values.iter().enumerate() {
            // A small fixed vertical spread so equal values stay visible.
            let dy = ((i % 5) as f64 - 2.0) * 2.5;
            let _ = writeln!(
                body,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{colour}\" fill-opacity=\"0.6\">\
                 <title>{v:.0} ms</title></circle>",
                scale.x(*v),
                mid + dy
            );
        }
        if let Some(p50) = run.ttfa().map(|s| s.p50) {
            let x = scale.x(p50);
            let _ = writeln!(
                body,
                "<line class=\"p50\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"black\" \
                 stroke-width=\"2\"/><text x=\"{:.1}\" y=\"{:.1}\" {FONT}>P50 {p50:.0}</text>",
                mid - 9.0,
                mid + 9.0,
                x + 4.0,
                mid + 20.0
            );
        }
        y += STRIP;
    }
    axis(&mut out, &scale, st_top, y);
    out.push_str(&body);
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(nice_axis(947.0), (1000.0, 200.0));
        assert_eq!(nice_axis(80.0), (80.0, 10.0));
        let (max, step) = nice_axis(0.0);
        assert!((max - 1.0).abs() < 1e-9 && (step - 0.2).abs() < 1e-9);
        let (max, step) = nice_axis(12_345.0);
        assert!(max >= 12_345.0 && (max / step).round() <= 10.0);
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
