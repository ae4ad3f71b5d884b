// web/app/transactions.js: the Transactions page: the caller's ledger newest first
// (GET /.netlify/functions/transactions), search, date range and category filters, keyset
// pages (next_cursor; the first page's totals per currency are kept for the pages after it),
// and a row's category changed in place (PATCH), optionally "always for this counterparty".
import { html, Component, ErrorBox } from './ui.js';
import { api } from './api.js';
import { money, number, date } from './format.js';
import { categories } from './categories.js';

const PAGE_LIMIT = 50;

export class Transactions extends Component {
  constructor(props) {
    super(props);
    this.state = {
      q: '', from: '', to: '', category: '', applied: {}, rows: [], totals: null, cursors: [null],
      nextCursor: null, loading: true, error: null, editing: null, editCategory: '', editAlways: false, saved: null,
      categories: [],
    };
  }

  componentDidMount() {
    this.load({}, null, 0);
    categories(this.props.session).then((list) => this.setState({ categories: list }))
      .catch((err) => this.setState({ error: err }));
  }

  async load(filter, cursor, index) {
    this.setState({ loading: true });
    try {
      const r = await api(this.props.session, 'GET', '/.netlify/functions/transactions', {
        query: { ...filter, cursor, limit: PAGE_LIMIT },
      });
      const cursors = this.state.cursors.slice(0, index + 1);
      cursors[index] = cursor;
      this.setState((s) => ({
        rows: r.transactions || [], nextCursor: r.next_cursor || null, cursors, applied: filter,
        totals: cursor === null ? (r.totals || []) : s.totals, loading: false, error: null,
      }));
    } catch (err) {
      this.setState({ loading: false, error: err });
    }
  }

  search(e) {
    e.preventDefault();
    const { q, from, to, category } = this.state;
    if (from && to && from > to) { this.setState({ error: 'The "From" date is after the "To" date.' }); return; }
    this.load({ q: q.trim(), from, to, category }, null, 0);
  }

  edit(row) {
    this.setState({ editing: row.id, editCategory: row.category || 'Other', editAlways: false, saved: null, error: null }, () => {
      const s = document.getElementById('edit-category');
      if (s) s.focus();
    });
  }

  async saveCategory(e, row) {
    e.preventDefault();
    const { editCategory, editAlways } = this.state;
    try {
      const r = await api(this.props.session, 'PATCH', '/.netlify/functions/transactions', {
        body: { id: row.id, category: editCategory, always_for_counterparty: editAlways },
      });
      const t = r.transaction || { ...row, category: editCategory };
      this.setState((s) => ({
        rows: s.rows.map((x) => (x.id === row.id ? { ...x, ...t } : x)), editing: null,
        saved: `Category of “${row.description}” set to ${t.category}` + (r.rule ? `, and for every “${r.rule.match}” from now on.` : '.'),
      }), () => {
        const b = document.getElementById('cat-' + row.id);
        if (b) b.focus();
      });
    } catch (err) {
      this.setState({ error: err });
    }
  }

  renderRow(r) {
    const { editing, editCategory, editAlways } = this.state;
    const neg = String(r.amount_minor).startsWith('-');
    return html`<tr>
      <td>${date(r.date)}</td>
      <td>${r.description}${r.memo && html`<div class="reason">${r.memo}</div>`}</td>
      <td>${r.counterparty || ''}</td>
      <td>${r.account || ''}</td>
      <td class=${'num ' + (neg ? 'neg' : 'pos')}>${money(r.amount_minor, r.currency)}</td>
      <td>${editing === r.id
        ? html`<form class="cat-edit" onSubmit=${(e) => this.saveCategory(e, r)}>
            <label for="edit-category" class="sr-only">Category for ${r.description}</label>
            <select id="edit-category" value=${editCategory} onChange=${(e) => this.setState({ editCategory: e.target.value })}>
              ${[...new Set([...this.state.categories, r.category].filter(Boolean))].map((c) => html`<option value=${c}>${c}</option>`)}
            </select>
            ${r.counterparty && html`<label class="choice"><input type="checkbox" id="edit-always" checked=${editAlways}
              onChange=${(e) => this.setState({ editAlways: e.target.checked })} /> Always for ${r.counterparty}</label>`}
            <button type="submit" class="primary">Save</button>
            <button type="button" onClick=${() => this.setState({ editing: null })}>Cancel</button>
          </form>`
        : html`<button type="button" class="linkish" id=${'cat-' + r.id} aria-label=${`Category ${r.category}: change for ${r.description}`}
            onClick=${() => this.edit(r)}>${r.category}</button>`}</td>
    </tr>`;
  }

