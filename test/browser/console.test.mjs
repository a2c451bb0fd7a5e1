// console.test.mjs — the web console end to end in Debian's headless
// Chromium (/usr/bin/chromium, driven by puppeteer-core; no browser is ever
// downloaded), against a real namaskahd and database.
//
// Environment (test/browser/run.sh and test/run_all set it):
//   NAMASKAH_URL      the namaskahd under test
//   SECRET_KEY        to sign SMS webhooks as the sandbox provider does
//   PG*               a superuser connection (create_admin, rate-limit policy)
//   CONSOLE_SHOTS     where screenshots go (created)
//   CHROMIUM          the browser (default /usr/bin/chromium)
// Prints one line per test and ends with "N passed, N failed".
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const BASE = (process.env.NAMASKAH_URL || '').replace(/\/$/, '');
const SHOTS = process.env.CONSOLE_SHOTS || '/tmp/namaskah-console-shots';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const WAIT_MS = 15000;
const FIRST_LOAD_BUDGET = 100 * 1024;
const RUN = crypto.randomBytes(4).toString('hex');

// The XSS catalogue: each must come back as the very same text, inert.
// "evil.invalid" stands for a foreign origin: any request to it is a fault.
const XSS = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(2)>',
  '<svg onload=alert(3)><use href="http://evil.invalid/x.svg#a"/></svg>',
  '"><iframe src="javascript:alert(4)"></iframe>',
  '<a href="javascript:alert(5)">click</a>',
  '&lt;script&gt;alert(6)&lt;/script&gt; &#x3C;img src=x onerror=alert(7)&#x3E;',
  "'-alert(8)-'\" onmouseover=alert(9) x=\"",
  '<math><mtext><table><mglyph><style><img src=http://evil.invalid/m onerror=alert(10)>',
  '<link rel=stylesheet href=http://evil.invalid/s.css><base href=http://evil.invalid/>',
  '{{constructor.constructor(\'alert(11)\')()}} ${alert(12)}',
];

let passed = 0;
let failed = 0;
let shownPage = null; // the page whose state a failure report shows
async function test(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAILED ${name}: ${e && e.stack ? e.stack : e}`);
    if (shownPage) {
      const state = await shownPage.evaluate(() => `${location.hash} | ${document.getElementById('notice')?.textContent} | ${document.querySelector('main')?.textContent.slice(0, 300)}`).catch(() => '?');
      console.log(`  page: ${state}`);
    }
  }
}
function assert(cond, msg) { if (!cond) throw new Error(msg); }

function psql(sql) {
  return execFileSync('psql', ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql],
    { encoding: 'utf8', timeout: 30000 }).trim();
}

async function http(method, p, { body, headers = {}, token } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const res = await fetch(BASE + p, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), redirect: 'manual' });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, json, text };
}

// As docs/webhooks.md tells a provider: HMAC-SHA256(derive_key('webhook'),
// timestamp "." body), derive_key('webhook') = HMAC-SHA256(SECRET_KEY, "namaskah:webhook").
async function sendSms(to, text) {
  const key = crypto.createHmac('sha256', process.env.SECRET_KEY).update('namaskah:webhook').digest();
  const raw = JSON.stringify({ message_id: `console-${RUN}-${crypto.randomBytes(6).toString('hex')}`, to, text });
  const ts = String(Math.floor(Date.now() / 1000));
  const sig = 'v1=' + crypto.createHmac('sha256', key).update(`${ts}.${raw}`).digest('hex');
  const res = await fetch(BASE + '/api/webhooks/sms', {
    method: 'POST', body: raw,
    headers: { 'Content-Type': 'application/json', 'X-Namaskah-Timestamp': ts, 'X-Namaskah-Signature': sig },
  });
  return res.status;
}

// Everything a page does that an attacker's markup would: dialogs, requests
// off this origin, CSP (and Trusted Types) violations, console errors.
function watch(page) {
  const w = { dialogs: [], foreign: [], errors: [], bytes: 0 };
  page.on('dialog', (d) => { w.dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(BASE + '/') && !u.startsWith('data:')) w.foreign.push(u);
  });
  page.on('console', (m) => { if (m.type() === 'error') w.errors.push(m.text()); });
  page.on('pageerror', (e) => w.errors.push(String(e)));
  page.evaluateOnNewDocument(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  w.reset = () => { w.dialogs.length = 0; w.foreign.length = 0; w.errors.length = 0; };
  w.clean = async (what) => {
    const violations = await page.evaluate(() => window.__violations || []);
    assert(w.dialogs.length === 0, `${what}: dialog ${w.dialogs}`);
    assert(w.foreign.length === 0, `${what}: foreign request ${w.foreign}`);
    assert(violations.length === 0, `${what}: policy violation ${violations}`);
    assert(w.errors.length === 0, `${what}: console error ${w.errors}`);
  };
  return w;
}

async function shot(page, name, fullPage = true) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage });
}

async function text(page, sel) {
  return page.$eval(sel, (e) => e.textContent);
}

async function waitText(page, sel, needle) {
  await page.waitForFunction((s, n) => {
    const e = document.querySelector(s);
    return e && e.textContent.includes(n);
  }, { timeout: WAIT_MS }, sel, needle);
}

async function fill(page, form, values) {
  for (const [name, value] of Object.entries(values)) {
    const sel = `${form} [name="${name}"]`;
    await page.$eval(sel, (e) => { e.value = ''; });
    await page.type(sel, value);
  }
}

async function login(page, email, password) {
  await page.goto(`${BASE}/console/#/login`);
  await page.waitForSelector('#login-form');
  await fill(page, '#login-form', { email, password });
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#logout', { timeout: WAIT_MS });
}

