// tests/browser/bulk.test.mjs: the Bulk purchases page (web/app/bulk.js, seed 003) in a real
// Chromium against a running stack: sign in, create a merchant on the page (its reference data
// through the API, which the page does not edit), a dry run of tests/fixtures/bulk/purchases-bad.csv
// naming its bad row's line, column and reason with nothing written (the batch list stays empty),
// an empty file refused in words, then tests/fixtures/bulk/purchases.csv: dry run valid, Start
// import, the polled status reaching completed with its purchases, items and spend (en-GB, the
// currency's exponent), the loyalty consumers (CDC) catching up, the batch in the list; then the
// bad file imported anyway: failed with its problem, the missing customer added, Retry, completed.
// axe-core and a screenshot (bulk-*.png) on every state. harness.mjs has the environment and the
// closing checks; run.sh runs it (t0102-bulk.sh).
import path from 'node:path';
import * as h from './harness.mjs';

const { ROOT, ok } = h;
// A step with its time as a TAP comment (the budget: see tests/browser/README.md).
const step = async (what, fn) => {
  const t0 = Date.now();
  await h.step(what, fn);
  console.log(`# ${what}: ${Date.now() - t0} ms`);
};
const run = await h.openBrowser();
const { page } = run;
const axe = (name) => h.axe(page, name);
const shot = (name) => h.shot(page, name);
const text = (sel) => h.text(page, sel);
const BAD = path.join(ROOT, 'tests/fixtures/bulk/purchases-bad.csv');
const GOOD = path.join(ROOT, 'tests/fixtures/bulk/purchases.csv');

