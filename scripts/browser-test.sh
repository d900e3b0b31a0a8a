#!/usr/bin/env bash
# Browser test: headless Chromium, then headless Firefox, open the demo page with a spoken WAV
# as the microphone, click Start, and check that the page shows a final transcript, a tool
# call, a latency waterfall, and that agent audio was played; they save out/browser.png
# (Chromium) and out/browser-firefox.png (Firefox).
#
# Chromium runs through playwright-core with its file-backed fake microphone
# (tests/browser/run.mjs); Firefox through puppeteer-core over WebDriver BiDi, with the WAV
# played into getUserMedia by the test (tests/browser/run-firefox.mjs); the checks are shared
# (tests/browser/common.mjs). Each browser skips on its own (a "SKIPPED: ..." line) when it or
# its driver cannot be had; Node missing skips both (exit 0). A browser that runs and fails a
# check fails the script (exit 1), after the other browser has run.
#
# The server is `voice-agent serve` with the real models (Silero, Whisper, Piper, the built-in
# receptionist on a fresh database); BROWSER_TEST_SERVER=example runs the scripted
# `examples/server.rs` instead (no models needed; also the fallback when they are missing).
# One server for both browsers; each page is a new session.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-out}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
FIREFOX=${FIREFOX:-/usr/bin/firefox-esr}
export CHROMIUM FIREFOX
if [ -f models/whisper-tiny.en/decoder.onnx ] && [ -f models/piper/en_US-joe-medium.onnx ]; then
    SERVER=${BROWSER_TEST_SERVER:-serve}
else
    SERVER=${BROWSER_TEST_SERVER:-example}
fi
# Seconds one browser run may take in all (the runners stop themselves earlier, at
# BROWSER_RUN_TIMEOUT_MS, 240 s by default).
RUN_LIMIT=${BROWSER_RUN_LIMIT_S:-300}
skip() {
    echo "SKIPPED: browser test ($*)"
    exit 0
}
CHROMIUM_SKIP=""
FIREFOX_SKIP=""

# apt-get install PACKAGES..., once as is and once after `apt-get update`; false when that fails.
APT_OPTS=(-o Acquire::http::Timeout=30 -o Acquire::https::Timeout=30 -o Acquire::Retries=2 -o DPkg::Lock::Timeout=120)
apt_install() {
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || return 1
    export DEBIAN_FRONTEND=noninteractive
    apt-get "${APT_OPTS[@]}" install -y --no-install-recommends "$@" >/dev/null 2>&1 ||
        { apt-get "${APT_OPTS[@]}" update >/dev/null 2>&1 &&
            apt-get "${APT_OPTS[@]}" install -y --no-install-recommends "$@" >/dev/null 2>&1; }
}

# --- Node ---------------------------------------------------------------------------------
command -v node >/dev/null && command -v npm >/dev/null || skip "node and npm are not installed"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' ||
    skip "node $(node --version) is older than 18"

# --- Chromium and Firefox -----------------------------------------------------------------
if [ ! -x "$CHROMIUM" ]; then
    echo "installing chromium (apt)..."
    apt_install chromium chromium-driver ||
        CHROMIUM_SKIP="chromium: $CHROMIUM not found and could not be installed with apt-get as root"
fi
[ -n "$CHROMIUM_SKIP" ] || [ -x "$CHROMIUM" ] || CHROMIUM_SKIP="chromium: $CHROMIUM not found after installing"
if [ ! -x "$FIREFOX" ]; then
    echo "installing firefox-esr (apt)..."
    apt_install firefox-esr ||
        FIREFOX_SKIP="firefox: $FIREFOX not found and could not be installed with apt-get as root"
fi
[ -n "$FIREFOX_SKIP" ] || [ -x "$FIREFOX" ] || FIREFOX_SKIP="firefox: $FIREFOX not found after installing"

# --- The drivers: playwright-core (Chromium) and puppeteer-core (Firefox) ------------------
need_npm=0
[ -n "$CHROMIUM_SKIP" ] || [ -d tests/browser/node_modules/playwright-core ] || need_npm=1
[ -n "$FIREFOX_SKIP" ] || [ -d tests/browser/node_modules/puppeteer-core ] || need_npm=1
if [ "$need_npm" = 1 ]; then
    echo "installing playwright-core and puppeteer-core (npm)..."
    (cd tests/browser && timeout 600 npm install --no-package-lock --no-audit --no-fund --loglevel=error \
        --fetch-timeout=60000 --fetch-retries=2 >/dev/null 2>&1) || true
