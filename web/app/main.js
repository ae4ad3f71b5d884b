// web/app/main.js: the app's entry: the session, the pages by URL hash (#/import,
// #/transactions, #/settings), the header with its navigation, and focus moved to each
// page's heading when it changes (keyboard and screen-reader users land on the new page).
import { html, Component, render } from './ui.js';
import { loadSession, saveSession, clearSession, setUnauthorizedHandler } from './api.js';
import { setLocale } from './format.js';
import { SignIn } from './signin.js';
import { SmartImport } from './import.js';
import { Transactions } from './transactions.js';
import { Settings } from './settings.js';
import { BulkImport } from './bulk.js';
import { BankImport, takeBankReturn } from './bank.js';
import { Workflow } from './workflow.js';

const PAGES = {
  import: { title: 'Smart Import', view: SmartImport },
  transactions: { title: 'Transactions', view: Transactions },
  bank: { title: 'Bank import', view: BankImport },
  bulk: { title: 'Bulk purchases', view: BulkImport },
  workflow: { title: 'Workflow', view: Workflow },
  settings: { title: 'Settings', view: Settings },
};

function currentPage() {
  const m = /^#\/([a-z]+)/.exec(location.hash);
  return m && PAGES[m[1]] ? m[1] : 'import';
}

class App extends Component {
  constructor() {
    super();
    this.state = { session: loadSession(), page: currentPage(), notice: null };
    this.onHash = () => this.setState({ page: currentPage() }, () => this.focusHeading());
  }

  componentDidMount() {
    window.addEventListener('hashchange', this.onHash);
    setUnauthorizedHandler((err) => this.signOut('You were signed out: ' + err.message));
    const saved = localStorage.getItem('smartimport.locale');
    if (saved) setLocale(saved);
  }

  componentWillUnmount() { window.removeEventListener('hashchange', this.onHash); }

  focusHeading() {
    const h = document.querySelector('main h1');
    if (h) h.focus();
  }

  signIn(session) {
    saveSession(session);
    this.setState({ session, notice: null }, () => this.focusHeading());
  }

  signOut(notice) {
    clearSession();
    this.setState({ session: null, notice: notice || null });
  }

  render(_, { session, page, notice }) {
    const Page = PAGES[page].view;
    document.title = (session ? PAGES[page].title : 'Sign in') + ' · Smart Import';
    return html`
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <span class="brand">Smart Import</span>
        ${session && html`<nav aria-label="Main">
          <ul>
            ${Object.entries(PAGES).map(([k, p]) => html`<li><a href=${'#/' + k}
              aria-current=${k === page ? 'page' : undefined}>${p.title}</a></li>`)}
          </ul>
        </nav>
        <div class="who">
          <span title=${session.userId}>${session.mode === 'dev' ? 'Dev user ' : 'User '}${session.userId.slice(0, 8)}…</span>
          <button type="button" onClick=${() => this.signOut()}>Sign out</button>
        </div>`}
      </header>
      <main id="main" tabindex="-1">
        ${session
          ? html`<${Page} key=${page + session.userId} session=${session} />`
          : html`<${SignIn} notice=${notice} onSignIn=${(s) => this.signIn(s)} />`}
      </main>`;
  }
}

// Back from the bank's consent page (?code=&state=): the Bank page takes it from here.
takeBankReturn();
const root = document.getElementById('root');
root.textContent = '';
render(html`<${App} />`, root);
