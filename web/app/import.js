// web/app/import.js: the Smart Import page (seeds 000/001): pick or drop a statement, upload
// it with byte progress, the server's reading of it live (the user's stream from now on:
// parse progress of this upload, by its X-Upload-Id), then the import's events (import-events,
// resuming with the last event id), then the preview: rows with verdicts and reasons, filters through
// import-preview's pages, warnings with their lines, the CSV mapping (editable: upload again
// with it), keep/skip of possible duplicates, the currency when the file names none,
// "Approve & Commit (N transactions)", the result, Crystal's advisory card (advice.js), and Undo.
import { html, Component, ErrorBox, Progress } from './ui.js';
import { AdviceCard } from './advice.js';
import { api, upload, EventFeed, newUuid } from './api.js';
import { money, number, bytes, date, time } from './format.js';
import { CURRENCIES } from './settings.js';

const PREVIEW_LIMIT = 50;
const FILTERS = [
  ['', 'All rows', 'total'],
  ['new', 'New', 'new'],
  ['duplicate', 'Duplicates', 'duplicate'],
  ['possible_duplicate', 'Possible duplicates', 'possible_duplicate'],
  ['replaces_pending', 'Books a pending row', 'replaces_pending'],
];
const VERDICT_WORDS = { new: 'New', duplicate: 'Duplicate', possible_duplicate: 'Possible duplicate',
  replaces_pending: 'Books a pending row' };
const EVENT_WORDS = {
  'import:upload:start': 'Upload received',
  'import:upload:complete': 'File stored',
  'import:parse:start': 'Reading the statement',
  'import:parse:complete': 'Statement read',
  'import:commit:start': 'Committing',
  'import:commit:complete': 'Committed to your ledger',
  'import:commit:error': 'Commit failed',
  'import:revert:complete': 'Import undone',
  'prime:handoff:initiated': 'Prime handed the import to Crystal',
  'prime:message': 'Prime acknowledged the import',
  'prime:handoff:error': 'Prime could not hand the import over',
  'crystal:analyze:start': 'Crystal is analysing',
  'crystal:analyze:complete': 'Crystal’s analysis is ready',
  'crystal:analyze:error': 'Crystal’s analysis failed',
  'advisory:ready': 'Advisory card ready',
};
// The mapping's roles that name a column, with their labels; description may name several.
const ROLES = [
  ['date', 'Date'], ['description', 'Description'], ['amount', 'Amount'], ['debit', 'Debit (money out)'],
  ['credit', 'Credit (money in)'], ['currency', 'Currency'], ['balance', 'Balance'], ['reference', 'Reference'],
];
const DATE_FORMATS = ['YYYY-MM-DD', 'DD/MM/YYYY', 'MM/DD/YYYY', 'DD.MM.YYYY', 'DD-MM-YYYY', 'MM-DD-YYYY', 'YYYY/MM/DD', 'DD/MM/YY', 'MM/DD/YY'];

function eventWords(ev) {
  const base = EVENT_WORDS[ev.type] || ev.type;
  const p = ev.payload || {};
  const bits = [];
  if (typeof p.rowsTotal === 'number') bits.push(number(p.rowsTotal) + ' rows');
  if (typeof p.committed === 'number') bits.push(number(p.committed) + ' committed');
  if (typeof p.duplicates === 'number') bits.push(number(p.duplicates) + ' duplicates');
  if (typeof p.removed === 'number') bits.push(number(p.removed) + ' removed');
  if (typeof p.ms === 'number') bits.push(Math.round(p.ms) + ' ms');
  if (p.error) bits.push(p.error);
  return bits.length ? `${base} (${bits.join(', ')})` : base;
}

// The page's state outlives a visit to another page (the import, its result and Undo are
// still there on return), for the same user, until the tab closes.
let kept = null;

export class SmartImport extends Component {
  constructor(props) {
    super(props);
    this.state = kept && kept.userId === props.session.userId ? { ...kept.state, busy: false, progress: null } : this.fresh();
    this.feed = null;
    this.watch = null;
    this.uploading = null;
  }

  componentDidMount() {
    if (this.state.answer) this.follow(this.state.answer.importId, true);
  }