  render(_, { q, from, to, category, applied, rows, totals, cursors, nextCursor, loading, error, saved }) {
    return html`<section aria-labelledby="tx-title">
      <h1 id="tx-title" tabindex="-1">Transactions</h1>
      <form class="card filters-form" role="search" onSubmit=${(e) => this.search(e)}>
        <div class="field"><label for="tx-q">Search description or counterparty</label>
          <input id="tx-q" type="search" maxlength="200" value=${q} onInput=${(e) => this.setState({ q: e.target.value })} /></div>
        <div class="field"><label for="tx-from">From</label>
          <input id="tx-from" type="date" value=${from} onInput=${(e) => this.setState({ from: e.target.value })} /></div>
        <div class="field"><label for="tx-to">To</label>
          <input id="tx-to" type="date" value=${to} onInput=${(e) => this.setState({ to: e.target.value })} /></div>
        <div class="field"><label for="tx-category">Category</label>
          <select id="tx-category" value=${category} onChange=${(e) => this.setState({ category: e.target.value })}>
            <option value="">Any</option>${this.state.categories.map((c) => html`<option value=${c}>${c}</option>`)}
          </select></div>
        <button type="submit" class="primary">Show</button>
      </form>
      <${ErrorBox} error=${error} id="tx-error" />
      ${saved && html`<p class="ok" role="status" id="tx-saved">${saved}</p>`}
      ${totals && totals.length > 0 && html`<section class="card" aria-labelledby="totals-title">
        <h2 id="totals-title">Totals${Object.values(applied).some(Boolean) ? ' for this filter' : ''}</h2>
        <table class="totals" id="totals"><thead><tr><th scope="col">Currency</th><th scope="col" class="num">Money in</th>
          <th scope="col" class="num">Money out</th><th scope="col" class="num">Net</th><th scope="col" class="num">Transactions</th></tr></thead>
          <tbody>${totals.map((t) => html`<tr><th scope="row">${t.currency}</th><td class="num">${money(t.income_minor, t.currency)}</td>
            <td class="num">${money(t.expense_minor, t.currency)}</td><td class="num">${money(t.net_minor, t.currency)}</td>
            <td class="num">${number(t.count)}</td></tr>`)}</tbody></table>
      </section>`}
      <div class="card">
        <div class="table-wrap">
        <table class="rows" id="tx-table" aria-busy=${loading ? 'true' : 'false'}>
          <caption class="sr-only">Your transactions, newest first</caption>
          <thead><tr><th scope="col">Date</th><th scope="col">Description</th><th scope="col">Counterparty</th>
            <th scope="col">Account</th><th scope="col" class="num">Amount</th><th scope="col">Category</th></tr></thead>
          <tbody>
            ${!loading && rows.length === 0 && html`<tr><td colspan="6" class="muted">No transactions${Object.values(applied).some(Boolean) ? ' match this filter' : ' yet: import a statement first'}.</td></tr>`}
            ${rows.map((r) => this.renderRow(r))}
          </tbody>
        </table>
        </div>
        <div class="pager">
          <button type="button" disabled=${cursors.length < 2 || loading} onClick=${() => this.load(applied, cursors[cursors.length - 2], cursors.length - 2)}>Previous page</button>
          <span>Page ${cursors.length}</span>
          <button type="button" disabled=${!nextCursor || loading} onClick=${() => this.load(applied, nextCursor, cursors.length)}>Next page</button>
        </div>
      </div>
    </section>`;
  }
}
