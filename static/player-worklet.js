// Agent audio playback: a queue of 24 kHz PCM16 chunks, played through a linear-interpolating
// resampler at the context's rate. `clear` empties the queue between two render quanta, so
// playback stops within one quantum (128 frames, under 3 ms). The position played (in 24 kHz
// source samples, not counting cleared audio) is reported to the page about every 50 ms.

const IN_RATE = 24000;
const REPORT_EVERY = 0.05; // seconds

class PlayerProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = IN_RATE / sampleRate; // source samples per output sample
    this.queue = []; // Float32Array chunks
    this.head = 0; // read index in queue[0]
    this.queued = 0; // source samples waiting
    this.frac = 0; // position between `prev` (0) and the next queued sample (1)
    this.prev = 0;
    this.played = 0;
    this.lastReport = -1;
    this.port.onmessage = (e) => this.onMessage(e.data);
  }

  onMessage(msg) {
    if (msg.type === 'audio') {
      const pcm = new Int16Array(msg.pcm);
      const f = new Float32Array(pcm.length);
      for (let i = 0; i < pcm.length; i++) f[i] = pcm[i] / 32768;
      if (f.length > 0) {
        this.queue.push(f);
        this.queued += f.length;
      }
    } else if (msg.type === 'clear') {
      this.queue = [];
      this.head = 0;
      this.queued = 0;
      this.frac = 0;
      this.prev = 0;
      this.report();
    }
  }

  // The next unplayed source sample (the queue is not empty).
  peek() {
    return this.queue[0][this.head];
  }

  advance() {
    this.prev = this.queue[0][this.head];
    this.head++;
    this.queued--;
    this.played++;
    if (this.head === this.queue[0].length) {
      this.queue.shift();
      this.head = 0;
    }
  }

  report() {
    this.port.postMessage({ type: 'played', samples: this.played, buffered: this.queued });
    this.lastReport = currentTime;
  }

  process(_inputs, outputs) {
    const out = outputs[0];
    const ch = out[0];
    for (let i = 0; i < ch.length; i++) {
      if (this.queued === 0) {
        // Underrun: silence, and the next reply starts cleanly.
        ch[i] = 0;
        this.prev = 0;
        this.frac = 0;
        continue;
      }
      ch[i] = this.prev + (this.peek() - this.prev) * this.frac;
      this.frac += this.step;
      while (this.frac >= 1 && this.queued > 0) {
        this.advance();
        this.frac -= 1;
      }
    }
    for (let c = 1; c < out.length; c++) out[c].set(ch);
    if (currentTime - this.lastReport >= REPORT_EVERY) this.report();
    return true;
  }
}

registerProcessor('player', PlayerProcessor);