  // The import's events: replayed from its first (the list is rebuilt), then live.
  follow(importId, rebuild) {
    if (this.feed) this.feed.close();
    if (rebuild) this.setState({ events: [] });
    this.feed = new EventFeed(this.props.session, importId,
      (ev) => this.setState((s) => ({ events: [...s.events, ev] })),
      (st, lastId) => this.setState({ feedState: st, feedLastId: lastId }));
  }

  fresh() {
    return {
      file: null, dragging: false, currency: '', progress: null, parsing: null, error: null, answer: null,
      events: [], feedState: null, feedLastId: null,
      filter: '', rows: [], counts: null, cursors: [null], nextCursor: null, loadingRows: false,
      skipped: 0, mapping: null, mappingOpen: false, notice: null,
      busy: false, commit: null, revert: null,
    };
  }

  componentWillUnmount() {
    if (this.feed) this.feed.close();
    this.feed = null;
    this.stopWatching();
    if (this.uploading) this.uploading.abort();
    kept = { userId: this.props.session.userId, state: { ...this.state } };
  }

  reset() {
    if (this.feed) this.feed.close();
    this.feed = null;
    this.setState(this.fresh(), () => {
      const b = document.getElementById('file-input');
      if (b) b.focus();
    });
  }

  pick(file) {
    if (!file) return;
    this.setState({ file, error: null, notice: null });
  }

  onDrop(e) {
    e.preventDefault();
    const f = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
    this.setState({ dragging: false });
    this.pick(f);
  }

  // While an upload is read and parsed: the user's stream from now on, for this upload's live
  // progress (the import and its own stream exist only once the answer comes).
  async watchUpload(uploadId) {
    this.stopWatching();
    this.watch = new EventFeed(this.props.session, null, (ev) => {
      const p = ev.payload || {};
      if (ev.type === 'import:parse:progress' && p.uploadId === uploadId) this.setState({ parsing: p });
    }, () => {}, { fromNow: true });
    await this.watch.ready;
  }

  stopWatching() {
    if (this.watch) this.watch.close();
    this.watch = null;
  }

  async start(mapping) {
    const { file, currency } = this.state;
    if (!file) { this.setState({ error: 'Choose a statement file first.' }); return; }
    if (this.feed) { this.feed.close(); this.feed = null; }
    this.setState({ progress: { loaded: 0, total: file.size, phase: 'sending' }, parsing: null, error: null, notice: null, busy: true });
    const uploadId = newUuid();
    await this.watchUpload(uploadId);
    this.uploading = upload(this.props.session, file, { currency, mapping, uploadId }, (p) => this.setState({ progress: p }));
    let answer;
    try {
      answer = await this.uploading.promise;
    } catch (err) {
      this.stopWatching();
      this.uploading = null;
      const wantsCurrency = err.code === 'currency_required';
      this.setState({ error: err, busy: false, progress: null, needCurrency: wantsCurrency });
      return;
    }
    this.stopWatching();
    this.uploading = null;
    const notice = mapping && answer.duplicateUpload
      ? 'This file was already imported, so it was not read again with the corrected mapping. ' +
        'Undo that import first to read it with another mapping.'
      : null;
    this.setState({
      answer, busy: false, progress: { loaded: file.size, total: file.size, phase: 'done' }, notice,
      counts: answer.verdicts || null, rows: answer.preview || [], cursors: [null], nextCursor: null, filter: '',
      mapping: answer.columns ? { ...answer.columns } : null, mappingOpen: false, events: [],
    });
    this.follow(answer.importId, false);
    await this.loadRows('', null, 0, !answer.verdicts);   // the upload's answer has the counts
    const h = document.getElementById('preview-title');
    if (h) h.focus();
  }

