# voice-agent: the two commands that matter are `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
OUT ?= out

.PHONY: setup build demo test bench soak llm clippy fmt clean

## Install system packages, download and convert the local models (idempotent).
setup:
	@bash scripts/setup.sh

build:
	$(CARGO) build --release

## Set up, then run the receptionist on a generated caller WAV and show the conversation.
## The demo books into its own fresh database, so every run starts from the same schedule.
demo: setup build
	@bash scripts/make_caller.sh $(OUT)/caller.wav "" 12
	@rm -f $(OUT)/demo.sqlite $(OUT)/demo.sqlite-wal $(OUT)/demo.sqlite-shm
	./target/release/voice-agent run --db $(OUT)/demo.sqlite --input $(OUT)/caller.wav --output $(OUT)/conversation.wav --report $(OUT)/report.jsonl
	@echo "conversation written to $(OUT)/conversation.wav (caller left, agent right); reports in $(OUT)/report.jsonl"

## Set up, then run every test (unit, integration, end to end with the real models).
test: setup
	$(CARGO) test --release -- --test-threads=2
	@bash scripts/browser-test.sh

## Latency and capacity benchmarks (no timing assertions anywhere else).
bench: setup build
	./target/release/voice-agent bench --json $(OUT)/bench.json

## The server under load, abuse and faults (loopback only, about a minute; no models needed).
soak: build
	@mkdir -p $(OUT)
	RUST_LOG=$${RUST_LOG:-error} ./target/release/voice-agent soak --json $(OUT)/soak.json

## Build and start a local llama.cpp server (optional real LLM).
llm:
	@bash scripts/llm-server.sh start

clippy:
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
	rm -rf $(OUT)
