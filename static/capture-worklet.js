// Microphone capture: takes the context's native rate, low-passes and resamples to 16 kHz,
// and posts 20 ms frames of PCM16 (320 samples, 640 bytes) to the page.

const OUT_RATE = 16000;
const FRAME = 320;

// A windowed-sinc low-pass (Blackman), normalised to unity gain at DC.
function lowPass(cutoff, rate, taps) {
  const h = new Float32Array(taps);
  const fc = cutoff / rate;
  const mid = (taps - 1) / 2;
  let sum = 0;
  for (let i = 0; i < taps; i++) {
    const n = i - mid;
    const sinc = n === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * n) / (Math.PI * n);
    const w = 0.42 - 0.5 * Math.cos((2 * Math.PI * i) / (taps - 1)) + 0.08 * Math.cos((4 * Math.PI * i) / (taps - 1));
    h[i] = sinc * w;
    sum += h[i];
  }
  for (let i = 0; i < taps; i++) h[i] /= sum;
  return h;
}

class CaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    // Input samples per output sample.
    this.step = sampleRate / OUT_RATE;
    // Anti-aliasing only when going down in rate.
    this.taps = this.step > 1 ? lowPass(Math.min(7000, 0.45 * OUT_RATE), sampleRate, 63) : new Float32Array([1]);
    this.ring = new Float32Array(this.taps.length);
    this.ringPos = 0;
    // Position (in input samples, relative to `prev`) of the next output sample.
    this.t = 0;
    this.prev = 0;
    this.frame = new Int16Array(FRAME);
    this.fill = 0;
    this.running = true;
    this.port.onmessage = (e) => {
      if (e.data === 'stop') this.running = false;
    };
  }

  filtered(x) {
    const n = this.ring.length;
    this.ring[this.ringPos] = x;
    this.ringPos = (this.ringPos + 1) % n;
    let acc = 0;
    let k = this.ringPos;
    for (let i = 0; i < n; i++) {
      acc += this.taps[i] * this.ring[k];
      k = k + 1 === n ? 0 : k + 1;
    }
    return acc;
  }

  emit(v) {
    const s = Math.max(-1, Math.min(1, v));
    this.frame[this.fill++] = s < 0 ? s * 0x8000 : s * 0x7fff;
    if (this.fill === FRAME) {
      this.port.postMessage(this.frame.buffer, [this.frame.buffer]);
      this.frame = new Int16Array(FRAME);
      this.fill = 0;
    }
  }

  process(inputs) {
    const input = inputs[0];
    if (input && input.length > 0) {
      const ch = input[0];
      for (let i = 0; i < ch.length; i++) {
        const y = this.filtered(ch[i]);
        // Outputs that fall between the previous filtered sample and this one.
        while (this.t <= 1) {
          this.emit(this.prev + (y - this.prev) * this.t);
          this.t += this.step;
        }
        this.t -= 1;
        this.prev = y;
      }
    }
    return this.running;
  }
}

registerProcessor('capture', CaptureProcessor);