  // One page of the preview: verdict filter, cursor (null = first page), its index in the stack;
  // the whole file's counts on a first page only (paging on keeps them: they cost a pass over the file).
  async loadRows(filter, cursor, index, withCounts = cursor === null) {
    const { answer } = this.state;
    if (!answer) return;
    this.setState({ loadingRows: true });
    try {
      const page = await api(this.props.session, 'GET', '/.netlify/functions/import-preview', {
        query: { importId: answer.importId, verdict: filter, cursor, limit: PREVIEW_LIMIT, counts: withCounts ? null : 'false' },
      });
      const cursors = this.state.cursors.slice(0, index + 1);
      cursors[index] = cursor;
      this.setState({ rows: page.rows || [], counts: page.counts || this.state.counts, nextCursor: page.nextCursor || null,
        cursors, filter, loadingRows: false, error: null });
    } catch (err) {
      this.setState({ loadingRows: false, error: err });
    }
  }

  async decide(row, action) {
    const { answer } = this.state;
    try {
      const r = await api(this.props.session, 'PATCH', '/.netlify/functions/import-preview', {
        body: { importId: answer.importId, decisions: [{ row, action }] },
      });
      this.setState((s) => ({
        skipped: r.skipped, error: null,
        rows: s.rows.map((x) => (x.row === row ? { ...x, decision: action } : x)),
      }));
    } catch (err) {
      this.setState({ error: err });
    }
  }

  toCommit() {
    const { counts, skipped } = this.state;
    if (!counts) return 0;
    return Math.max(0, (counts.total || 0) - (counts.duplicate || 0) - skipped);
  }

  async commit() {
    const { answer } = this.state;
    this.setState({ busy: true, error: null });
    try {
      const r = await api(this.props.session, 'POST', '/.netlify/functions/commit-import', { body: { importId: answer.importId } });
      this.setState({ commit: r, busy: false, revert: null }, () => {
        const h = document.getElementById('result-title');
        if (h) h.focus();
      });
    } catch (err) {
      this.setState({ error: err, busy: false });
    }
  }

  async undo() {
    const { answer } = this.state;
    this.setState({ busy: true, error: null });
    try {
      const r = await api(this.props.session, 'POST', '/.netlify/functions/revert-import', { body: { importId: answer.importId } });
      this.setState({ revert: r, busy: false }, () => {
        const h = document.getElementById('result-title');
        if (h) h.focus();
      });
    } catch (err) {
      this.setState({ error: err, busy: false });
    }
  }

  setRole(role, value) {
    const m = { ...this.state.mapping };
    const v = value === '' ? null : Number(value);
    m[role] = role === 'description' ? (v === null ? [] : [v]) : v;
    this.setState({ mapping: m });
  }

  // The mapping to send: the editable keys only ("columns" and "fingerprint" are informational).
  mappingToSend() {
    const m = { ...this.state.mapping };
    delete m.columns;
    delete m.fingerprint;
    return m;
  }

  renderPicker() {
    const { file, dragging, currency, progress, parsing, busy, needCurrency } = this.state;
    return html`<section class="card" aria-labelledby="upload-title">
      <h2 id="upload-title">1. Choose a statement</h2>
      <div class=${'drop' + (dragging ? ' dragging' : '')}
        onDragOver=${(e) => { e.preventDefault(); if (!dragging) this.setState({ dragging: true }); }}
        onDragLeave=${() => this.setState({ dragging: false })}
        onDrop=${(e) => this.onDrop(e)}>
        <label for="file-input" class="drop-label">Drop a statement file here, or choose one
          <span class="help">CSV, OFX/QFX, QIF, CAMT.053, MT940</span></label>
        <input id="file-input" type="file" accept=".csv,.txt,.ofx,.qfx,.qif,.xml,.sta,.mt940"
          onChange=${(e) => this.pick(e.target.files[0])} disabled=${busy} />
        ${file && html`<p class="file" id="file-chosen">Chosen: <strong>${file.name}</strong> (${bytes(file.size)})</p>`}
      </div>
      <label for="currency">Currency of the statement, if the file names none${needCurrency ? ' (required for this file)' : ''}</label>
      <select id="currency" value=${currency} aria-describedby="currency-help" onChange=${(e) => this.setState({ currency: e.target.value })}>
        <option value="">Use my default</option>
        ${CURRENCIES.map((c) => html`<option value=${c}>${c}</option>`)}
      </select>
      <p id="currency-help" class="help">Set your default in <a href="#/settings">Settings</a>.</p>
      <button type="button" class="primary" disabled=${!file || busy} onClick=${() => this.start(null)}>Upload and preview</button>
      ${progress && progress.phase !== 'done' && html`<${Progress} id="upload-progress" label="Upload"
        value=${progress.phase === 'processing' ? undefined : progress.loaded} max=${progress.total}
        text=${progress.phase === 'processing' ? 'Sent. The server is reading the statement…'
          : `${bytes(progress.loaded)} of ${bytes(progress.total)} sent`} />`}
      ${busy && parsing && html`<${Progress} id="parse-progress" label="Reading the statement"
        value=${parsing.percent} max=${100}
        text=${`${number(parsing.rowsParsed ?? parsing.rows ?? 0)} rows read (${parsing.percent}% of the file)`} />`}
    </section>`;
  }

