// web/app/advice.js: Crystal's advisory card after "Approve & Commit" (seed 000): the page
// hands the committed import to Prime (prime-handoff) and asks Crystal for its analysis
// (crystal-analyze-import with the handoff id), then draws the card: committed count,
// summary, top categories, budget impact, forecast delta, and a chart of spend by category
// with its change against the earlier months (Chart.js, vendored; the table beside it says
// the same in text). A failed step is the seed's error card: what failed, in words, that the
// transactions are safely committed, the recovery steps, and Try again where it can help.
import { html, Component } from './ui.js';
import { api } from './api.js';
import { money, number, exponent, getLocale, time } from './format.js';
import { CrystalChat } from './chat.js';

// The answers already drawn in this tab, by user and import: a visit to another page and back
// draws the card again without asking again (both calls are idempotent anyway).
const drawn = new Map();
const CHART_URL = '/vendor/chart.js/chart.umd.min.js';
let chartLib = null;

// Chart.js (its UMD build sets globalThis.Chart), loaded the first time a card has a chart.
function loadChart() {
  if (!chartLib) {
    chartLib = import(CHART_URL).then(() => globalThis.Chart || null, () => null);
  }
  return chartLib;
}

function percent(p) {
  return new Intl.NumberFormat(getLocale(), { maximumFractionDigits: 1, minimumFractionDigits: 1 }).format(p) + '%';
}

function change(p) {
  if (p === null || p === undefined) return 'no earlier months';
  if (p === 0) return 'no change';
  return (p > 0 ? '+' : '−') + percent(Math.abs(p));
}

// The error card's words: the step that failed, what it means, and what to do.
function errorWords(stage, err, committed) {
  const safe = `Your ${number(committed)} transaction${committed === 1 ? ' is' : 's are'} committed and safe in your ledger.`;
  const title = stage === 'prime'
    ? 'Transactions committed, but Prime could not hand them to Crystal'
    : 'Transactions committed and Prime acknowledged them, but Crystal’s analysis failed';
  const steps = [safe];
  let retry = true;
  const code = err && err.code;
  const status = err && err.status;
  if (code === 'import_not_committed') {
    steps.push('The import has been undone, so there is nothing to analyse.');
    steps.push('Import the statement again and commit it to get Crystal’s advice.');
    steps[0] = 'Nothing of this import is in your ledger any more.';
    retry = false;
  } else if (code === 'import_not_found' || code === 'handoff_not_found') {
    steps.push('The server does not know this import for your account (it may have been removed, or you signed in as someone else).');
    steps.push('Try again; if it fails again, see the import in Transactions or import the statement again.');
  } else if (status === 0) {
    steps.push('The server could not be reached: check your connection.');
    steps.push('Try again when you are back online.');
  } else if (status === 503 || status === 504 || status === 502 || status === 429) {
    steps.push('The service is busy for a moment.');
    steps.push('Try again in a few seconds.');
  } else if (status === 400) {
    steps.push('The request was refused as malformed: reload the page and try again.');
    retry = false;
  } else {
    steps.push('Try again; the analysis can be asked for as often as needed.');
  }
  return { title, steps, retry };
}

export class AdviceCard extends Component {
  constructor(props) {
    super(props);
    this.key = props.session.userId + '|' + props.importId;
    const kept = drawn.get(this.key);
    this.state = kept ? { ...kept, stage: 'done', error: null, hidden: false }
      : { stage: 'prime', prime: null, advice: null, error: null, hidden: false, at: null };
    this.canvas = null;
    this.chart = null;
    this.gone = false;
  }

  componentDidMount() {
    if (this.state.stage !== 'done') this.run(false);
    else this.drawChart();
  }

  componentWillUnmount() {
    this.gone = true;
    if (this.chart) this.chart.destroy();
    this.chart = null;
  }

  componentDidUpdate(_, prev) {
    if (this.state.hidden && this.chart) { this.chart.destroy(); this.chart = null; }
    if (this.state.advice && (prev.advice !== this.state.advice || prev.hidden !== this.state.hidden)) this.drawChart();
  }

