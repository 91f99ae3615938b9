// Shared harness of the browser tests: the system Chromium through playwright-core, a phone-sized
// context, a tiny sequential test runner with per-case and global timeouts, and page checks
// (escaping, horizontal overflow, styles) that every visited page goes through.
import { chromium } from 'playwright-core';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

// axe-core (npm, installed with playwright-core): evaluated through the DevTools protocol,
// which the pages' Content-Security-Policy does not govern.
const AXE_SOURCE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export const BASE_URL = (process.env.MALIPO_BASE_URL || '').replace(/\/+$/, '');
export const ARTIFACT_DIR = process.env.ARTIFACT_DIR || path.resolve('test-artifacts/browser');
export const CHROMIUM = process.env.MALIPO_CHROMIUM || '/usr/bin/chromium';
// Layout findings (overflow, missing styles, a broken list) fail the run only when strict.
export const STRICT = process.env.BROWSER_TESTS_STRICT === '1';
const GLOBAL_TIMEOUT_MS = Number(process.env.BROWSER_TEST_TIMEOUT_MS || 120000);

// A string that must never reach a page unescaped (it sits in the CV's title).
export const XSS_MARKER = 'window.__malipoXss=1';
export const XSS_PAYLOAD = `<script>${XSS_MARKER}</script>`;

export const PHONE = {
  viewport: { width: 375, height: 740 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  locale: 'en-GB',
  acceptDownloads: true,
};

export class AssertionError extends Error {}

export function assert(cond, message) {
  if (!cond) throw new AssertionError(message);
}

export function assertEqual(actual, expected, what) {
  if (actual !== expected) throw new AssertionError(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn until it returns a truthy value or the deadline passes (then throws with the last value).
export async function waitFor(fn, { timeoutMs = 20000, intervalMs = 250, what = 'condition' } = {}) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) throw new AssertionError(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await sleep(intervalMs);
  }
}

// HS256 JWT signed with node's crypto, as the kernel checks it (sub and exp required).
export function makeJwt(sub, secret = process.env.MALIPO_JWT_SECRET || 'sandbox-only-jwt-secret-change-me', ttlSeconds = 3600) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = b64({ alg: 'HS256', typ: 'JWT' });
  const body = b64({ sub, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + ttlSeconds });
  const sig = crypto.createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

// fetch against the server with a timeout; returns {status, headers, json, text}.
export async function api(pathOrUrl, { method = 'GET', body, token, headers = {}, timeoutMs = 15000 } = {}) {
  const url = pathOrUrl.startsWith('http') ? pathOrUrl : BASE_URL + pathOrUrl;
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  if (body !== undefined && !h['Content-Type']) h['Content-Type'] = 'application/json';
  const res = await fetch(url, {
    method,
    headers: h,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    redirect: 'manual',
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}

export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic'],
  });
}

