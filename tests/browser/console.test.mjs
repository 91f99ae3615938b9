// The operator console (/console/, docs/console.md) in Chromium, at phone (390 px) and
// desktop (1280 px) width: an operator signs in with an admin token, finds a CV payment by
// the customer's phone number, syncs it with a reason, retries a dead job; a viewer sees no
// action button and is refused a forged one. The console pages carry no script at all.
//
// The console needs admin tokens (one operator, one viewer), which the default config has
// none of: this file runs its own server from the default config with admin tokens added
// (MALIPO_BUILD_DIR, set by run.sh; its own SQLite file; a free port), and stops it at the end.
// A dead job is written into its database with python3's sqlite3 module.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { PHONE, Suite, api, assert, checkPage, makeJwt, screenshot, sleep, waitFor } from './lib.mjs';

const suite = new Suite('console');
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = process.env.MALIPO_BUILD_DIR || path.join(ROOT, 'build');
const OPERATOR_TOKEN = 'console-operator-token-0123456789abcdef';
const VIEWER_TOKEN = 'console-viewer-token-0123456789abcdefgh';
const CUSTOMER_PHONE = '0754 321 987';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'malipo-console-'));
const db = path.join(work, 'console.db');
let server = null;
let base = '';

// The default config, its paths made absolute, with an operator ("olivia") and a viewer
// ("victor") token.
function writeConfig() {
  let yaml = fs.readFileSync(path.join(ROOT, 'config/malipo.yaml'), 'utf8');
  yaml = yaml
    .replaceAll('library: ../build/plugins/', `library: ${BUILD}/plugins/`)
    .replaceAll('storage_dir: ../var/', `storage_dir: ${work}/var/`);
  const tokenLine = /^ {2}token: "\$\{MALIPO_ADMIN_TOKEN:-\}"$/m;
  assert(tokenLine.test(yaml), 'config/malipo.yaml has its admin.token line');
  yaml = yaml.replace(tokenLine, `  token: ""\n  tokens:\n    olivia: {token: "${OPERATOR_TOKEN}", role: operator}\n    victor: {token: "${VIEWER_TOKEN}", role: viewer}`);
  // The cases sign in six times within a minute (right and wrong tokens count alike; the
  // limit itself is tested in tests/kernel/console_test.cpp).
  yaml += '\nconsole: {sign_in_attempts_per_minute: 60}\n';
  const file = path.join(work, 'malipo.yaml');
  fs.writeFileSync(file, yaml);
  return file;
}

async function startServer() {
  const config = writeConfig();
  const portFile = path.join(work, 'port');
  const log = fs.openSync(path.join(work, 'server.log'), 'w');
  server = spawn(path.join(BUILD, 'bin/malipo'), ['serve', '--config', config, '--port-file', portFile], {
    cwd: ROOT,
    env: { ...process.env, MALIPO_LISTEN: '127.0.0.1:0', MALIPO_DATABASE_URL: `sqlite:${db}` },
    stdio: ['ignore', log, log],
  });
  await waitFor(() => fs.existsSync(portFile) && fs.readFileSync(portFile, 'utf8').trim(), { timeoutMs: 30000, what: 'the console server to listen' });
  base = `http://127.0.0.1:${fs.readFileSync(portFile, 'utf8').trim()}`;
}

function stopServer() {
  if (server && server.exitCode === null) server.kill('SIGTERM');
  try {
    fs.copyFileSync(path.join(work, 'server.log'), path.join(process.env.ARTIFACT_DIR || '.', 'console-server.log'));
  } catch {
    // no log to keep
  }
  fs.rmSync(work, { recursive: true, force: true });
}
process.on('exit', stopServer);

// One statement on the server's SQLite file, through Python's sqlite3 module (python3 is a
// test dependency already); returns the first column of the rows, one per line.
const PY_SQL = `import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=5, isolation_level=None)
for row in c.execute(sys.argv[2]).fetchall(): print(row[0])`;
function sql(statement) {
  return execFileSync('python3', ['-c', PY_SQL, db, statement], { encoding: 'utf8' }).trim();
}

