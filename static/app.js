// The browser client: microphone -> capture worklet -> WebSocket (binary PCM16 16 kHz frames);
// WebSocket -> player worklet (PCM16 24 kHz) and the page (JSON events). No build step.
'use strict';

const $ = (id) => document.getElementById(id);

const LATENCY_ROWS = [
  // [label, css class, field, starts after these fields]
  ['Endpoint wait', 'endpoint', 'endpoint_ms', []],
  ['STT', 'stt', 'stt_ms', []],
  ['LLM first token', 'llm', 'llm_first_token_ms', ['stt_ms']],
  ['First chunk', 'chunk', 'first_chunk_ms', ['stt_ms', 'llm_first_token_ms']],
  ['TTS first audio', 'tts', 'tts_first_audio_ms', ['stt_ms', 'llm_first_token_ms', 'first_chunk_ms']],
  ['Playout', 'out', 'playout_ms', ['stt_ms', 'llm_first_token_ms', 'first_chunk_ms', 'tts_first_audio_ms']],
  ['TTFA', 'ttfa', 'ttfa_ms', []],
];

const session = {
  running: false,
  ws: null,
  ctx: null,
  stream: null,
  capture: null,
  player: null,
  played: 0,
  sentPlayed: -1,
  timer: null,
  reports: [],
  turns: new Map(), // turn -> { caller, agent } elements
};

function setPill(id, text, state) {
  const el = $(id);
  el.textContent = text;
  el.dataset.state = state;
}

function setConnection(state, detail) {
  const text = { idle: 'not connected', connecting: 'connecting…', open: 'connected', closed: 'disconnected', error: 'error' }[state] || state;
  setPill('conn', detail ? `${text} · ${detail}` : text, state);
}

function showError(where, message) {
  $('errors-card').hidden = false;
  const li = document.createElement('li');
  const time = new Date().toLocaleTimeString();
  li.innerHTML = `<span class="when"></span> <b></b> <span class="msg"></span>`;
  li.querySelector('.when').textContent = time;
  li.querySelector('b').textContent = where;
  li.querySelector('.msg').textContent = message;
  const list = $('errors');
  list.prepend(li);
  while (list.children.length > 20) list.lastChild.remove();
}

// ---- conversation log -------------------------------------------------------------------

function logAppend(el) {
  const log = $('log');
  const empty = $('empty');
  if (empty) empty.remove();
  const stick = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.append(el);
  if (stick) log.scrollTop = log.scrollHeight;
}

function turnOf(turn) {
  if (!session.turns.has(turn)) session.turns.set(turn, {});
  return session.turns.get(turn);
}

function bubble(who, label) {
  const el = document.createElement('div');
  el.className = `msg ${who}`;
  el.innerHTML = `<div class="who"></div><div class="text"></div>`;
  el.querySelector('.who').textContent = label;
  logAppend(el);
  return el;
}

function onTranscript(m) {
  const t = turnOf(m.turn);
  if (!t.caller) t.caller = bubble('caller', 'You');
  t.caller.querySelector('.text').textContent = m.text;
  t.caller.classList.toggle('partial', !m.final);
  t.caller.classList.toggle('final', !!m.final);
}

function agentBubble(turn) {
  const t = turnOf(turn);
  if (!t.agent) t.agent = bubble('agent', 'Agent');
  return t.agent;
}

function onAgentText(m) {
  const el = agentBubble(m.turn).querySelector('.text');
  const span = document.createElement('span');
  span.className = 'chunk';
  span.textContent = (el.textContent ? ' ' : '') + m.text;
  el.append(span);
}

function pretty(v) {
  try {
    return JSON.stringify(v, null, 2);
  } catch {
    return String(v);
  }
}

function onToolCall(m) {
  const el = document.createElement('details');
  el.className = 'tool-call';
  el.open = true;
  el.innerHTML = `<summary><span class="tool-icon" aria-hidden="true">ƒ</span><span class="tool-name"></span><span class="tool-turn"></span></summary>
    <div class="tool-body"><div><h4>arguments</h4><pre class="args"></pre></div><div><h4>result</h4><pre class="result"></pre></div></div>`;
  el.querySelector('.tool-name').textContent = m.name;
  el.querySelector('.tool-turn').textContent = `turn ${m.turn}`;
  el.querySelector('.args').textContent = pretty(m.arguments);
  el.querySelector('.result').textContent = pretty(m.result);
  if (m.result && typeof m.result === 'object' && 'error' in m.result) el.classList.add('failed');
  logAppend(el);
}

