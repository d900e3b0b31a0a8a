#!/usr/bin/env bash
# Browser test: headless Chromium opens the demo page with a spoken WAV as its fake microphone,
# clicks Start, and checks that the page shows a final transcript, a tool call, a latency
# waterfall, and that agent audio was played; it saves out/browser.png.
#
# Skips (exit 0, "SKIPPED: ...") when Chromium, Node or playwright-core cannot be had.
# The server is `voice-agent serve` with the real models (Silero, Whisper, Piper, the built-in
# receptionist on a fresh database); BROWSER_TEST_SERVER=example runs the scripted
# `examples/server.rs` instead (no models needed; also the fallback when they are missing).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-out}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ -f models/whisper-tiny.en/decoder.onnx ] && [ -f models/piper/en_US-joe-medium.onnx ]; then
    SERVER=${BROWSER_TEST_SERVER:-serve}
else
    SERVER=${BROWSER_TEST_SERVER:-example}
fi
skip() {
    echo "SKIPPED: browser test ($*)"
    exit 0
}

# --- Chromium -----------------------------------------------------------------------------
if [ ! -x "$CHROMIUM" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing chromium (apt)..."
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y --no-install-recommends chromium chromium-driver >/dev/null 2>&1 ||
            { apt-get update >/dev/null 2>&1 &&
                apt-get install -y --no-install-recommends chromium chromium-driver >/dev/null 2>&1; } ||
            skip "chromium could not be installed with apt-get"
    else
        skip "$CHROMIUM not found and apt-get is not available as root"
    fi
fi
[ -x "$CHROMIUM" ] || skip "$CHROMIUM not found after installing"

# --- Node and playwright-core -------------------------------------------------------------
command -v node >/dev/null && command -v npm >/dev/null || skip "node and npm are not installed"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' ||
    skip "node $(node --version) is older than 18"
if [ ! -d tests/browser/node_modules/playwright-core ]; then
    echo "installing playwright-core (npm)..."
    (cd tests/browser && npm install --no-package-lock --no-audit --no-fund --loglevel=error >/dev/null 2>&1) ||
        skip "npm could not install playwright-core"
fi

# --- The caller: a spoken request, then enough silence for the whole reply (Chromium loops
# the file, and the next loop would talk over the agent) -----------------------------------
mkdir -p "$OUT"
WAV="$OUT/browser-caller.wav"
if command -v espeak-ng >/dev/null && command -v sox >/dev/null; then
    espeak-ng -v en-us -s 150 -w "$OUT/browser-say.wav" \
        "Hello. Is Doctor Patel free on Monday morning?"
    sox "$OUT/browser-say.wav" -r 48000 -c 1 -b 16 "$WAV" pad 0.5 9
    rm -f "$OUT/browser-say.wav"
else
    # Without a synthesizer: vowel-like tone bursts, which the energy VAD hears as speech.
    python3 - "$WAV" <<'EOF'
import math, struct, sys, wave
rate, out = 48000, []
for ms, speech in [(500, False), (1800, True), (9000, False)]:
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
    "${CARGO_TARGET_DIR:-target}/release/voice-agent" --db "$OUT/browser.sqlite" serve --bind "$ADDR" >"$LOG" 2>&1 &
else
    # Release, like `make test`: the library is already built there.
    cargo build --release --example server --quiet
    "${CARGO_TARGET_DIR:-target}/release/examples/server" --bind "$ADDR" >"$LOG" 2>&1 &
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
node tests/browser/run.mjs "http://$ADDR/" "$(realpath "$WAV")" "$OUT"
