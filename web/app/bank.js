// web/app/bank.js: the Bank import page (seed 002): connect a bank through TrueLayer's
// consent page (GET /api/truelayer/auth-link, the state kept in sessionStorage and checked
// when the bank sends the user back with ?code=&state=, then POST /api/truelayer/connect),
// and the five-step import wizard: date range (presets or custom), accounts of a connection
// (type, currency, last synced), settings (auto-enrich, batch size 10..200), review with the
// plan's estimate (POST import/plan), and the live progress (POST import/start): one card per
// account with its status badge and synced / duplicate / error counts, the overall percent and
// the ETA; below it the history of import jobs (GET import/history).
//
// Progress: GET import/status/{job} is the truth (it alone has every account's counts and the
// ETA). The user's event stream from now on (bank:* events, EventFeed fromNow) makes the page read it again at
// once when something happened to this job, and gives each account's pages done; a poll every
// 2 s while the job runs covers a stream that is lost or resuming.
import { html, Component, ErrorBox, Progress } from './ui.js';
import { api, EventFeed } from './api.js';
import { number, date, time } from './format.js';

const STATE_KEY = 'smartimport.bankState';      // { state, redirectUri } of the consent we started
const RETURN_KEY = 'smartimport.bankReturn';    // { code, state, error } the bank sent back
const POLL_MS = 2000;
const EVENT_REFRESH_MS = 150;
const HISTORY_LIMIT = 20;
const BATCH_MIN = 10;
const BATCH_MAX = 200;
const BATCH_DEFAULT = 50;
const PRESETS = [
  ['7d', '7 days'], ['30d', '30 days'], ['3m', '3 months'], ['1y', '1 year'], ['custom', 'Custom'],
];
const STEPS = ['Date range', 'Accounts', 'Settings', 'Review', 'Progress'];
const STATUS_WORDS = {
  planned: 'Planned', running: 'Running', completed: 'Completed', failed: 'Failed',
  pending: 'Waiting', syncing: 'Syncing',
};
// The API's error codes a user meets here, in words that say what to do.
const CODE_WORDS = {
  reauth_required: 'Your bank asks for your consent again. Connect the bank again, then start a new import.',
  rate_limited: 'The bank is limiting how often it can be asked. Wait a little and try again.',
  bank_unavailable: 'The bank is not answering right now. Try again in a few minutes.',
  bank_error: 'The bank answered something unexpected. Try again; if it persists, connect the bank again.',
  bank_not_configured: 'Bank connections are not set up on this server (TrueLayer credentials are missing).',
  all_accounts_failed: 'No account could be synced.',
  account_not_found: 'The bank no longer knows this account.',
  invalid_grant: 'The bank refused the consent code (it may have been used already). Connect again.',
};

// Called by main.js before the app renders: when the bank sent the user back here
// (?code=&state= or ?error=&state=), keep its answer for the Bank page (sessionStorage: the
// sign-in may come first), drop the query from the address bar and open #/bank.
export function takeBankReturn() {
  const q = new URLSearchParams(location.search);
  if (!q.has('state') || !(q.has('code') || q.has('error'))) return;
  sessionStorage.setItem(RETURN_KEY, JSON.stringify({
    code: q.get('code') || '', state: q.get('state') || '', error: q.get('error') || '',
  }));
  history.replaceState(null, '', location.pathname + '#/bank');
}

function takeReturn() {
  const raw = sessionStorage.getItem(RETURN_KEY);
  sessionStorage.removeItem(RETURN_KEY);
  if (!raw) return null;
  try { return JSON.parse(raw); } catch (e) { return null; }
}

function words(err) {
  if (!err) return null;
  if (typeof err === 'string') return err;
  const extra = CODE_WORDS[err.code];
  return extra ? `${extra} (${err.message})` : err.message;
}

