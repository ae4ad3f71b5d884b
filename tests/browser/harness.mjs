// tests/browser/harness.mjs: what every browser test shares: its environment (set by run.sh),
// TAP output (ok, step), Debian's chromium through playwright-core with the page's script
// errors and CSP violations collected, the accessibility checks of a page as it is (axe-core,
// what a screen reader gets from Chromium's accessibility tree, Tab through every control),
// screenshots, sign-in,
// and the checks that close every run (no script error, no CSP violation, every request on
// the same origin, the token in no URL but the event stream's).
//   SI_BASE (the stack's URL), SI_ROOT (the repository), SI_ARTIFACTS (screenshots go there),
//   SI_CHROMIUM (the browser), SI_TOKEN (a JWT for SI_USER; empty: development mode), SI_USER,
//   SI_VAR (the stack's var dir; empty: checks that need it are left out),
//   SI_LLM (the fake model server, tests/fake-llm; empty: none), SI_BANK (the TrueLayer
//   stand-in, tests/truelayer-stub; empty: none).
import { createRequire } from 'node:module';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const BASE = process.env.SI_BASE;
export const ROOT = process.env.SI_ROOT;
export const ART = process.env.SI_ARTIFACTS;
export const TOKEN = process.env.SI_TOKEN || '';
export const USER = process.env.SI_USER;
export const VAR = process.env.SI_VAR || '';
export const LLM = process.env.SI_LLM || '';
export const BANK = process.env.SI_BANK || '';
const require = createRequire(path.join(ROOT, 'web', 'package.json'));
const { chromium } = require('playwright-core');
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
export const STEP_MS = 10000;

let fails = 0;
let n = 0;
export function ok(cond, what, detail) {
  n++;
  if (cond) console.log(`ok ${n} - ${what}`);
  else { fails++; console.log(`not ok ${n} - ${what}${detail ? `\n#   ${String(detail).slice(0, 500)}` : ''}`); }
}
// A flow's step; the first that fails ends the run (the later ones need its result).
export class Stop extends Error {}
export async function step(what, fn) {
  try { await fn(); } catch (e) { ok(false, what, e && e.message); throw new Stop(what); }
}

// The browser and one page, with what the closing checks need.
export async function openBrowser() {
  mkdirSync(ART, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.SI_CHROMIUM,
    headless: true,
    args: process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB' });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  const problems = [];
  page.on('pageerror', (e) => problems.push('script error: ' + e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push('CSP: ' + m.text());
  });
  const requestedUrls = [];
  page.on('request', (r) => requestedUrls.push(r.url()));
  return { browser, page, problems, requestedUrls };
}

// axe-core on the page as it is (injected through the DevTools protocol, which the page's
// CSP does not govern): no serious or critical violation.
export async function axe(page, name) {
  await page.evaluate(AXE);
  const res = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help,
      target: v.nodes[0] && v.nodes[0].target.join(' ') }));
  });
  const bad = res.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  ok(bad.length === 0, `${name}: axe-core finds no serious or critical violation`, JSON.stringify(bad));
  await screenReader(page, name);
  await keyboard(page, name);
}

const INTERACTIVE = new Set(['button', 'link', 'textbox', 'searchbox', 'combobox', 'checkbox', 'radio',
  'spinbutton', 'slider', 'listbox', 'switch', 'tab', 'menuitem', 'option']);
const slug = (name) => name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase();

// What a screen reader gets: Chromium's own accessibility tree (the one it hands to the
// platform's screen readers, through the DevTools protocol), read in document order into
// `<name>.a11y.txt` beside the screenshots; the page has one level-1 heading, no skipped
// heading level, its landmarks (banner, main, and navigation once signed in), and a name
// for every control a screen reader announces.
export async function screenReader(page, name) {
  const cdp = await page.context().newCDPSession(page);
  let nodes;
  try { ({ nodes } = await cdp.send('Accessibility.getFullAXTree')); } finally { await cdp.detach().catch(() => {}); }
  const byId = new Map(nodes.map((n) => [n.nodeId, n]));
  const lines = [];
  const headings = [];
  const landmarks = new Set();
  const unnamed = [];
  const walk = (n, depth) => {
    if (!n) return;
    const role = n.role && n.role.value;
    const label = ((n.name && n.name.value) || '').trim();
    const shown = !n.ignored && role && !['generic', 'none', 'StaticText', 'InlineTextBox', 'LineBreak', 'RootWebArea'].includes(role);
    if (shown) {
      const level = role === 'heading' && (n.properties || []).find((p) => p.name === 'level');
      lines.push(`${'  '.repeat(depth)}${role}${level ? ' ' + level.value.value : ''}${label ? ': ' + label.slice(0, 120) : ''}`);
      if (role === 'heading' && level) headings.push(Number(level.value.value));
      if (['banner', 'main', 'navigation', 'contentinfo', 'region', 'form', 'search'].includes(role)) landmarks.add(role);
      const disabled = (n.properties || []).some((p) => p.name === 'disabled' && p.value.value);
      if (INTERACTIVE.has(role) && !label && !disabled) unnamed.push(role);
    }
    for (const c of n.childIds || []) walk(byId.get(c), shown ? depth + 1 : depth);
  };
  walk(nodes[0], 0);
  writeFileSync(path.join(ART, slug(name) + '.a11y.txt'), lines.join('\n') + '\n');
  const skips = headings.filter((l, i) => i > 0 && l > headings[i - 1] + 1);
  ok(headings.filter((l) => l === 1).length === 1 && headings[0] === 1 && skips.length === 0,
    `${name}: a screen reader finds one level-1 heading first and no skipped level`, JSON.stringify(headings));
  const signedIn = await page.getByRole('navigation', { name: 'Main' }).count() > 0;
  ok(landmarks.has('main') && landmarks.has('banner') && (!signedIn || landmarks.has('navigation')),
    `${name}: a screen reader finds the page's landmarks`, [...landmarks].join(','));
  ok(unnamed.length === 0, `${name}: every control a screen reader announces has a name`, unnamed.join(','));
}