fi
[ -n "$CHROMIUM_SKIP" ] || [ -d tests/browser/node_modules/playwright-core ] ||
    CHROMIUM_SKIP="chromium: npm could not install playwright-core"
[ -n "$FIREFOX_SKIP" ] || [ -d tests/browser/node_modules/puppeteer-core ] ||
    FIREFOX_SKIP="firefox: npm could not install puppeteer-core"
if [ -n "$CHROMIUM_SKIP" ] && [ -n "$FIREFOX_SKIP" ]; then
    echo "SKIPPED: browser test ($CHROMIUM_SKIP)"
    skip "$FIREFOX_SKIP"
fi

# --- The caller: a spoken request, then enough silence for the whole reply (Chromium loops
# the file, and the next loop would talk over the agent; a reply that lists every doctor runs
# ~10 s; Firefox's runner plays the file once) ---------------------------------------------
mkdir -p "$OUT"
WAV="$OUT/browser-caller.wav"
if command -v espeak-ng >/dev/null && command -v sox >/dev/null; then
    espeak-ng -v en-us -s 150 -w "$OUT/browser-say.wav" \
        "Hello. Is Doctor Patel free on Monday morning?"
    sox "$OUT/browser-say.wav" -r 48000 -c 1 -b 16 "$WAV" pad 0.5 14
    rm -f "$OUT/browser-say.wav"
else
    # Without a synthesizer: vowel-like tone bursts, which the energy VAD hears as speech.
    python3 - "$WAV" <<'EOF'
import math, struct, sys, wave
rate, out = 48000, []
for ms, speech in [(500, False), (1800, True), (14000, False)]:
    for i in range(ms * rate // 1000):
        t = i / rate
        v = 0.0
        if speech:
            v = 0.2 * (0.75 + 0.25 * math.sin(2 * math.pi * 4 * t)) * (
                math.sin(2 * math.pi * 180 * t) + 0.5 * math.sin(2 * math.pi * 360 * t))
        out.append(int(v * 32767))
with wave.open(sys.argv[1], "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate)
    w.writeframes(struct.pack(f"<{len(out)}h", *out))
EOF
fi

# --- The server on a free port ------------------------------------------------------------
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ADDR="127.0.0.1:$PORT"
LOG="$OUT/browser-server.log"
if [ "$SERVER" = serve ]; then
    cargo build --release --quiet
    rm -f "$OUT/browser.sqlite"
    "${CARGO_TARGET_DIR:-target}/release/voice-agent" --db "$OUT/browser.sqlite" serve --bind "$ADDR" --ws-bind 127.0.0.1:0 >"$LOG" 2>&1 &
else
    # Release, like `make test`: the library is already built there.
    cargo build --release --example server --quiet
    "${CARGO_TARGET_DIR:-target}/release/examples/server" --bind "$ADDR" --ws-bind 127.0.0.1:0 >"$LOG" 2>&1 &
fi
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
    if curl -fsS "http://$ADDR/healthz" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        cat "$LOG"
        echo "browser test: the server exited"
        exit 1
    fi
    sleep 0.2
done
curl -fsS "http://$ADDR/healthz" >/dev/null || { cat "$LOG"; echo "browser test: server not up"; exit 1; }

echo "browser test: http://$ADDR ($SERVER server), microphone $WAV"
FAILED=""
PASSED=""
# run_browser NAME RUNNER: one browser, bounded; records the result.
run_browser() {
    local t0 rc=0
    t0=$(date +%s)
    echo "--- $1 ---"
    timeout -k 10 "$RUN_LIMIT" node "tests/browser/$2" "http://$ADDR/" "$(realpath "$WAV")" "$OUT" || rc=$?
    if [ "$rc" = 0 ]; then
        PASSED="$PASSED $1($(($(date +%s) - t0)) s)"
    else
        if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then echo "FAIL $1: killed after $RUN_LIMIT s"; fi
        FAILED="$FAILED $1"
    fi
}
if [ -n "$CHROMIUM_SKIP" ]; then echo "SKIPPED: browser test ($CHROMIUM_SKIP)"; else run_browser chromium run.mjs; fi
if [ -n "$FIREFOX_SKIP" ]; then echo "SKIPPED: browser test ($FIREFOX_SKIP)"; else run_browser firefox run-firefox.mjs; fi
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    tail -n 40 "$LOG"
    echo "browser test: the server exited during the run"
    FAILED="$FAILED server"
fi
[ -z "$PASSED" ] || echo "browser test passed:$PASSED"
if [ -n "$FAILED" ]; then
    echo "browser test FAILED:$FAILED (server log: $LOG)"
    exit 1
fi
