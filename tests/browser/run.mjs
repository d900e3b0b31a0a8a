// Opens the demo page in headless Chromium with a WAV as the fake microphone, clicks Start and
// waits for a full turn on the page: final transcript, tool call, latency waterfall, agent
// audio played. Saves OUT/browser.png. Usage: node run.mjs URL WAV OUT
// (run-firefox.mjs does the same in Firefox; the checks are in common.mjs.)
import { chromium } from 'playwright-core';
import { args, checkTurn, logPage, teardown, watchdog } from './common.mjs';

const { url, wav, out } = args('run.mjs');
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
// Playwright kills the browsers it launched when this process exits.
watchdog('chromium', () => {});

const browser = await chromium.launch({
  executablePath,
  headless: true,
  timeout: 60000,
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

const context = await browser.newContext({ viewport: { width: 1320, height: 900 }, deviceScaleFactor: 1 });
await context.grantPermissions(['microphone'], { origin: new URL(url).origin });
const page = await context.newPage();
logPage(page);

const passed = await checkTurn({
  page,
  url,
  screenshot: `${out}/browser.png`,
  waitUntil: (fn, timeout) => page.waitForFunction(fn, null, { timeout }),
});
await teardown(() => browser.close(), () => {});
if (!passed) {
  console.log('browser test (chromium) FAILED');
  process.exit(1);
}
console.log('browser test (chromium) passed');
