// Verification credits bought through the Flutterwave simulator's hosted checkout, in a
// phone-sized Chromium: a paid top-up, a declined card, the return page's postMessage to a
// merchant page that framed the checkout, a cancelled checkout (shown at once, with the way
// back to the app's returnUrl) and the bound on the "Confirming your payment…" reloads.
//   MALIPO_BASE_URL=http://127.0.0.1:PORT ARTIFACT_DIR=… node tests/browser/credits.test.mjs
import http from 'node:http';
import {
  BASE_URL, Suite, api, assert, assertEqual, checkPage, makeJwt, phoneContext, screenshot, sleep, waitFor,
} from './lib.mjs';

const suite = new Suite('credits');
const USER = 'browser-user';
const token = makeJwt(USER);
const GOOD_CARD = '4242 4242 4242 4242';
const DECLINED_CARD = '4111 1111 1111 1111';

async function balance() {
  const r = await api('/api/v1/verification-credits/balance', { token });
  assertEqual(r.status, 200, `balance status (${r.text.slice(0, 200)})`);
  assertEqual(r.json.data.account, `user:${USER}`, 'balance account');
  return r.json.data.balance;
}

async function topup(extra = {}) {
  const r = await api('/api/v1/verification-credits/topup', { method: 'POST', token, body: { packageId: 'pkg_10_credits', ...extra } });
  assertEqual(r.status, 200, `topup status (${r.text.slice(0, 200)})`);
  assert(r.json.success === true && r.json.data.paymentUrl, `topup answer: ${r.text.slice(0, 200)}`);
  assert(r.json.data.paymentUrl.startsWith(`${BASE_URL}/sandbox/flutterwave/checkout/`), `paymentUrl is the simulator's checkout (${r.json.data.paymentUrl})`);
  return r.json.data; // {paymentUrl, reference}
}

async function topupStatus(reference) {
  const r = await api('/api/v1/verification-credits/history', { token });
  assertEqual(r.status, 200, 'history status');
  const t = r.json.data.topups.find((x) => x.reference === reference);
  return t ? t.status : null;
}

// The hosted checkout form (a page or a frame): check it, pay with the given card.
async function payOnCheckout(frame, card) {
  await frame.locator('#card_number').waitFor();
  const text = await frame.locator('main').innerText();
  assert(text.includes('Malipo credits'), 'the checkout shows the configured title "Malipo credits"');
  assert(/NGN\s*5,?000/.test(text), `the checkout shows NGN 5000 (got ${JSON.stringify(text.slice(0, 200))})`);
  await frame.locator('#card_number').fill(card);
  await frame.locator('#expiry').fill('09/32');
  await frame.locator('#cvv').fill('564');
}

// On the return page: waits (reloading) until it shows a final result, at most 20 s.
async function waitForReturnResult(page) {
  return waitFor(async () => {
    const status = await page.locator('#flw-result').getAttribute('data-status', { timeout: 5000 }).catch(() => null);
    const final = await page.locator('#flw-result').getAttribute('data-final', { timeout: 1000 }).catch(() => null);
    if (status && final === 'true') return status;
    await sleep(1000);
    await page.reload({ waitUntil: 'domcontentloaded' }).catch(() => {});
    return null;
  }, { timeoutMs: 20000, intervalMs: 0, what: 'a final result on the return page' });
}

