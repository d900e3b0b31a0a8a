//! `voice-agent eval`: the receptionist corpus through a brain, scored by category.
//!
//! Each case is a fresh call on the seeded hospital at [`corpus::TODAY`]: the agent (the same
//! tool loop the pipeline uses) answers the context lines, then the scored line, and what it
//! did on that line is checked against the case ([`corpus::check`]). The built-in receptionist
//! is scored by default; `--llm URL` scores any OpenAI-compatible model on the same cases, and
//! `--spoken` plays the spoken subset through the whole pipeline (local voice, real Whisper).

pub mod command;
pub mod corpus;
pub mod spoken;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use self::corpus::{Case, Outcome, World};
use crate::apps::compose::ProviderOptions;
use crate::domain::brain::BuiltinReceptionist;
use crate::domain::calendar::{Clock, FixedClock, SystemClock};
use crate::domain::{system_prompt, HospitalTools, Store};
use crate::foundation::cancel::CancelToken;
use crate::orchestration::agent::{Agent, AgentConfig, AgentOutput};
use crate::providers::llm::openai::{OpenAiChat, OpenAiConfig};
use crate::providers::llm::ChatModel;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Corpus(#[from] corpus::CorpusError),
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the hospital database: {0}")]
    Store(String),
    #[error("the spoken subset: {0}")]
    Spoken(String),
}

#[derive(Clone, Debug, Default, clap::Args)]
pub struct EvalArgs {
    /// A corpus of your own (JSON Lines, the format of src/apps/eval/corpus.jsonl)
    /// [default: the built-in one].
    #[arg(long, value_name = "FILE")]
    pub corpus: Option<PathBuf>,
    /// Only the cases of these categories (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub category: Vec<String>,
    /// Also play the spoken subset through the whole pipeline (Piper's voice, Whisper).
    #[arg(long)]
    pub spoken: bool,
    /// List every case missed, not only the count.
    #[arg(long)]
    pub failures: bool,
    /// Write the results as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// Which brain answers.
#[derive(Clone, Debug)]
pub enum BrainChoice {
    Builtin,
    OpenAi(OpenAiConfig),
}

impl BrainChoice {
    /// As the provider options say (`ProviderOptions::llm_config`, as every command reads
    /// them).
    pub fn from_options(opts: &ProviderOptions) -> Self {
        opts.llm_config()
            .map_or(BrainChoice::Builtin, BrainChoice::OpenAi)
    }

    /// The brain of one call on `store`.
    pub fn make(&self, store: &Store, clock: Arc<dyn Clock>) -> Box<dyn ChatModel> {
        match self {
            BrainChoice::Builtin => Box::new(BuiltinReceptionist::for_store(store, clock)),
            BrainChoice::OpenAi(c) => Box::new(OpenAiChat::new(c.clone())),
        }
    }

    pub fn name(&self) -> String {
        match self {
            BrainChoice::Builtin => BuiltinReceptionist::new().name(),
            BrainChoice::OpenAi(c) => OpenAiChat::new(c.clone()).name(),
        }
    }
}

/// One case's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseResult {
    pub id: String,
    pub category: String,
    pub say: String,
    /// What the agent worked from: the line, or Whisper's transcript of it when spoken.
    pub heard: String,
    pub outcome: Outcome,
    /// Why it missed; `None` when it passed.
    pub miss: Option<String>,
}

/// The score of one category.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CategoryScore {
    pub category: String,
    pub cases: usize,
    pub passed: usize,
}

impl CategoryScore {
    pub fn accuracy(&self) -> f64 {
        if self.cases == 0 {
            return 0.0;
        }
        self.passed as f64 / self.cases as f64
    }
}

/// The scores of one run over a set of cases.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub brain: String,
    pub cases: usize,
    pub passed: usize,
    pub categories: Vec<CategoryScore>,
    pub results: Vec<CaseResult>,
}

impl Score {
    pub fn of(brain: String, results: Vec<CaseResult>) -> Self {
        let mut by: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for r in &results {
            let e = by.entry(r.category.clone()).or_default();
            e.0 += 1;
            e.1 += usize::from(r.miss.is_none());
        }
        Score {
            brain,
            cases: results.len(),
            passed: results.iter().filter(|r| r.miss.is_none()).count(),
            categories: by
                .into_iter()
                .map(|(category, (cases, passed))| CategoryScore {
                    category,
                    cases,
                    passed,
                })
                .collect(),
            results,
        }
    }

    pub fn accuracy(&self) -> f64 {
        if self.cases == 0 {
            return 0.0;
        }
        self.passed as f64 / self.cases as f64
    }

    /// The table: one row per category, then the total.
    pub fn table(&self) -> String {
        let mut rows: Vec<Vec<String>> = self
            .categories
            .iter()
            .map(|c| {
                vec![
                    c.category.clone(),
                    c.cases.to_string(),
                    c.passed.to_string(),
                    percent(c.accuracy()),
                ]
            })
            .collect();
        rows.push(vec![
            "**all**".into(),
            self.cases.to_string(),
            self.passed.to_string(),
            format!("**{}**", percent(self.accuracy())),
        ]);
        crate::apps::bench::report::table(
            &["Category", "Cases", "Passed", "Accuracy"],
            &[false, true, true, true],
            &rows,
        )
    }