function onAgentDone(m) {
  const t = turnOf(m.turn);
  if (!t.agent) return;
  t.agent.classList.remove('speaking');
  if (m.interrupted && !t.agent.querySelector('.tag')) {
    const tag = document.createElement('span');
    tag.className = 'tag';
    tag.textContent = 'interrupted';
    t.agent.querySelector('.who').append(tag);
  }
}

// ---- latency waterfall ------------------------------------------------------------------

function fmt(ms) {
  return ms == null ? '–' : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

function waterfall(report, scale) {
  const lat = report.latency || {};
  const wrap = document.createElement('div');
  wrap.className = 'waterfall';
  wrap.dataset.turn = report.turn;
  const head = document.createElement('div');
  head.className = 'wf-head';
  head.innerHTML = `<span class="wf-turn"></span><span class="wf-text"></span><span class="wf-ttfa"></span>`;
  head.querySelector('.wf-turn').textContent = `Turn ${report.turn}`;
  head.querySelector('.wf-text').textContent = report.transcript ? `“${report.transcript}”` : '';
  head.querySelector('.wf-ttfa').textContent = `TTFA ${fmt(lat.ttfa_ms)}`;
  if (report.interrupted) head.querySelector('.wf-ttfa').textContent += ' · interrupted';
  wrap.append(head);
  for (const [label, cls, field, after] of LATENCY_ROWS) {
    const v = lat[field];
    const start = after.reduce((acc, f) => acc + (lat[f] || 0), 0);
    const row = document.createElement('div');
    row.className = `wf-row ${cls}`;
    row.innerHTML = `<span class="wf-label"></span><span class="wf-track"><span class="bar"></span></span><span class="wf-value"></span>`;
    row.querySelector('.wf-label').textContent = label;
    row.querySelector('.wf-value').textContent = fmt(v);
    const bar = row.querySelector('.bar');
    if (v == null) {
      bar.classList.add('missing');
    } else {
      bar.style.left = `${(100 * start) / scale}%`;
      bar.style.width = `${Math.max(0.5, (100 * v) / scale)}%`;
    }
    wrap.append(row);
  }
  return wrap;
}

function renderWaterfalls() {
  const box = $('waterfalls');
  box.replaceChildren();
  // One scale for every turn, so the bars compare across turns.
  const scale = Math.max(
    1,
    ...session.reports.map((r) => {
      const l = r.latency || {};
      const sum = ['stt_ms', 'llm_first_token_ms', 'first_chunk_ms', 'tts_first_audio_ms', 'playout_ms'].reduce((a, f) => a + (l[f] || 0), 0);
      return Math.max(l.ttfa_ms || 0, sum);
    }),
  );
  for (const r of [...session.reports].reverse()) box.append(waterfall(r, scale));
}

function onMetrics(report) {
  session.reports.push(report);
  if (session.reports.length > 20) session.reports.shift();
  renderWaterfalls();
}

// ---- messages from the server -----------------------------------------------------------

function onServerMessage(m) {
  switch (m.type) {
    case 'ready':
      $('providers').textContent = (m.providers || []).join(' · ') || 'connected';
      break;
    case 'state':
      setPill('agent-state', m.state, m.state);
      break;
    case 'transcript':
      onTranscript(m);
      break;
    case 'agent_text':
      onAgentText(m);
      break;
    case 'agent_speaking':
      agentBubble(m.turn).classList.add('speaking');
      break;
    case 'agent_done':
      onAgentDone(m);
      break;
    case 'tool_call':
      onToolCall(m);
      break;
    case 'clear':
      if (session.player) session.player.port.postMessage({ type: 'clear' });
      break;
    case 'metrics':
      onMetrics(m);
      break;
    case 'error':
      showError(m.stage || 'server', m.message);
      break;
    default:
      console.debug('unhandled message', m);
  }
}

// ---- audio and the socket ---------------------------------------------------------------

function onCaptureFrame(buf) {
  const ws = session.ws;
  // Level meter from the frame itself (RMS in dBFS mapped to 0..100 %).
  const pcm = new Int16Array(buf);
  let sum = 0;
  for (let i = 0; i < pcm.length; i++) sum += (pcm[i] / 32768) ** 2;
  const db = 10 * Math.log10(sum / pcm.length + 1e-10);
  $('mic-level').style.width = `${Math.max(0, Math.min(100, ((db + 60) / 60) * 100))}%`;
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(buf);
}

function onPlayerReport(m) {
  if (m.type !== 'played') return;
  session.played = m.samples;
  const el = $('played');
  el.dataset.samples = String(m.samples);
  el.textContent = `${(m.samples / 24000).toFixed(1)} s`;
  $('buffered').textContent = `${Math.round(m.buffered / 24)} ms`;
}

function sendPlayed(force) {
  const ws = session.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN) return;
  if (force || session.played !== session.sentPlayed) {
    ws.send(JSON.stringify({ type: 'played', samples: session.played }));
    session.sentPlayed = session.played;
  }
}

