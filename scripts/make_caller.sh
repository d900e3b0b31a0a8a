#!/usr/bin/env bash
# Make a caller WAV (16 kHz mono) from lines of text, each line followed by a pause long enough for
# the agent to answer. Usage: make_caller.sh OUT.wav [LINES.txt] [GAP_S]
# The caller speaks with the local Piper voice lowered in pitch (so it differs from the agent)
# when the release binary exists, else with espeak-ng (CALLER_VOICE=espeak forces it).
set -euo pipefail
out=${1:?usage: make_caller.sh OUT.wav [LINES.txt] [GAP_SECONDS]}
lines=${2:-}
gap=${3:-9}
bin=${VOICE_AGENT_BIN:-target/release/voice-agent}
voice=${CALLER_VOICE:-piper}
[ -x "$bin" ] || voice=espeak
for tool in espeak-ng sox; do
  command -v "$tool" >/dev/null || { echo "make_caller: $tool is missing: run make setup" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -z "$lines" ]; then
  lines="$tmp/lines.txt"
  cat > "$lines" <<'TXT'
Hello, I would like to book an appointment with doctor Patel.
Next Monday at ten in the morning, please.
My name is John Smith, and my date of birth is March fourth, nineteen eighty five.
Yes, please book it.
What are doctor Chen's hours?
Thank you, goodbye.
TXT
fi
mkdir -p "$(dirname "$out")"
sox -n -r 16000 -c 1 -b 16 "$tmp/lead.wav" trim 0 0.8
parts=("$tmp/lead.wav")
i=0
while IFS= read -r line; do
  [ -n "$line" ] || continue
  i=$((i + 1))
  if [ "$voice" = piper ]; then
    "$bin" say -o "$tmp/raw$i.wav" "$line"
    sox "$tmp/raw$i.wav" -r 16000 -c 1 -b 16 "$tmp/line$i.wav" pitch -250 pad 0 "$gap"
  else
    espeak-ng -v en-us -s 165 -w "$tmp/raw$i.wav" "$line"
    sox "$tmp/raw$i.wav" -r 16000 -c 1 -b 16 "$tmp/line$i.wav" pad 0 "$gap"
  fi
  parts+=("$tmp/line$i.wav")
done < "$lines"
sox "${parts[@]}" "$out"
echo "caller audio: $out ($i lines, $(soxi -D "$out" | cut -d. -f1) s, voice: $voice)"
