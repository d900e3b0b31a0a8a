// The browser test in headless Firefox, driven by puppeteer-core over WebDriver BiDi: the same
// checks as run.mjs (common.mjs). Firefox has no file-backed fake microphone, so before the
// page's scripts run the test replaces getUserMedia with one that plays the WAV once through a
// MediaStreamAudioDestinationNode, silence after it, and returns that stream. (Chromium loops
// its fake capture file; the WAV's trailing silence covers the reply, but a long reply under a
// loaded CPU can still meet the next loop, so Firefox's caller speaks once.)
// The page itself (static/) is not changed. Saves OUT/browser-firefox.png.
// Usage: node run-firefox.mjs URL WAV OUT
import { readFileSync, rmSync } from 'node:fs';
import puppeteer from 'puppeteer-core';
import { args, checkTurn, logPage, teardown, watchdog, within } from './common.mjs';

const { url, wav, out } = args('run-firefox.mjs');
const executablePath = process.env.FIREFOX || '/usr/bin/firefox-esr';
const wavBase64 = readFileSync(wav).toString('base64');

// No network besides the test server: updates, telemetry, captive portal and connectivity
// checks, safe browsing, remote settings, push, DoH, prefetching (puppeteer sets many of these
// too; the rest are here so that nothing waits on a network a CI machine does not have).
const OFFLINE = 'data:,';
const prefs = {
  // getUserMedia without a prompt, and audio without a gesture.
  'media.navigator.permission.disabled': true,
  'media.autoplay.default': 0,
  'media.autoplay.block-webaudio': false,
  'media.autoplay.blocking_policy': 0,
  // A machine without a sound card (CI) gives Firefox no audio output, and an AudioContext then
  // never leaves "suspended" (resume() does not settle): cubeb's mock backend is a fake output
  // device that runs the audio graph in real time, like Chromium's fake audio output.
  'media.cubeb.force_mock_context': true,
  // Updates.
  'app.update.auto': false,
  'app.update.disabledForTesting': true,
  'app.update.checkInstallTime': false,
  'app.normandy.enabled': false,
  'app.normandy.api_url': '',
  'app.shield.optoutstudies.enabled': false,
  'extensions.update.enabled': false,
  'extensions.systemAddon.update.enabled': false,
  'extensions.blocklist.enabled': false,
  'extensions.getAddons.cache.enabled': false,
  'browser.search.update': false,
  'media.gmp-manager.updateEnabled': false,
  'media.gmp-gmpopenh264.enabled': false,
  'browser.region.update.enabled': false,
  'browser.region.network.url': '',
  // Telemetry and reporting.
  'toolkit.telemetry.enabled': false,
  'toolkit.telemetry.unified': false,
  'toolkit.telemetry.archive.enabled': false,
  'toolkit.telemetry.server': OFFLINE,
  'datareporting.healthreport.uploadEnabled': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'browser.ping-centre.telemetry': false,
  'browser.newtabpage.activity-stream.feeds.telemetry': false,
  'browser.newtabpage.activity-stream.telemetry': false,
  'browser.crashReports.unsubmittedCheck.enabled': false,
  'breakpad.reportURL': '',
  // Captive portal and connectivity checks.
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'captivedetect.canonicalURL': '',
  // Safe browsing.
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'browser.safebrowsing.downloads.enabled': false,
  'browser.safebrowsing.downloads.remote.enabled': false,
  'browser.safebrowsing.blockedURIs.enabled': false,
  'browser.safebrowsing.update.enabled': false,
  'browser.safebrowsing.provider.google4.updateURL': '',
  'browser.safebrowsing.provider.mozilla.updateURL': '',
  // Remote settings, push, new tab page content.
  'services.settings.server': 'data:,#remote-settings-dummy/v1',
  'dom.push.connection.enabled': false,
  'dom.push.serverURL': '',
  'browser.newtabpage.enabled': false,
  'browser.topsites.contile.enabled': false,
  'browser.newtabpage.activity-stream.feeds.system.topstories': false,
  'browser.startup.homepage_override.mstone': 'ignore',
  'browser.shell.checkDefaultBrowser': false,
  'browser.aboutwelcome.enabled': false,
  'geo.provider.network.url': '',
  'identity.fxaccounts.enabled': false,
  // No DoH, proxies, prefetching or speculative connections.
  'network.trr.mode': 5,
  'network.proxy.type': 0,
  'network.dns.disablePrefetch': true,
  'network.prefetch-next': false,
  'network.predictor.enabled': false,
  'network.http.speculative-parallel-limit': 0,
  'security.OCSP.enabled': 0,
  'security.remote_settings.crlite_filters.enabled': false,
  'security.remote_settings.intermediates.enabled': false,
};