// A merchant's page on another origin, served over real HTTP on loopback (see the framed case
// for why not page.route()). Returns {url, close}.
async function merchantServer(html) {
  const server = http.createServer((req, res) => {
    const ok = req.url.startsWith('/topup');
    res.writeHead(ok ? 200 : 404, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(ok ? html : 'not found');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/topup`,
    close: () => { server.closeAllConnections(); server.close(); },
  };
}

// Counts the navigations of a page's main frame (a meta refresh is one).
function countNavigations(page) {
  const seen = [];
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) seen.push(f.url()); });
  return seen;
}

suite.case('top-up paid with 4242 4242 4242 4242: return page confirms, balance becomes 10', async () => {
  assertEqual(await balance(), 0, 'balance of a new user');
  const { paymentUrl, reference } = await topup();
  const { context } = await phoneContext(suite.browser, suite);
  try {
    const page = await context.newPage();
    await page.goto(paymentUrl);
    await payOnCheckout(page, GOOD_CARD);
    await checkPage(page, suite, 'checkout page');
    await screenshot(page, 'credits-1-checkout');
    await Promise.all([page.waitForURL(/\/payments\/flutterwave\/return\?/), page.locator('#pay').click()]);
    const url = new URL(page.url());
    assertEqual(url.searchParams.get('tx_ref'), reference, 'tx_ref on the return URL');
    assertEqual(url.searchParams.get('status'), 'successful', 'status on the return URL');
    const status = await waitForReturnResult(page);
    assertEqual(status, 'succeeded', 'payment status on the return page');
    assertEqual((await page.locator('h1').innerText()).trim(), 'Payment received', 'return page heading');
    assert((await page.locator('.ok').innerText()).includes('confirmed'), 'the return page says the payment is confirmed');
    await checkPage(page, suite, 'return page (paid)');
    await screenshot(page, 'credits-2-return-paid');
  } finally {
    await context.close();
  }
  await waitFor(async () => (await balance()) === 10, { timeoutMs: 20000, intervalMs: 300, what: 'balance 10' });
  assertEqual(await topupStatus(reference), 'COMPLETED', 'top-up status in the history');
}, { timeoutMs: 45000 });

suite.case('top-up with the declined card 4111 1111 1111 1111: not completed, balance unchanged', async () => {
  const before = await balance();
  const { paymentUrl, reference } = await topup();
  const { context } = await phoneContext(suite.browser, suite);
  try {
    const page = await context.newPage();
    await page.goto(paymentUrl);
    await payOnCheckout(page, DECLINED_CARD);
    await Promise.all([page.waitForURL(/\/payments\/flutterwave\/return\?/), page.locator('#pay').click()]);
    const status = await waitForReturnResult(page);
    assertEqual(status, 'failed', 'payment status on the return page');
    assertEqual((await page.locator('h1').innerText()).trim(), 'Payment not completed', 'return page heading');
    assert(await page.locator('.error').isVisible(), 'the return page shows the reason');
    console.log(`  decline reason shown: ${await page.locator('.error').innerText()}`);
    await checkPage(page, suite, 'return page (declined)');
    await screenshot(page, 'credits-3-return-declined');
  } finally {
    await context.close();
  }
  await waitFor(async () => (await topupStatus(reference)) === 'FAILED', { timeoutMs: 20000, intervalMs: 300, what: 'top-up FAILED in the history' });
  await sleep(1000);
  assertEqual(await balance(), before, 'balance after a declined card');
}, { timeoutMs: 45000 });

suite.case('checkout framed by a merchant page: the return page posts {source:"malipo", provider:"flutterwave", status} to the parent', async () => {
  const before = await balance();
  const { paymentUrl, reference } = await topup();
  const { context } = await phoneContext(suite.browser, suite);
  let server;
  try {
    const page = await context.newPage();
    // A merchant page on another origin, served over real HTTP on loopback: a page fulfilled
    // by page.route() has no address, and Chromium's local network access checks then refuse
    // to frame a 127.0.0.1 page in it (net::ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS).
    const html = `<!doctype html><html><head><meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{margin:0;font:15px system-ui,sans-serif}header{padding:8px 12px;background:#0b3d2e;color:#fff}
iframe{display:block;width:100%;height:640px;border:0}</style></head>
<body><header>Merchant: buy 10 credits</header><iframe id="checkout" src="${paymentUrl}"></iframe>
<script>window.__messages = [];
window.addEventListener('message', function (e) { window.__messages.push({origin: e.origin, data: e.data}); });</script></body></html>`;
    server = http.createServer((req, res) => {
      res.writeHead(req.url === '/topup' ? 200 : 404, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(req.url === '/topup' ? html : 'not found');
    });
    // On the origin the server lets frame the checkout return page (pages.frame_ancestors).
    await new Promise((resolve) => server.listen(Number(process.env.MALIPO_FRAME_PORT || 0), '127.0.0.1', resolve));
    const merchant = `http://127.0.0.1:${server.address().port}/topup`;
    await page.goto(merchant);
    const frame = page.frameLocator('#checkout');
    await payOnCheckout(frame, GOOD_CARD);
    await screenshot(page, 'credits-4-iframe-checkout');
    await frame.locator('#pay').click();
    const msg = await page.waitForFunction(() => {
      const m = window.__messages.filter((x) => x.data && x.data.source === 'malipo');
      const final = m.find((x) => x.data.final);
      return final || null;
    }, null, { timeout: 20000, polling: 200 }).then((h) => h.jsonValue());
    console.log(`  parent received: ${JSON.stringify(msg)}`);
    assertEqual(msg.origin, new URL(BASE_URL).origin, 'message origin');
    assertEqual(msg.data.source, 'malipo', 'message source');
    assertEqual(msg.data.provider, 'flutterwave', 'message provider');
    assertEqual(msg.data.status, 'succeeded', 'message status');
    assertEqual(msg.data.tx_ref, reference, 'message tx_ref');
    assertEqual(msg.data.final, true, 'message final');
    const inner = page.frames().find((f) => f.url().includes('/payments/flutterwave/return'));
    assert(inner, 'the frame landed on the return page');
    await checkPage(inner, suite, 'return page in a frame');
    await screenshot(page, 'credits-5-iframe-return');
  } finally {
    await context.close();
    if (server) {
      server.closeAllConnections();
      server.close();
    }
  }
  await waitFor(async () => (await balance()) === before + 10, { timeoutMs: 20000, intervalMs: 300, what: `balance ${before + 10}` });
}, { timeoutMs: 45000 });

suite.case('cancel on the checkout: "Payment cancelled" at once, no reloading, and Back leads to the app\'s returnUrl', async () => {
  const before = await balance();
  const app = await merchantServer('<!doctype html><html><head><meta name="viewport" content="width=device-width, initial-scale=1"></head><body><h1 id="app">Merchant app</h1></body></html>');
  const { context } = await phoneContext(suite.browser, suite);
  try {
    const { paymentUrl, reference } = await topup({ returnUrl: `${app.url}?from=flutterwave` });
    const page = await context.newPage();
    await page.goto(paymentUrl);
    await page.locator('#cancel').waitFor();
    await Promise.all([page.waitForURL(/\/payments\/flutterwave\/return\?/), page.locator('#cancel').click()]);
    const url = new URL(page.url());
    assertEqual(url.searchParams.get('status'), 'cancelled', 'status on the return URL');
    // Shown as cancelled on the first load: no "Confirming…", no reload.
    const result = page.locator('#flw-result');
    assertEqual(await result.getAttribute('data-outcome'), 'cancelled', 'outcome on the return page');
    assertEqual((await page.locator('h1').innerText()).trim(), 'Payment cancelled', 'return page heading');
    assert(!(await page.content()).includes('Confirming your payment'), 'the page does not say "Confirming your payment…"');
    assertEqual(await page.locator('meta[http-equiv="refresh"]').count(), 0, 'meta refresh on the cancelled page');
    const navigations = countNavigations(page);
    await checkPage(page, suite, 'return page (cancelled)');
    await screenshot(page, 'credits-6-return-cancelled');
    await sleep(6000); // longer than the 5 s reload of a pending page
    assertEqual(navigations.length, 0, `navigations while the cancelled page was open (${navigations.join(', ')})`);
    const back = page.locator('#flw-continue');
    assert(await back.isVisible(), 'a Back button to the app');
    const href = new URL(await back.getAttribute('href'));
    assertEqual(`${href.origin}${href.pathname}`, app.url, 'the Back button leads to the returnUrl');
    assertEqual(href.searchParams.get('from'), 'flutterwave', 'the returnUrl keeps its own query');
    assertEqual(href.searchParams.get('payment_id'), reference, 'payment_id on the way back');
    await Promise.all([page.waitForURL((u) => u.toString().startsWith(app.url)), back.click()]);
    assertEqual((await page.locator('#app').innerText()).trim(), 'Merchant app', 'back on the merchant app');
    assertEqual(await topupStatus(reference), 'PENDING', 'top-up (Flutterwave has no transaction: not failed on the browser\'s word)');
  } finally {
    await context.close();
    app.close();
  }
  assertEqual(await balance(), before, 'balance after a cancelled checkout');
}, { timeoutMs: 45000 });

suite.case('pending payment: the return page stops reloading after its bound, says so, offers "Check again" and the way back', async () => {
  const app = await merchantServer('<!doctype html><html><body><h1 id="app">Merchant app</h1></body></html>');
  const { context } = await phoneContext(suite.browser, suite);
  try {
    // Not paid: the customer came back without finishing. The default bound is 24 reloads of
    // 5 s (two minutes); the page is opened two reloads before it, as a reload would have
    // left it (check=22), and must reload twice by itself, then stop.
    const { reference } = await topup({ returnUrl: app.url });
    const page = await context.newPage();
    const navigations = countNavigations(page);
    await page.goto(`${BASE_URL}/payments/flutterwave/return?status=successful&tx_ref=${encodeURIComponent(reference)}&check=22`);
    assertEqual(await page.locator('#flw-result').getAttribute('data-outcome'), 'pending', 'outcome while pending');
    assertEqual((await page.locator('h1').innerText()).trim(), 'Confirming your payment…', 'heading while pending');
    await checkPage(page, suite, 'return page (pending)');
    await waitFor(async () => (await page.locator('#flw-result').getAttribute('data-outcome').catch(() => null)) === 'timeout',
      { timeoutMs: 20000, intervalMs: 250, what: 'the page to stop at its bound' });
    const afterBound = navigations.length;
    assert(afterBound >= 3, `the page reloaded itself up to the bound (navigations: ${navigations.join(', ')})`);
    assert(new URL(page.url()).searchParams.get('check') === '24', `stopped at check=24 (${page.url()})`);
    assertEqual((await page.locator('h1').innerText()).trim(), 'Not confirmed yet', 'heading at the bound');
    assert((await page.locator('#flw-timeout').innerText()).includes('stopped checking'), 'the page says it stopped checking');
    assertEqual(await page.locator('meta[http-equiv="refresh"]').count(), 0, 'meta refresh at the bound');
    await screenshot(page, 'credits-7-return-bound');
    await checkPage(page, suite, 'return page (bound)');
    await sleep(6000);
    assertEqual(navigations.length, afterBound, 'no reload after the bound');
    const back = new URL(await page.locator('#flw-continue').getAttribute('href'));
    assertEqual(`${back.origin}${back.pathname}`, app.url, 'the way back leads to the returnUrl');
    // "Check again" starts over (and checks once more).
    await Promise.all([page.waitForURL(/check=0/), page.locator('#flw-check-again').click()]);
    assertEqual(await page.locator('#flw-result').getAttribute('data-outcome'), 'pending', 'outcome after Check again');
  } finally {
    await context.close();
    app.close();
  }
}, { timeoutMs: 60000 });

await suite.run();
