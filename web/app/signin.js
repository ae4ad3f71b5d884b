// web/app/signin.js: the sign-in page. Development mode (SMARTIMPORT_AUTH=trust-body, what
// scripts/up runs): pick a user id used before on this browser or create a new one. JWT mode:
// paste an access token (build/modules/token/smartimport-token <user-uuid> mints one).
import { html, Component, ErrorBox } from './ui.js';
import { devUsers, rememberDevUser, readToken, UUID_RE, newUuid } from './api.js';

export class SignIn extends Component {
  constructor(props) {
    super(props);
    const known = devUsers();
    this.state = { mode: 'jwt', userId: known[0] || '', token: '', error: null, known };
  }

  componentDidMount() {
    const h = document.getElementById('signin-title');
    if (h) h.focus();
  }

  newUser() {
    this.setState({ userId: newUuid(), error: null });
  }

  submit(e) {
    e.preventDefault();
    const { mode, userId, token } = this.state;
    try {
      if (mode === 'dev') {
        const id = userId.trim().toLowerCase();
        if (!UUID_RE.test(id)) throw new Error('A user id is a UUID, like 0b0e1c9e-5f7a-4c1e-9a52-8d1f0b7e2a11. Press "New user id" to make one.');
        rememberDevUser(id);
        this.props.onSignIn({ mode: 'dev', userId: id });
      } else {
        const claims = readToken(token);
        this.props.onSignIn({ mode: 'jwt', token: token.trim(), userId: claims.sub, exp: claims.exp });
      }
    } catch (err) {
      this.setState({ error: err });
    }
  }

  render(_, { mode, userId, token, error, known }) {
    return html`<section class="card signin" aria-labelledby="signin-title">
      <h1 id="signin-title" tabindex="-1">Sign in to Smart Import</h1>
      ${this.props.notice && html`<p class="notice" role="status">${this.props.notice}</p>`}
      <form onSubmit=${(e) => this.submit(e)} novalidate>
        <fieldset>
          <legend>How does this server identify you?</legend>
          <label class="choice"><input type="radio" name="mode" value="jwt" checked=${mode === 'jwt'}
            onChange=${() => this.setState({ mode: 'jwt', error: null })} /> With an access token (JWT mode)</label>
          <label class="choice"><input type="radio" name="mode" value="dev" checked=${mode === 'dev'}
            onChange=${() => this.setState({ mode: 'dev', error: null })} /> By user id (development mode, <code>scripts/up</code>)</label>
        </fieldset>
        ${mode === 'jwt' ? html`
          <label for="token">Access token</label>
          <textarea id="token" name="token" rows="4" autocomplete="off" spellcheck=${false} aria-describedby="token-help"
            value=${token} onInput=${(e) => this.setState({ token: e.target.value })}></textarea>
          <p id="token-help" class="help">Mint one with <code>build/modules/token/smartimport-token ${'<user-uuid>'}</code>${' '}(signed with the server's <code>SMARTIMPORT_JWT_SECRET</code>). It is kept in this tab only.</p>
        ` : html`
          <label for="user-id">User id</label>
          <div class="row">
            <input id="user-id" name="userId" list="known-users" autocomplete="off" spellcheck=${false} aria-describedby="user-help"
              value=${userId} onInput=${(e) => this.setState({ userId: e.target.value })} />
            <button type="button" onClick=${() => this.newUser()}>New user id</button>
          </div>
          <datalist id="known-users">${known.map((u) => html`<option value=${u}></option>`)}</datalist>
          <p id="user-help" class="help">In development mode the server takes the user id you send, unverified.
            ${known.length ? ' Pick one you used before from the list, or make a new one.' : ' Make a new one to start.'}</p>
        `}
        <${ErrorBox} error=${error} />
        <button type="submit" class="primary">Sign in</button>
      </form>
    </section>`;
  }
}
