// web/app/settings.js: the user's settings: default currency (for statements that name
// none) and locale, through GET/PUT /.netlify/functions/user-settings {defaultCurrency, locale}.
// The locale is also kept in this browser, for formatting before the settings arrive.
import { html, Component, ErrorBox } from './ui.js';
import { api } from './api.js';
import { setLocale, getLocale } from './format.js';

export const CURRENCIES = ['USD', 'EUR', 'GBP', 'CHF', 'JPY', 'CAD', 'AUD', 'SEK', 'NOK', 'DKK', 'PLN', 'CZK', 'BHD'];
const LOCALES = ['en-US', 'en-GB', 'de-DE', 'fr-FR', 'es-ES', 'nl-NL', 'ja-JP'];

export class Settings extends Component {
  constructor(props) {
    super(props);
    this.state = { loading: true, currency: '', locale: getLocale(), error: null, saved: false };
  }

  async componentDidMount() {
    try {
      const s = await api(this.props.session, 'GET', '/.netlify/functions/user-settings');
      this.setState({ loading: false, currency: s.defaultCurrency || '', locale: s.locale || getLocale() });
    } catch (err) {
      this.setState({ loading: false, error: err });
    }
  }

  async save(e) {
    e.preventDefault();
    const { currency, locale } = this.state;
    setLocale(locale);
    localStorage.setItem('smartimport.locale', locale);
    try {
      await api(this.props.session, 'PUT', '/.netlify/functions/user-settings',
        { body: { defaultCurrency: currency || null, locale } });
      this.setState({ saved: true, error: null });
    } catch (err) {
      this.setState({ error: err, saved: false });
    }
  }

  render(_, { loading, currency, locale, error, saved }) {
    return html`<section aria-labelledby="settings-title">
      <h1 id="settings-title" tabindex="-1">Settings</h1>
      ${loading ? html`<p role="status">Loading your settings…</p>` : html`
      <form class="card" onSubmit=${(e) => this.save(e)}>
        <label for="default-currency">Default currency for statements that name none</label>
        <select id="default-currency" value=${currency}
          onChange=${(e) => this.setState({ currency: e.target.value, saved: false })}>
          <option value="">(none)</option>
          ${CURRENCIES.map((c) => html`<option value=${c}>${c}</option>`)}
        </select>
        <label for="locale">Numbers and dates shown as</label>
        <select id="locale" value=${locale} onChange=${(e) => this.setState({ locale: e.target.value, saved: false })}>
          ${[...new Set([locale, ...LOCALES])].map((l) => html`<option value=${l}>${l}</option>`)}
        </select>
        <${ErrorBox} error=${error} />
        <button type="submit" class="primary">Save settings</button>
        ${saved && html`<p role="status" class="ok">Saved.</p>`}
      </form>`}
    </section>`;
  }
}
