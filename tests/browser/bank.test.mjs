// tests/browser/bank.test.mjs: the Bank import page (seed 002) in a real Chromium against the
// stack and the TrueLayer stand-in (SI_BANK): a forged return from the bank (wrong state)
// refused in words, "Connect a bank" through the stand-in's consent redirect, the five-step
// wizard (a preset, a custom range the API refuses, two of the three accounts, auto-enrich and
// batch size, the review's estimate), the live per-account cards reaching completed with their
// counts, the job in the history, its rows in Transactions, and a job failing because the bank
// asks for consent again (the stand-in scripted: every token expired, refreshes refused), in
// words. axe-core and a screenshot (bank-*.png) on every step. run.sh runs it (t0101-bank.sh).
import * as h from './harness.mjs';

const { BASE, BANK, ok, step } = h;
if (!BANK) {
  console.log('1..0 # SKIP the TrueLayer stand-in is not running (SMARTIMPORT_TEST_TRUELAYER)');
  process.exit(0);
}
const run = await h.openBrowser();
const { page } = run;
const axe = (name) => h.axe(page, name);
const shot = (name) => h.shot(page, name);
const text = (sel) => h.text(page, sel);
const stub = async (what, body) => {
  const r = await fetch(BANK + '/_stub/' + what, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body || {}),
  });
  if (!r.ok) throw new Error(`stand-in /_stub/${what}: ${r.status}`);
};
const connectCalls = [];
page.on('request', (r) => { if (r.url().includes('/api/truelayer/connect') && r.method() === 'POST') connectCalls.push(r.url()); });
const IMPORT_MS = 30000;

// Walks the wizard from step 1 with the 7-day preset and the first two accounts to the review.
async function wizardToReview({ shots }) {
  await page.getByRole('radio', { name: '7 days' }).check();
  await page.locator('#bank-days', { hasText: '7 days selected' }).waitFor();
  if (shots) { await axe('bank: date range'); await shot('bank-range'); }
  await page.getByRole('button', { name: 'Next: accounts' }).click();
  await page.getByRole('heading', { name: /Step 2 of 5/ }).waitFor();
  const boxes = page.locator('#bank-accounts input[type=checkbox]');
  ok(await boxes.count() === 3, 'the connection\'s three accounts are listed', await boxes.count());
  if (await boxes.nth(2).isChecked()) await boxes.nth(2).uncheck();
  await page.locator('#bank-selected', { hasText: '2 of 3 selected' }).waitFor();
  if (shots) { await axe('bank: accounts'); await shot('bank-accounts'); }
  await page.getByRole('button', { name: 'Next: settings' }).click();
  await page.getByRole('heading', { name: /Step 3 of 5/ }).waitFor();
}

