// Customer pages in each language (English, Swahili, French) at phone width: the CV payment,
// verify and status pages, the credits checkout return page and the USSD phone; axe-core finds
// no serious violation, every page carries the security headers (lib.mjs checks both on every
// page), and framing: the checkout return page loads in a frame of the configured origin
// (MALIPO_FRAME_PORT) and is refused in a foreign origin's (MALIPO_FOREIGN_PORT), as is every
// other page.
//   MALIPO_BASE_URL=… MALIPO_FRAME_PORT=… MALIPO_FOREIGN_PORT=… node tests/browser/pages.test.mjs
import http from 'node:http';
import {
  BASE_URL, Suite, api, assert, assertEqual, checkPage, makeJwt, phoneContext, screenshot, sleep,
} from './lib.mjs';

const suite = new Suite('pages');
const token = makeJwt('pages-user');
const norm = (s) => s.replace(/[\s\u00a0\u202f]+/g, ' ').trim();

// Per language: the browser's locale (Accept-Language) and what the pages must say.
const LANGS = {
  en: { locale: 'en-GB', name: 'English', choice: '1', exit: '0. Exit', pay: 'Pay TSh 1,000 for your CV', amount: 'TSh 1,000', verify: 'Verify your payment', status: 'Your CV', ngn: '₦5,000', pending: 'Confirming your payment…', help: 'Need help?' },
  sw: { locale: 'sw-TZ', name: 'Kiswahili', choice: '2', exit: '0. Toka', pay: 'Lipa TSh 1,000 upate CV yako', amount: 'TSh 1,000', verify: 'Thibitisha malipo yako', status: 'CV yako', ngn: '₦5,000', pending: 'Tunathibitisha malipo yako…', help: 'Unahitaji msaada?' },
  fr: { locale: 'fr-FR', name: 'Français', choice: '3', exit: '0. Quitter', pay: 'Payez 1 000 TSh pour votre CV', amount: '1 000 TSh', verify: 'Vérifier votre paiement', status: 'Votre CV', ngn: '5 000 ₦', pending: 'Confirmation de votre paiement…', help: "Besoin d'aide ?" },
};

// The USSD phone simulator: what its screen shows, and one step of the session.
async function ussdScreen(page) {
  return (await page.locator('#screen').innerText()).trim();
}
async function ussdSend(page, text) {
  await page.locator('#input').fill(text);
  await Promise.all([page.waitForLoadState('domcontentloaded'), page.locator('#send').click()]);
  return ussdScreen(page);
}

function cv(name) {
  return { name, title: 'Fundi', email: 'asha@example.com', phone: '0754 123 456', summary: 'Mfano.', experience: [], education: [], skills: ['Excel'], languages: ['Kiswahili'] };
}

async function initiate(id) {
  const r = await api(`/api/cv-pdf/${id}/initiate-ussd`, { method: 'POST', body: { template_id: 'modern', cv_data: cv('Asha Mrisho') } });
  assertEqual(r.status, 200, `initiate-ussd (${r.text.slice(0, 200)})`);
  return r.json.payment_page_url;
}