  renderEvents() {
    const { events, feedState, feedLastId } = this.state;
    const words = feedState === 'resuming'
      ? `Connection to the live progress was lost; resuming${feedLastId ? ' after event ' + feedLastId : ''}…`
      : feedState === 'expired' ? 'Your access token has expired: sign out and in again to follow the progress.'
      : feedState === 'live' ? 'Live' : feedState === 'closed' ? 'Stopped' : 'Connecting…';
    return html`<section class="card" aria-labelledby="events-title">
      <h2 id="events-title">Progress</h2>
      <p class=${'feed-state ' + (feedState || '')} role="status" id="feed-state">${words}</p>
      <ol class="events" id="events" aria-live="polite">
        ${events.map((ev) => html`<li data-type=${ev.type}><time datetime=${ev.createdAt}>${time(ev.createdAt)}</time> ${eventWords(ev)}</li>`)}
      </ol>
    </section>`;
  }

  renderMapping() {
    const { mapping, mappingOpen, busy } = this.state;
    if (!mapping) return null;
    const names = Array.isArray(mapping.columns) ? mapping.columns : [];
    const col = (v) => (v === null || v === undefined ? '' : String(Array.isArray(v) ? (v.length ? v[0] : '') : v));
    return html`<section class="card" aria-labelledby="mapping-title">
      <h2 id="mapping-title">How the columns were read</h2>
      <p>Delimiter <code>${mapping.delimiter === '\t' ? 'tab' : mapping.delimiter}</code>, header on line ${mapping.headerLine || 'none'}, dates as ${mapping.dateFormat || 'detected'}, decimal mark${' '}<code>${mapping.decimal || '.'}</code>${mapping.negate ? ', amounts negated' : ''}.</p>
      <table class="mapping"><caption class="sr-only">Column for each field</caption>
        <thead><tr><th scope="col">Field</th><th scope="col">Column</th></tr></thead>
        <tbody>${ROLES.map(([role, label]) => html`<tr><th scope="row">${label}</th><td>${
          col(mapping[role]) === '' ? html`<span class="muted">none</span>` : names[Number(col(mapping[role]))] || 'column ' + (Number(col(mapping[role])) + 1)
        }</td></tr>`)}</tbody>
      </table>
      <button type="button" aria-expanded=${mappingOpen ? 'true' : 'false'} aria-controls="mapping-form"
        onClick=${() => this.setState({ mappingOpen: !mappingOpen })}>${mappingOpen ? 'Close the mapping editor' : 'Correct the mapping'}</button>
      ${mappingOpen && html`<form id="mapping-form" class="mapping-form" onSubmit=${(e) => { e.preventDefault(); this.start(this.mappingToSend()); }}>
        ${ROLES.map(([role, label]) => html`<div class="field">
          <label for=${'map-' + role}>${label}</label>
          <select id=${'map-' + role} value=${col(mapping[role])} onChange=${(e) => this.setRole(role, e.target.value)}>
            <option value="">none</option>
            ${names.map((n, i) => html`<option value=${String(i)}>${n || 'column ' + (i + 1)}</option>`)}
          </select></div>`)}
        <div class="field"><label for="map-dateFormat">Date format</label>
          <select id="map-dateFormat" value=${mapping.dateFormat || ''} onChange=${(e) => this.setState({ mapping: { ...mapping, dateFormat: e.target.value || null } })}>
            <option value="">detect</option>
            ${[...new Set([mapping.dateFormat, ...DATE_FORMATS].filter(Boolean))].map((f) => html`<option value=${f}>${f}</option>`)}
          </select></div>
        <div class="field"><label for="map-decimal">Decimal mark</label>
          <select id="map-decimal" value=${mapping.decimal || '.'} onChange=${(e) => this.setState({ mapping: { ...mapping, decimal: e.target.value } })}>
            <option value=".">. (1,234.56)</option><option value=",">, (1.234,56)</option>
          </select></div>
        <div class="field"><label class="choice"><input type="checkbox" checked=${!!mapping.negate}
          onChange=${(e) => this.setState({ mapping: { ...mapping, negate: e.target.checked } })} /> Amounts have the wrong sign (negate them)</label></div>
        <button type="submit" class="primary" disabled=${busy}>Upload again with this mapping</button>
      </form>`}
    </section>`;
  }