async function main() {
  assert(BASE, 'NAMASKAH_URL is not set');
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--no-first-run', '--disable-background-networking'],
  });
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  const w = watch(page);
  shownPage = page;
  const user = { email: `console-${RUN}@example.com`, password: 'console user password 1' };
  const admin = { email: `console-admin-${RUN}@example.com`, password: 'console admin password 1' };
  let verificationNumber = null;
  const firstAuditId = Number(psql('SELECT coalesce(max(id), 0) + 1 FROM namaskah.audit_log'));

  await test('GET / leads to the console under its own policy; first load is small', async () => {
    const bytes = [];
    const onResponse = async (r) => {
      try { bytes.push(Number(r.headers()['content-length'] || (await r.buffer()).length)); } catch { /* redirect */ }
    };
    page.on('response', onResponse);
    const res = await page.goto(`${BASE}/`);
    page.off('response', onResponse);
    assert(res.url() === `${BASE}/console/`, `landed on ${res.url()}`);
    const csp = res.headers()['content-security-policy'];
    assert(csp.includes("require-trusted-types-for 'script'") && csp.includes("trusted-types 'none'"), `CSP ${csp}`);
    assert(res.headers()['cache-control'] === 'no-store', 'document cacheable');
    await page.waitForSelector('#login-form input[name=email]');
    const total = bytes.reduce((a, b) => a + b, 0);
    assert(total > 0 && total < FIRST_LOAD_BUDGET, `first load ${total} bytes`);
    await shot(page, 'login');
    await w.clean('first load');
  });

  await test('the login form is labelled, keyboard-usable and fits 360 px', async () => {
    const unlabelled = await page.$$eval('input, select', (els) => els.filter((e) => !e.closest('label')).length);
    assert(unlabelled === 0, `${unlabelled} inputs without a label`);
    await page.focus('#login-form input[name=email]');
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => document.activeElement.getAttribute('name'));
    assert(focused === 'password', `Tab went to ${focused}`);
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert(outline !== 'none', 'no visible focus');
    await page.setViewport({ width: 360, height: 740 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
    assert(overflow <= 360, `page is ${overflow} px wide at 360`);
    await shot(page, 'login-360');
    await page.setViewport({ width: 1280, height: 900 });
  });

  await test('register, then log in; the token is in memory only', async () => {
    await page.goto(`${BASE}/console/#/register`);
    await page.waitForSelector('#register-form');
    await fill(page, '#register-form', user);
    await shot(page, 'register');
    await page.click('#register-form button[type=submit]');
    await waitText(page, '#notice', 'Account created');
    await fill(page, '#login-form', user);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#rent-form', { timeout: WAIT_MS });
    const stored = await page.evaluate(() => localStorage.length + sessionStorage.length + document.cookie.length);
    assert(stored === 0, 'something was stored');
    await w.clean('register and login');
  });

  await test('rent a number; the code appears when the webhook arrives', async () => {
    await fill(page, '#rent-form', { service: 'telegram' });
    await page.click('#rent-form button[type=submit]');
    await page.waitForSelector('#waiting', { timeout: WAIT_MS });
    verificationNumber = (await text(page, 'dd[data-field=number]')).trim();
    assert(/^\+[0-9]{8,15}$/.test(verificationNumber), `number ${verificationNumber}`);
    await shot(page, 'verification-pending');
    assert(await sendSms(verificationNumber, 'Your telegram code is 48213') === 200, 'webhook refused');
    await page.waitForSelector('#code', { timeout: WAIT_MS });
    assert((await text(page, '#code')) === '48213', 'wrong code');
    assert((await text(page, 'dd[data-field=status]')) === 'completed', 'not completed');
    await shot(page, 'verification-completed');
    await w.clean('verification');
  });

  await test('cancel a pending verification', async () => {
    await page.goto(`${BASE}/console/#/verifications`);
    await page.waitForSelector('#rent-form');
    await fill(page, '#rent-form', { service: 'whatsapp' });
    await page.click('#rent-form button[type=submit]');
    await page.waitForSelector('#cancel', { timeout: WAIT_MS });
    await page.click('#cancel');
    await page.waitForFunction(() => document.querySelector('dd[data-field=status]')?.textContent === 'cancelled', { timeout: WAIT_MS });
    assert(!(await page.$('#cancel')), 'cancel button still there');
  });

  await test('the list pages with the API cursor and shows status and expiry', async () => {
    // 21 more (and cancelled, so no number stays held): two pages of 20
    const tok = (await http('POST', '/api/auth/login', { body: user })).json.access_token;
    for (let i = 0; i < 21; i++) {
      const v = await http('POST', '/api/verifications', { token: tok, body: { service: `svc${i}` } });
      assert(v.status === 201, `create ${v.status} ${v.text}`);
      await http('POST', `/api/verifications/${v.json.id}/cancel`, { token: tok });
    }
    await page.goto(`${BASE}/console/#/verifications`);
    await page.waitForSelector('#verification-list tbody tr');
    const first = await page.$$eval('#verification-list tbody tr', (r) => r.length);
    assert(first === 20, `first page has ${first} rows`);
    const head = await page.$$eval('#verification-list th', (t) => t.map((x) => x.textContent));
    assert(head.includes('Status') && head.includes('Expires'), `columns ${head}`);
    await shot(page, 'verifications');
    await page.click('#next-page');
    await page.waitForFunction(() => document.querySelectorAll('#verification-list tbody tr').length !== 20, { timeout: WAIT_MS });
    const second = await page.$$eval('#verification-list tbody tr', (r) => r.length);
    assert(second === 3, `second page has ${second} rows`);
  });

  await test('429 shows the wait from Retry-After', async () => {
    await page.click('#logout');
    await waitText(page, '#notice', 'logged out');
    psql(`UPDATE namaskah.rate_limit_policies SET "limit" = 1 WHERE name = 'auth_login'`);
    try {
      // this client's logins are over the limit of 1 whatever the window holds
      for (let i = 0; i < 2; i++) await http('POST', '/api/auth/login', { body: user });
      await fill(page, '#login-form', user);
      await page.click('#login-form button[type=submit]');
      await waitText(page, '#notice', 'Too many requests: try again in');
      assert(/in [0-9]+ seconds?\./.test(await text(page, '#notice')), 'no number of seconds');
      await shot(page, 'rate-limited');
    } finally {
      psql(`UPDATE namaskah.rate_limit_policies SET "limit" = 1000000 WHERE name = 'auth_login'`);
    }
  });

  await test('when the token expires the console returns to login and says so', async () => {
    const ctx = await browser.createBrowserContext();
    const p = await ctx.newPage();
    try {
      // the expiry timer is the token's expires_in (hours): made short here
      await p.evaluateOnNewDocument(() => {
        const later = window.setTimeout;
        window.setTimeout = (f, ms, ...rest) => later(f, ms > 60000 ? 500 : ms, ...rest);
      });
      await login(p, user.email, user.password);
      await waitText(p, '#notice', 'Your session expired');
      await p.waitForSelector('#login-form');
      assert(!(await p.$('#logout')), 'still logged in');
    } finally {
      await ctx.close();
    }
  });

  await test('a reload forgets the session', async () => {
    await login(page, user.email, user.password);
    await page.reload();
    await page.waitForSelector('#login-form');
    assert(!(await page.$('#logout')), 'still logged in after reload');
  });

  // The catalogue goes in as request paths, user agents, bearer tokens and
  // refused registrations: all of it lands in the audit trail.
  await test('the XSS catalogue reaches the audit trail', async () => {
    for (const p of XSS) {
      await http('GET', `/api/${encodeURIComponent(p)}`, { headers: { 'User-Agent': p } });
      await http('GET', '/api/auth/me', { headers: { 'User-Agent': p, Authorization: `Bearer ${p}` } });
      await http('POST', '/api/auth/register', { headers: { 'User-Agent': p }, body: { email: `${p}@example.com`, password: p } });
    }
    // and enough bad tokens in a few seconds to put this client over the
    // security-event threshold (10 a minute) even across a minute boundary
    for (let round = 0; round < 2; round++) {
      for (const p of XSS) await http('GET', '/api/verifications', { headers: { 'User-Agent': p, Authorization: `Bearer ${p}` } });
    }
    const n = psql(`SELECT count(*) FROM namaskah.audit_log WHERE details->>'user_agent' = '${XSS[0]}'`);
    assert(Number(n) >= 3, `only ${n} records carry the payload`);
  });

  psql(`SELECT namaskah.create_admin('${admin.email}', '${admin.password}')`);

  await test('admin audit page shows the catalogue as text, inert', async () => {
    await login(page, admin.email, admin.password);
    await page.waitForSelector('#audit-list tbody tr');
    w.reset();
    await fill(page, '#audit-filters', { route: 'unmatched' });
    await page.click('#audit-filters button[type=submit]');
    // the filtered page, not the first one still on screen
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('#audit-list tbody tr')];
      return rows.length > 0 && rows.every((r) => r.children[4]?.textContent === 'unmatched');
    }, { timeout: WAIT_MS });
    await waitText(page, '#audit-list', 'onerror=alert(2)');
    const shown = await text(page, '#audit-list');
    for (const p of XSS) assert(shown.includes(p), `not shown as text: ${p}`);
    const injected = await page.evaluate(() => ({
      scripts: document.scripts.length,
      handlers: [...document.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => a.name.startsWith('on'))).length,
      foreign: document.querySelectorAll('main img, main iframe, main svg, main math, main link, main a[href^="javascript"]').length,
    }));
    assert(injected.scripts === 1 && injected.handlers === 0 && injected.foreign === 0, JSON.stringify(injected));
    await page.hover('#audit-list tbody tr td:nth-child(9)');
    await new Promise((r) => setTimeout(r, 300));
    await shot(page, 'admin-audit');
    await shot(page, 'admin-audit-top', false);
    await w.clean('audit page');
  });

  await test('admin verifies the audit chain from the audit page', async () => {
    // the whole log: what it says depends on what ran before (other suites
    // tamper with the chain on purpose); it must say something, as text
    await page.click('#audit-verify button[type=submit]');
    await page.waitForFunction(() => /^Chain (intact|broken)/.test(document.getElementById('verify-result')?.textContent || ''),
      { timeout: 60000 });
    // this run's records: intact, and all of them checked
    const top = psql('SELECT max(id) FROM namaskah.audit_log');
    const count = psql(`SELECT count(*) FROM namaskah.audit_log WHERE id BETWEEN ${firstAuditId} AND ${top}`);
    await fill(page, '#audit-verify', { from_id: String(firstAuditId), to_id: top });
    await page.click('#audit-verify button[type=submit]');
    await waitText(page, '#verify-result', `Chain intact: ${count} records checked`);
    await w.clean('audit verify');
  });

  await test('admin users page: masked, lock and unlock; a locked user is sent to login', async () => {
    const other = await browser.createBrowserContext();
    const userPage = await other.newPage();
    try {
      await login(userPage, user.email, user.password);
      shownPage = userPage;
      await page.goto(`${BASE}/console/#/admin/users`);
      await page.waitForSelector('#user-list tbody tr');
      const emails = await page.$$eval('#user-list tbody td:first-child', (t) => t.map((x) => x.textContent));
      assert(emails.length > 0 && emails.every((e) => e.includes('*')), `unmasked: ${emails}`);
      assert(!(await text(page, '#user-list')).includes(user.email), 'full email shown');
      await shot(page, 'admin-users');
      const tok = (await http('POST', '/api/auth/login', { body: user })).json.access_token;
      const id = (await http('GET', '/api/auth/me', { token: tok })).json.id;
      const row = await page.waitForSelector(`#user-list tr[data-id="${id}"] button`);
      assert((await row.evaluate((b) => b.textContent)) === 'Lock', 'no lock button');
      await row.click();
      await waitText(page, '#notice', 'locked');
      // the user's next call answers 401: back to login with the reason
      // (a fragment change: navigating to the same URL would reload the page)
      await userPage.evaluate(() => { location.hash = '#/verifications/'; });
      await waitText(userPage, '#notice', 'Please log in again').catch(async (e) => {
        throw new Error(`${e.message}; user page: ${await userPage.evaluate(() => location.hash + ' | ' + document.body.textContent.slice(0, 300))}`);
      });
      await userPage.waitForSelector('#login-form');
      const unlock = await page.waitForSelector(`#user-list tr[data-id="${id}"] button.secondary`, { timeout: WAIT_MS });
      await unlock.click();
      await waitText(page, '#notice', 'unlocked');
    } finally {
      shownPage = page;
      await other.close();
    }
  });

  await test('admin security events: a chart drawn from the data, text only', async () => {
    w.reset();
    await page.goto(`${BASE}/console/#/admin/security`);
    await page.waitForSelector('#security-chart');
    await page.waitForSelector('#security table');
    const totals = await text(page, '#security');
    assert(totals.includes('auth_failure'), `no auth_failure events in ${totals.slice(0, 200)}`);
    // one bar per minute that has rows over the threshold (the catalogue's
    // bad tokens put this client over it), each as tall as their sum
    const drawn = await page.evaluate(() => {
      const rows = [...document.querySelectorAll('#security table')[1].querySelectorAll('tbody tr')]
        .filter((r) => r.children.length === 5);
      const perMinute = {};
      rows.forEach((r) => { perMinute[r.children[0].textContent] = (perMinute[r.children[0].textContent] || 0) + Number(r.children[3].textContent); });
      const bars = [...document.querySelectorAll('#security-chart rect.bar')].map((b) => Number(b.querySelector('title').textContent.split(' ')[0]));
      return { minutes: Object.values(perMinute).sort((a, b) => a - b), bars: bars.sort((a, b) => a - b) };
    });
    assert(drawn.bars.length > 0 && JSON.stringify(drawn.bars) === JSON.stringify(drawn.minutes), `chart ${JSON.stringify(drawn)}`);
    await shot(page, 'admin-security');
    await w.clean('security page');
  });

  await test('admin rate-limit keys are pseudonymised', async () => {
    w.reset();
    await page.goto(`${BASE}/console/#/admin/rate-limits`);
    await page.waitForSelector('#rate-limits tbody tr');
    const shown = await text(page, '#rate-limits');
    assert(!shown.includes('127.0.0.1') && !shown.includes(user.email), 'raw key shown');
    await shot(page, 'admin-rate-limits');
    await w.clean('rate-limit page');
  });

  await test('the API reference lists every operation of the served document', async () => {
    w.reset();
    await page.goto(`${BASE}/console/#/api`);
    await page.waitForSelector('#reference section.op');
    const doc = (await http('GET', '/api/openapi.json')).json;
    const ops = Object.values(doc.paths).reduce((n, p) => n + Object.values(p).filter((o) => o && o.responses).length, 0);
    const shown = await page.$$eval('#reference section.op', (s) => s.length);
    assert(shown === ops, `${shown} of ${ops} operations`);
    await shot(page, 'api-reference');
    await w.clean('reference page');
  });

  await test('a user is kept off the admin pages', async () => {
    await page.click('#logout');
    await waitText(page, '#notice', 'logged out');
    await login(page, user.email, user.password);
    await page.goto(`${BASE}/console/#/admin/audit`);
    await waitText(page, '#notice', 'for administrators');
    assert(!(await page.$('#audit-list')), 'audit list shown to a user');
  });

  await test('the console refuses to be framed', async () => {
    const framer = await context.newPage();
    try {
      // the browser refuses (frame-ancestors 'none', X-Frame-Options: DENY)
      await framer.setContent(`<iframe id="f" src="${BASE}/console/" width="600" height="400"></iframe>`);
      await new Promise((r) => setTimeout(r, 1500));
      const frame = framer.frames().find((f) => f !== framer.mainFrame());
      let form = null;
      try { form = frame ? await frame.$('#login-form') : null; } catch { form = null; }
      assert(!form, 'the console rendered inside a frame');
      // and with those headers stripped, the page itself stops
      await framer.setRequestInterception(true);
      framer.on('request', async (req) => {
        if (!req.url().startsWith(`${BASE}/console/`)) return req.continue();
        const r = await fetch(req.url());
        const headers = Object.fromEntries(r.headers);
        delete headers['x-frame-options'];
        headers['content-security-policy'] = headers['content-security-policy'].replace("frame-ancestors 'none'", '*');
        req.respond({ status: r.status, headers, body: Buffer.from(await r.arrayBuffer()) });
      });
      await framer.setContent(`<iframe id="g" src="${BASE}/console/" width="600" height="400"></iframe>`);
      await new Promise((r) => setTimeout(r, 1500));
      const inner = framer.frames().find((f) => f !== framer.mainFrame());
      assert(inner && inner.url().startsWith(`${BASE}/console/`), 'frame did not load without the headers');
      const children = await inner.evaluate(() => document.documentElement.children.length);
      assert(children === 0, 'the console ran inside a frame');
    } finally {
      await framer.close();
    }
  });

  await browser.close();
}

main().catch((e) => { failed++; console.log(`FAILED setup: ${e && e.stack ? e.stack : e}`); })
  .finally(() => { console.log(`${passed} passed, ${failed} failed`); process.exit(failed ? 1 : 0); });
