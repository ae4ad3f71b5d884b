// tests/browser/workflow.test.mjs: the Workflow page (#/workflow, web/app/workflow.js) in a real
// Chromium against a running stack: a phase started from the page, its transitions in the live
// feed (queued, then complete), the counts grid and the jobs list refreshed by the feed, its
// audit trail (queued -> running -> completed); with the workflow stand-in (tests/workflow-stub,
// SMARTIMPORT_TEST_WORKFLOW_STUB) told to fail, a retried job and a dead one in the feed and the
// audit; a payout typed in the currency's units; an API refusal in words; the phase and status
// filters and the next page; axe-core and a screenshot (workflow-*.png) on each state.
// harness.mjs has the environment and the closing checks; run.sh runs it (t0103-workflow.sh).
import * as h from './harness.mjs';

const { BASE, USER, ok, step } = h;
const STUB = process.env.SMARTIMPORT_TEST_WORKFLOW_STUB || '';
const run = await h.openBrowser();
const { page } = run;
const axe = (name) => h.axe(page, name);
const shot = (name) => h.shot(page, name);
const text = (sel) => h.text(page, sel);
const stub = async (p) => {
  const r = await fetch(STUB + p, { method: 'POST' });
  if (!r.ok) throw new Error(`workflow stub ${p}: ${r.status}`);
};
const feedItem = (type, job) => page.locator(`#wf-feed li[data-type="${type}"][data-job="${job}"]`);
const cell = (phase, status) => page.locator(`#wf-stats tr[data-phase="${phase}"] td[data-status="${status}"]`);

// Starts a phase from the page's form; returns the job id the page reports.
async function startPhase(phase, syncId, fill = async () => {}) {
  await page.selectOption('#wf-phase', String(phase));
  await page.getByLabel('Sync id (optional)').fill(syncId);
  await fill();
  const before = await page.locator('#wf-started').count() ? await text('#wf-started') : '';
  await page.getByRole('button', { name: `Start phase ${phase}`, exact: true }).click();
  await page.waitForFunction((b) => {
    const e = document.getElementById('wf-started');
    return e && e.textContent !== b;
  }, before);
  const m = /Job (\d+) \(phase (\d)\)/.exec(await text('#wf-started'));
  if (!m || Number(m[2]) !== phase) throw new Error('the page did not report the job: ' + (await text('#wf-started')));
  return Number(m[1]);
}

async function openAudit(job) {
  await page.getByRole('button', { name: `Job ${job}: show its audit trail` }).click();
  await page.locator('#job-title', { hasText: `Job ${job}:` }).waitFor();
  return page.locator('#wf-audit tbody tr');
}

// Each step's time, as a TAP comment (the budget is ~25 s on a quiet machine).
const timed = (what, fn) => step(what, async () => {
  const t0 = Date.now();
  await fn();
  console.log(`# ${what}: ${Date.now() - t0} ms`);
});