for (const [lang, want] of Object.entries(LANGS)) {
  suite.case(`${lang}: CV payment page (amount, deadline, every network's steps), verify form, status page`, async () => {
    const url = await initiate(`pages-cv-${lang}-${Date.now()}`);
    const { context } = await phoneContext(suite.browser, suite, { locale: want.locale });
    try {
      const page = await context.newPage();
      await page.goto(url);
      assertEqual(await page.getAttribute('html', 'lang'), lang, 'html lang');
      assertEqual(norm(await page.locator('h1').innerText()), want.pay, 'payment heading');
      assertEqual(norm(await page.locator('#amount').innerText()), want.amount, 'amount');
      assert(await page.locator('#deadline').isVisible(), 'the payment deadline is shown');
      for (const net of ['mpesa', 'tigopesa', 'airtel', 'halopesa'])
        assert(await page.locator(`#net-${net} li`).count() >= 5, `${net}: its steps`);
      assert((await page.locator('#net-mpesa').getAttribute('open')) !== null, 'M-Pesa open first');
      assert(norm(await page.locator('#site-support').innerText()).startsWith(want.help), 'support footer');
      await checkPage(page, suite, `${lang}: payment page`);
      await screenshot(page, `pages-${lang}-1-payment`);
      // Without JavaScript the forms still post (plain HTML forms, no script on these pages).
      assertEqual(await page.locator('script').count(), 0, 'no script on the payment page');
      await page.locator('#to-verify').click();
      await page.waitForURL(/\/verify/);
      assertEqual(norm(await page.locator('h1').innerText()), want.verify, 'verify heading');
      await checkPage(page, suite, `${lang}: verify form`);
      // An empty SMS: the error is in the customer's language too (the form's required attribute
      // is bypassed, as a browser without validation would).
      await page.locator('#payment_message').evaluate((el) => el.removeAttribute('required'));
      await page.locator('#verify-submit').click();
      await page.locator('.error').waitFor();
      const err = norm(await page.locator('.error').innerText());
      assert(lang === 'en' ? err.startsWith('Paste') : !err.startsWith('Paste'), `${lang}: the error is translated (${err})`);
      await checkPage(page, suite, `${lang}: verify error`);
      await page.goto(url.replace(/payment-page$/, 'status-page'));
      assertEqual(norm(await page.locator('h1').innerText()), want.status, 'status heading');
      await checkPage(page, suite, `${lang}: status page`);
      await screenshot(page, `pages-${lang}-2-status`);
      // ?lang= wins over Accept-Language.
      const other = lang === 'fr' ? 'sw' : 'fr';
      await page.goto(`${url}?lang=${other}`);
      assertEqual(await page.getAttribute('html', 'lang'), other, '?lang= chooses the language');
    } finally {
      await context.close();
    }
  }, { timeoutMs: 60000 });

  suite.case(`${lang}: credits checkout return page`, async () => {
    const r = await api('/api/v1/verification-credits/topup', { method: 'POST', token, body: { packageId: 'pkg_10_credits' } });
    assertEqual(r.status, 200, `topup (${r.text.slice(0, 200)})`);
    const { context } = await phoneContext(suite.browser, suite, { locale: want.locale });
    try {
      const page = await context.newPage();
      const res = await page.goto(`${BASE_URL}/payments/flutterwave/return?tx_ref=${encodeURIComponent(r.json.data.reference)}`);
      assertEqual(res.status(), 200, 'return page status');
      assertEqual(await page.getAttribute('html', 'lang'), lang, 'html lang');
      assertEqual(norm(await page.locator('h1').innerText()), want.pending, 'pending heading');
      assertEqual(norm(await page.locator('#flw-amount').innerText()), want.ngn, 'amount');
      await checkPage(page, suite, `${lang}: return page`);
      await screenshot(page, `pages-${lang}-3-return`);
    } finally {
      await context.close();
    }
  }, { timeoutMs: 45000 });

  suite.case(`${lang}: the USSD phone page; the customer picks ${want.name} in the menu (98)`, async () => {
    const { context } = await phoneContext(suite.browser, suite, { locale: want.locale });
    try {
      const page = await context.newPage();
      await page.goto(`${BASE_URL}/sandbox/hubtel/phone`);
      await checkPage(page, suite, `${lang}: USSD phone`);
      await page.locator('#mobile').fill('0246912184');
      await page.locator('#code').fill('*713#');
      let menu = await ussdSend(page, '');
      assert(/\n98\. Kiswahili \/ Français\n0\. Exit$/.test(menu), `the first screen offers the other languages:\n${menu}`);
      menu = await ussdSend(page, '98');
      assert(menu.includes('1. English\n2. Kiswahili\n3. Français'), `the language screen:\n${menu}`);
      menu = await ussdSend(page, want.choice);
      assert(menu.endsWith(want.exit), `the menu is in ${want.name} now:\n${menu}`);
      // It stays for the session: the next screen is in that language too.
      const next = await ussdSend(page, '1');
      if (lang === 'sw') assert(/Weka idadi/.test(next), `the quantity question in Swahili:\n${next}`);
      if (lang === 'fr') assert(/quantit/i.test(next), `the quantity question in French:\n${next}`);
      if (lang === 'en') assert(/Enter quantity/.test(next), `the quantity question in English:\n${next}`);
      await checkPage(page, suite, `${lang}: USSD phone in ${want.name}`);
      await screenshot(page, `pages-${lang}-6-ussd-language`);
    } finally {
      await context.close();
    }
  }, { timeoutMs: 30000 });

  suite.case(`${lang}: the language switcher keeps the page and the choice sticks across the flow, without JavaScript`, async () => {
    const url = await initiate(`pages-switch-${lang}-${Date.now()}`);
    const other = lang === 'en' ? 'sw' : 'en';
    const { context } = await phoneContext(suite.browser, suite, { locale: LANGS[other].locale });
    try {
      const page = await context.newPage();
      await page.goto(url);
      assertEqual(await page.getAttribute('html', 'lang'), other, 'the browser\'s language first');
      const nav = page.locator('nav.langs');
      assertEqual(norm(await nav.innerText()), 'English Kiswahili Français', 'the switcher names each language in its own words');
      assertEqual(await nav.locator('[aria-current]').getAttribute('lang'), other, 'the current language is marked');
      await checkPage(page, suite, `${lang}: switcher on the payment page`);
      await nav.locator(`a[lang="${lang}"]`).click();
      await page.waitForURL(new RegExp(`[?&]lang=${lang}$`));
      const before = new URL(url), after = new URL(page.url());
      assertEqual(after.pathname, before.pathname, 'the switcher keeps the path');
      assertEqual(after.searchParams.get('access'), before.searchParams.get('access'), 'and the signed link');
      assertEqual(await page.getAttribute('html', 'lang'), lang, 'the page in the chosen language');
      assertEqual(norm(await page.locator('h1').innerText()), LANGS[lang].pay, 'payment heading');
      // The next pages carry no ?lang=: the choice sticks (the language cookie).
      await page.locator('#to-verify').click();
      await page.waitForURL(/\/verify/);
      assert(!/[?&]lang=/.test(page.url()), 'the verify link has no lang');
      assertEqual(norm(await page.locator('h1').innerText()), LANGS[lang].verify, 'verify heading in the chosen language');
      await checkPage(page, suite, `${lang}: verify form after switching`);
      await screenshot(page, `pages-${lang}-7-switched`);
    } finally {
      await context.close();
    }
    // Without JavaScript: plain links.
    const { context: noJs } = await phoneContext(suite.browser, suite, { locale: LANGS[other].locale, javaScriptEnabled: false });
    try {
      const page = await noJs.newPage();
      await page.goto(url.replace(/payment-page/, 'status-page'));
      await page.locator(`nav.langs a[lang="${lang}"]`).click();
      await page.waitForURL(new RegExp(`[?&]lang=${lang}$`));
      assertEqual(norm(await page.locator('h1').innerText()), LANGS[lang].status, 'status heading, switched without JavaScript');
    } finally {
      await noJs.close();
    }
  }, { timeoutMs: 60000 });
}

