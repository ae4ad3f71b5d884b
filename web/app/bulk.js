// web/app/bulk.js: the Bulk purchases page (seed 003): a merchant's admin picks one of their
// merchants (GET /api/merchants) or creates one (POST /api/merchants), picks or drops a purchases
// CSV, checks it with a dry run first (POST /api/import/purchases?dry_run=true: the validation
// report, each problem with its line, column and reason, nothing written), then starts the import
// (the same upload for real) and follows the batch's status (GET /api/import/status/{id}, polled
// about once a second while it is pending or processing, then a little longer while the loyalty
// consumers (CDC) apply its purchases), the merchant's batch list (GET /api/import/list/{merchant})
// and the retry of a failed batch (POST /api/import/retry/{id}). Bulk imports send no events, so
// the page polls; modules/bulk/README.md says what every field means.
import { html, Component, ErrorBox, Progress } from './ui.js';
import { api, uploadForm } from './api.js';
import { money, number, bytes, getLocale } from './format.js';
import { CURRENCIES } from './settings.js';

const POLL_MS = 1000;
const CDC_POLLS_MAX = 30;      // after `completed`, at most this many more polls for the loyalty consumers
const NAME_MAX = 200;          // BULK_NAME_MAX: a batch name's bytes
const MERCHANT_NAME_MAX = 200;
const STATUS_WORDS = {
  pending: 'Waiting for its turn', processing: 'Checking and importing', completed: 'Completed', failed: 'Failed',
};
const CONSUMERS = [['currency', 'Points'], ['tier', 'Tiers'], ['mission', 'Missions']];
const REQUIRED = ['transaction_number', 'customer_id', 'purchased_at', 'sku_id', 'quantity', 'unit_price'];
const OPTIONAL = ['currency', 'discount', 'store', 'note'];

