//! Measure the agent like the paper, in small: a few caller utterances through the whole
//! pipeline, streaming and turn-based, with the local brain and with a simulated cloud LLM;
//! prints the per-stage tables and writes a JSON report and an SVG chart.
//!
//! ```text
//! cargo run --release --example benchmark                       # quick run, 2-3 minutes
//! cargo run --release --example benchmark -- --full --json out/bench.json
//! cargo run --release --example benchmark -- --utterances my-wavs/ --skip capacity
//! ```
//!
//! `voice-agent bench` (`make bench`) is the same with the full defaults.

use clap::Parser;
use voice_agent::apps::bench::{self, BenchArgs};
use voice_agent::apps::compose::ProviderOptions;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    providers: ProviderOptions,
    #[command(flatten)]
    bench: BenchArgs,
    /// The full bench (ten utterances, 1-8 callers) instead of the quick one.
    #[arg(long)]
    full: bool,
}

fn main() -> anyhow::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let mut args = Args::parse();
    args.bench.quick |= !args.full;
    let report = bench::run(&args.providers, &args.bench, &mut |line| {
        eprintln!("{line}")
    })?;
    println!("{}", report.to_markdown());
    for path in bench::save(&report, &args.bench)? {
        println!("wrote {}", path.display());
    }
    Ok(())
}
