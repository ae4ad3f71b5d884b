// web/app/chat.js: "Chat with Crystal" on the advisory card (seed 000): the conversation about
// one analysed import (crystal-chat: GET the messages, POST a question; Prime's
// acknowledgement first), a question box, and the answers as they come. A question the
// server could not answer stays in the box, with the reason in words.
import { html, Component, ErrorBox } from './ui.js';
import { api } from './api.js';
import { time } from './format.js';

const MAX_BYTES = 2000;
const WHO = { user: 'You', 'prime-boss': 'Prime', 'crystal-analytics': 'Crystal' };

export class CrystalChat extends Component {
  constructor(props) {
    super(props);
    this.state = { messages: null, question: '', sending: false, error: null };
  }

  async componentDidMount() {
    try {
      const r = await api(this.props.session, 'GET', '/.netlify/functions/crystal-chat', { query: { handoffId: this.props.handoffId } });
      this.setState({ messages: r.messages || [] });
    } catch (err) {
      this.setState({ messages: [], error: err });
    }
    const box = document.getElementById('chat-question');
    if (box) box.focus();
  }

  async send(e) {
    e.preventDefault();
    const question = this.state.question.trim();
    if (!question) { this.setState({ error: 'Write a question first.' }); return; }
    if (new TextEncoder().encode(question).length > MAX_BYTES) { this.setState({ error: `A question is at most ${MAX_BYTES} bytes.` }); return; }
    this.setState({ sending: true, error: null });
    try {
      const r = await api(this.props.session, 'POST', '/.netlify/functions/crystal-chat', {
        body: { handoffId: this.props.handoffId, message: question },
      });
      this.setState((s) => ({ messages: [...(s.messages || []), r.message, r.reply], question: '', sending: false }));
    } catch (err) {
      this.setState({ sending: false, error: err });
    }
  }

  render(_, { messages, question, sending, error }) {
    return html`<section class="chat" aria-labelledby="chat-title" id="chat">
      <h4 id="chat-title">Chat with Crystal</h4>
      ${messages === null ? html`<p role="status">Loading the conversation…</p>` : html`
        <ol class="chat-log" id="chat-log" aria-live="polite" aria-label="Conversation" tabindex="0">
          ${messages.map((m) => html`<li class=${'chat-msg ' + (m.role === 'user' ? 'mine' : 'theirs')} data-agent=${m.agent}>
            <span class="who">${WHO[m.agent] || m.agent}</span> <time datetime=${m.createdAt} class="muted small">${time(m.createdAt)}</time>
            <p>${m.content}</p></li>`)}
        </ol>`}
      <${ErrorBox} error=${error} id="chat-error" />
      <form class="chat-form" onSubmit=${(e) => this.send(e)}>
        <label for="chat-question">Ask Crystal about this import</label>
        <textarea id="chat-question" rows="2" maxlength=${MAX_BYTES} value=${question} disabled=${sending}
          onInput=${(e) => this.setState({ question: e.target.value })}></textarea>
        <button type="submit" class="primary" disabled=${sending}>${sending ? 'Asking…' : 'Ask'}</button>
      </form>
    </section>`;
  }
}