// An ISO time as the user reads it (date and time in their locale and time zone).
function when(iso) {
  const t = Date.parse(iso || '');
  if (Number.isNaN(t)) return '';
  return new Intl.DateTimeFormat(getLocale(), { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(t));
}

// The API's error in words a merchant's admin can act on (the API's own text otherwise).
function words(err) {
  if (!err || typeof err === 'string') return err;
  const m = err.message || '';
  const own = m.charAt(0).toUpperCase() + m.slice(1) + (/[.!?]$/.test(m) ? '' : '.');
  switch (err.code) {
    case 'not_found': return err.message === 'no such batch'
      ? 'That batch does not exist, or it belongs to a merchant you are not an admin of.'
      : 'That merchant does not exist, or you are not one of its admins.';
    case 'too_many_uploads': return 'You already have uploads running: wait for one to finish, then try again.';
    case 'conflict': return 'The same file is being uploaded right now (in another tab?): wait a moment and try again.';
    case 'payload_too_large': case 'http_413': return 'The file is too large: at most 100 MB.';
    case 'too_many_rows': return 'The file has too many rows: at most 2,000,000 per batch. Split it into several files.';
    case 'missing_columns': return own + ' Required columns: ' + REQUIRED.join(', ') + '.';
    default: return own;
  }
}

// What the caller last looked at, kept for the tab while they visit another page.
let kept = null;

export class BulkImport extends Component {
  constructor(props) {
    super(props);
    const k = kept && kept.userId === props.session.userId ? kept : {};
    this.state = {
      merchants: null, merchantId: k.merchantId || '', creating: false,
      newName: '', newCurrency: 'EUR', newPoints: '1', createError: null,
      file: null, dragging: false, batchName: '', progress: null, busy: false, error: null, notice: null,
      report: null, batch: null, batches: null, listError: null, pollError: null,
    };
    this.pollSeq = 0;
    this.listSeq = 0;
    this.timer = null;
    this.uploading = null;
    this.cdcPolls = 0;
    this.keepBatch = k.batchId || null;
    this.focusStatus = false;   // move focus to the status once it is drawn (after a start or a retry)
  }

  componentDidMount() { this.loadMerchants(); }

  componentWillUnmount() {
    this.pollSeq++;
    clearTimeout(this.timer);
    if (this.uploading) this.uploading.abort();
    kept = { userId: this.props.session.userId, merchantId: this.state.merchantId,
      batchId: this.state.batch ? this.state.batch.id : null };
  }

  focus(id) {
    const el = document.getElementById(id);
    if (el) el.focus();
  }

  merchant() {
    const { merchants, merchantId } = this.state;
    return (merchants || []).find((m) => m.id === merchantId) || null;
  }

  async loadMerchants() {
    try {
      const r = await api(this.props.session, 'GET', '/api/merchants');
      const merchants = r.merchants || [];
      const still = merchants.some((m) => m.id === this.state.merchantId);
      const merchantId = still ? this.state.merchantId : (merchants[0] ? merchants[0].id : '');
      this.setState({ merchants, merchantId, creating: merchants.length === 0, error: null });
      if (merchantId) {
        this.loadList(merchantId);
        if (still && this.keepBatch) this.follow(this.keepBatch);
      }
      this.keepBatch = null;
    } catch (err) {
      this.setState({ merchants: [], error: words(err) });
    }
  }

  chooseMerchant(id) {
    this.stopPolling();
    this.setState({ merchantId: id, report: null, batch: null, batches: null, notice: null, error: null, listError: null });
    if (id) this.loadList(id);
  }

  async createMerchant(e) {
    e.preventDefault();
    const name = this.state.newName.trim();
    const points = Number(this.state.newPoints);
    if (!name) { this.setState({ createError: 'Give the merchant a name.' }); this.focus('new-merchant-name'); return; }
    if (!/^\d+$/.test(this.state.newPoints.trim()) || points > 1000000) {
      this.setState({ createError: 'Points per unit must be a whole number from 0 to 1,000,000.' });
      this.focus('new-merchant-points');
      return;
    }
    this.setState({ busy: true, createError: null });
    try {
      const r = await api(this.props.session, 'POST', '/api/merchants',
        { body: { name, currency: this.state.newCurrency, points_per_unit: points } });
      const list = await api(this.props.session, 'GET', '/api/merchants');
      this.stopPolling();
      this.setState({ merchants: list.merchants || [], merchantId: r.id, creating: false, busy: false, newName: '',
        report: null, batch: null, batches: [], notice: `Merchant “${r.name}” created; you are its admin.` },
      () => this.focus('merchant'));
    } catch (err) {
      this.setState({ busy: false, createError: words(err) });
    }
  }

  async loadList(merchantId) {
    const seq = ++this.listSeq; // an answer to an older request (asked before a batch ended) is dropped
    try {
      const r = await api(this.props.session, 'GET', '/api/import/list/' + encodeURIComponent(merchantId));
      if (seq === this.listSeq && merchantId === this.state.merchantId) this.setState({ batches: r.batches || [], listError: null });
    } catch (err) {
      if (seq === this.listSeq) this.setState({ listError: words(err) });
    }
  }

  pick(file) {
    if (!file) return;
    // The batch name follows the file's name until the user types one of their own.
    this.setState((s) => ({ file, report: null, error: null, notice: null,
      batchName: s.nameTyped ? s.batchName : file.name.replace(/\.[^.]*$/, '').slice(0, NAME_MAX) }));
  }

  onDrop(e) {
    e.preventDefault();
    const f = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
    this.setState({ dragging: false });
    this.pick(f);
  }

  // The upload, as a dry run (the report) or for real (a batch to follow).
  async send(dryRun) {
    const { file, merchantId, batchName } = this.state;
    if (!merchantId) { this.setState({ error: 'Choose or create a merchant first.' }); return; }
    if (!file) { this.setState({ error: 'Choose a purchases file first.' }); return; }
    this.setState({ busy: true, error: null, notice: null, progress: { loaded: 0, total: file.size, phase: 'sending' },
      ...(dryRun ? { report: null } : {}) });
    this.uploading = uploadForm(this.props.session, '/api/import/purchases',
      { merchant_id: merchantId, batch_name: batchName.trim() }, file,
      (p) => this.setState({ progress: p }), { query: dryRun ? { dry_run: 'true' } : {} });
    let r;
    try {
      r = await this.uploading.promise;
    } catch (err) {
      this.uploading = null;
      this.setState({ busy: false, progress: null, error: words(err) });
      return;
    }
    this.uploading = null;
    if (dryRun) {
      this.setState({ busy: false, progress: null, report: r }, () => this.focus('report-title'));
      return;
    }
    const notice = r.duplicate
      ? 'This file was uploaded before, so no new batch was made: here is its batch' +
        (r.batch && r.batch.status === 'failed' ? '. It failed: retry it rather than uploading it again.' : '.')
      : null;
    this.setState({ busy: false, progress: null, report: null, file: null, batchName: '', nameTyped: false, notice,
      batch: r.batch || null }, () => {
      const input = document.getElementById('bulk-file');
      if (input) input.value = '';
    });
    this.focusStatus = true;
    this.follow(r.batch_id);
    this.loadList(merchantId);
  }

  stopPolling() {
    this.pollSeq++;
    clearTimeout(this.timer);
    this.timer = null;
  }

  // Follow one batch: its status now, then again every POLL_MS while it runs.
  follow(id) {
    this.stopPolling();
    this.cdcPolls = 0;
    this.poll(id, ++this.pollSeq);
  }

  async poll(id, seq) {
    let b;
    try {
      b = await api(this.props.session, 'GET', '/api/import/status/' + encodeURIComponent(id));
    } catch (err) {
      if (seq === this.pollSeq) this.setState({ pollError: words(err) });
      return;
    }
    if (seq !== this.pollSeq) return;
    this.setState({ batch: b, pollError: null }, () => {
      if (this.focusStatus) this.focus('status-title');
      this.focusStatus = false;
    });
    const running = b.status === 'pending' || b.status === 'processing';
    // A batch that has ended is shown so in the list too, also when it ended before the first
    // poll (a small file): the list is asked again until its row says what the poll says.
    const row = (this.state.batches || []).find((x) => x.id === b.id);
    if (!running && (!row || row.status !== b.status || (row.retries || 0) !== (b.retries || 0))) this.loadList(b.merchant_id);
    let again = running;
    if (!running && b.status === 'completed' && !this.cdcDone(b) && this.cdcPolls < CDC_POLLS_MAX) {
      this.cdcPolls++;
      again = true;
    }
    if (again) this.timer = setTimeout(() => this.poll(id, seq), POLL_MS);
  }

  // Every consumer has applied every purchase of the batch (or CDC reports nothing).
  cdcDone(b) {
    const c = b.cdc;
    if (!c || !c.applied || typeof c.purchases !== 'number') return true;
    return CONSUMERS.every(([k]) => (c.applied[k] || 0) >= c.purchases);
  }

  async retry(id) {
    this.setState({ busy: true, error: null, notice: null });
    try {
      await api(this.props.session, 'POST', '/api/import/retry/' + encodeURIComponent(id), { body: {} });
      this.setState({ busy: false, notice: 'Retry started: the kept rows are checked again against the reference data as it is now.' });
      this.focusStatus = true;
      this.follow(id);
      this.loadMerchants();   // the reference data may have changed since (the counts shown)
    } catch (err) {
      this.setState({ busy: false, error: words(err) });
    }
  }

  renderMerchant() {
    const { merchants, merchantId, creating, newName, newCurrency, newPoints, createError, busy } = this.state;
    const m = this.merchant();
    return html`<section class="card" aria-labelledby="merchant-title">
      <h2 id="merchant-title">1. Merchant</h2>
      ${merchants === null && html`<p class="muted">Loading your merchants…</p>`}
      ${merchants && merchants.length > 0 && html`<label for="merchant">Merchant you import for</label>
        <select id="merchant" value=${merchantId} onChange=${(e) => this.chooseMerchant(e.target.value)} disabled=${busy}>
          ${merchants.map((x) => html`<option value=${x.id}>${x.name} (${x.currency})</option>`)}
        </select>`}
      ${merchants && merchants.length === 0 && html`<p>You are not an admin of any merchant yet: create one below.</p>`}
      ${m && html`<dl class="summary" id="merchant-facts">
        <div><dt>Currency</dt><dd>${m.currency}</dd></div>
        <div><dt>Points per ${m.currency}</dt><dd>${number(m.points_per_unit)}</dd></div>
        <div><dt>Customers</dt><dd>${number(m.customers)}</dd></div>
        <div><dt>SKUs</dt><dd>${number(m.skus)}</dd></div>
        <div><dt>Tiers</dt><dd>${number(m.tiers)}</dd></div>
        <div><dt>Missions</dt><dd>${number(m.missions)}</dd></div>
      </dl>
      ${(m.customers === 0 || m.skus === 0) && html`<p class="notice">Every row's customer and SKU must already be known
        to the merchant: add them first (<code>PUT /api/merchants/{id}/customers</code> and <code>…/skus</code>).</p>`}`}
      ${merchants && merchants.length > 0 && html`<button type="button" aria-expanded=${creating ? 'true' : 'false'}
        aria-controls="new-merchant" onClick=${() => this.setState({ creating: !creating, createError: null })}>
        ${creating ? 'Close the new merchant form' : 'Create a merchant'}</button>`}
      ${creating && html`<form id="new-merchant" class="filters-form" onSubmit=${(e) => this.createMerchant(e)}>
        <div class="field"><label for="new-merchant-name">Name</label>
          <input id="new-merchant-name" maxlength=${MERCHANT_NAME_MAX} value=${newName} aria-required="true"
            onInput=${(e) => this.setState({ newName: e.target.value })} /></div>
        <div class="field"><label for="new-merchant-currency">Currency</label>
          <select id="new-merchant-currency" value=${newCurrency} onChange=${(e) => this.setState({ newCurrency: e.target.value })}>
            ${CURRENCIES.map((c) => html`<option value=${c}>${c}</option>`)}
          </select></div>
        <div class="field"><label for="new-merchant-points">Points per whole unit spent</label>
          <input id="new-merchant-points" inputmode="numeric" value=${newPoints} aria-describedby="points-help"
            onInput=${(e) => this.setState({ newPoints: e.target.value })} /></div>
        <button type="submit" class="primary" disabled=${busy}>Create merchant</button>
        <p id="points-help" class="help">0 to 1,000,000 loyalty points per whole unit of the currency; you become the merchant's admin.</p>
      </form>`}
      <${ErrorBox} error=${createError} id="merchant-error" />
    </section>`;
  }

  renderUpload() {
    const { file, dragging, batchName, progress, busy, merchantId } = this.state;
    return html`<section class="card" aria-labelledby="bulk-upload-title">
      <h2 id="bulk-upload-title">2. Purchases file</h2>
      <div class=${'drop' + (dragging ? ' dragging' : '')}
        onDragOver=${(e) => { e.preventDefault(); if (!dragging) this.setState({ dragging: true }); }}
        onDragLeave=${() => this.setState({ dragging: false })}
        onDrop=${(e) => this.onDrop(e)}>
        <label for="bulk-file" class="drop-label">Drop a purchases CSV here, or choose one
          <span class="help">One row per item, the purchase's details repeated on each of its items; up to 100 MB</span></label>
        <input id="bulk-file" type="file" accept=".csv,.txt,.tsv,text/csv" disabled=${busy}
          onChange=${(e) => this.pick(e.target.files[0])} />
        ${file && html`<p class="file" id="bulk-file-chosen">Chosen: <strong>${file.name}</strong> (${bytes(file.size)})</p>`}
      </div>
      <p class="help" id="bulk-columns">Columns: ${REQUIRED.map((c, i) => html`${i ? ', ' : ''}<code>${c}</code>`)};
        optional ${OPTIONAL.map((c, i) => html`${i ? ', ' : ''}<code>${c}</code>`)}. Amounts in major units (<code>2.50</code>),
        dates as <code>2024-01-15</code> or <code>2024-01-15T10:00:00+01:00</code>.</p>
      <label for="batch-name">Batch name</label>
      <input id="batch-name" maxlength=${NAME_MAX} value=${batchName} onInput=${(e) => this.setState({ batchName: e.target.value, nameTyped: true })} />
      <div>
        <button type="button" class="primary" id="dry-run" disabled=${!file || !merchantId || busy}
          onClick=${() => this.send(true)}>Check the file (dry run)</button>
      </div>
      <p class="help">The dry run checks every row against the merchant's customers and SKUs and writes nothing.</p>
      ${progress && html`<${Progress} id="bulk-progress" label="Upload"
        value=${progress.phase === 'processing' ? undefined : progress.loaded} max=${progress.total}
        text=${progress.phase === 'processing' ? 'Sent. The server is checking the rows…'
          : `${bytes(progress.loaded)} of ${bytes(progress.total)} sent`} />`}
    </section>`;
  }

  renderProblems(errors, total, id, caption) {
    if (!errors || errors.length === 0) return null;
    return html`<div class="table-wrap"><table class="rows problems" id=${id}>
      <caption>${caption}${total > errors.length ? ` (the first ${number(errors.length)} of ${number(total)})` : ''}</caption>
      <thead><tr><th scope="col" class="num">Line</th><th scope="col">Column</th><th scope="col">Reason</th></tr></thead>
      <tbody>${errors.map((p) => html`<tr><td class="num">${p.line}</td><td>${p.column ? html`<code>${p.column}</code>` : ''}</td>
        <td>${p.reason}</td></tr>`)}</tbody>
    </table></div>`;
  }

  renderReport() {
    const { report, busy } = this.state;
    if (!report) return null;
    return html`<section class="card" aria-labelledby="report-title" id="report">
      <h2 id="report-title" tabindex="-1">Dry run: ${report.valid ? 'the file is valid' : 'the file has problems'}</h2>
      <p class=${report.valid ? 'ok' : 'error'} id="report-verdict">${report.valid
        ? `Ready to import: ${number(report.purchases)} purchases with ${number(report.items)} items. Nothing has been written yet.`
        : `${number(report.problems_total)} problem${report.problems_total === 1 ? '' : 's'} found. Nothing has been written.`}</p>
      <dl class="summary">
        <div><dt>Rows</dt><dd>${number(report.rows_total)}</dd></div>
        <div><dt>Purchases</dt><dd>${number(report.purchases)}</dd></div>
        <div><dt>Items</dt><dd>${number(report.items)}</dd></div>
        <div><dt>Problems</dt><dd>${number(report.problems_total)}</dd></div>
      </dl>
      ${this.renderProblems(report.errors, report.problems_total, 'report-problems', 'Problems by line (the header is line 1)')}
      ${report.valid
        ? html`<button type="button" class="primary big" id="start-import" disabled=${busy} onClick=${() => this.send(false)}>
            Start import (${number(report.purchases)} purchases)</button>`
        : html`<p class="help" id="anyway-help">Fix the file (or the merchant's customers and SKUs) and check it again. A batch with
            a problem fails as a whole and writes nothing; its rows are kept, so once the reference data is fixed it can be retried
            without uploading it again.</p>
          <button type="button" id="import-anyway" aria-describedby="anyway-help" disabled=${busy}
            onClick=${() => this.send(false)}>Import anyway</button>`}
    </section>`;
  }

  renderCdc(b) {
    const c = b.cdc;
    if (!c || b.status !== 'completed' || typeof c.purchases !== 'number') return null;
    const done = this.cdcDone(b);
    return html`<div class="cdc" id="batch-cdc">
      <h3>Loyalty updates</h3>
      <p class="help">The committed purchases reach the points, tier and mission consumers by change-data-capture.</p>
      <dl class="summary">${CONSUMERS.map(([k, label]) => html`<div><dt>${label}</dt>
        <dd>${number((c.applied && c.applied[k]) || 0)} of ${number(c.purchases)}</dd></div>`)}
        ${typeof c.lag_ms === 'number' && html`<div><dt>Lag</dt><dd>${number(c.lag_ms)} ms</dd></div>`}</dl>
      <p role="status" class=${done ? 'ok' : 'muted'}>${done ? 'Every purchase has reached the loyalty consumers.'
        : this.cdcPolls >= CDC_POLLS_MAX ? 'The loyalty consumers are still catching up; check again later.'
        : 'The loyalty consumers are applying the purchases…'}</p>
    </div>`;
  }

  renderBatch() {
    const { batch: b, busy, pollError } = this.state;
    if (!b) return null;
    const p = b.progress || {};
    const running = b.status === 'pending' || b.status === 'processing';
    return html`<section class="card" aria-labelledby="status-title" id="batch-status">
      <h2 id="status-title" tabindex="-1">Import “${b.batch_name || b.file_name || 'unnamed batch'}”</h2>
      <p role="status" id="batch-state"><span class=${'badge status-' + b.status}>${STATUS_WORDS[b.status] || b.status}</span>
        ${running ? ' Updated every second.' : b.completed_at ? ` Ended ${when(b.completed_at)}.` : ''}</p>
      <${Progress} id="batch-progress" label="Progress" value=${p.percent || 0} max=${100}
        text=${b.status === 'failed'
          ? `Stopped after ${number(p.rows_validated || 0)} of ${number(p.rows_total || 0)} rows checked: nothing inserted`
          : `${number(p.percent || 0)} %: ${number(p.rows_validated || 0)} of ${number(p.rows_total || 0)} rows checked, ${number(p.rows_inserted || 0)} inserted`} />
      <dl class="summary" id="batch-counts">
        <div><dt>Rows</dt><dd>${number(p.rows_total || 0)}</dd></div>
        <div><dt>Purchases imported</dt><dd>${number(b.imported_purchases || 0)}</dd></div>
        <div><dt>Items imported</dt><dd>${number(b.imported_items || 0)}</dd></div>
        ${(b.totals || []).map((t) => html`<div><dt>Spend (${t.currency})</dt><dd>${money(t.total_minor, t.currency)}</dd></div>`)}
        <div><dt>Problems</dt><dd>${number(b.problems_total || 0)}</dd></div>
        ${b.retries > 0 && html`<div><dt>Retries</dt><dd>${number(b.retries)}</dd></div>`}
        <div><dt>Uploaded</dt><dd>${when(b.created_at)}</dd></div>
        ${b.file_name && html`<div><dt>File</dt><dd>${b.file_name}${b.file_bytes ? ` (${bytes(b.file_bytes)})` : ''}</dd></div>`}
      </dl>
      ${b.status === 'failed' && html`<div class="error" id="batch-error"><strong>The import failed and wrote nothing: </strong>${
        words({ message: b.error_message || b.error_code || 'no reason given' })}</div>`}
      ${this.renderProblems(b.errors, b.problems_total, 'batch-problems', 'Problems by line (the header is line 1)')}
      ${b.status === 'failed' && (b.error_code === 'staging_lost'
        ? html`<p class="notice">The kept rows of this batch were lost: upload the file again.</p>`
        : html`<button type="button" class="primary" id="retry" disabled=${busy} onClick=${() => this.retry(b.id)}>Retry this batch</button>
          <p class="help">Fix the merchant's reference data first: a retry checks the kept rows again, without a new upload.</p>`)}
      ${this.renderCdc(b)}
      <${ErrorBox} error=${pollError} id="poll-error" />
      ${pollError && html`<button type="button" onClick=${() => this.follow(b.id)}>Check the status again</button>`}
    </section>`;
  }

  renderList() {
    const { batches, listError, batch, busy, merchantId } = this.state;
    const m = this.merchant();
    if (!m) return null;
    return html`<section class="card" aria-labelledby="batches-title">
      <h2 id="batches-title">Batches of ${m.name}</h2>
      <${ErrorBox} error=${listError} id="list-error" />
      <div class="table-wrap"><table class="rows" id="batches" aria-busy=${batches === null ? 'true' : 'false'}>
        <caption class="sr-only">The merchant's last 50 batches, newest first</caption>
        <thead><tr><th scope="col">Batch</th><th scope="col">Uploaded</th><th scope="col">Status</th>
          <th scope="col" class="num">Rows</th><th scope="col" class="num">Purchases</th><th scope="col" class="num">Items</th>
          <th scope="col" class="num">Problems</th><th scope="col">Actions</th></tr></thead>
        <tbody>
          ${batches && batches.length === 0 && html`<tr><td colspan="8" class="muted">No batches yet: check a file and start an import.</td></tr>`}
          ${(batches || []).map((x) => html`<tr class=${batch && batch.id === x.id ? 'current' : ''}>
            <td>${x.batch_name || html`<span class="muted">unnamed</span>`}</td>
            <td>${when(x.created_at)}</td>
            <td><span class=${'badge status-' + x.status}>${STATUS_WORDS[x.status] || x.status}</span>
              ${x.retries > 0 && html`<div class="reason">retried ${number(x.retries)}×</div>`}</td>
            <td class="num">${number(x.rows_total || 0)}</td><td class="num">${number(x.imported_purchases || 0)}</td>
            <td class="num">${number(x.imported_items || 0)}</td><td class="num">${number(x.problems_total || 0)}</td>
            <td><button type="button" class="linkish" aria-label=${`Show the status of ${x.batch_name || 'the batch'} uploaded ${when(x.created_at)}`}
                onClick=${() => { this.setState({ notice: null }); this.follow(x.id); }}>Show</button>
              ${x.status === 'failed' && html` · <button type="button" class="linkish" disabled=${busy}
                aria-label=${`Retry ${x.batch_name || 'the batch'} uploaded ${when(x.created_at)}`}
                onClick=${() => this.retry(x.id)}>Retry</button>`}</td>
          </tr>`)}
        </tbody>
      </table></div>
      <button type="button" onClick=${() => this.loadList(merchantId)}>Refresh the list</button>
    </section>`;
  }

  render(_, { error, notice }) {
    return html`<section aria-labelledby="bulk-title">
      <h1 id="bulk-title" tabindex="-1">Bulk purchases</h1>
      <p class="help">Import a merchant's purchases from a CSV: check it first, then import it as one batch (all rows or none).</p>
      ${this.renderMerchant()}
      ${this.merchant() && this.renderUpload()}
      <${ErrorBox} error=${error} id="bulk-error" />
      ${notice && html`<p class="notice" role="status" id="bulk-notice">${notice}</p>`}
      ${this.renderReport()}
      ${this.renderBatch()}
      ${this.renderList()}
    </section>`;
  }
}