// A job that ran out of attempts (a kernel job kind, so a retry runs it for real).
let deadJobs = 0;
function deadJob() {
  const now = Date.now();
  const key = `console-browser-${++deadJobs}`;
  sql(`INSERT INTO jobs (kind, payload, state, attempts, max_attempts, run_at, lease_ms, unique_key, last_error, created_at, updated_at)
       VALUES ('kernel.purge_jobs', '', 'dead', 5, 5, ${now}, 30000, '${key}', 'browser test: gave up', ${now}, ${now})`);
  return Number(sql(`SELECT id FROM jobs WHERE unique_key = '${key}'`));
}

// A CV payment by USSD push to the customer's phone number; returns its payment id.
async function cvPayment() {
  const cvId = `console-${Date.now()}`;
  const r = await api(`${base}/api/cv-pdf/${cvId}/initiate-ussd`, {
    method: 'POST',
    token: makeJwt('console-customer'),
    body: { template_id: 'modern', msisdn: CUSTOMER_PHONE, cv_data: { name: 'Neema Console', title: 'Accountant', email: 'neema@example.com', phone: CUSTOMER_PHONE, summary: 'x', experience: [], education: [], skills: [], languages: [] } },
  });
  assert(r.status === 200, `initiate-ussd: ${r.status} ${r.text.slice(0, 200)}`);
  const id = sql("SELECT id FROM payments WHERE product = 'cvpdf' ORDER BY created_at DESC LIMIT 1");
  assert(id, `a payment for CV ${cvId}`);
  lastPaymentPage = r.json.payment_page_url;
  return id;
}
let lastPaymentPage = '';

// The customer pays on the Selcom simulator (the pay link of the CV payment page), `body`
// as the simulator takes it ({amount} to pay less).
async function simulatorPays(paymentPage, body = {}) {
  const html = (await api(paymentPage)).text;
  const m = html.match(/id="sandbox-pay"[^>]*href="([^"]+)"|href="([^"]+)"[^>]*id="sandbox-pay"/);
  assert(m, 'the payment page has its simulator pay link');
  const paid = await api(new URL((m[1] || m[2]).replaceAll('&amp;', '&'), paymentPage).href, { method: 'POST', body });
  assert(paid.status === 200, `simulator pay: ${paid.status} ${paid.text.slice(0, 200)}`);
}

async function newContext(width) {
  const options = width < 500 ? { ...PHONE, viewport: { width, height: 844 } } : { viewport: { width, height: 900 }, locale: 'en-GB' };
  const context = await suite.browser.newContext(options);
  context.setDefaultTimeout(15000);
  context.on('page', (p) => p.on('pageerror', (e) => suite.failNow(`JavaScript error on ${p.url()}: ${e.message}`)));
  return context;
}

async function signIn(page, token) {
  await page.goto(`${base}/console/`);
  assert(page.url().endsWith('/console/sign-in'), `/console/ sends a signed-out browser to the sign-in (${page.url()})`);
  await page.getByLabel('Admin token').fill(token);
  await Promise.all([page.waitForURL(/\/console\/overview$/), page.locator('#sign-in').click()]);
}

// A console page: its security headers, then the shared layout checks.
async function checkConsolePage(page, label) {
  const res = await page.request.get(page.url());
  const h = res.headers();
  assert((h['content-security-policy'] || '').includes("frame-ancestors 'none'"), `${label}: CSP with frame-ancestors 'none'`);
  assert(h['cache-control'] === 'no-store', `${label}: Cache-Control no-store`);
  // No script at all: everything works without JavaScript.
  assert((await page.locator('script').count()) === 0, `${label}: the page has no script`);
  await checkPage(page, suite, label);
}

