// The Hubtel USSD phone simulator in a phone-sized Chromium: dial *713#, walk the menu
// built from the credits product's catalog, buy a package, pay on the simulated phone, and
// read the balance back over USSD — the way a person in Ghana would.
//   MALIPO_BASE_URL=http://127.0.0.1:PORT ARTIFACT_DIR=… node tests/browser/hubtel.test.mjs
import { Suite, assert, checkPage, phoneContext, screenshot, waitFor } from './lib.mjs';
import { BASE_URL } from './lib.mjs';

const suite = new Suite('hubtel');
// A valid Ghanaian mobile number (libphonenumber's example format), typed the local way.
const MOBILE = '0246912184';

async function screen(page) {
  return (await page.locator('#screen').innerText()).trim();
}

async function send(page, text) {
  await page.locator('#input').fill(text);
  await Promise.all([page.waitForLoadState('domcontentloaded'), page.locator('#send').click()]);
  return screen(page);
}

async function dial(page) {
  await page.goto(`${BASE_URL}/sandbox/hubtel/phone`);
  await page.locator('#mobile').fill(MOBILE);
  await page.locator('#code').fill('*713#');
  await page.locator('#input').fill('');
  await Promise.all([page.waitForLoadState('domcontentloaded'), page.locator('#send').click()]);
  return screen(page);
}

// The number of the first menu line that matches `re` ("3. Check my balance" → "3").
function choice(menu, re) {
  const line = menu.split('\n').find((l) => re.test(l));
  assert(line, `the menu has an entry matching ${re}:\n${menu}`);
  return line.trim().split('.')[0];
}

suite.case('buy 10 credits over USSD and see the balance', async () => {
  const { context } = await phoneContext(suite.browser, suite);
  const page = await context.newPage();
  try {
    let menu = await dial(page);
    await screenshot(page, 'hubtel-1-main-menu');
    await checkPage(page, suite, 'phone: main menu');
    assert(/10 credits/i.test(menu), `the main menu sells the credits packages:\n${menu}`);
    const before = await (async () => {
      const m = await send(page, choice(menu, /balance/i));
      const n = m.match(/(\d+) credits/);
      return n ? Number(n[1]) : 0;
    })();

    menu = await dial(page);
    let shown = await send(page, choice(menu, /10 credits/i));
    if (/quantity|how many/i.test(shown)) shown = await send(page, '1');
    await screenshot(page, 'hubtel-2-confirm');
    assert(/GHS/.test(shown), `the confirmation shows the price in GHS:\n${shown}`);
    shown = await send(page, '1');
    await screenshot(page, 'hubtel-3-checkout');
    assert(/pay|prompt|payment/i.test(shown), `the checkout asks to pay:\n${shown}`);
    const pay = page.locator('#pay');
    await pay.waitFor({ timeout: 10000 });
    await Promise.all([page.waitForLoadState('domcontentloaded'), pay.click()]);
    await screenshot(page, 'hubtel-4-paid');

    await waitFor(async () => {
      const m = await dial(page);
      const answer = await send(page, choice(m, /balance/i));
      const n = answer.match(/(\d+) credits/);
      return n && Number(n[1]) === before + 10;
    }, { timeoutMs: 30000, intervalMs: 1000, what: `USSD balance ${before + 10} credits` });
    await screenshot(page, 'hubtel-5-balance');
    await checkPage(page, suite, 'phone: balance');
  } finally {
    await context.close();
  }
}, { timeoutMs: 90000 });

await suite.run();