  renderRows() {
    const { rows, counts, filter, cursors, nextCursor, loadingRows, commit } = this.state;
    const inPreview = !commit;
    return html`<section class="card" aria-labelledby="rows-title">
      <h2 id="rows-title">Rows</h2>
      <div class="filters" role="group" aria-label="Show rows by verdict">
        ${FILTERS.map(([v, label, key]) => html`<button type="button" class=${filter === v ? 'on' : ''} aria-pressed=${filter === v ? 'true' : 'false'}
          disabled=${!inPreview} onClick=${() => this.loadRows(v, null, 0)}>${label}${counts ? ` (${number(counts[key] || 0)})` : ''}</button>`)}
      </div>
      <div class="table-wrap">
      <table class="rows" id="preview-table" aria-busy=${loadingRows ? 'true' : 'false'}>
        <caption class="sr-only">Rows of the statement${filter ? ', ' + VERDICT_WORDS[filter] : ''}</caption>
        <thead><tr>
          <th scope="col">Line</th><th scope="col">Date</th><th scope="col">Description</th><th scope="col">Counterparty</th>
          <th scope="col" class="num">Amount</th><th scope="col">Category</th><th scope="col">Verdict</th><th scope="col">Keep?</th>
        </tr></thead>
        <tbody>
          ${rows.length === 0 && html`<tr><td colspan="8" class="muted">No rows${filter ? ' with this verdict' : ''}.</td></tr>`}
          ${rows.map((r) => html`<tr class=${'v-' + r.verdict}>
            <td>${r.line}</td><td>${date(r.date)}</td><td>${r.description}</td><td>${r.counterparty || ''}</td>
            <td class=${'num' + (String(r.amountMinor).startsWith('-') ? ' neg' : ' pos')}>${money(r.amountMinor, r.currency)}</td>
            <td>${r.category}</td>
            <td><span class=${'badge ' + r.verdict}>${VERDICT_WORDS[r.verdict] || r.verdict}</span>
              ${r.reason && html`<div class="reason">${r.reason}${typeof r.score === 'number' && (r.verdict === 'possible_duplicate' || r.verdict === 'replaces_pending') ? ` (score ${r.score})` : ''}</div>`}</td>
            <td>${r.verdict === 'possible_duplicate' && inPreview ? html`<fieldset class="keep">
                <legend class="sr-only">Line ${r.line}: keep or skip</legend>
                <label><input type="radio" name=${'d-' + r.row} checked=${r.decision !== 'skip'} onChange=${() => this.decide(r.row, 'keep')} /> Keep</label>
                <label><input type="radio" name=${'d-' + r.row} checked=${r.decision === 'skip'} onChange=${() => this.decide(r.row, 'skip')} /> Skip</label>
              </fieldset>` : r.verdict === 'duplicate' ? html`<span class="muted">skipped</span>`
              : r.verdict === 'replaces_pending' ? html`<span class="muted">replaces the pending row</span>`
              : html`<span class="muted">kept</span>`}</td>
          </tr>`)}
        </tbody>
      </table>
      </div>
      <div class="pager">
        <button type="button" disabled=${cursors.length < 2 || loadingRows} onClick=${() => this.loadRows(filter, cursors[cursors.length - 2], cursors.length - 2)}>Previous page</button>
        <span>Page ${cursors.length}</span>
        <button type="button" disabled=${!nextCursor || loadingRows} onClick=${() => this.loadRows(filter, nextCursor, cursors.length)}>Next page</button>
      </div>
    </section>`;
  }

