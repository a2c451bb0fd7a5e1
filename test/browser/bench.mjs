// bench.mjs — the web console's weight and speed, for 'make bench'
// (test/bench/console_bench.sh). Not a test: prints figures, asserts nothing.
//
// ROUNDS cold loads of /console/ (a fresh browser context each: empty cache)
// in Debian's headless Chromium: bytes transferred (the network's encoded
// lengths, headers included) and the time from navigation start until the
// login form's email field exists and holds the focus, i.e. can be typed
// into; beside it, in the same run, a GET /health from the same page, the
// loopback round trip that bounds any page load from below.
import puppeteer from 'puppeteer-core';

const BASE = (process.env.NAMASKAH_URL || '').replace(/\/$/, '');
const ROUNDS = Number(process.env.CONSOLE_BENCH_ROUNDS || 15);
const BYTES_BUDGET = 100 * 1024;
const TTI_BUDGET_MS = 300;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--no-first-run', '--disable-background-networking'],
});
const bytes = [], tti = [], health = [];
for (let i = 0; i < ROUNDS; i++) {
  const ctx = await browser.createBrowserContext();
  const page = await ctx.newPage();
  const cdp = await page.createCDPSession();
  await cdp.send('Network.enable');
  let transferred = 0;
  cdp.on('Network.loadingFinished', (e) => { transferred += e.encodedDataLength; });
  await page.goto(`${BASE}/console/`, { waitUntil: 'domcontentloaded' });
  await page.waitForFunction(() => {
    const e = document.querySelector('#login-form input[name=email]');
    return e && document.activeElement === e;
  }, { polling: 'mutation' });
  tti.push(await page.evaluate(() => performance.now()));
  await new Promise((r) => setTimeout(r, 100)); // let the last loadingFinished arrive
  bytes.push(transferred);
  health.push(await page.evaluate(async () => {
    const t0 = performance.now();
    await fetch('/health', { cache: 'no-store' });
    return performance.now() - t0;
  }));
  await ctx.close();
}
await browser.close();
const b = median(bytes), t = median(tti), hl = median(health);
console.log(`console first load: ${b} bytes transferred (median of ${ROUNDS} cold loads) = ${(b / BYTES_BUDGET).toFixed(2)} of the 100 KB budget`);
console.log(`time to an interactive login form: ${t.toFixed(1)} ms median = ${(t / TTI_BUDGET_MS).toFixed(2)} of the 300 ms budget; `
  + `${(t / hl).toFixed(1)}x a GET /health round trip from the same page (${hl.toFixed(2)} ms)`);