let failure = null;
try {
  await timed('sign in and open the Workflow page', async () => {
    await h.signIn(page);
    await h.nav(page, 'Workflow').click();
    await page.getByRole('heading', { name: 'Workflow', level: 1 }).waitFor();
    ok(await page.evaluate(() => document.activeElement && document.activeElement.id) === 'wf-title',
      'the page heading has the focus');
    await page.locator('#wf-feed-state', { hasText: 'Live' }).waitFor();
    ok(true, 'the live feed is connected');
    await page.locator('#wf-jobs', { hasText: 'No jobs yet' }).waitFor();
    ok(await cell(1, 'completed').textContent() === '0', 'the counts grid starts at zero');
    await axe('workflow (empty)');
    await shot('workflow-empty');
  });

  let j1;
  await timed('start phase 1 from the page', async () => {
    j1 = await startPhase(1, 'browser_oauth_1', () => page.getByLabel('Seller id (optional)').fill('seller_b1'));
    ok(/started: (queued|running|completed)/.test(await text('#wf-started')), 'the page says the job started', await text('#wf-started'));
    await feedItem('workflow:phase:queued', j1).waitFor();
    ok(true, 'the feed shows the job queued');
    await feedItem('workflow:phase:complete', j1).waitFor();
    ok(/completed on attempt 1/.test(await feedItem('workflow:phase:complete', j1).textContent()), 'then complete, on attempt 1');
    await page.locator(`#wf-stats tr[data-phase="1"] td[data-status="completed"]`, { hasText: /^1$/ }).waitFor();
    ok(await cell(1, 'queued').textContent() === '0', 'the counts grid updated: phase 1 has one completed job, none queued');
    await page.locator(`#wf-jobs tr[data-job="${j1}"][data-status="completed"]`).waitFor();
    ok(/browser_oauth_1/.test(await text(`#wf-jobs tr[data-job="${j1}"]`)) && /1 of \d/.test(await text(`#wf-jobs tr[data-job="${j1}"]`)),
      'the list shows the job completed with its sync id and attempts', await text(`#wf-jobs tr[data-job="${j1}"]`));
  });

  await timed('its audit trail', async () => {
    const rows = await openAudit(j1);
    ok(await page.evaluate(() => document.activeElement && document.activeElement.id) === 'job-title', 'the audit trail gets the focus');
    const to = await rows.evaluateAll((trs) => trs.map((t) => t.dataset.to));
    ok(JSON.stringify(to) === '["queued","running","completed"]', 'the audit trail is queued -> running -> completed', JSON.stringify(to));
    const words = await text('#wf-audit');
    ok(/new → Queued/.test(words) && /Queued → Running/.test(words) && /Running → Completed/.test(words), 'in words', words);
    await axe('workflow (a job\'s audit)');
    await shot('workflow-job');
  });

  if (STUB) {
    await timed('a job that is retried, and one that dies', async () => {
      await stub('/_reset');
      await stub('/_fail?n=1&status=503');
      const jr = await startPhase(3, 'browser_retry_1');
      await feedItem('workflow:phase:retry', jr).waitFor();
      ok(/failed on attempt 1 \(trigger_http_error\); retry in/.test(await feedItem('workflow:phase:retry', jr).textContent()),
        'the feed shows the retry with its code and delay', await feedItem('workflow:phase:retry', jr).textContent());
      await feedItem('workflow:phase:complete', jr).waitFor();
      ok(/on attempt 2/.test(await feedItem('workflow:phase:complete', jr).textContent()), 'then complete on attempt 2');
      await stub('/_fail?n=1000&status=500');
      const jd = await startPhase(2, 'browser_dead_1');
      await feedItem('workflow:phase:dead', jd).waitFor({ timeout: 15000 });
      ok(/gave up after \d+ attempts \(trigger_http_error\)/.test(await feedItem('workflow:phase:dead', jd).textContent()), 'the feed shows the dead job');
      await stub('/_reset');
      let rows = await openAudit(jr);
      await page.locator('#wf-audit tr[data-to="completed"]').waitFor();
      const to = await rows.evaluateAll((trs) => trs.map((t) => t.dataset.to));
      ok(JSON.stringify(to) === '["queued","running","failed","running","completed"]', 'the retried job\'s audit shows the failure and the retry', JSON.stringify(to));
      ok(/trigger_http_error/.test(await text('#wf-audit tr[data-to="failed"]')) && /2 of \d/.test(await text('#wf-job-attempts')),
        'with the failure\'s code and two attempts');
      rows = await openAudit(jd);
      await page.locator('#wf-audit tr[data-to="dead"]').waitFor();
      ok(/trigger_http_error/.test(await text('#wf-job-last-error')), 'the dead job shows its last error', await text('#wf-job'));
      await page.locator(`#wf-stats tr[data-phase="2"] td[data-status="dead"]`, { hasText: /^1$/ }).waitFor();
      ok(true, 'the counts grid has the dead job');
      await axe('workflow (a dead job)');
      await shot('workflow-dead');
    });
  } else {
    ok(true, '# SKIP retry and dead job: no SMARTIMPORT_TEST_WORKFLOW_STUB');
  }

  await timed('a payout in the currency\'s units; refusals in words', async () => {
    const j7 = await startPhase(7, 'browser_payout_1', async () => {
      await page.getByLabel('Claim id').fill('claim_b7');
      await page.getByLabel('Payout amount').fill('123.48');
      await page.getByLabel('Currency').selectOption('USD');
    });
    await feedItem('workflow:phase:complete', j7).waitFor();
    const r = await h.api('GET', '/api/v1/workflow/jobs/' + j7);
    ok(r.body && r.body.result && r.body.result.amount_minor === 12348 && r.body.result.fee_minor === 2470,
      'the typed 123.48 USD was sent as 12348 minor units (fee 2470)', JSON.stringify(r.body && r.body.result));
    await page.getByLabel('Payout amount').fill('12.5');
    await page.getByLabel('Currency').selectOption('JPY');
    await page.getByRole('button', { name: 'Start phase 7' }).click();
    await page.locator('#wf-start-error').waitFor();
    ok(/positive amount in JPY/.test(await text('#wf-start-error')), 'an amount with decimals JPY has none is refused in words', await text('#wf-start-error'));
    await page.selectOption('#wf-phase', '4');
    await page.getByLabel('Sync id (optional)').fill('browser_match_dup');
    await page.getByLabel('Matches').fill('c1, 0.9\nc1, 0.5');
    await page.getByRole('button', { name: 'Start phase 4' }).click();
    await page.locator('#wf-start-error', { hasText: 'appears twice' }).waitFor();
    const err = await text('#wf-start-error');
    ok(/matches\[1\]\.claim_id appears twice/.test(err) && !err.includes('{'), 'the API\'s refusal is shown in words, not JSON', err);
    await axe('workflow (a refusal)');
    await shot('workflow-error');
  });

  await timed('filters and pages', async () => {
    // Set-up through the API (not the page's subject): enough phase-2 jobs for a second page.
    const setup = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      h.api('POST', '/api/v1/workflow/phase/2', { user_id: USER, sync_id: 'browser_page_' + i })));
    if (setup.some((r) => r.status !== 202)) throw new Error('set-up enqueue: ' + setup.map((r) => r.status).join(','));
    await page.selectOption('#wf-f-phase', '1');
    await page.getByRole('button', { name: 'Show', exact: true }).click();
    await page.locator(`#wf-jobs tbody tr[data-job="${j1}"]`).waitFor();
    const phases = await page.locator('#wf-jobs tbody tr').evaluateAll((trs) => trs.map((t) => t.children[1].textContent));
    ok(phases.length === 1 && /^1\./.test(phases[0]), 'phase 1: only the phase-1 job', JSON.stringify(phases));
    await page.selectOption('#wf-f-phase', '');
    await page.selectOption('#wf-f-status', STUB ? 'dead' : 'completed');
    await page.getByRole('button', { name: 'Show', exact: true }).click();
    await page.waitForFunction((st) => {
      const rows = [...document.querySelectorAll('#wf-jobs tbody tr[data-job]')];
      return rows.length > 0 && rows.every((r) => r.dataset.status === st) && document.getElementById('wf-jobs').getAttribute('aria-busy') === 'false';
    }, STUB ? 'dead' : 'completed');
    ok(true, `status ${STUB ? 'dead' : 'completed'}: only such jobs`);
    await axe('workflow (filtered)');
    await shot('workflow-filtered');
    await page.selectOption('#wf-f-status', '');
    await page.getByRole('button', { name: 'Show', exact: true }).click();
    await page.waitForFunction(() => {
      const b = [...document.querySelectorAll('.pager button')].find((x) => x.textContent === 'Next page');
      return b && !b.disabled && document.getElementById('wf-jobs').getAttribute('aria-busy') === 'false';
    });
    const first = await page.locator('#wf-jobs tbody tr[data-job]').evaluateAll((trs) => trs.map((t) => Number(t.dataset.job)));
    await page.getByRole('button', { name: 'Next page' }).click();
    await page.locator('.pager span', { hasText: 'Page 2' }).waitFor();
    await page.waitForFunction(() => document.getElementById('wf-jobs').getAttribute('aria-busy') === 'false');
    const second = await page.locator('#wf-jobs tbody tr[data-job]').evaluateAll((trs) => trs.map((t) => Number(t.dataset.job)));
    ok(first.length === 20 && second.length > 0 && Math.max(...second) < Math.min(...first),
      'the next page continues the list, older jobs, none repeated', `${first.length} then ${JSON.stringify(second)}`);
    ok(second.includes(j1), 'the first job is on the second page');
    await page.getByRole('button', { name: 'Previous page' }).click();
    await page.locator('.pager span', { hasText: 'Page 1' }).waitFor();
    ok(true, 'and back to the first page');
  });
} catch (e) {
  failure = e;
}
await h.finish(run, failure);