suite.case('an operator finds a payment by phone number and syncs it (phone, 390 px)', async () => {
  const id = await cvPayment();
  const context = await newContext(390);
  const page = await context.newPage();
  try {
    await page.goto(`${base}/console/sign-in`);
    await screenshot(page, 'console-1-sign-in-phone');
    // A wrong token: refused with a message, no session.
    await page.getByLabel('Admin token').fill('not-the-token-0123456789abcdefghij');
    await page.locator('#sign-in').click();
    assert((await page.locator('#sign-in-error').innerText()).includes('not an admin token'), 'a wrong token is refused');
    await signIn(page, OPERATOR_TOKEN);
    await checkConsolePage(page, 'console overview (phone)');
    await screenshot(page, 'console-2-overview-phone');
    assert((await page.locator('.who').innerText()).includes('olivia (operator)'), 'the header names the operator');

    await page.getByRole('link', { name: 'Payments' }).click();
    await page.getByLabel(/phone or email/).fill(CUSTOMER_PHONE);
    await page.locator('#search').click();
    const row = page.locator('#payments tbody tr');
    await waitFor(async () => (await row.count()) === 1, { what: 'one payment found by phone number' });
    assert((await row.innerText()).includes(id), `the payment ${id} is found by ${CUSTOMER_PHONE}`);
    await screenshot(page, 'console-3-search-phone');
    await checkConsolePage(page, 'console search (phone)');
    // The same number in its international form finds it too.
    await page.getByLabel(/phone or email/).fill('+255754321987');
    await page.locator('#search').click();
    assert((await page.locator('#payments').innerText()).includes(id), 'found by +255754321987 too');

    await page.getByRole('link', { name: id }).click();
    assert((await page.locator('#payment-id').innerText()).trim() === id, 'the payment page');
    await page.locator('#sync').click();
    await page.getByLabel('Reason (required)').fill('customer phoned: says she paid');
    await page.locator('#confirm-sync').click();
    await page.waitForURL(new RegExp(`/console/payments/${id}$`));
    assert((await page.locator('[role=status]').innerText()).startsWith('Synced'), 'the sync is confirmed');
    const timeline = await page.locator('#timeline').innerText();
    assert(timeline.includes('operator_sync') && timeline.includes('by olivia') && timeline.includes('customer phoned: says she paid'), `the timeline records the sync with the actor and the reason:\n${timeline}`);
    await checkConsolePage(page, 'console payment (phone)');
    await screenshot(page, 'console-4-payment-synced-phone');
    // The notice came from the session, once: not on a reload, and a crafted link shows none.
    await page.reload();
    assert((await page.locator('[role=status]').count()) === 0, 'the notice is shown once');
    await page.goto(`${base}/console/payments/${id}?notice=${encodeURIComponent('Refund approved')}`);
    assert((await page.locator('[role=status]').count()) === 0, 'no notice from the URL');
  } finally {
    await context.close();
  }
}, { timeoutMs: 60000 });

suite.case('an operator retries a dead job; a POST without the CSRF token is refused (desktop, 1280 px)', async () => {
  const job = deadJob();
  const context = await newContext(1280);
  const page = await context.newPage();
  try {
    await signIn(page, OPERATOR_TOKEN);
    // Provider health: the breaker of each provider, and the p95 latency of the calls made
    // (the CV payments so far called their provider), as text and as a chart.
    const health = await page.locator('#provider-health').innerText();
    assert(/closed/.test(health) && /\d ms/.test(health), `provider health with breaker and p95:\n${health}`);
    assert((await page.locator('#provider-health svg[role=img]').count()) === 1, 'a p95 latency chart');
    await screenshot(page, 'console-5-overview-desktop');
    await page.getByRole('link', { name: 'Jobs' }).click();
    const row = page.locator(`#job-${job}`);
    assert((await row.innerText()).includes('browser test: gave up'), 'the dead job shows its last error');
    await checkConsolePage(page, 'console jobs (desktop)');
    await screenshot(page, 'console-6-jobs-desktop');
    const forged = await context.request.post(`${base}/console/jobs/${job}/retry`, { form: { nothing: '1' }, maxRedirects: 0 });
    assert(forged.status() === 403, `a POST without the CSRF token: ${forged.status()}`);
    assert(sql(`SELECT state FROM jobs WHERE id = ${job}`) === 'dead', 'the forged POST changed nothing');
    await page.getByRole('button', { name: `Retry job ${job}` }).click();
    assert((await page.locator('[role=status]').innerText()).includes('queued again'), 'the retry is confirmed');
    await waitFor(() => sql(`SELECT state FROM jobs WHERE id = ${job}`) === 'done', { what: `job ${job} to run` });
    await page.reload();
    assert((await page.locator(`#job-${job}`).count()) === 0, 'the job left the dead list');
  } finally {
    await context.close();
  }
}, { timeoutMs: 60000 });