let failure = null;
try {
  await h.signIn(page);

  await step('the bank page, nothing connected yet', async () => {
    await h.nav(page, 'Bank import').click();
    await page.getByRole('heading', { name: 'Bank import', level: 1 }).waitFor();
    await page.locator('text=No bank is connected yet').waitFor();
    ok(true, 'the Bank import page says no bank is connected');
    await page.getByRole('heading', { name: /Step 1 of 5: Date range/ }).waitFor();
    await page.locator('#bank-history', { hasText: 'No bank imports yet' }).waitFor();
    ok(true, 'the wizard starts at step 1 and the history is empty');
    await axe('bank: empty');
    await shot('bank-empty');
  });

  await step('a forged return from the bank is refused', async () => {
    await page.goto(BASE + '/?code=forged-code&state=not-the-one-we-sent', { waitUntil: 'networkidle' });
    await page.getByRole('heading', { name: 'Bank import', level: 1 }).waitFor();
    const err = await page.locator('#bank-conn-error').textContent({ timeout: h.STEP_MS });
    ok(/state does not match/.test(err) && !err.includes('{'), 'a return with a wrong state is refused in words', err);
    ok(connectCalls.length === 0, 'and its code is never sent to connect', connectCalls.join(' '));
    ok(await page.evaluate(() => location.search === '' && location.hash === '#/bank'),
      'the code and state are gone from the address bar', await page.evaluate(() => location.href));
    await axe('bank: refused return');
    await shot('bank-refused');
  });

  await step('connect through the bank\'s consent page', async () => {
    await page.getByRole('button', { name: 'Connect a bank' }).click();
    await page.locator('#bank-connected').waitFor({ timeout: 20000 });
    ok(/Connected to ob-stub: 3 accounts/.test(await text('#bank-connected')), 'back from the consent page, the bank is connected',
      await text('#bank-connected'));
    ok(connectCalls.length === 1, 'the code was exchanged once (POST connect)', connectCalls.length);
    ok(await page.evaluate(() => location.search === '' && location.hash === '#/bank'), 'the code is not left in the address bar');
    ok(/ob-stub/.test(await text('#bank-connections')) && /3 accounts/.test(await text('#bank-connections')),
      'the connection is listed with its accounts');
    await axe('bank: connected');
    await shot('bank-connected');
  });

  await step('a range the API refuses, in words', async () => {
    await page.getByLabel('From', { exact: true }).fill('2026-02-01');
    await page.getByLabel('To', { exact: true }).fill('2026-01-01');
    await page.getByRole('button', { name: 'Next: accounts' }).click();
    ok(/after/.test(await text('#bank-step-error')), 'a "From" after "To" is refused before asking', await text('#bank-step-error'));
    await page.getByLabel('From', { exact: true }).fill('2020-01-01');
    await page.getByLabel('To', { exact: true }).fill('2024-12-31');
    await page.getByRole('button', { name: 'Next: accounts' }).click();
    await page.getByRole('button', { name: 'Next: settings' }).click();
    await page.getByRole('button', { name: 'Next: review' }).click();
    const err = await page.locator('#bank-plan-error').textContent({ timeout: h.STEP_MS });
    ok(/2 years|two years|too long/i.test(err) && !err.includes('{'), 'a range over two years: the plan\'s refusal in words', err);
    for (const n of [3, 2, 1]) {
      await page.getByRole('button', { name: 'Back' }).click();
      await page.getByRole('heading', { name: new RegExp(`Step ${n} of 5`) }).waitFor();
    }
  });

  let jobId = '';
  await step('the wizard: preset, two accounts, settings, review', async () => {
    await wizardToReview({ shots: true });
    ok(await page.getByLabel(/Categorise the imported transactions/).isChecked(), 'auto-enrich is on by default');
    await page.locator('#bank-batch').fill('100');
    ok(/100/.test(await text('#bank-batch-value')), 'the batch size slider shows its value');
    await axe('bank: settings');
    await shot('bank-settings');
    await page.getByRole('button', { name: 'Next: review' }).click();
    await page.locator('#bank-estimate').waitFor();
    const est = await text('#bank-estimate');
    ok(/Accounts\s*2/.test(est), 'the estimate is for 2 accounts', est);
    ok(/Transactions\s*about \d/.test(est) && /Duration\s*about/.test(est) && /Bank API calls\s*\d/.test(est) && /Cost/.test(est),
      'the review shows transactions, duration, calls and cost', est);
    ok(/7 days/.test(est) && /Batch size\s*100/.test(est) && /Auto-enrich\s*On/.test(est), 'and the settings chosen', est);
    ok(await page.locator('#bank-plan-accounts tbody tr').count() === 2, 'two accounts in the plan');
    await axe('bank: review');
    await shot('bank-review');
  });

  await step('start: live per-account cards reach completed', async () => {
    // Every bank call slowed, so the cards are seen while they sync (an observer notes it even
    // if the screenshot comes too late).
    await stub('script', { latency_ms: 1500 });
    await page.evaluate(() => {
      window.__sawSyncing = false;
      new MutationObserver(() => {
        if (document.querySelector('#bank-cards > li.syncing') && /Running/.test(document.getElementById('bank-job-status')?.textContent || '')) window.__sawSyncing = true;
      }).observe(document.body, { childList: true, subtree: true, attributes: true });
    });
    await page.getByRole('button', { name: 'Start import' }).click();
    await page.getByRole('heading', { name: /Step 5 of 5: Progress/ }).waitFor();
    jobId = (await text('code')).trim();
    if (await page.locator('#bank-cards > li.syncing').first().waitFor({ timeout: 8000 }).then(() => true, () => false)) {
      await shot('bank-progress-live');
      await axe('bank: progress running');
    }
    ok(run.requestedUrls.some((u) => u.includes('/import-events?')), 'the page follows the user\'s event stream');
    await page.locator('#bank-done').waitFor({ timeout: IMPORT_MS });
    await stub('script', { latency_ms: 0 });
    ok(await page.evaluate(() => window.__sawSyncing), 'live: the job showed Running with a card Syncing before it completed');
    const cards = page.locator('#bank-cards > li');
    ok(await cards.count() === 2, 'one card per account', await cards.count());
    let allDone = true;
    let total = 0;
    for (let i = 0; i < 2; i++) {
      const c = cards.nth(i);
      const badge = await c.locator('.badge').textContent();
      const synced = Number(((await c.locator('dd.synced').textContent()) || '').replace(/\D/g, ''));
      total += synced;
      if (badge !== 'Completed' || !(synced > 0)) allDone = false;
    }
    ok(allDone, 'both cards say Completed with synced > 0', await text('#bank-cards'));
    ok(/100%/.test(await text('#bank-progress .progress-text')), 'the overall progress is 100%', await text('#bank-progress .progress-text'));
    ok(/Finished at/.test(await text('#bank-progress .progress-text')), 'the ETA line says when it finished');
    ok(new RegExp(`${total} new transactions`).test(await text('#bank-done')), 'the summary counts the transactions', await text('#bank-done'));
    ok(/Duplicates\s*0/.test(await text('#bank-cards > li')) && /Errors\s*0/.test(await text('#bank-cards > li')),
      'each card shows duplicates and errors');
    await axe('bank: progress completed');
    await shot('bank-progress');
    const row = page.locator(`#bank-history tr[data-job="${jobId}"]`);
    await row.locator('.badge', { hasText: 'Completed' }).waitFor();
    ok(new RegExp(`2 / 2\\s*${total}`).test((await row.textContent()) || ''), 'the history lists the job: 2 of 2 accounts, its count',
      await row.textContent());
    await shot('bank-history');
  });

  await step('the rows are in Transactions', async () => {
    await h.nav(page, 'Transactions').click();
    await page.getByRole('heading', { name: 'Transactions', level: 1 }).waitFor();
    await page.locator('#tx-table tbody tr', { hasText: 'TLSTUB' }).first().waitFor();
    ok(await page.locator('#tx-table tbody tr', { hasText: 'TLSTUB' }).count() > 0, 'the bank\'s transactions are in the ledger');
  });

  await step('the bank asks for consent again: the job fails, in words', async () => {
    await stub('script', { expire_tokens: true, refresh_invalid_grant: -1 });
    await h.nav(page, 'Bank import').click();
    await page.getByRole('heading', { name: 'Bank import', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'New import' }).click();
    await wizardToReview({ shots: false });
    await page.getByRole('button', { name: 'Next: review' }).click();
    await page.locator('#bank-estimate').waitFor();
    await page.getByRole('button', { name: 'Start import' }).click();
    await page.locator('#bank-failed').waitFor({ timeout: IMPORT_MS });
    const err = await text('#bank-failed');
    ok(/consent again/.test(err) && !err.includes('{'), 'the failed job says the bank wants consent again', err);
    await page.locator('#bank-connections', { hasText: 'Needs your consent again' }).waitFor();
    ok(true, 'the connection says it needs consent again');
    await axe('bank: failed job');
    await shot('bank-failed');
  });
} catch (e) {
  failure = e;
  try { await shot('bank-debug'); } catch (x) { /* the page may be gone */ }
}
try { await stub('reset'); } catch (e) { ok(false, 'the stand-in was reset', e.message); }
await h.finish(run, failure);