// A phone-sized context that records every HTML document it receives (raw, before the
// browser parses it) and every uncaught page error.
export async function phoneContext(browser, suite, options = {}) {
  const context = await browser.newContext({ ...PHONE, ...options });
  // Anything the page's Content-Security-Policy blocks (an inline script or style) is recorded.
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI || 'inline'}`);
    });
  });
  context.setDefaultTimeout(15000);
  context.setDefaultNavigationTimeout(20000);
  const documents = [];
  context.on('response', async (res) => {
    try {
      if (res.request().resourceType() !== 'document') return;
      if (res.status() >= 300 && res.status() < 400) return;
      const type = res.headers()['content-type'] || '';
      if (!type.includes('text/html')) return;
      if (res.url().startsWith(BASE_URL)) {
        const frameable = /^\/(payments\/flutterwave\/return|sandbox\/flutterwave)(\/|$)/.test(new URL(res.url()).pathname);
        try {
          checkSecurityHeaders(res.headers(), res.url(), { frameable });
        } catch (e) {
          suite.failNow(e.message);
        }
      }
      const body = await res.text();
      documents.push({ url: res.url(), body });
      if (body.includes('<script>window.__malipoXss'))
        suite.failNow(`unescaped <script> from the CV in the HTML of ${res.url()}`);
    } catch {
      // The page navigated on before the body could be read: nothing to check.
    }
  });
  context.on('page', (p) => watchPage(p, suite));
  return { context, documents };
}

function watchPage(page, suite) {
  page.on('pageerror', (err) => suite.failNow(`JavaScript error on ${page.url()}: ${err.message}`));
  page.on('dialog', (d) => {
    suite.failNow(`unexpected dialog (${d.type()}: ${d.message()}) on ${page.url()}`);
    d.dismiss().catch(() => {});
  });
}

// Checks every page the tests look at: the injected script never ran or appears as markup,
// and on a 375 px wide phone nothing sticks out sideways and the shared styles applied.
export async function checkPage(page, suite, label) {
  const html = await page.content();
  assert(!html.includes(XSS_PAYLOAD), `${label}: the CV's <script> appears unescaped in the DOM`);
  const ran = await page.evaluate(() => window.__malipoXss);
  assert(ran === undefined, `${label}: the CV's <script> ran`);
  const layout = await page.evaluate(() => {
    const vw = document.documentElement.clientWidth;
    const wide = [];
    for (const el of document.body.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && (r.right > vw + 1 || r.left < -1)) {
        const id = el.id ? `#${el.id}` : '';
        const cls = typeof el.className === 'string' && el.className ? `.${el.className.trim().split(/\s+/).join('.')}` : '';
        wide.push(`${el.tagName.toLowerCase()}${id}${cls} (${Math.round(r.left)}..${Math.round(r.right)} px)`);
      }
    }
    const bg = getComputedStyle(document.body).backgroundColor;
    return { vw, scrollWidth: document.documentElement.scrollWidth, wide: wide.slice(0, 5), bg };
  });
  if (layout.scrollWidth > layout.vw + 1 || layout.wide.length)
    suite.warn(`${label}: content wider than the ${layout.vw} px screen (scrollWidth ${layout.scrollWidth}): ${layout.wide.join(', ')}`);
  if (layout.bg !== 'rgb(245, 247, 250)') suite.warn(`${label}: the shared page styles seem missing (body background ${layout.bg})`);
  const csp = await page.evaluate(() => window.__cspViolations || []);
  assert(csp.length === 0, `${label}: the Content-Security-Policy blocked ${csp.join(', ')}`);
  await checkAxe(page, label);
}

// WCAG 2.1 A/AA rules of axe-core: a serious or critical violation fails.
export async function checkAxe(page, label) {
  const has = await page.evaluate(() => typeof window.axe === 'object');
  if (!has) await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    resultTypes: ['violations'],
  }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }))));
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert(bad.length === 0, `${label}: axe-core found ${bad.map((v) => `${v.id} (${v.impact}: ${v.help}; ${v.nodes.join(', ')})`).join('; ')}`);
  return result;
}

// The security headers every page carries (frameable: the checkout return page).
export function checkSecurityHeaders(headers, label, { frameable = false } = {}) {
  const get = (k) => (typeof headers.get === 'function' ? headers.get(k) : headers[k.toLowerCase()]) || '';
  assertEqual(get('x-content-type-options'), 'nosniff', `${label}: X-Content-Type-Options`);
  assert(get('referrer-policy') !== '', `${label}: Referrer-Policy present`);
  const csp = get('content-security-policy');
  assert(/default-src 'self'/.test(csp) && /script-src 'self'(;|$)/.test(csp), `${label}: CSP allows only this origin's scripts (${csp})`);
  assert(!/unsafe-inline/.test(csp), `${label}: CSP has no 'unsafe-inline' (${csp})`);
  if (frameable) assert(/frame-ancestors 'self' /.test(csp), `${label}: CSP lets the configured origin frame it (${csp})`);
  else assert(/frame-ancestors 'none'/.test(csp), `${label}: CSP refuses every frame (${csp})`);
  return csp;
}