// Dates as the API takes them (YYYY-MM-DD), from the user's own calendar day.
function ymd(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}
function today() { return ymd(new Date()); }
function presetRange(preset) {
  const to = new Date();
  const from = new Date(to);
  if (preset === '7d') from.setDate(from.getDate() - 6);
  else if (preset === '30d') from.setDate(from.getDate() - 29);
  else if (preset === '3m') from.setMonth(from.getMonth() - 3);
  else if (preset === '1y') from.setFullYear(from.getFullYear() - 1);
  return { from: ymd(from), to: ymd(to) };
}
function daysBetween(from, to) {
  const a = Date.parse(from + 'T00:00:00Z');
  const b = Date.parse(to + 'T00:00:00Z');
  if (Number.isNaN(a) || Number.isNaN(b)) return null;
  return Math.round((b - a) / 86400000) + 1;
}
function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${number(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${number(m)} min ${number(s % 60)} s`;
  return `${number(Math.floor(m / 60))} h ${number(m % 60)} min`;
}
function when(iso) {
  return iso ? `${date(iso)} ${time(iso)}` : '';
}
function Badge({ status }) {
  return html`<span class=${'badge bank-' + status}>${STATUS_WORDS[status] || status}</span>`;
}

// The page's state outlives a visit to another page (a running import is still followed on
// return), for the same user, until the tab closes.
let kept = null;

export class BankImport extends Component {
  constructor(props) {
    super(props);
    this.state = kept && kept.userId === props.session.userId ? { ...kept.state } : this.fresh();
    this.feed = null;
    this.poll = null;
    this.refreshTimer = null;
    this.alive = true;
  }

  fresh() {
    const r = presetRange('30d');
    return {
      connections: null, connError: null, connecting: false, connected: null,
      step: 1, preset: '30d', from: r.from, to: r.to, stepError: null,
      connectionId: '', selected: [], autoEnrich: true, batchSize: BATCH_DEFAULT,
      plan: null, planning: false, planError: null,
      jobId: null, jobAccounts: null, status: null, starting: false, statusError: null,
      pages: {}, feedState: null,
      history: null, historyError: null,
    };
  }

  componentDidMount() {
    const ret = takeReturn();
    if (ret) this.finishConnect(ret);
    else this.loadConnections();
    this.loadHistory();
    if (this.state.jobId && this.running()) this.follow();
  }

  componentWillUnmount() {
    this.alive = false;
    this.stopFollowing();
    kept = { userId: this.props.session.userId, state: { ...this.state, feedState: null } };
  }

  call(method, path, opts) { return api(this.props.session, method, path, opts); }

  running(st = this.state.status) { return !st || st.status === 'running' || st.status === 'planned'; }

  // ---- connections -------------------------------------------------------------------

  async loadConnections(prefer) {
    try {
      const r = await this.call('GET', '/api/truelayer/connections');
      const list = r.connections || [];
      this.setState((s) => {
        const keep = list.find((c) => c.connection_id === (prefer || s.connectionId));
        const first = keep || list.find((c) => c.state === 'active') || list[0];
        const connectionId = first ? first.connection_id : '';
        const changed = connectionId !== s.connectionId;
        return {
          connections: list, connectionId,
          selected: changed && first ? first.accounts.map((a) => a.account_id) : s.selected,
        };
      });
    } catch (err) {
      this.setState({ connections: [], connError: err });
    }
  }

  async connectBank() {
    const redirectUri = location.origin + '/';
    this.setState({ connecting: true, connError: null, connected: null });
    try {
      const r = await this.call('GET', '/api/truelayer/auth-link', { query: { redirect_uri: redirectUri } });
      sessionStorage.setItem(STATE_KEY, JSON.stringify({ state: r.state, redirectUri }));
      location.assign(r.auth_url);
    } catch (err) {
      this.setState({ connecting: false, connError: err });
    }
  }

  // Back from the bank: the state must be the one this tab started with; then the code is
  // exchanged (POST connect with the same redirect_uri).
  async finishConnect(ret) {
    let started = null;
    try { started = JSON.parse(sessionStorage.getItem(STATE_KEY) || 'null'); } catch (e) { started = null; }
    sessionStorage.removeItem(STATE_KEY);
    if (!started || !started.state || started.state !== ret.state) {
      this.setState({
        connError: 'The bank’s answer does not belong to a connection started from this page (its state does ' +
          'not match), so it was not used. Choose “Connect a bank” to start again.',
      });
      this.loadConnections();
      return;
    }
    if (ret.error || !ret.code) {
      this.setState({
        connError: ret.error === 'access_denied'
          ? 'You did not give the bank your consent, so no bank was connected.'
          : `The bank did not connect (it answered “${ret.error || 'no code'}”). Try again.`,
      });
      this.loadConnections();
      return;
    }
    this.setState({ connecting: true, connError: null });
    try {
      const r = await this.call('POST', '/api/truelayer/connect', { body: { code: ret.code, redirect_uri: started.redirectUri } });
      this.setState({
        connecting: false, step: 1, plan: null,
        connected: `Connected to ${r.provider}: ${number((r.accounts || []).length)} account${(r.accounts || []).length === 1 ? '' : 's'}.`,
      });
      await this.loadConnections(r.connection_id);
    } catch (err) {
      this.setState({ connecting: false, connError: err });
      this.loadConnections();
    }
  }

  connection() {
    const { connections, connectionId } = this.state;
    return (connections || []).find((c) => c.connection_id === connectionId) || null;
  }

  // ---- the wizard ----------------------------------------------------------------------

  goto(step) {
    this.setState({ step, stepError: null }, () => {
      const h = document.getElementById('bank-step-title');
      if (h) h.focus();
    });
  }

  choosePreset(preset) {
    if (preset === 'custom') { this.setState({ preset }); return; }
    this.setState({ preset, ...presetRange(preset), stepError: null });
  }

  nextFromRange(e) {
    e.preventDefault();
    const { from, to } = this.state;
    if (!from || !to) { this.setState({ stepError: 'Choose both a “From” and a “To” date.' }); return; }
    if (from > to) { this.setState({ stepError: 'The “From” date is after the “To” date.' }); return; }
    this.goto(2);
  }

  nextFromAccounts(e) {
    e.preventDefault();
    const c = this.connection();
    if (!c) { this.setState({ stepError: 'Connect a bank first.' }); return; }
    if (this.state.selected.length === 0) { this.setState({ stepError: 'Choose at least one account.' }); return; }
    this.goto(3);
  }

  toggle(id, on) {
    this.setState((s) => ({
      selected: on ? [...new Set([...s.selected, id])] : s.selected.filter((x) => x !== id), stepError: null,
    }));
  }

  async review(e) {
    e.preventDefault();
    const { connectionId, from, to, selected, autoEnrich, batchSize } = this.state;
    const bs = Number(batchSize);
    if (!Number.isInteger(bs) || bs < BATCH_MIN || bs > BATCH_MAX) {
      this.setState({ stepError: `The batch size is a whole number from ${BATCH_MIN} to ${BATCH_MAX}.` });
      return;
    }
    this.setState({ planning: true, planError: null, plan: null });
    this.goto(4);
    try {
      const plan = await this.call('POST', '/api/truelayer/import/plan', {
        body: { connection_id: connectionId, from_date: from, to_date: to, account_ids: selected, auto_enrich: autoEnrich, batch_size: bs },
      });
      this.setState({ plan, planning: false });
    } catch (err) {
      this.setState({ planning: false, planError: err });
    }
  }

  async start() {
    const { plan } = this.state;
    this.setState({ starting: true, statusError: null });
    try {
      await this.call('POST', '/api/truelayer/import/start', { body: { job_id: plan.job_id } });
    } catch (err) {
      this.setState({ starting: false, planError: err });
      return;
    }
    this.setState({ starting: false, jobId: plan.job_id, jobAccounts: plan.accounts, status: null, pages: {} });
    this.goto(5);
    this.follow();
    this.loadHistory();
  }

  // ---- following a job ----------------------------------------------------------------

  follow() {
    this.stopFollowing();
    const jobId = this.state.jobId;
    this.feed = new EventFeed(this.props.session, null, (ev) => this.onEvent(ev, jobId),
      (st) => { if (this.alive) this.setState({ feedState: st }); }, { fromNow: true });
    this.poll = setInterval(() => this.loadStatus(), POLL_MS);
    this.loadStatus();
  }

  stopFollowing() {
    if (this.feed) this.feed.close();
    this.feed = null;
    clearInterval(this.poll);
    this.poll = null;
    clearTimeout(this.refreshTimer);
  }

  onEvent(ev, jobId) {
    const p = ev && ev.payload;
    if (!ev || !String(ev.type).startsWith('bank:') || !p || p.jobId !== jobId || !this.alive) return;
    if (ev.type === 'bank:sync:progress' && typeof p.account === 'number' && typeof p.pagesTotal === 'number') {
      this.setState((s) => ({ pages: { ...s.pages, [p.account]: { done: p.pagesDone, total: p.pagesTotal } } }));
    }
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => this.loadStatus(), EVENT_REFRESH_MS);
  }

  async loadStatus() {
    const jobId = this.state.jobId;
    if (!jobId) return;
    try {
      const st = await this.call('GET', '/api/truelayer/import/status/' + encodeURIComponent(jobId));
      if (!this.alive || jobId !== this.state.jobId) return;
      this.setState({ status: st, statusError: null });
      if (!this.running(st)) {
        this.stopFollowing();
        this.setState({ feedState: null });
        this.loadHistory();
        if (st.error === 'reauth_required') this.loadConnections();
      }
    } catch (err) {
      if (this.alive) this.setState({ statusError: err });
    }
  }

  async loadHistory() {
    try {
      const r = await this.call('GET', '/api/truelayer/import/history', { query: { limit: HISTORY_LIMIT } });
      if (this.alive) this.setState({ history: r.imports || [], historyError: null });
    } catch (err) {
      if (this.alive) this.setState({ history: [], historyError: err });
    }
  }

  show(job) {
    this.setState({ jobId: job.job_id, jobAccounts: null, status: null, pages: {} });
    this.goto(5);
    this.follow();
  }

  newImport() {
    this.stopFollowing();
    this.setState({ step: 1, plan: null, planError: null, jobId: null, status: null, pages: {}, feedState: null }, () => this.goto(1));
  }

  // ---- views ---------------------------------------------------------------------------

  renderConnections() {
    const { connections, connError, connecting, connected } = this.state;
    return html`<section class="card" aria-labelledby="bank-conn-title">
      <h2 id="bank-conn-title">Bank connections</h2>
      ${connections === null && html`<p class="muted">Loading your connections…</p>`}
      ${connections && connections.length === 0 && html`<p>No bank is connected yet. Connect one to import its transactions.</p>`}
      ${connections && connections.length > 0 && html`<ul class="bank-conns" id="bank-connections">
        ${connections.map((c) => html`<li>
          <strong>${c.provider}</strong> ${c.state === 'active'
            ? html`<span class="badge bank-completed">Active</span>`
            : html`<span class="badge bank-failed">Needs your consent again</span>`}
          · ${number(c.accounts.length)} account${c.accounts.length === 1 ? '' : 's'} · connected ${when(c.created_at)}
        </li>`)}
      </ul>`}
      ${connected && html`<p class="ok" role="status" id="bank-connected">${connected}</p>`}
      <${ErrorBox} error=${words(connError)} id="bank-conn-error" />
      <button type="button" class="primary" id="bank-connect" disabled=${connecting} onClick=${() => this.connectBank()}>
        ${connecting ? 'Connecting…' : 'Connect a bank'}</button>
      <p class="help">You will go to your bank’s consent page (TrueLayer) and come back here.</p>
    </section>`;
  }

  renderSteps() {
    const { step } = this.state;
    return html`<ol class="bank-steps" aria-label="Import steps">
      ${STEPS.map((name, i) => html`<li class=${i + 1 === step ? 'current' : i + 1 < step ? 'done' : ''}
        aria-current=${i + 1 === step ? 'step' : undefined}><span class="n">${i + 1}</span> ${name}</li>`)}
    </ol>`;
  }

  stepHead(title) {
    const { step } = this.state;
    return html`<h2 id="bank-step-title" tabindex="-1">Step ${step} of 5: ${title}</h2>`;
  }

  renderRange() {
    const { preset, from, to, stepError } = this.state;
    const days = daysBetween(from, to);
    return html`<form key="range" onSubmit=${(e) => this.nextFromRange(e)}>
      ${this.stepHead('Date range')}
      <fieldset>
        <legend>Import transactions from the last</legend>
        <div class="row">
          ${PRESETS.map(([k, label]) => html`<label class="choice"><input type="radio" name="bank-preset" value=${k}
            checked=${preset === k} onChange=${() => this.choosePreset(k)} /> ${label}</label>`)}
        </div>
      </fieldset>
      <div class="row bank-dates">
        <div class="field"><label for="bank-from">From</label>
          <input id="bank-from" type="date" value=${from} max=${today()}
            onInput=${(e) => this.setState({ from: e.target.value, preset: 'custom', stepError: null })} /></div>
        <div class="field"><label for="bank-to">To</label>
          <input id="bank-to" type="date" value=${to} max=${today()}
            onInput=${(e) => this.setState({ to: e.target.value, preset: 'custom', stepError: null })} /></div>
      </div>
      <p id="bank-days" aria-live="polite">${days && days > 0 ? `${number(days)} day${days === 1 ? '' : 's'} selected` : 'No days selected'}</p>
      <${ErrorBox} error=${stepError} id="bank-step-error" />
      <button type="submit" class="primary">Next: accounts</button>
    </form>`;
  }

  renderAccounts() {
    const { connections, connectionId, selected, stepError } = this.state;
    const c = this.connection();
    const accounts = c ? c.accounts : [];
    const all = accounts.length > 0 && accounts.every((a) => selected.includes(a.account_id));
    return html`<form key="accounts" onSubmit=${(e) => this.nextFromAccounts(e)}>
      ${this.stepHead('Accounts')}
      ${(connections || []).length > 1 && html`<label for="bank-conn">Bank connection</label>
        <select id="bank-conn" value=${connectionId} onChange=${(e) => {
          const nc = connections.find((x) => x.connection_id === e.target.value);
          this.setState({ connectionId: e.target.value, selected: nc ? nc.accounts.map((a) => a.account_id) : [] });
        }}>${connections.map((x) => html`<option value=${x.connection_id}>${x.provider} (${x.state === 'active' ? 'active' : 'needs consent'}, connected ${when(x.created_at)})</option>`)}</select>`}
      ${!c && html`<p>Connect a bank first (above).</p>`}
      ${c && c.state !== 'active' && html`<p class="notice">${CODE_WORDS.reauth_required}</p>`}
      ${c && html`<fieldset>
        <legend>Accounts to import</legend>
        <label class="choice bank-all"><input type="checkbox" id="bank-all" checked=${all}
          onChange=${(e) => this.setState({ selected: e.target.checked ? accounts.map((a) => a.account_id) : [], stepError: null })} />
          All accounts (${number(accounts.length)})</label>
        <ul class="bank-accounts" id="bank-accounts">
          ${accounts.map((a) => html`<li>
            <label class="choice"><input type="checkbox" checked=${selected.includes(a.account_id)}
              onChange=${(e) => this.toggle(a.account_id, e.target.checked)} />
              <span><strong>${a.display_name || a.account_id}</strong>
              <span class="muted"> · ${a.account_type.toLowerCase()} · ${a.currency} · last synced ${a.last_synced_at ? when(a.last_synced_at) : 'never'}</span></span></label>
          </li>`)}
        </ul>
        <p class="help" id="bank-selected" aria-live="polite">${number(selected.length)} of ${number(accounts.length)} selected</p>
      </fieldset>`}
      <${ErrorBox} error=${stepError} id="bank-step-error" />
      <button type="button" onClick=${() => this.goto(1)}>Back</button>
      <button type="submit" class="primary">Next: settings</button>
    </form>`;
  }

  renderSettings() {
    const { autoEnrich, batchSize, stepError } = this.state;
    return html`<form key="settings" onSubmit=${(e) => this.review(e)}>
      ${this.stepHead('Settings')}
      <label class="choice"><input type="checkbox" id="bank-enrich" checked=${autoEnrich}
        onChange=${(e) => this.setState({ autoEnrich: e.target.checked })} /> Categorise the imported transactions (auto-enrich)</label>
      <p class="help">Recommended: on. Your category rules are applied to the new rows when the import ends.</p>
      <label for="bank-batch">Batch size (rows written at a time): <output for="bank-batch" id="bank-batch-value">${number(batchSize)}</output></label>
      <input id="bank-batch" type="range" min=${BATCH_MIN} max=${BATCH_MAX} step="10" value=${batchSize}
        aria-describedby="bank-batch-help" onInput=${(e) => this.setState({ batchSize: Number(e.target.value) })} />
      <p class="help" id="bank-batch-help">${BATCH_MIN} to ${BATCH_MAX}; recommended ${BATCH_DEFAULT}.</p>
      <${ErrorBox} error=${stepError} id="bank-step-error" />
      <button type="button" onClick=${() => this.goto(2)}>Back</button>
      <button type="submit" class="primary">Next: review</button>
    </form>`;
  }

  renderReview() {
    const { plan, planning, planError, starting, from, to, autoEnrich, batchSize } = this.state;
    return html`<div key="review">
      ${this.stepHead('Review')}
      ${planning && html`<p role="status">Estimating the import…</p>`}
      <${ErrorBox} error=${words(planError)} id="bank-plan-error" />
      ${plan && html`<section aria-labelledby="bank-est-title" id="bank-estimate">
        <h3 id="bank-est-title">Estimate</h3>
        <dl class="summary">
          <div><dt>Accounts</dt><dd>${number(plan.estimated_accounts)}</dd></div>
          <div><dt>Transactions</dt><dd id="bank-est-tx">about ${number(plan.estimated_transactions)}</dd></div>
          <div><dt>Duration</dt><dd>about ${duration(plan.estimated_duration_seconds)}</dd></div>
          <div><dt>Bank API calls</dt><dd>${number(plan.estimated_api_calls)}</dd></div>
          <div><dt>Cost</dt><dd>${number(plan.estimated_cost)} <span class="muted">(API price units)</span></dd></div>
        </dl>
        <h3>Settings</h3>
        <dl class="summary">
          <div><dt>Date range</dt><dd>${date(plan.date_range.from_date)} – ${date(plan.date_range.to_date)} (${number(plan.date_range.days)} days)</dd></div>
          <div><dt>Auto-enrich</dt><dd>${plan.auto_enrich ? 'On' : 'Off'}</dd></div>
          <div><dt>Batch size</dt><dd>${number(plan.batch_size)}</dd></div>
        </dl>
        <div class="table-wrap"><table class="rows" id="bank-plan-accounts">
          <caption class="sr-only">Accounts in this import and their estimated transactions</caption>
          <thead><tr><th scope="col">Account</th><th scope="col">Type</th><th scope="col">Currency</th>
            <th scope="col">Last synced</th><th scope="col" class="num">Estimated transactions</th></tr></thead>
          <tbody>${plan.accounts.map((a) => html`<tr><th scope="row">${a.display_name || a.account_id}</th>
            <td>${a.account_type.toLowerCase()}</td><td>${a.currency}</td><td>${a.last_synced_at ? when(a.last_synced_at) : 'never'}</td>
            <td class="num">${number(a.estimated_transactions)}</td></tr>`)}</tbody>
        </table></div>
      </section>`}
      ${!plan && !planning && html`<p class="muted">Range ${date(from)} – ${date(to)}, auto-enrich ${autoEnrich ? 'on' : 'off'}, batch size ${number(batchSize)}.</p>`}
      <button type="button" onClick=${() => this.goto(3)}>Back</button>
      <button type="button" class="primary big" id="bank-start" disabled=${!plan || starting} onClick=${() => this.start()}>
        ${starting ? 'Starting…' : 'Start import'}</button>
    </div>`;
  }

  percent(st) {
    const accounts = st.accounts || [];
    if (accounts.length === 0) return st.progress ? st.progress.percent : 0;
    let sum = 0;
    accounts.forEach((a, i) => {
      if (a.status === 'completed' || a.status === 'failed') sum += 1;
      else if (this.state.pages[i] && this.state.pages[i].total > 0) sum += Math.min(1, this.state.pages[i].done / this.state.pages[i].total);
    });
    return Math.max(st.progress ? st.progress.percent : 0, Math.floor((sum * 100) / accounts.length));
  }

  eta(st) {
    if (st.status === 'completed' || st.status === 'failed') {
      return st.estimated_completion ? `Finished at ${time(st.estimated_completion)}` : 'Finished';
    }
    if (!st.estimated_completion) return 'Starting…';
    const left = (Date.parse(st.estimated_completion) - Date.now()) / 1000;
    return left > 1 ? `About ${duration(left)} left (by ${time(st.estimated_completion)})` : 'Finishing any moment now';
  }

  renderCard(a, i) {
    const { jobAccounts, pages, connections } = this.state;
    // The plan's accounts name them; a job opened from the history: its connection's accounts.
    const known = [...(jobAccounts || []), ...(connections || []).flatMap((c) => c.accounts)];
    const info = known.find((x) => x.account_id === a.account_id);
    const pg = pages[i];
    const reason = a.error ? (CODE_WORDS[a.error] || a.error) : null;
    return html`<li class=${'bank-card ' + a.status} data-account=${a.account_id}>
      <div class="bank-card-head">
        <h3>${info ? info.display_name : a.account_id}</h3><${Badge} status=${a.status} />
      </div>
      ${info && html`<p class="muted small">${info.account_type.toLowerCase()} · ${info.currency}</p>`}
      ${a.status === 'syncing' && pg && html`<${Progress} id=${'bank-pages-' + i} label="Pages read" value=${pg.done} max=${pg.total}
        text=${`${number(pg.done)} of ${number(pg.total)}`} />`}
      <dl class="summary counts">
        <div><dt>Synced</dt><dd class="synced">${number(a.synced)}</dd></div>
        <div><dt>Duplicates</dt><dd class="duplicates">${number(a.duplicates)}</dd></div>
        <div><dt>Errors</dt><dd class="errors">${number(a.errors)}</dd></div>
        ${a.pending_replaced > 0 && html`<div><dt>Pending booked</dt><dd>${number(a.pending_replaced)}</dd></div>`}
      </dl>
      ${a.rate_limited_until && a.status === 'syncing' && html`<p class="notice small">The bank asked us to wait; going on at ${time(a.rate_limited_until)}.</p>`}
      ${reason && html`<p class="error small" role="alert">${reason}</p>`}
    </li>`;
  }

  renderProgress() {
    const { status: st, statusError, feedState, jobId } = this.state;
    const feedWords = feedState === 'live' ? 'Live updates on' : feedState === 'resuming' ? 'Live updates lost: reconnecting (the page still checks every 2 s)…'
      : feedState === 'expired' ? 'Your access token has expired: sign out and in again to follow the progress.' : null;
    return html`<div key="progress">
      ${this.stepHead('Progress')}
      <p class="muted small">Import job <code>${jobId}</code></p>
      ${feedWords && html`<p class=${'feed-state ' + feedState} role="status" id="bank-feed-state">${feedWords}</p>`}
      <${ErrorBox} error=${words(statusError)} id="bank-status-error" />
      ${!st && !statusError && html`<p role="status">Reading the job’s status…</p>`}
      ${st && html`<div id="bank-progress">
        <p class="bank-overall" id="bank-job-status"><${Badge} status=${st.status} />${' '}
          ${number(st.progress.completed_accounts)} of ${number(st.progress.total_accounts)} accounts done</p>
        <${Progress} id="bank-overall" label="Overall" value=${this.percent(st)} max=${100}
          text=${`${this.percent(st)}% · ${this.eta(st)}`} />
        <dl class="summary" id="bank-totals">
          <div><dt>Transactions synced</dt><dd>${number(st.total_so_far.synced)}</dd></div>
          <div><dt>Duplicates skipped</dt><dd>${number(st.total_so_far.duplicates)}</dd></div>
          <div><dt>Errors</dt><dd>${number(st.total_so_far.errors)}</dd></div>
          ${st.enrichment && html`<div><dt>Categorised</dt><dd>${number(st.enrichment.categorized)} (${st.enrichment.status})</dd></div>`}
        </dl>
        <ul class="bank-cards" id="bank-cards" aria-label="Accounts">
          ${(st.accounts || []).map((a, i) => this.renderCard(a, i))}
        </ul>
        ${st.status === 'completed' && html`<p class="ok" role="status" id="bank-done">Import complete: ${number(st.total_so_far.synced)} new transaction${st.total_so_far.synced === 1 ? '' : 's'} in your ledger${st.total_so_far.duplicates ? `, ${number(st.total_so_far.duplicates)} already there` : ''}.
          ${' '}<a href="#/transactions">See them in Transactions</a></p>`}
        ${st.status === 'failed' && html`<div class="error" role="alert" id="bank-failed"><strong>Error: </strong>The import failed. ${CODE_WORDS[st.error] || st.error || ''}</div>`}
      </div>`}
      ${st && !this.running(st) && html`<button type="button" class="primary" onClick=${() => this.newImport()}>New import</button>`}
    </div>`;
  }

  renderHistory() {
    const { history, historyError, jobId } = this.state;
    return html`<section class="card" aria-labelledby="bank-hist-title">
      <h2 id="bank-hist-title">Import history</h2>
      <${ErrorBox} error=${words(historyError)} id="bank-hist-error" />
      <div class="table-wrap"><table class="rows" id="bank-history" aria-busy=${history === null ? 'true' : 'false'}>
        <caption class="sr-only">Your bank import jobs, newest first</caption>
        <thead><tr><th scope="col">Created</th><th scope="col">Date range</th><th scope="col">Status</th>
          <th scope="col" class="num">Accounts</th><th scope="col" class="num">Imported</th><th scope="col" class="num">Duplicates</th>
          <th scope="col" class="num">Errors</th><th scope="col"><span class="sr-only">Details</span></th></tr></thead>
        <tbody>
          ${history && history.length === 0 && html`<tr><td colspan="8" class="muted">No bank imports yet.</td></tr>`}
          ${(history || []).map((j) => html`<tr data-job=${j.job_id} class=${j.job_id === jobId ? 'current' : ''}>
            <td>${when(j.created_at)}</td><td>${date(j.date_range.from_date)} – ${date(j.date_range.to_date)}</td>
            <td><${Badge} status=${j.status} />${j.error && html`<div class="reason">${CODE_WORDS[j.error] || j.error}</div>`}</td>
            <td class="num">${number(j.accounts_synced)} / ${number(j.total_accounts)}</td>
            <td class="num">${number(j.transactions_imported)}</td><td class="num">${number(j.duplicates)}</td>
            <td class="num">${number(j.errors)}</td>
            <td>${j.status !== 'planned' && html`<button type="button" class="linkish" onClick=${() => this.show(j)}
              aria-label=${`Show the import of ${date(j.date_range.from_date)} – ${date(j.date_range.to_date)} created ${when(j.created_at)}`}>Show</button>`}</td>
          </tr>`)}
        </tbody>
      </table></div>
    </section>`;
  }

  // Each step is its own keyed tree: a Back button is never reused as the next step's submit
  // button (a click's re-render runs before the button's default action).
  render(_, { step }) {
    const views = [null, () => this.renderRange(), () => this.renderAccounts(), () => this.renderSettings(),
      () => this.renderReview(), () => this.renderProgress()];
    return html`<section aria-labelledby="bank-title" class="bank">
      <h1 id="bank-title" tabindex="-1">Bank import</h1>
      ${this.renderConnections()}
      <section class="card bank-wizard" aria-label="Import wizard">
        ${this.renderSteps()}
        ${views[step]()}
      </section>
      ${this.renderHistory()}
    </section>`;
  }
}