  // prime-handoff (unless the handoff is known), then crystal-analyze-import.
  async run(retrying) {
    const { session, importId } = this.props;
    let prime = this.state.prime;
    if (!prime) {
      this.setState({ stage: 'prime', error: null });
      try {
        prime = await api(session, 'POST', '/.netlify/functions/prime-handoff', { body: { importId } });
      } catch (err) {
        if (!this.gone) this.failed('prime', err, retrying);
        return;
      }
      if (this.gone) return;
      this.setState({ prime });
    }
    this.setState({ stage: 'crystal', error: null });
    let advice;
    try {
      advice = await api(session, 'POST', '/.netlify/functions/crystal-analyze-import', { body: { handoffId: prime.handoffId } });
    } catch (err) {
      // A handoff the server no longer knows: the next try starts over at Prime.
      if (!this.gone) this.failed('crystal', err, retrying, err && err.code === 'handoff_not_found');
      return;
    }
    if (this.gone) return;
    const at = new Date().toISOString();
    drawn.set(this.key, { prime, advice, at });
    this.setState({ stage: 'done', advice, at }, () => {
      const h = document.getElementById('advice-title');
      if (h && retrying) h.focus();
    });
  }

  failed(stage, err, retrying, forgetHandoff) {
    this.setState({ stage: 'error', error: { stage, err }, prime: forgetHandoff ? null : this.state.prime }, () => {
      const h = document.getElementById('advice-error-title');
      if (h && retrying) h.focus();
    });
  }