    /// One line per case missed.
    pub fn misses(&self) -> Vec<String> {
        self.results
            .iter()
            .filter_map(|r| {
                let why = r.miss.as_ref()?;
                let heard = if r.heard == r.say {
                    String::new()
                } else {
                    format!(" (heard {:?})", r.heard)
                };
                Some(format!("{} {:?}{heard}: {why}", r.id, r.say))
            })
            .collect()
    }
}

pub(crate) fn percent(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}

/// The corpus the arguments name (the built-in one by default), filtered by category.
pub fn load_cases(args: &EvalArgs) -> Result<Vec<Case>, EvalError> {
    let cases =
        match &args.corpus {
            Some(path) => corpus::parse(&std::fs::read_to_string(path).map_err(|source| {
                EvalError::Read {
                    path: path.clone(),
                    source,
                }
            })?)?,
            None => corpus::parse(corpus::CORPUS)?,
        };
    Ok(cases
        .into_iter()
        .filter(|c| args.category.is_empty() || args.category.contains(&c.category))
        .collect())
}

/// The clock every case runs at.
pub fn clock() -> Arc<FixedClock> {
    // A constant that parses (checked by the tests); the fallback is never taken.
    Arc::new(FixedClock::at(corpus::TODAY).unwrap_or_else(|| FixedClock(SystemClock.now())))
}

/// A fresh seeded hospital for one call, and what the checks resolve against.
pub fn hospital(clock: &dyn Clock) -> Result<(Store, World), EvalError> {
    let today = clock.today();
    let store =
        Store::open_in_memory_seeded_at(today).map_err(|e| EvalError::Store(e.to_string()))?;
    let doctors = store
        .doctors()
        .map_err(|e| EvalError::Store(e.to_string()))?;
    Ok((store, World { today, doctors }))
}

/// One case through the agent's tool loop, as text.
pub fn run_case(brain: &BrainChoice, case: &Case) -> Result<CaseResult, EvalError> {
    let clock = clock();
    let (store, world) = hospital(clock.as_ref())?;
    let config = AgentConfig {
        system_prompt: system_prompt(clock.as_ref()),
        ..AgentConfig::default()
    };
    let tools = HospitalTools::new(store.clone(), clock.clone());
    let mut agent = Agent::new(config, brain.make(&store, clock.clone()), Box::new(tools));
    let never = CancelToken::never();
    for (i, line) in case.context.iter().enumerate() {
        if let Err(e) = agent.respond(i as u64, line, &never, &mut |_| {}) {
            return Ok(failed(
                case,
                &case.say,
                format!("context line {}: {e}", i + 1),
            ));
        }
    }
    let mut outcome = Outcome::default();
    let turn = case.context.len() as u64;
    let replied = agent.respond(turn, &case.say, &never, &mut |o| match o {
        AgentOutput::Text(t) => outcome.reply.push_str(&t),
        AgentOutput::ToolCall(c) => outcome.calls.push(c),
        AgentOutput::Flush => {}
    });
    if let Err(e) = replied {
        return Ok(failed(case, &case.say, format!("the brain failed: {e}")));
    }
    let miss = corpus::check(case, &outcome, &world);
    Ok(CaseResult {
        id: case.id.clone(),
        category: case.category.clone(),
        say: case.say.clone(),
        heard: case.say.clone(),
        outcome,
        miss,
    })
}

fn failed(case: &Case, heard: &str, why: String) -> CaseResult {
    CaseResult {
        id: case.id.clone(),
        category: case.category.clone(),
        say: case.say.clone(),
        heard: heard.to_string(),
        outcome: Outcome::default(),
        miss: Some(why),
    }
}

/// Every case as text.
pub fn run_text(brain: &BrainChoice, cases: &[Case]) -> Result<Score, EvalError> {
    let results = cases
        .iter()
        .map(|c| run_case(brain, c))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Score::of(brain.name(), results))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_clock_is_the_documented_day() {
        assert_eq!(clock().today().to_string(), "2026-03-04");
    }

    #[test]
    fn scores_count_by_category() {
        let r = |id: &str, cat: &str, ok: bool| CaseResult {
            id: id.into(),
            category: cat.into(),
            say: "x".into(),
            heard: "x".into(),
            outcome: Outcome::default(),
            miss: (!ok).then(|| "why".to_string()),
        };
        let s = Score::of(
            "b".into(),
            vec![r("1", "a", true), r("2", "a", false), r("3", "b", true)],
        );
        assert_eq!((s.cases, s.passed), (3, 2));
        assert_eq!(s.categories[0].accuracy(), 0.5);
        assert_eq!(s.misses(), vec!["2 \"x\": why".to_string()]);
        assert!(s.table().contains("| **all**"));
    }
}