// A page on a loopback origin that frames `target`.
async function framer(port, target) {
  const html = `<!doctype html><html lang="en"><head><title>Shop</title></head><body><iframe id="f" title="checkout" src="${target}" width="360" height="600"></iframe></body></html>`;
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(html);
  });
  await new Promise((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', resolve); });
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => { server.closeAllConnections(); server.close(); } };
}

// Whether the frame rendered the server's page (a frame refused by frame-ancestors shows
// Chromium's error page instead).
async function framedShows(page, selector) {
  await sleep(1500);
  for (const f of page.frames()) {
    if (f === page.mainFrame()) continue;
    const n = await f.locator(selector).count().catch(() => 0);
    if (n > 0) return true;
  }
  return false;
}

suite.case('framing: the configured origin may frame the checkout return page; a foreign origin may not; no other page is frameable', async () => {
  const allowed = Number(process.env.MALIPO_FRAME_PORT || 0);
  const foreign = Number(process.env.MALIPO_FOREIGN_PORT || 0);
  assert(allowed && foreign, 'MALIPO_FRAME_PORT and MALIPO_FOREIGN_PORT are set (run.sh)');
  const r = await api('/api/v1/verification-credits/topup', { method: 'POST', token, body: { packageId: 'pkg_10_credits' } });
  assertEqual(r.status, 200, 'topup');
  const ret = `${BASE_URL}/payments/flutterwave/return?tx_ref=${encodeURIComponent(r.json.data.reference)}`;
  const cvPage = await initiate(`pages-frame-${Date.now()}`);
  const { context } = await phoneContext(suite.browser, suite);
  const servers = [];
  try {
    const page = await context.newPage();
    servers.push(await framer(allowed, ret));
    await page.goto(servers[0].url);
    assert(await framedShows(page, '#flw-result'), 'the configured origin frames the return page');
    await screenshot(page, 'pages-4-framed-allowed');
    servers.push(await framer(foreign, ret));
    await page.goto(servers[1].url);
    assert(!(await framedShows(page, '#flw-result')), 'a foreign origin cannot frame the return page');
    await screenshot(page, 'pages-5-framed-foreign');
    servers[0].close();
    servers.shift();
    servers.push(await framer(allowed, cvPage));
    await page.goto(servers[servers.length - 1].url);
    assert(!(await framedShows(page, '#to-verify')), 'the configured origin cannot frame the CV payment page');
  } finally {
    await context.close();
    for (const s of servers) s.close();
  }
}, { timeoutMs: 45000 });

suite.run();