async function start() {
  const button = $('start');
  button.disabled = true;
  setConnection('connecting');
  // Turn numbers start again with every session.
  Object.assign(session, { played: 0, sentPlayed: -1, turns: new Map(), reports: [] });
  if (!$('empty') && $('log').children.length > 0) {
    const sep = document.createElement('div');
    sep.className = 'separator';
    sep.textContent = 'new session';
    logAppend(sep);
  }
  try {
    // Created inside the click so the browser lets it play.
    const ctx = new AudioContext({ latencyHint: 'interactive' });
    session.ctx = ctx;
    $('ctx-rate').textContent = `${ctx.sampleRate} Hz`;
    await Promise.all([ctx.audioWorklet.addModule('capture-worklet.js'), ctx.audioWorklet.addModule('player-worklet.js')]);
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
    });
    session.stream = stream;
    const source = ctx.createMediaStreamSource(stream);
    const capture = new AudioWorkletNode(ctx, 'capture', {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      channelCount: 1,
      channelCountMode: 'explicit',
      channelInterpretation: 'speakers',
    });
    // The capture node must be pulled by the graph to run; its output is silent.
    const mute = ctx.createGain();
    mute.gain.value = 0;
    source.connect(capture).connect(mute).connect(ctx.destination);
    capture.port.onmessage = (e) => onCaptureFrame(e.data);
    const player = new AudioWorkletNode(ctx, 'player', { numberOfInputs: 0, numberOfOutputs: 1, outputChannelCount: [1] });
    player.connect(ctx.destination);
    player.port.onmessage = (e) => onPlayerReport(e.data);
    session.capture = capture;
    session.player = player;
    await ctx.resume();

    // The page is served by tiny_http; the sessions are answered on the WebSocket's own port.
    const where = await (await fetch('/config.json', { cache: 'no-store' })).json();
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.hostname}:${where.websocket.port}${where.websocket.path}`);
    ws.binaryType = 'arraybuffer';
    session.ws = ws;
    ws.onopen = () => {
      setConnection('open');
      ws.send(JSON.stringify({ type: 'hello', sample_rate: 16000, client: navigator.userAgent }));
      sendPlayed(true);
      session.timer = setInterval(() => sendPlayed(false), 100);
    };
    ws.onmessage = (e) => {
      if (typeof e.data === 'string') {
        let m;
        try {
          m = JSON.parse(e.data);
        } catch {
          showError('client', 'unreadable message from the server');
          return;
        }
        onServerMessage(m);
      } else if (session.player) {
        session.player.port.postMessage({ type: 'audio', pcm: e.data }, [e.data]);
      }
    };
    ws.onclose = (e) => {
      const detail = e.code === 1000 || e.code === 1005 ? '' : `${e.code}${e.reason ? ' ' + e.reason : ''}`;
      setConnection('closed', detail);
      if (e.code !== 1000 && e.code !== 1005 && e.reason) showError('connection', `${e.code}: ${e.reason}`);
      stop(false);
    };
    ws.onerror = () => setConnection('error');
    session.running = true;
    button.textContent = 'Stop';
    button.classList.add('stop');
  } catch (err) {
    showError('client', err && err.message ? err.message : String(err));
    setConnection('error');
    stop(false);
  } finally {
    button.disabled = false;
  }
}

function stop(closeSocket = true) {
  if (session.timer) clearInterval(session.timer);
  session.timer = null;
  if (closeSocket && session.ws && session.ws.readyState <= WebSocket.OPEN) session.ws.close(1000, 'bye');
  session.ws = null;
  if (session.capture) session.capture.port.postMessage('stop');
  if (session.stream) session.stream.getTracks().forEach((t) => t.stop());
  if (session.ctx) session.ctx.close().catch(() => {});
  Object.assign(session, { running: false, ctx: null, stream: null, capture: null, player: null, sentPlayed: -1 });
  setPill('agent-state', 'idle', 'idle');
  $('mic-level').style.width = '0%';
  const button = $('start');
  button.textContent = 'Start';
  button.classList.remove('stop');
}

$('start').addEventListener('click', () => (session.running ? stop(true) : start()));
if (!window.AudioWorkletNode || !navigator.mediaDevices) {
  showError('client', 'This page needs AudioWorklet and getUserMedia: use a current browser over http://localhost or https.');
}
