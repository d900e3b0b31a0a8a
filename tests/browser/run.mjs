// Opens the demo page in headless Chromium with a WAV as the fake microphone, clicks Start and
// waits for a full turn on the page: final transcript, tool call, latency waterfall, agent
// audio played. Saves OUT/browser.png. Usage: node run.mjs URL WAV OUT
import { chromium } from 'playwright-core';

const [url, wav, out] = process.argv.slice(2);
if (!url || !wav || !out) {
  console.error('usage: node run.mjs URL WAV OUTDIR');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const TURN_TIMEOUT = Number(process.env.BROWSER_TURN_TIMEOUT_MS || 90000);

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    `--use-file-for-fake-audio-capture=${wav}`,
    '--autoplay-policy=no-user-gesture-required',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
});

let failed = null;
const context = await browser.newContext({ viewport: { width: 1320, height: 900 }, deviceScaleFactor: 1 });
const origin = new URL(url).origin;
await context.grantPermissions(['microphone'], { origin });
const page = await context.newPage();
page.on('console', (m) => {
  if (m.type() === 'error' || m.type() === 'warning') console.log(`[page ${m.type()}] ${m.text()}`);
});
page.on('pageerror', (e) => console.log(`[page exception] ${e.message}`));

async function step(what, fn) {
  const t0 = Date.now();
  try {
    await fn();
    console.log(`ok   ${what} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    console.log(`FAIL ${what}: ${e.message.split('\n')[0]}`);
    throw e;
  }
}

try {
  await step('page loads', () => page.goto(url, { waitUntil: 'load' }));
  await step('start', () => page.click('#start'));
  await step('connected', () => page.waitForSelector('#conn[data-state="open"]', { timeout: 20000 }));
  await step('final transcript shown', () => page.waitForSelector('.msg.caller.final', { timeout: TURN_TIMEOUT }));
  await step('tool call shown', () => page.waitForSelector('.tool-call', { timeout: TURN_TIMEOUT }));
  await step('agent text shown', () => page.waitForSelector('.msg.agent .chunk', { timeout: TURN_TIMEOUT }));
  await step('latency waterfall drawn', () =>
    page.waitForSelector('.waterfall .wf-row.ttfa .bar:not(.missing)', { timeout: TURN_TIMEOUT }),
  );
  await step('agent audio played', () =>
    page.waitForFunction(() => Number(document.getElementById('played').dataset.samples) > 0, null, {
      timeout: TURN_TIMEOUT,
    }),
  );
  // Let the reply finish and the page settle before the picture.
  await page.waitForTimeout(1500);
} catch (e) {
  failed = e;
}

const summary = await page.evaluate(() => ({
  connection: document.getElementById('conn').textContent,
  agentState: document.getElementById('agent-state').textContent,
  transcripts: [...document.querySelectorAll('.msg.caller')].map((e) => ({
    text: e.querySelector('.text').textContent,
    final: e.classList.contains('final'),
  })),
  agent: [...document.querySelectorAll('.msg.agent .text')].map((e) => e.textContent),
  tools: [...document.querySelectorAll('.tool-call .tool-name')].map((e) => e.textContent),
  waterfalls: [...document.querySelectorAll('.waterfall .wf-ttfa')].map((e) => e.textContent),
  playedSamples: Number(document.getElementById('played').dataset.samples),
  errors: [...document.querySelectorAll('#errors li')].map((e) => e.textContent),
}));
console.log(JSON.stringify(summary, null, 2));
await page.screenshot({ path: `${out}/browser.png` });
console.log(`screenshot: ${out}/browser.png`);
await browser.close();
if (failed) {
  console.log('browser test FAILED');
  process.exit(1);
}
console.log('browser test passed');
