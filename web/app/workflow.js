// web/app/workflow.js: the Workflow page (seed 004, issue 16): start one of the seven phases
// (POST /api/v1/workflow/phase/:n with the phase's fields), the caller's jobs counted by phase
// and status (GET stats) as a grid, the jobs list with phase/status filters and keyset pages
// (GET jobs), a job's audit trail with its attempts and error (GET jobs/:id/audit, GET
// jobs/:id), and a live feed of the phases' transitions (workflow:phase:* from the caller's
// import-events stream, from now on); each feed event refreshes the counts, the list and the
// open job.
import { html, Component, ErrorBox } from './ui.js';
import { api, EventFeed } from './api.js';
import { money, number, dateTime, time, parseMinor } from './format.js';
import { CURRENCIES } from './settings.js';

const BASE = '/api/v1/workflow/';
const PAGE_LIMIT = 20;
const FEED_MAX = 50;          // transitions kept in the feed
const REFRESH_DELAY_MS = 250; // feed events that arrive together refresh once
export const PHASES = [
  [1, 'Zero-friction onboarding', 'OAuth completed: start the background sync'],
  [2, 'Autonomous money discovery', 'Sync completed: start detection'],
  [3, 'Intelligent evidence ecosystem', 'Detection completed: match evidence'],
  [4, 'Predictive refund orchestration', 'Evidence matched: route claims by confidence'],
  [5, 'Autonomous recovery pipeline', 'Claim submitted: monitor its payout'],
  [6, 'Continuous learning brain', 'Claim rejected: learn from it'],
  [7, 'Hyper-transparency layer', 'Payout received: fee and proof packet'],
];
export const STATUSES = [
  ['queued', 'Queued'], ['running', 'Running'], ['completed', 'Completed'],
  ['failed', 'Retry scheduled'], ['dead', 'Dead'],
];
const STATUS_WORDS = Object.fromEntries(STATUSES);
const phaseName = (n) => (PHASES.find((p) => p[0] === n) || [n, 'Phase ' + n])[1];
const state = (s) => (s === null || s === undefined ? 'new' : STATUS_WORDS[s] || s);
const ms = (v) => (v === undefined || v === null ? '' : v < 1000 ? number(Math.round(v)) + ' ms'
  : number(Math.round(v / 100) / 10) + ' s');

// One feed event in words.
function feedWords(ev) {
  const p = ev.payload || {};
  const job = `Job ${p.jobId} (phase ${p.phase})`;
  switch (ev.type) {
    case 'workflow:phase:queued': return `${job} queued`;
    case 'workflow:phase:complete': return `${job} completed on attempt ${p.attempt} in ${ms(p.ms)}`;
    case 'workflow:phase:retry': return `${job} failed on attempt ${p.attempt} (${p.code}); retry in ${ms(p.delayMs)}`;
    case 'workflow:phase:dead': return `${job} gave up after ${p.attempts} attempts (${p.code})`;
    default: return ev.type;
  }
}

// "claim_id, confidence" per line -> matches, or an Error in words.
function parseMatches(textIn) {
  const lines = textIn.split('\n').map((l) => l.trim()).filter(Boolean);
  if (lines.length === 0) throw new Error('Phase 4 needs at least one match: a claim id and its confidence per line.');
  return lines.map((l, i) => {
    const m = /^(\S+)[\s,;]+([0-9]*\.?[0-9]+)$/.exec(l);
    const c = m ? Number(m[2]) : NaN;
    if (!m || !(c >= 0 && c <= 1)) throw new Error(`Line ${i + 1} of the matches is not "claim id, confidence from 0 to 1".`);
    return { claim_id: m[1], confidence: c };
  });
}

export class Workflow extends Component {
  constructor(props) {
    super(props);
    this.state = {
      phase: '1', syncId: '', sellerId: '', claimId: '', reason: '', amount: '', currency: 'USD', matches: '',
      starting: false, started: null, startError: null,
      stats: null, statsError: null,
      fPhase: '', fStatus: '', applied: {}, jobs: [], cursors: [null], nextCursor: null, loading: true, listError: null,
      selected: null, job: null, audit: null, auditError: null,
      feed: [], feedState: null, feedLastId: null,
    };
    this.feed = null;
    this.timer = null;
    this.listSeq = 0;
    this.listRequest = { filter: {}, cursor: null, index: 0 };
  }

