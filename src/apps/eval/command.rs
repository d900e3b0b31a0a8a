//! What `voice-agent eval` runs and prints: the text run, and the spoken subset when asked.

use serde::{Deserialize, Serialize};

use super::corpus::Case;
use super::{load_cases, percent, run_text, spoken, BrainChoice, EvalArgs, EvalError, Score};
use crate::apps::compose::ProviderOptions;

/// What `voice-agent eval` measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub text: Score,
    pub spoken: Option<Score>,
}

impl EvalReport {
    /// The tables as Markdown, with the misses when asked.
    pub fn to_markdown(&self, failures: bool) -> String {
        let mut out = format!(
            "## {} on the receptionist corpus\n\nText: {} cases, {} passed ({}).\n\n{}\n",
            self.text.brain,
            self.text.cases,
            self.text.passed,
            percent(self.text.accuracy()),
            self.text.table()
        );
        if failures {
            for m in self.text.misses() {
                out.push_str(&format!("- {m}\n"));
            }
        }
        if let Some(s) = &self.spoken {
            out.push_str(&format!(
                "\nSpoken through the whole pipeline (Piper's voice, Whisper): {} cases, {} tasks done ({}).\n\n{}\n",
                s.cases,
                s.passed,
                percent(s.accuracy()),
                s.table()
            ));
            if failures {
                for m in s.misses() {
                    out.push_str(&format!("- {m}\n"));
                }
            }
        }
        out
    }
}

/// Run the evaluation the arguments ask for.
pub fn run(
    opts: &ProviderOptions,
    args: &EvalArgs,
    progress: &mut dyn FnMut(&str),
) -> Result<EvalReport, EvalError> {
    let cases = load_cases(args)?;
    let brain = BrainChoice::from_options(opts);
    progress(&format!("{} cases through {}", cases.len(), brain.name()));
    let text = run_text(&brain, &cases)?;
    let spoken = if args.spoken {
        let subset: Vec<Case> = cases.into_iter().filter(|c| c.spoken).collect();
        progress(&format!(
            "{} spoken cases through the pipeline (about 5 s each)",
            subset.len()
        ));
        Some(spoken::run(&brain, &subset, progress)?)
    } else {
        None
    };
    Ok(EvalReport { text, spoken })
}