let merchant = null;
const batches = async () => {
  const r = await h.api('GET', `/api/import/list/${merchant}`);
  if (r.status !== 200) throw new Error(`the batch list answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body.batches;
};
const dryRun = async (file) => {
  await page.setInputFiles('#bulk-file', file);
  await page.getByRole('button', { name: 'Check the file (dry run)' }).click();
  await page.locator('#report-title').waitFor();
};

let failure = null;
try {
  await step('sign in and open Bulk purchases', async () => {
    await h.signIn(page);
    await h.nav(page, 'Bulk purchases').click();
    await page.getByRole('heading', { name: 'Bulk purchases', level: 1 }).waitFor();
    await page.getByLabel('Name', { exact: true }).waitFor();
    ok(/not an admin of any merchant/.test(await text('main')), 'a new user has no merchant: the page offers to create one');
    ok(await page.evaluate(() => document.activeElement && document.activeElement.id === 'bulk-title'),
      'focus is on the page\'s heading');
    await axe('bulk (no merchant)');
    await shot('bulk-empty');
  });

  await step('create a merchant on the page, its reference data through the API', async () => {
    await page.getByLabel('Name', { exact: true }).fill('Corner Shop');
    await page.getByLabel('Currency', { exact: true }).selectOption('EUR');
    await page.getByLabel('Points per whole unit spent').fill('1');
    await page.getByRole('button', { name: 'Create merchant' }).click();
    await page.locator('#bulk-notice', { hasText: 'Corner Shop' }).waitFor();
    ok(/Corner Shop \(EUR\)/.test(await text('#merchant')), 'the new merchant is chosen in the list');
    const list = await h.api('GET', '/api/merchants');
    merchant = list.body && list.body.merchants && list.body.merchants[0] && list.body.merchants[0].id;
    ok(list.status === 200 && list.body.merchants.length === 1 && list.body.merchants[0].name === 'Corner Shop',
      'the API has the merchant, with the caller as its admin', JSON.stringify(list.body));
    const c = await h.api('PUT', `/api/merchants/${merchant}/customers`, { items: [{ customer_id: 'C1', name: 'Ann' }, { customer_id: 'C2' }] });
    const s = await h.api('PUT', `/api/merchants/${merchant}/skus`, { items: [{ sku_id: 'S1', name: 'Coffee' }, { sku_id: 'S2' }] });
    ok(c.status === 200 && s.status === 200, 'customers C1, C2 and SKUs S1, S2 added', JSON.stringify([c.body, s.body]));
    await page.reload({ waitUntil: 'networkidle' });
    await page.locator('#merchant-facts').waitFor();
    ok(/Customers\s*2/.test(await text('#merchant-facts')) && /SKUs\s*2/.test(await text('#merchant-facts')),
      'the merchant\'s facts count its customers and SKUs', await text('#merchant-facts'));
    await page.locator('#batches', { hasText: 'No batches yet' }).waitFor();
    ok(true, 'the batch list is empty');
  });

  await step('a dry run of a file with a bad row: its line, column and reason; nothing written', async () => {
    await dryRun(BAD);
    ok(await page.locator('#batch-name').inputValue() === 'purchases-bad', 'the batch name follows the file name');
    ok(/the file has problems/.test(await text('#report-title')), 'the report says the file has problems', await text('#report'));
    const row = page.locator('#report-problems tbody tr');
    ok(await row.count() === 1, 'one problem listed', await text('#report-problems'));
    const cells = await row.first().locator('td').allTextContents();
    ok(cells[0] === '4' && cells[1] === 'customer_id' && /not a customer of this merchant/.test(cells[2]),
      'the problem names line 4, column customer_id and the reason', cells.join(' | '));
    ok(/4 rows/.test(await text('#report')) || /Rows\s*4/.test(await text('#report')), 'the report counts 4 rows', await text('#report'));
    ok(await page.getByRole('button', { name: /Start import/ }).count() === 0, 'no "Start import" for an invalid file');
    ok(await page.getByRole('button', { name: 'Import anyway' }).isVisible(), '"Import anyway" is offered, with its consequences');
    ok((await batches()).length === 0, 'the dry run wrote no batch (API)');
    ok(/No batches yet/.test(await text('#batches')), 'the page\'s batch list is unchanged');
    await axe('bulk (dry run, invalid)');
    await shot('bulk-dry-run-invalid');
  });

  await step('an empty file: the API\'s refusal in words', async () => {
    await page.setInputFiles('#bulk-file', { name: 'empty.csv', mimeType: 'text/csv', buffer: Buffer.alloc(0) });
    await page.getByRole('button', { name: 'Check the file (dry run)' }).click();
    await page.locator('#bulk-error').waitFor();
    const e = await text('#bulk-error');
    ok(/The file is empty/.test(e) && !/[{}]/.test(e), 'an empty file is refused in words, not JSON', e);
    ok(await page.locator('#report').count() === 0, 'no report for a refused file');
  });

  await step('a valid file: dry run, start, live status to completed', async () => {
    await dryRun(GOOD);
    ok(/the file is valid/.test(await text('#report-title')), 'the report says the file is valid', await text('#report'));
    ok(/3 purchases with 4 items/.test(await text('#report-verdict')), 'the report counts 3 purchases and 4 items', await text('#report-verdict'));
    ok(await page.locator('#report-problems').count() === 0, 'no problem listed');
    await axe('bulk (dry run, valid)');
    await shot('bulk-dry-run-valid');
    await page.evaluate(() => {
      window.__states = [];
      new MutationObserver(() => {
        const b = document.querySelector('#batch-state .badge');
        if (b && window.__states[window.__states.length - 1] !== b.textContent) window.__states.push(b.textContent);
      }).observe(document.body, { childList: true, subtree: true, characterData: true });
    });
    await page.getByRole('button', { name: 'Start import (3 purchases)' }).click();
    await page.locator('#batch-state', { hasText: 'Completed' }).waitFor();
    const states = await page.evaluate(() => window.__states);
    ok(states[states.length - 1] === 'Completed', 'the status was followed to its end', states.join(' → '));
    ok(await page.evaluate(() => document.activeElement && document.activeElement.id === 'status-title'), 'focus moved to the status');
    const counts = await text('#batch-counts');
    ok(/Purchases imported\s*3/.test(counts) && /Items imported\s*4/.test(counts), '3 purchases and 4 items imported', counts);
    ok(counts.includes('€3,761.00'), 'the spend in en-GB with the currency\'s exponent (€3,761.00)', counts);
    ok(await page.locator('#batch-progress').getAttribute('value') === '100', 'progress at 100 %');
    await page.locator('#batch-cdc .ok').waitFor();
    ok(/3 of 3/.test(await text('#batch-cdc')), 'the loyalty consumers applied the 3 purchases (CDC)', await text('#batch-cdc'));
    await page.locator('#batches tbody tr', { hasText: 'Completed' }).waitFor();
    const row = await page.locator('#batches tbody tr').first().locator('td').allTextContents();
    ok(row[0] === 'purchases' && /Completed/.test(row[2]) && row[4] === '3' && row[5] === '4',
      'the batch list shows it: name, completed, 3 purchases, 4 items', row.join(' | '));
    const api = await batches();
    ok(api.length === 1 && api[0].status === 'completed', 'the API lists one completed batch', JSON.stringify(api));
    await axe('bulk (completed)');
    await shot('bulk-completed');
  });

  await step('the bad file imported anyway: failed with its problem; fixed; retried to completed', async () => {
    await dryRun(BAD);
    await page.getByRole('button', { name: 'Import anyway' }).click();
    await page.locator('#batch-state', { hasText: 'Failed' }).waitFor();
    ok(/wrote nothing/.test(await text('#batch-error')), 'the failure is said in words', await text('#batch-error'));
    const cells = await page.locator('#batch-problems tbody tr').first().locator('td').allTextContents();
    ok(cells[0] === '4' && cells[1] === 'customer_id', 'the failed batch lists line 4, customer_id', cells.join(' | '));
    await page.locator('#batches tbody tr', { hasText: 'Failed' }).waitFor();
    ok(await page.locator('#batches tbody tr').count() === 2, 'the list holds both batches');
    await axe('bulk (failed)');
    await shot('bulk-failed');
    const c = await h.api('PUT', `/api/merchants/${merchant}/customers`, { items: [{ customer_id: 'C9' }] });
    ok(c.status === 200, 'customer C9 added through the API');
    await page.getByRole('button', { name: 'Retry this batch' }).click();
    await page.locator('#batch-state', { hasText: 'Completed' }).waitFor();
    ok(/Purchases imported\s*3/.test(await text('#batch-counts')) && /Retries\s*1/.test(await text('#batch-counts')),
      'the retry imported its 3 purchases', await text('#batch-counts'));
    await page.locator('#batches tbody tr', { hasText: 'retried 1×' }).waitFor();
    ok(/Completed/.test(await text('#batches tbody tr:first-child')), 'the list shows the retried batch completed');
    const api = await batches();
    ok(api.length === 2 && api.every((b) => b.status === 'completed'), 'the API lists two completed batches', JSON.stringify(api));
    await axe('bulk (retried)');
    await shot('bulk-retried');
  });
} catch (e) {
  failure = e;
}
await h.finish(run, failure);