suite.case('an operator refunds part of a paid payment and accepts a held one (desktop, 1280 px)', async () => {
  const paid = await cvPayment();
  await simulatorPays(lastPaymentPage);
  const held = await cvPayment();
  await simulatorPays(lastPaymentPage, { amount: 500 });
  const status = (id) => sql(`SELECT status FROM payments WHERE id = '${id}'`);
  await waitFor(() => status(paid) === 'succeeded' && status(held) === 'held', { what: `one payment paid, one held (${status(paid)}, ${status(held)})` });
  const context = await newContext(1280);
  const page = await context.newPage();
  try {
    await signIn(page, OPERATOR_TOKEN);
    await page.goto(`${base}/console/payments/${paid}`);
    await page.locator('#refund').click();
    await page.getByLabel(/^Amount in TZS/).fill('400');
    // Selcom has no refund API: the refund made outside is recorded with its reference.
    await page.getByLabel(/reference of a refund made outside/).fill('SELCOM-MANUAL-0001');
    await page.getByLabel('Reason (required)').fill('customer paid for two CVs, wanted one');
    await checkConsolePage(page, 'console refund form (desktop)');
    await screenshot(page, 'console-8-refund-form-desktop');
    await page.locator('#confirm-refund').click();
    await page.waitForURL(new RegExp(`/console/payments/${paid}$`));
    assert((await page.locator('[role=status]').innerText()).startsWith('Refund of 400'), 'the refund is confirmed');
    const refunds = await page.locator('#refunds').innerText();
    assert(refunds.includes('olivia') && refunds.includes('customer paid for two CVs, wanted one'), `the refund shows with actor and reason:\n${refunds}`);
    await screenshot(page, 'console-9-refunded-desktop');

    await page.getByRole('link', { name: 'Held' }).click();
    assert((await page.locator('#held').innerText()).includes(held), 'the held payment is in the held queue');
    await page.getByRole('link', { name: held }).click();
    await page.locator('#resolve').click();
    await page.getByLabel(/^Accept/).check();
    await page.getByLabel('Reason (required)').fill('customer will pay the rest in cash');
    await page.locator('#confirm-resolve').click();
    await page.waitForURL(new RegExp(`/console/payments/${held}$`));
    assert((await page.locator('[role=status]').innerText()).startsWith('Resolved (accept)'), 'the resolution is confirmed');
    await waitFor(() => status(held) === 'succeeded', { what: `the accepted payment to succeed (${status(held)})` });
  } finally {
    await context.close();
  }
}, { timeoutMs: 60000 });

suite.case('a viewer sees no action button and is refused an action (phone 390 px and desktop)', async () => {
  const job = deadJob();
  const id = sql("SELECT id FROM payments WHERE product = 'cvpdf' ORDER BY created_at DESC LIMIT 1");
  for (const width of [390, 1280]) {
    const context = await newContext(width);
    const page = await context.newPage();
    try {
      await signIn(page, VIEWER_TOKEN);
      assert((await page.locator('.who').innerText()).includes('victor (viewer)'), 'the header names the viewer');
      await page.goto(`${base}/console/jobs`);
      assert((await page.locator(`#job-${job}`).count()) === 1, 'the viewer sees the dead job');
      assert((await page.locator('button.retry').count()) === 0, 'no retry button for a viewer');
      await screenshot(page, `console-7-viewer-jobs-${width < 500 ? 'phone' : 'desktop'}`);
      await page.goto(`${base}/console/payments/${id}`);
      assert((await page.locator('#sync').count()) === 0, 'no sync button for a viewer');
      await checkConsolePage(page, `console payment as a viewer (${width} px)`);
      // With the session's own CSRF token, the action is still refused.
      const csrf = await page.locator('input[name=csrf]').first().getAttribute('value');
      const r = await context.request.post(`${base}/console/jobs/${job}/retry`, { form: { csrf }, maxRedirects: 0 });
      assert(r.status() === 403, `a viewer's retry: ${r.status()}`);
      assert(sql(`SELECT state FROM jobs WHERE id = ${job}`) === 'dead', 'the viewer changed nothing');
    } finally {
      await context.close();
    }
  }
}, { timeoutMs: 60000 });

await startServer();
await sleep(200);
await suite.run();