  renderSummary() {
    const { answer, busy, commit, revert } = this.state;
    const t = answer.totals || {};
    const n = this.toCommit();
    const warnings = answer.warnings || [];
    return html`<section class="card" aria-labelledby="preview-title">
      <h2 id="preview-title" tabindex="-1">Preview of ${answer.format ? answer.format.toUpperCase() : 'the statement'}</h2>
      <dl class="summary">
        <div><dt>Rows</dt><dd>${number(answer.rowsTotal || 0)}</dd></div>
        ${answer.dateRange && html`<div><dt>Dates</dt><dd>${date(answer.dateRange.from)} – ${date(answer.dateRange.to)}</dd></div>`}
        ${t.currency && html`<div><dt>Money in</dt><dd>${money(t.creditMinor, t.currency)}</dd></div>
        <div><dt>Money out</dt><dd>${money(t.debitMinor, t.currency)}</dd></div>
        <div><dt>Net</dt><dd>${money(t.netMinor, t.currency)}</dd></div>`}
      </dl>
      ${answer.currencyAssumed && html`<p class="notice">${number(answer.currencyAssumed.rows)} rows name no currency: read as${' '}<strong>${answer.currencyAssumed.currency}</strong> (${answer.currencyAssumed.reason === 'request' ? 'as you chose'
          : answer.currencyAssumed.reason === 'user_default' ? 'your default' : 'the service default'}).
        Wrong? Pick the currency above and upload again, or set your default in <a href="#/settings">Settings</a>.</p>`}
      ${warnings.length > 0 && html`<div class="warnings"><h3>Warnings (${number(answer.warningsTotal || warnings.length)})</h3>
        <ul>${warnings.map((w) => html`<li>${w.line ? html`<strong>Line ${w.line}:</strong> ` : ''}${w.message}</li>`)}</ul></div>`}
      ${!commit && html`<button type="button" class="primary big" id="commit" disabled=${busy || n === 0}
        onClick=${() => this.commit()}>Approve & Commit (${number(n)} transaction${n === 1 ? '' : 's'})</button>`}
      ${commit && html`<div class="result" aria-labelledby="result-title">
        <h3 id="result-title" tabindex="-1">${revert ? 'Import undone' : 'Committed'}</h3>
        ${revert
          ? html`<p id="revert-result">${number(revert.removed)} transactions left your ledger${revert.handedOver ? `, ${number(revert.handedOver)} stay (another import holds them)` : ''}. You can import the file again.</p>`
          : html`<p id="commit-result">${number(commit.committed)} transactions added to your ledger${commit.duplicates ? `, ${number(commit.duplicates)} duplicates left out` : ''}${commit.skipped ? `, ${number(commit.skipped)} skipped as you chose` : ''}.</p>
            <p><a href="#/transactions">See them in Transactions</a></p>
            <button type="button" id="undo" disabled=${busy} onClick=${() => this.undo()}>Undo this import</button>`}
        <button type="button" onClick=${() => this.reset()}>Import another statement</button>
      </div>`}
      ${commit && !revert && html`<${AdviceCard} key=${answer.importId} session=${this.props.session}
        importId=${answer.importId} committed=${commit.committed} />`}
    </section>`;
  }

  render(_, { answer, error, notice }) {
    return html`<section aria-labelledby="import-title">
      <h1 id="import-title" tabindex="-1">Smart Import</h1>
      ${!answer && this.renderPicker()}
      <${ErrorBox} error=${error} id="import-error" />
      ${notice && html`<p class="notice" role="status">${notice}</p>`}
      ${answer && html`<div class="import-grid">
        ${this.renderSummary()}
        ${this.renderEvents()}
        ${this.renderMapping()}
        ${this.renderRows()}
      </div>`}
    </section>`;
  }
}
