// The checks both browser runners share (run.mjs: Chromium through playwright-core;
// run-firefox.mjs: Firefox through puppeteer-core and WebDriver BiDi). `page` is either
// driver's page; the few calls where their APIs differ come in `waitUntil` (a predicate run in
// the page, polled until it is true or the timeout passes).

export const TURN_TIMEOUT = Number(process.env.BROWSER_TURN_TIMEOUT_MS || 90000);
// The whole run, browser start and teardown included; past it the runner is killed.
export const RUN_TIMEOUT = Number(process.env.BROWSER_RUN_TIMEOUT_MS || 240000);

export function args(runner) {
  const [url, wav, out] = process.argv.slice(2);
  if (!url || !wav || !out) {
    console.error(`usage: node ${runner} URL WAV OUTDIR`);
    process.exit(2);
  }
  return { url, wav, out };
}

// A hard limit for the whole runner: whatever hangs (browser start, a driver call, teardown),
// `kill` is called (to end the browser) and the process exits non-zero.
export function watchdog(name, kill) {
  const timer = setTimeout(() => {
    console.log(`FAIL ${name}: the run took longer than ${RUN_TIMEOUT / 1000} s`);
    try {
      kill();
    } catch {}
    process.exit(1);
  }, RUN_TIMEOUT);
  timer.unref();
}

// Rejects after `ms` so that a stuck driver call cannot hold the run.
export function within(ms, what, promise) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function logPage(page) {
  page.on('console', (m) => {
    const type = m.type();
    if (type === 'error' || type === 'warning' || type === 'warn') console.log(`[page ${type}] ${m.text()}`);
  });
  page.on('pageerror', (e) => console.log(`[page exception] ${e && e.message ? e.message : e}`));
}

async function step(what, fn) {
  const t0 = Date.now();
  try {
    await fn();
    console.log(`ok   ${what} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    console.log(`FAIL ${what}: ${String(e && e.message ? e.message : e).split('\n')[0]}`);
    throw e;
  }
}

// Opens the page, clicks Start and waits for a full turn; prints the page's summary and saves
// the screenshot. Returns true when every check passed.
export async function checkTurn({ page, url, screenshot, waitUntil }) {
  let failed = null;
  try {
    await step('page loads', () => page.goto(url, { waitUntil: 'load', timeout: 30000 }));
    await step('start', () => within(10000, 'click', page.click('#start')));
    await step('connected', () => page.waitForSelector('#conn[data-state="open"]', { timeout: 20000 }));
    await step('final transcript shown', () => page.waitForSelector('.msg.caller.final', { timeout: TURN_TIMEOUT }));
    await step('tool call shown', () => page.waitForSelector('.tool-call', { timeout: TURN_TIMEOUT }));
    await step('agent text shown', () => page.waitForSelector('.msg.agent .chunk', { timeout: TURN_TIMEOUT }));
    await step('latency waterfall drawn', () =>
      page.waitForSelector('.waterfall .wf-row.ttfa .bar:not(.missing)', { timeout: TURN_TIMEOUT }),
    );
    await step('agent audio played', () =>
      waitUntil(() => Number(document.getElementById('played').dataset.samples) > 0, TURN_TIMEOUT),
    );
    // Let the reply finish and the page settle before the picture.
    await sleep(1500);
  } catch (e) {
    failed = e;
  }

  try {
    const summary = await within(
      10000,
      'summary',
      page.evaluate(() => ({
        userAgent: navigator.userAgent,
        connection: document.getElementById('conn').textContent,
        agentState: document.getElementById('agent-state').textContent,
        audioContextRate: document.getElementById('ctx-rate').textContent,
        transcripts: [...document.querySelectorAll('.msg.caller')].map((e) => ({
          text: e.querySelector('.text').textContent,
          final: e.classList.contains('final'),
        })),
        agent: [...document.querySelectorAll('.msg.agent .text')].map((e) => e.textContent),
        tools: [...document.querySelectorAll('.tool-call .tool-name')].map((e) => e.textContent),
        waterfalls: [...document.querySelectorAll('.waterfall .wf-ttfa')].map((e) => e.textContent),
        playedSamples: Number(document.getElementById('played').dataset.samples),
        errors: [...document.querySelectorAll('#errors li')].map((e) => e.textContent),
      })),
    );
    console.log(JSON.stringify(summary, null, 2));
  } catch (e) {
    console.log(`(no summary: ${String(e && e.message ? e.message : e).split('\n')[0]})`);
  }
  try {
    await within(20000, 'screenshot', page.screenshot({ path: screenshot }));
    console.log(`screenshot: ${screenshot}`);
  } catch (e) {
    console.log(`(no screenshot: ${String(e && e.message ? e.message : e).split('\n')[0]})`);
  }
  return !failed;
}

// Closes the browser, or kills it when closing does not finish in time.
export async function teardown(close, kill) {
  try {
    await within(15000, 'browser close', close());
  } catch (e) {
    console.log(`(${e.message}; killing the browser)`);
    try {
      kill();
    } catch {}
  }
}