export async function screenshot(page, name) {
  const file = path.join(ARTIFACT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true, timeout: 15000 });
  return file;
}

// Sequential cases, each with its own timeout, and a global timeout for the whole file. The
// result goes to stdout and to $ARTIFACT_DIR/<name>.results.json for run.sh to count.
export class Suite {
  constructor(name) {
    this.name = name;
    this.cases = [];
    this.results = [];
    this.warnings = [];
    this.browser = null;
    this.asyncFailure = null;
    this.timedOut = false;
    fs.mkdirSync(ARTIFACT_DIR, { recursive: true });
  }

  case(title, fn, { timeoutMs = 60000 } = {}) {
    this.cases.push({ title, fn, timeoutMs });
  }

  // A failure seen by an event handler (page error, unescaped HTML): fails the running case.
  failNow(message) {
    if (!this.asyncFailure) this.asyncFailure = message;
  }

  warn(message) {
    if (!this.warnings.includes(message)) {
      this.warnings.push(message);
      console.log(`  warning: ${message}`);
    }
  }

  writeResults(extraFailure) {
    let passed = this.results.filter((r) => r.ok).length;
    let failed = this.results.filter((r) => !r.ok).length;
    if (extraFailure) failed += 1;
    if (STRICT && this.warnings.length) failed += 1;
    const out = { suite: this.name, passed, failed, cases: this.results, warnings: this.warnings };
    if (extraFailure) out.error = extraFailure;
    fs.writeFileSync(path.join(ARTIFACT_DIR, `${this.name}.results.json`), JSON.stringify(out, null, 2));
    return { passed, failed };
  }

  async run() {
    if (!BASE_URL) {
      console.error(`${this.name}: MALIPO_BASE_URL is not set (run through tests/browser/run.sh)`);
      this.writeResults('MALIPO_BASE_URL not set');
      process.exit(2);
    }
    const watchdog = setTimeout(async () => {
      this.timedOut = true;
      console.log(`not ok - ${this.name}: global timeout of ${GLOBAL_TIMEOUT_MS} ms`);
      this.writeResults(`global timeout of ${GLOBAL_TIMEOUT_MS} ms`);
      const b = this.browser;
      if (b) await Promise.race([b.close().catch(() => {}), sleep(5000)]);
      process.exit(3);
    }, GLOBAL_TIMEOUT_MS);
    watchdog.unref();

    console.log(`# ${this.name}: ${this.cases.length} case(s) against ${BASE_URL}`);
    this.browser = await launchBrowser();
    for (const c of this.cases) {
      const started = Date.now();
      this.asyncFailure = null;
      let timer;
      let error = null;
      try {
        await Promise.race([
          c.fn(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new AssertionError(`case timed out after ${c.timeoutMs} ms`)), c.timeoutMs);
          }),
        ]);
        if (this.asyncFailure) error = this.asyncFailure;
      } catch (e) {
        error = this.asyncFailure ? `${this.asyncFailure}; then: ${e.message}` : e instanceof AssertionError ? e.message : e.stack || String(e);
      } finally {
        clearTimeout(timer);
      }
      if (this.timedOut) return; // the watchdog has written the results and ends the process
      const ms = Date.now() - started;
      this.results.push({ title: c.title, ok: !error, ms, error: error || undefined });
      console.log(`${error ? 'not ok' : 'ok'} - ${c.title} (${ms} ms)`);
      if (error) console.log(`  ${String(error).split('\n').join('\n  ')}`);
    }
    if (this.timedOut) return;
    clearTimeout(watchdog);
    await Promise.race([this.browser.close().catch(() => {}), sleep(10000)]);
    this.browser = null;
    const { passed, failed } = this.writeResults();
    console.log(`# ${this.name}: ${passed} passed, ${failed} failed${this.warnings.length ? `, ${this.warnings.length} warning(s)` : ''}`);
    process.exit(failed ? 1 : 0);
  }
}