  async drawChart() {
    const { advice } = this.state;
    const cats = (advice && advice.categories) || [];
    if (!this.canvas || cats.length === 0) return;
    const Chart = await loadChart();
    if (!Chart || this.gone || !this.canvas) return;
    if (this.chart) this.chart.destroy();
    const currency = cats[0].currency;
    const exp = exponent(currency);
    const sameCurrency = cats.filter((c) => c.currency === currency);
    const labels = sameCurrency.map((c) => c.name);
    const spend = sameCurrency.map((c) => Number(c.amountMinor) / 10 ** exp);
    const hasMom = sameCurrency.some((c) => typeof c.momChangePct === 'number');
    // order: Chart.js draws a higher order first, so the change markers lie on top of the bars
    const datasets = [{ type: 'bar', label: `Spend (${currency})`, data: spend, backgroundColor: '#0b57d0', yAxisID: 'y', order: 2 }];
    const scales = {
      y: { beginAtZero: true, title: { display: true, text: `Spend (${currency})` },
        ticks: { callback: (v) => money(Math.round(v * 10 ** exp), currency) } },
    };
    if (hasMom) {
      datasets.push({ type: 'line', label: 'Change vs earlier months (%)', yAxisID: 'y1', showLine: false,
        data: sameCurrency.map((c) => (typeof c.momChangePct === 'number' ? c.momChangePct : null)),
        borderColor: '#a3140d', backgroundColor: '#a3140d', pointBorderColor: '#ffffff', pointBorderWidth: 2,
        pointRadius: 7, pointStyle: 'rectRot', order: 1 });
      scales.y1 = { position: 'right', grid: { drawOnChartArea: false }, title: { display: true, text: 'Change vs earlier months (%)' },
        ticks: { callback: (v) => percent(v) } };
    }
    this.chart = new Chart(this.canvas, {
      type: 'bar',
      data: { labels, datasets },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false, locale: getLocale(),
        plugins: {
          legend: { display: true },
          tooltip: { callbacks: { label: (ctx) => (ctx.dataset.yAxisID === 'y1'
            ? `${ctx.dataset.label}: ${change(ctx.raw)}`
            : `${ctx.label}: ${money(sameCurrency[ctx.dataIndex].amountMinor, currency)}`) } },
        },
        scales,
      },
    });
  }

  renderChart(advice) {
    const cats = advice.categories || [];
    if (cats.length === 0) return null;
    const hasMom = cats.some((c) => typeof c.momChangePct === 'number');
    const desc = cats.map((c) => `${c.name} ${money(c.amountMinor, c.currency)}`).join(', ');
    return html`<figure class="advice-chart" aria-labelledby="advice-chart-title">
      <figcaption id="advice-chart-title">Spend by category${hasMom ? ', and its change against your earlier months' : ''}</figcaption>
      <div class="chart-box">
        <canvas ref=${(c) => { this.canvas = c; }} role="img" id="advice-chart"
          aria-label=${`Bar chart of spend by category: ${desc}. The table below gives the same figures.`}>
          The table below gives the figures.</canvas>
      </div>
      <div class="table-wrap"><table id="advice-table">
        <caption class="sr-only">Spend by category for this import's period</caption>
        <thead><tr><th scope="col">Category</th><th scope="col" class="num">Spend</th><th scope="col" class="num">Share</th>
          ${hasMom && html`<th scope="col" class="num">Change vs earlier months</th>`}</tr></thead>
        <tbody>${cats.map((c) => html`<tr>
          <th scope="row">${c.name}</th><td class="num">${money(c.amountMinor, c.currency)}</td>
          <td class="num">${typeof c.share === 'number' ? percent(c.share) : ''}</td>
          ${hasMom && html`<td class="num">${change(c.momChangePct)}</td>`}</tr>`)}</tbody>
      </table></div>
    </figure>`;
  }

  renderError() {
    const { error } = this.state;
    const w = errorWords(error.stage, error.err, this.props.committed);
    return html`<section class="card advice advice-error" aria-labelledby="advice-error-title" id="advice-error">
      <h3 id="advice-error-title" tabindex="-1">${w.title}</h3>
      <p role="alert"><strong>What the server said: </strong>${error.err && error.err.message ? error.err.message : 'no answer'}</p>
      <h4>What you can do</h4>
      <ol class="recovery">${w.steps.map((s) => html`<li>${s}</li>`)}</ol>
      ${w.retry && html`<button type="button" class="primary" id="advice-retry" onClick=${() => this.run(true)}>Try again</button>`}
      <a href="#/transactions">View transactions</a>
    </section>`;
  }

  render({ committed }, { stage, advice, hidden, at, error, chatOpen }) {
    if (hidden) {
      return html`<p><button type="button" id="advice-show" onClick=${() => this.setState({ hidden: false })}>Show Crystal’s insights</button></p>`;
    }
    if (stage === 'error' && error) return this.renderError();
    if (stage !== 'done') {
      return html`<section class="card advice" aria-labelledby="advice-title" aria-busy="true">
        <h3 id="advice-title">Crystal’s insights</h3>
        <p role="status" id="advice-progress">${stage === 'prime' ? 'Prime is handing your import to Crystal…' : 'Crystal is analysing your transactions…'}</p>
      </section>`;
    }
    const top = advice.topCategories || [];
    return html`<section class="card advice" aria-labelledby="advice-title" id="advice">
      <div class="advice-head">
        <div>
          <h3 id="advice-title" tabindex="-1">Crystal’s insights</h3>
          <p class="muted small">${time(at)}${advice.source === 'rules' ? ' · written from Crystal’s rules (the model did not answer)' : ''}</p>
        </div>
        <button type="button" class="close" aria-label="Hide Crystal’s insights" onClick=${() => this.setState({ hidden: true })}>×</button>
      </div>
      <p class="advice-committed" id="advice-committed">${number(committed)} transaction${committed === 1 ? '' : 's'} committed</p>
      <p id="advice-summary">${advice.summary}</p>
      ${top.length > 0 && html`<div class="advice-box"><h4>Top categories</h4>
        <ul id="advice-top">${top.map((t) => html`<li>${t}</li>`)}</ul></div>`}
      ${advice.budgetImpact && html`<div class="advice-box budget"><h4>Budget impact</h4><p id="advice-budget">${advice.budgetImpact}</p></div>`}
      ${advice.forecastDelta && html`<div class="advice-box forecast"><h4>Forecast update</h4><p id="advice-forecast">${advice.forecastDelta}</p></div>`}
      ${this.renderChart(advice)}
      <p class="advice-actions"><a href="#/transactions">View transactions</a>
        <button type="button" id="chat-toggle" aria-expanded=${chatOpen ? 'true' : 'false'} aria-controls="chat"
          onClick=${() => this.setState({ chatOpen: !chatOpen })}>${chatOpen ? 'Close the chat' : 'Chat with Crystal'}</button></p>
      ${chatOpen && this.state.prime && html`<${CrystalChat} session=${this.props.session} handoffId=${this.state.prime.handoffId} />`}
    </section>`;
  }
}