let browser = null;
// Past the watchdog or a stuck close: kill Firefox and remove its temporary profile (which
// puppeteer removes itself only on a clean close).
const kill = () => {
  const proc = browser && browser.process();
  if (!proc) return;
  if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  const i = proc.spawnargs.indexOf('--profile');
  const profile = i >= 0 ? proc.spawnargs[i + 1] : null;
  if (profile && profile.includes('puppeteer_dev_firefox_profile-')) {
    try {
      rmSync(profile, { recursive: true, force: true, maxRetries: 3 });
    } catch {}
  }
};
watchdog('firefox', kill);
process.on('exit', kill);

browser = await puppeteer.launch({
  browser: 'firefox',
  executablePath,
  headless: true,
  // A fresh temporary profile (puppeteer creates it and removes it on close).
  extraPrefsFirefox: prefs,
  defaultViewport: { width: 1320, height: 900, deviceScaleFactor: 1 },
  timeout: 60000,
  protocolTimeout: 60000,
  handleSIGINT: true,
  handleSIGTERM: true,
  handleSIGHUP: true,
  env: { ...process.env, MOZ_CRASHREPORTER_DISABLE: '1', MOZ_DISABLE_AUTO_SAFE_MODE: '1' },
  dumpio: process.env.BROWSER_DUMPIO === '1',
});
console.log(`firefox: ${await within(10000, 'version', browser.version())}`);

const page = await browser.newPage();
logPage(page);

// The fake microphone, installed in every new document before its scripts run.
await page.evaluateOnNewDocument((b64) => {
  const state = { calls: 0, error: null, rate: null, seconds: null };
  window.__fakeMic = state;
  const real = MediaDevices.prototype.getUserMedia;
  MediaDevices.prototype.getUserMedia = async function getUserMedia(constraints) {
    if (!constraints || !constraints.audio) return real.call(this, constraints);
    state.calls++;
    try {
      const bin = atob(b64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      // The context's own (default) rate, the same as the page's context.
      const ctx = new AudioContext();
      const audio = await ctx.decodeAudioData(bytes.buffer);
      const source = ctx.createBufferSource();
      source.buffer = audio;
      const dest = ctx.createMediaStreamDestination();
      dest.channelCount = 1;
      source.connect(dest);
      // After the buffer ends the destination's track goes on, silent.
      source.start();
      await ctx.resume();
      state.rate = ctx.sampleRate;
      state.seconds = audio.duration;
      state.ctxState = ctx.state;
      for (const track of dest.stream.getTracks()) {
        const stop = track.stop.bind(track);
        track.stop = () => {
          stop();
          ctx.close().catch(() => {});
        };
      }
      return dest.stream;
    } catch (e) {
      state.error = String(e && e.message ? e.message : e);
      throw e;
    }
  };
}, wavBase64);

const passed = await checkTurn({
  page,
  url,
  screenshot: `${out}/browser-firefox.png`,
  waitUntil: (fn, timeout) => page.waitForFunction(fn, { timeout, polling: 200 }),
});
try {
  const mic = await within(5000, 'fake microphone state', page.evaluate(() => window.__fakeMic));
  console.log(`fake microphone: ${JSON.stringify(mic)}`);
} catch {}
await teardown(() => browser.close(), kill);
if (!passed) {
  console.log('browser test (firefox) FAILED');
  process.exit(1);
}
console.log('browser test (firefox) passed');