// Keyboard use: Tab from the top reaches every control a mouse can use (each enabled,
// visible button, link, input, select and textarea outside a closed <details>), in an
// order that never goes back up the page inside the main content.
export async function keyboard(page, name) {
  const want = await page.evaluate(() => {
    let k = 0;
    for (const el of document.querySelectorAll('a[href], button, input, select, textarea, [tabindex]')) {
      if (el.disabled || el.tabIndex < 0 || el.closest('[inert]')) continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      if (el.type === 'radio' && !el.checked && document.querySelector(`input[type=radio][name="${el.name}"]:checked`)) continue;
      el.dataset.kbd = String(k++);
    }
    const first = document.querySelector('[data-kbd="0"]');
    if (first) first.focus();   // the walk starts at the first control (a blur would leave Chrome's starting point where it was)
    return k;
  });
  const reached = new Set(want > 0 ? ['0'] : []);
  for (let i = 0; i < want + 5 && reached.size < want; i++) {
    await page.keyboard.press('Tab');
    const k = await page.evaluate(() => (document.activeElement && document.activeElement.dataset.kbd) || null);
    if (k !== null) reached.add(k);
  }
  const missed = await page.evaluate((got) => {
    const out = [];
    for (const el of document.querySelectorAll('[data-kbd]')) {
      if (!got.includes(el.dataset.kbd)) out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + ' ' + (el.textContent || el.getAttribute('aria-label') || '').trim().slice(0, 40));
      delete el.dataset.kbd;
    }
    return out;
  }, [...reached]);
  ok(missed.length === 0, `${name}: Tab reaches every control (${want})`, missed.join(' | '));
  await page.keyboard.press('Escape');
}
export async function shot(page, name) {
  await page.screenshot({ path: path.join(ART, name + '.png'), fullPage: true });
}
export const nav = (page, name) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });
export const text = async (page, sel) => (await page.locator(sel).first().textContent()) || '';

// Sign in as SI_USER (its token in JWT mode, the user id in development mode) from the
// sign-in page; ends on the Smart Import page.
export async function signIn(page) {
  await page.goto(BASE + '/', { waitUntil: 'networkidle' });
  await page.getByRole('heading', { name: 'Sign in to Smart Import' }).waitFor();
  if (TOKEN) {
    await page.getByLabel('Access token', { exact: true }).fill(TOKEN);
  } else {
    await page.getByLabel(/By user id/).check();
    await page.getByLabel('User id', { exact: true }).fill(USER);
  }
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Smart Import', level: 1 }).waitFor();
}

// The API as the test's user, outside the page (set-up the page is not about): JSON in, JSON out.
export async function api(method, pathname, body) {
  const headers = { 'Content-Type': 'application/json' };
  let url = BASE + pathname;
  if (TOKEN) headers.Authorization = 'Bearer ' + TOKEN;
  else if (method === 'GET') url += (url.includes('?') ? '&' : '?') + 'userId=' + USER;
  else body = { userId: USER, ...(body || {}) };
  const r = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const j = await r.json().catch(() => null);
  return { status: r.status, body: j };
}

// The closing checks, the browser closed, the TAP plan; exits 1 if any check failed.
export async function finish({ browser, problems, requestedUrls }, err) {
  if (err && !(err instanceof Stop)) ok(false, 'the browser test ran to its end', err && err.stack);
  if (!err || err instanceof Stop) {
    ok(problems.length === 0, 'no script error and no CSP violation', problems.join(' | '));
    const base = new URL(BASE).origin;
    const foreign = requestedUrls.filter((u) => !u.startsWith(base) && !u.startsWith('data:') &&
      !(BANK && u.startsWith(new URL(BANK).origin)));
    ok(foreign.length === 0, 'every request stays on the same origin', foreign.join(' '));
    const leaked = requestedUrls.filter((u) => TOKEN && u.includes(TOKEN) && !u.includes('/import-events?'));
    ok(leaked.length === 0, 'the token is in no URL but the event stream\'s', leaked.join(' '));
  }
  await browser.close();
  console.log(`1..${n}`);
  console.log(fails ? `# ${fails} check(s) failed` : '# all checks passed');
  process.exit(fails ? 1 : 0);
}