  componentDidMount() {
    this.loadStats();
    this.loadJobs({}, null, 0);
    this.feed = new EventFeed(this.props.session, null, (ev) => this.onEvent(ev),
      (st, lastId) => this.setState({ feedState: st, feedLastId: lastId }), { fromNow: true });
  }

  componentWillUnmount() {
    if (this.feed) this.feed.close();
    this.feed = null;
    clearTimeout(this.timer);
  }

  onEvent(ev) {
    if (!ev || typeof ev.type !== 'string' || !ev.type.startsWith('workflow:phase:')) return;
    this.setState((s) => ({ feed: [ev, ...s.feed].slice(0, FEED_MAX) }));
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh(), REFRESH_DELAY_MS);
  }

  // After a feed event: the counts, the page of the list on show, the open job.
  // The list is asked again with the last request made, not the last one answered: a refresh
  // that fires while a new filter or page is on its way must not bring the old one back.
  refresh() {
    const { selected } = this.state;
    const { filter, cursor, index } = this.listRequest;
    this.loadStats();
    this.loadJobs(filter, cursor, index);
    if (selected !== null) this.loadJob(selected, false);
  }

  async loadStats() {
    try {
      const stats = await api(this.props.session, 'GET', BASE + 'stats');
      this.setState({ stats, statsError: null });
    } catch (err) {
      this.setState({ statsError: err });
    }
  }

  async loadJobs(filter, cursor, index) {
    const seq = ++this.listSeq; // an answer to an older request (a refresh, a page) is dropped
    this.listRequest = { filter, cursor, index };
    this.setState({ loading: true });
    try {
      const r = await api(this.props.session, 'GET', BASE + 'jobs', { query: { ...filter, cursor, limit: PAGE_LIMIT } });
      if (seq !== this.listSeq) return;
      const cursors = this.state.cursors.slice(0, index + 1);
      cursors[index] = cursor;
      this.setState({ jobs: r.jobs || [], nextCursor: r.next_cursor || null, cursors, applied: filter, loading: false, listError: null });
    } catch (err) {
      if (seq === this.listSeq) this.setState({ loading: false, listError: err });
    }
  }

  async loadJob(id, focus) {
    this.setState({ selected: id, auditError: null, ...(focus ? { job: null, audit: null } : {}) });
    try {
      const [job, audit] = await Promise.all([
        api(this.props.session, 'GET', BASE + 'jobs/' + id),
        api(this.props.session, 'GET', BASE + 'jobs/' + id + '/audit'),
      ]);
      if (this.state.selected !== id) return;
      this.setState({ job, audit }, () => {
        const hd = document.getElementById('job-title');
        if (focus && hd) hd.focus();
      });
    } catch (err) {
      this.setState({ auditError: err });
    }
  }

  filter(e) {
    e.preventDefault();
    this.loadJobs({ phase: this.state.fPhase, status: this.state.fStatus }, null, 0);
  }

  // The request body of the chosen phase, or throws an Error in words.
  body() {
    const s = this.state;
    const phase = Number(s.phase);
    const b = { user_id: this.props.session.userId };
    if (s.syncId.trim()) b.sync_id = s.syncId.trim();
    if (phase === 1 && s.sellerId.trim()) b.seller_id = s.sellerId.trim();
    if (phase >= 5) {
      if (!s.claimId.trim()) throw new Error(`Phase ${phase} needs the claim id.`);
      b.claim_id = s.claimId.trim();
    }
    if (phase === 6 && s.reason.trim()) b.reason = s.reason.trim();
    if (phase === 4) b.matches = parseMatches(s.matches);
    if (phase === 7) {
      const minor = parseMinor(s.amount, s.currency);
      if (minor === null || minor.length > 15) throw new Error(`The payout amount must be a positive amount in ${s.currency}, like ${money(1250, s.currency)}.`);
      b.amount_minor = Number(minor);
      b.currency = s.currency;
    }
    return b;
  }

  async start(e) {
    e.preventDefault();
    let body;
    try { body = this.body(); } catch (err) { this.setState({ startError: err, started: null }); return; }
    this.setState({ starting: true, startError: null, started: null });
    try {
      const r = await api(this.props.session, 'POST', BASE + 'phase/' + this.state.phase, { body });
      this.setState({ starting: false, started: r });
      this.refresh();
    } catch (err) {
      this.setState({ starting: false, startError: err });
    }
  }

  renderStart() {
    const { phase, syncId, sellerId, claimId, reason, amount, currency, matches, starting, started, startError } = this.state;
    const n = Number(phase);
    const field = (id, label, value, key, extra = {}) => html`<div class="field"><label for=${id}>${label}</label>
      <input id=${id} value=${value} maxlength=${extra.max || 200} aria-describedby=${extra.help ? id + '-help' : undefined}
        onInput=${(ev) => this.setState({ [key]: ev.target.value })} />
      ${extra.help && html`<p id=${id + '-help'} class="help">${extra.help}</p>`}</div>`;
    return html`<section class="card" aria-labelledby="wf-start-title">
      <h2 id="wf-start-title">Start a phase</h2>
      <form id="wf-start" class="wf-form" onSubmit=${(ev) => this.start(ev)}>
        <div class="field"><label for="wf-phase">Phase</label>
          <select id="wf-phase" value=${phase} aria-describedby="wf-phase-help"
            onChange=${(ev) => this.setState({ phase: ev.target.value, started: null, startError: null })}>
            ${PHASES.map(([p, name]) => html`<option value=${String(p)}>${p}. ${name}</option>`)}
          </select>
          <p id="wf-phase-help" class="help">${PHASES[n - 1][2]}.</p></div>
        ${field('wf-sync', 'Sync id (optional)', syncId, 'syncId', { help: 'The same phase and sync id again returns the job already started.' })}
        ${n === 1 && field('wf-seller', 'Seller id (optional)', sellerId, 'sellerId')}
        ${n >= 5 && field('wf-claim', 'Claim id', claimId, 'claimId', { max: 100 })}
        ${n === 6 && field('wf-reason', 'Rejection reason (optional)', reason, 'reason')}
        ${n === 4 && html`<div class="field wide"><label for="wf-matches">Matches</label>
          <textarea id="wf-matches" rows="4" aria-describedby="wf-matches-help" value=${matches}
            onInput=${(ev) => this.setState({ matches: ev.target.value })}></textarea>
          <p id="wf-matches-help" class="help">One claim per line: its id and the match confidence from 0 to 1, e.g. <code>c1, 0.92</code>. 0.85 and above is submitted automatically, 0.50 to 0.85 prompts you.</p></div>`}
        ${n === 7 && html`<div class="field"><label for="wf-amount">Payout amount</label>
            <input id="wf-amount" inputmode="decimal" value=${amount} onInput=${(ev) => this.setState({ amount: ev.target.value })} /></div>
          <div class="field"><label for="wf-currency">Currency</label>
            <select id="wf-currency" value=${currency} onChange=${(ev) => this.setState({ currency: ev.target.value })}>
              ${CURRENCIES.map((c) => html`<option value=${c}>${c}</option>`)}
            </select></div>`}
        <button type="submit" class="primary" disabled=${starting}>Start phase ${n}</button>
      </form>
      <${ErrorBox} error=${startError} id="wf-start-error" />
      ${started && html`<p class="ok" role="status" id="wf-started">${started.existing
        ? `Job ${started.job_id} (phase ${started.phase}) already exists: ${state(started.status).toLowerCase()}.`
        : `Job ${started.job_id} (phase ${started.phase}) started: ${state(started.status).toLowerCase()}.`}
        ${' '}<button type="button" class="linkish" onClick=${() => this.loadJob(started.job_id, true)}>Show its audit trail</button></p>`}
    </section>`;
  }

  renderFeed() {
    const { feed, feedState, feedLastId } = this.state;
    const words = feedState === 'resuming'
      ? `Connection to the live feed was lost; resuming${feedLastId ? ' after event ' + feedLastId : ''}…`
      : feedState === 'expired' ? 'Your access token has expired: sign out and in again to follow the workflow.'
      : feedState === 'live' ? 'Live' : feedState === 'closed' ? 'Stopped' : 'Connecting…';
    return html`<section class="card" aria-labelledby="wf-feed-title">
      <h2 id="wf-feed-title">Live transitions</h2>
      <p class=${'feed-state ' + (feedState || '')} role="status" id="wf-feed-state">${words}</p>
      ${feed.length === 0 && html`<p class="muted">Nothing has happened since you opened this page.</p>`}
      <ol class="events wf-feed" id="wf-feed" aria-live="polite" tabindex="0" aria-labelledby="wf-feed-title">
        ${feed.map((ev) => html`<li data-type=${ev.type} data-job=${ev.payload && ev.payload.jobId}>
          <time datetime=${ev.createdAt}>${time(ev.createdAt)}</time> ${feedWords(ev)}</li>`)}
      </ol>
    </section>`;
  }

  renderStats() {
    const { stats, statsError } = this.state;
    return html`<section class="card" aria-labelledby="wf-stats-title">
      <h2 id="wf-stats-title">Jobs by phase and status</h2>
      <${ErrorBox} error=${statsError} id="wf-stats-error" />
      ${stats && html`<div class="table-wrap"><table class="wf-grid" id="wf-stats">
        <caption class="sr-only">Your workflow jobs counted by phase (rows) and status (columns)</caption>
        <thead><tr><th scope="col">Phase</th>${STATUSES.map(([, w]) => html`<th scope="col" class="num">${w}</th>`)}</tr></thead>
        <tbody>${PHASES.map(([p, name]) => html`<tr data-phase=${p}><th scope="row">${p}. ${name}</th>
          ${STATUSES.map(([s]) => {
            const c = (stats.phases && stats.phases[p] && stats.phases[p][s]) || 0;
            return html`<td class=${'num' + (c ? '' : ' zero')} data-status=${s}>${number(c)}</td>`;
          })}</tr>`)}</tbody>
        <tfoot><tr><th scope="row">All phases</th>${STATUSES.map(([s]) => html`<td class="num" data-status=${s}>${number((stats.totals && stats.totals[s]) || 0)}</td>`)}</tr></tfoot>
      </table></div>
      <p class="help">${stats.oldest_queued_age_ms === null || stats.oldest_queued_age_ms === undefined
        ? 'No job is waiting.' : `The oldest queued job has waited ${ms(stats.oldest_queued_age_ms)}.`}
        ${' '}${number(stats.finished_last_minute || 0)} finished in the last minute.</p>`}
    </section>`;
  }

  renderJobs() {
    const { fPhase, fStatus, applied, jobs, cursors, nextCursor, loading, listError, selected } = this.state;
    const filtered = Boolean(applied.phase || applied.status);
    return html`<section class="card" aria-labelledby="wf-jobs-title">
      <h2 id="wf-jobs-title">Jobs</h2>
      <form class="filters-form" role="search" aria-label="Filter the jobs" onSubmit=${(ev) => this.filter(ev)}>
        <div class="field"><label for="wf-f-phase">Phase</label>
          <select id="wf-f-phase" value=${fPhase} onChange=${(ev) => this.setState({ fPhase: ev.target.value })}>
            <option value="">Any</option>${PHASES.map(([p, name]) => html`<option value=${String(p)}>${p}. ${name}</option>`)}
          </select></div>
        <div class="field"><label for="wf-f-status">Status</label>
          <select id="wf-f-status" value=${fStatus} onChange=${(ev) => this.setState({ fStatus: ev.target.value })}>
            <option value="">Any</option>${STATUSES.map(([s, w]) => html`<option value=${s}>${w}</option>`)}
          </select></div>
        <button type="submit" class="primary">Show</button>
      </form>
      <${ErrorBox} error=${listError} id="wf-list-error" />
      <div class="table-wrap"><table class="rows" id="wf-jobs" aria-busy=${loading ? 'true' : 'false'}>
        <caption class="sr-only">Your workflow jobs, newest first</caption>
        <thead><tr><th scope="col">Job</th><th scope="col">Phase</th><th scope="col">Status</th><th scope="col" class="num">Attempts</th>
          <th scope="col">Sync id</th><th scope="col">Started</th><th scope="col">Last change</th><th scope="col">Next / error</th></tr></thead>
        <tbody>
          ${!loading && jobs.length === 0 && html`<tr><td colspan="8" class="muted">No jobs${filtered ? ' match this filter' : ' yet: start a phase above'}.</td></tr>`}
          ${jobs.map((j) => html`<tr data-job=${j.job_id} data-status=${j.status} class=${selected === j.job_id ? 'selected' : ''}>
            <td><button type="button" class="linkish" aria-label=${`Job ${j.job_id}: show its audit trail`}
              aria-pressed=${selected === j.job_id ? 'true' : 'false'} onClick=${() => this.loadJob(j.job_id, true)}>${j.job_id}</button></td>
            <td>${j.phase}. ${phaseName(j.phase)}</td>
            <td><span class=${'badge wf-' + j.status}>${state(j.status)}</span></td>
            <td class="num">${number(j.attempts)} of ${number(j.max_attempts)}</td>
            <td>${j.sync_id || html`<span class="muted">none</span>`}</td>
            <td><time datetime=${j.created_at}>${dateTime(j.created_at)}</time></td>
            <td><time datetime=${j.updated_at}>${dateTime(j.updated_at)}</time></td>
            <td>${j.last_error ? html`<span class="reason">${j.last_error}</span>` : ''}${j.run_at
              ? html`${j.last_error ? html`<br />` : ''}<span class="muted">${j.status === 'failed' ? 'retry' : 'runs'} at ${time(j.run_at)}</span>` : ''}</td>
          </tr>`)}
        </tbody>
      </table></div>
      <div class="pager">
        <button type="button" disabled=${cursors.length < 2 || loading} onClick=${() => this.loadJobs(applied, cursors[cursors.length - 2], cursors.length - 2)}>Previous page</button>
        <span>Page ${cursors.length}</span>
        <button type="button" disabled=${!nextCursor || loading} onClick=${() => this.loadJobs(applied, nextCursor, cursors.length)}>Next page</button>
      </div>
    </section>`;
  }

  renderJob() {
    const { selected, job, audit, auditError } = this.state;
    if (selected === null) return null;
    return html`<section class="card wf-job" aria-labelledby="job-title" id="wf-job">
      <div class="advice-head"><h2 id="job-title" tabindex="-1">Job ${selected}${job ? `: phase ${job.phase}, ${state(job.status).toLowerCase()}` : ''}</h2>
        <button type="button" class="close" aria-label="Close the audit trail" onClick=${() => this.setState({ selected: null, job: null, audit: null })}>×</button></div>
      <${ErrorBox} error=${auditError} id="wf-job-error" />
      ${job && html`<dl class="summary">
        <div><dt>Phase</dt><dd>${job.phase}. ${phaseName(job.phase)}</dd></div>
        <div><dt>Attempts</dt><dd id="wf-job-attempts">${number(job.attempts)} of ${number(job.max_attempts)}</dd></div>
        <div><dt>Sync id</dt><dd>${job.sync_id || 'none'}</dd></div>
        <div><dt>Started</dt><dd>${dateTime(job.created_at)}</dd></div>
        ${job.finished_at && html`<div><dt>Finished</dt><dd>${dateTime(job.finished_at)}</dd></div>`}
      </dl>`}
      ${job && job.error && html`<p class="notice" id="wf-job-last-error"><strong>Last error: </strong>${job.error}</p>`}
      ${audit && html`<table class="rows" id="wf-audit">
        <caption>Audit trail, oldest first${audit.truncated ? ' (the first rows only)' : ''}.
          <span class="help">Duration: before a run, the wait for it; after a run, the run itself.</span></caption>
        <thead><tr><th scope="col">Time</th><th scope="col">Change</th><th scope="col" class="num">Attempt</th>
          <th scope="col">Code</th><th scope="col" class="num">Duration</th></tr></thead>
        <tbody>${audit.audit.map((a) => html`<tr data-to=${a.to}>
          <td><time datetime=${a.at}>${dateTime(a.at)}</time></td>
          <td>${state(a.from)} → ${state(a.to)}</td>
          <td class="num">${number(a.attempt)}</td>
          <td>${a.code ? html`<code>${a.code}</code>` : ''}</td>
          <td class="num">${ms(a.ms)}</td></tr>`)}</tbody>
      </table>`}
    </section>`;
  }

  render() {
    return html`<section aria-labelledby="wf-title">
      <h1 id="wf-title" tabindex="-1">Workflow</h1>
      <div class="wf-top">${this.renderStart()}${this.renderFeed()}</div>
      ${this.renderStats()}
      ${this.renderJobs()}
      ${this.renderJob()}
    </section>`;
  }
}
