// web/app/api.js: the page's only way to the server: the session (who the caller is), JSON
// calls with errors in words, the statement upload with byte progress, and the import-events
// stream with Last-Event-ID resume. Only public routes; the token never goes in a URL except
// the event stream's access_token, which the API accepts there and only there.

const SESSION_KEY = 'smartimport.session';
const DEV_USERS_KEY = 'smartimport.devUsers';
const DEV_USERS_MAX = 10;
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// The session lives in sessionStorage: gone when the tab closes, never in a URL.
// { mode: 'dev', userId } or { mode: 'jwt', token, userId (the token's sub), exp }
export function loadSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
    if (s && (s.mode === 'dev' || s.mode === 'jwt') && UUID_RE.test(s.userId || '')) return s;
  } catch (e) { /* a damaged entry is no session */ }
  return null;
}
export function saveSession(s) { sessionStorage.setItem(SESSION_KEY, JSON.stringify(s)); }
export function clearSession() { sessionStorage.removeItem(SESSION_KEY); }

// Development mode: the user ids used on this browser, to pick one again (ids, not secrets:
// in development mode the id is all the API asks).
export function devUsers() {
  try {
    const list = JSON.parse(localStorage.getItem(DEV_USERS_KEY) || '[]');
    return Array.isArray(list) ? list.filter((u) => UUID_RE.test(u)) : [];
  } catch (e) { return []; }
}
export function rememberDevUser(id) {
  const list = [id, ...devUsers().filter((u) => u !== id)].slice(0, DEV_USERS_MAX);
  localStorage.setItem(DEV_USERS_KEY, JSON.stringify(list));
}

// A pasted JWT's claims, read (not verified: the server does that) to show who it is.
// Returns { sub, exp } or throws an Error in words.
export function readToken(token) {
  const parts = token.trim().split('.');
  if (parts.length !== 3) throw new Error('That is not a token: a token has three parts separated by dots.');
  let claims;
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    claims = JSON.parse(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)));
  } catch (e) {
    throw new Error('That token cannot be read: its middle part is not base64url JSON.');
  }
  if (!claims || typeof claims.sub !== 'string' || !UUID_RE.test(claims.sub)) {
    throw new Error('That token names no user: its "sub" claim must be a user id (a UUID).');
  }
  if (typeof claims.exp === 'number' && claims.exp * 1000 <= Date.now()) {
    throw new Error('That token has expired. Mint a new one.');
  }
  return { sub: claims.sub, exp: typeof claims.exp === 'number' ? claims.exp : null };
}

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body || null;
  }
}

// What an answer that is not the API's JSON means, in words.
function statusWords(status) {
  if (status === 0) return 'The server could not be reached. Check that the stack is running.';
  if (status === 502 || status === 503) return 'The service is unavailable for a moment. Try again shortly.';
  if (status === 504) return 'The server took too long to answer. Try again.';
  if (status === 413) return 'The file is too large for the server.';
  return `The server answered with status ${status}.`;
}

// The error of a parsed body (the API's {ok:false, error, code}) or of a bare status.
function errorOf(status, body) {
  if (body && typeof body === 'object' && typeof body.error === 'string' && body.error) {
    return new ApiError(status, body.code || 'error', body.error, body);
  }
  return new ApiError(status, 'http_' + status, statusWords(status), body);
}

let onUnauthorized = null;
// The app's hook for a 401: the session is no good any more.
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

function identify(session, method, query, body, headers) {
  if (session.mode === 'jwt') {
    headers.Authorization = 'Bearer ' + session.token;
  } else if (method === 'GET' || method === 'DELETE' || method === 'HEAD') {
    query.userId = session.userId;
  } else if (body && typeof body === 'object') {
    body.userId = session.userId;
  }
}

function queryString(query) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  }
  const s = p.toString();
  return s ? '?' + s : '';
}

// api(session, method, path, {query, body}): the parsed JSON of a 2xx answer, else throws
// an ApiError whose message is the API's `error` (never the raw JSON).
// A call that changes state (not GET or HEAD) with a token carries an Idempotency-Key made for
// this call; when the connection breaks before an answer it is sent once more with the same
// key, so the server runs it at most once (the second answer may be the first one replayed).
// In development mode (the user id in the body) no key is sent: the server would need the id
// in the query string to own it.
export async function api(session, method, path, { query = {}, body = undefined } = {}) {
  const q = { ...query };
  const b = body === undefined ? undefined : { ...body };
  const headers = { Accept: 'application/json' };
  identify(session, method, q, b, headers);
  if (b !== undefined) headers['Content-Type'] = 'application/json';
  const keyed = session.mode === 'jwt' && method !== 'GET' && method !== 'HEAD';
  if (keyed) headers['Idempotency-Key'] = newUuid();
  let res;
  for (let attempt = 1; ; attempt++) {
    try {
      res = await fetch(path + queryString(q), {
        method, headers, body: b === undefined ? undefined : JSON.stringify(b),
        credentials: 'omit', cache: 'no-store',
      });
      break;
    } catch (e) {
      if (!keyed || attempt >= 2) throw new ApiError(0, 'network', statusWords(0));
    }
  }
  if (res.status === 204) return { ok: true };
  let parsed = null;
  try { parsed = await res.json(); } catch (e) { parsed = null; }
  if (!res.ok || (parsed && parsed.ok === false)) {
    const err = errorOf(res.status, parsed);
    if (res.status === 401 && onUnauthorized) onUnauthorized(err);
    throw err;
  }
  if (parsed === null) throw new ApiError(res.status, 'bad_answer', 'The server answered something that is not JSON.');
  return parsed;
}

// upload(session, file, {currency, mapping, uploadId}, onProgress): POST the file as multipart
// to ingest-statement with XMLHttpRequest (uploadId, a UUID, goes in X-Upload-Id: the live
// progress events of this upload carry it), so the bytes sent are reported as they go:
// onProgress({loaded, total, phase: 'sending' | 'processing'}). Resolves to the answer;
// rejects with an ApiError. Returns {promise, abort}.
export function upload(session, file, { currency = '', mapping = null, uploadId = '' } = {}, onProgress = () => {}) {
  const fields = {};
  if (currency) fields.currency = currency;
  if (mapping) fields.mapping = JSON.stringify(mapping);
  return uploadForm(session, '/.netlify/functions/ingest-statement', fields, file, onProgress,
    { headers: uploadId ? { 'X-Upload-Id': uploadId } : {} });
}

// uploadForm(session, path, fields, file, onProgress, {query, headers}): the same for any
// upload route: the form's text fields (the caller's id first in development mode), then the
// file; the query (e.g. {dry_run: 'true'}) in the URL. Returns {promise, abort}.
export function uploadForm(session, path, fields, file, onProgress = () => {}, { query = {}, headers = {} } = {}) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    const form = new FormData();
    if (session.mode === 'dev') form.append('userId', session.userId);
    for (const [k, v] of Object.entries(fields)) {
      if (v !== undefined && v !== null && v !== '') form.append(k, String(v));
    }
    form.append('file', file, file.name);
    xhr.open('POST', path + queryString(query));
    xhr.setRequestHeader('Accept', 'application/json');
    if (session.mode === 'jwt') xhr.setRequestHeader('Authorization', 'Bearer ' + session.token);
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => onProgress({ loaded: e.loaded, total: e.lengthComputable ? e.total : file.size, phase: 'sending' });
    xhr.upload.onload = () => onProgress({ loaded: file.size, total: file.size, phase: 'processing' });
    xhr.onerror = () => reject(new ApiError(0, 'network', statusWords(0)));
    xhr.onabort = () => reject(new ApiError(0, 'aborted', 'The upload was cancelled.'));
    xhr.onload = () => {
      let parsed = null;
      try { parsed = JSON.parse(xhr.responseText); } catch (e) { parsed = null; }
      if (xhr.status >= 200 && xhr.status < 300 && parsed && parsed.ok !== false) {
        resolve(parsed);
        return;
      }
      const err = errorOf(xhr.status, parsed);
      if (xhr.status === 401 && onUnauthorized) onUnauthorized(err);
      reject(err);
    };
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}

// A random (version 4) UUID; crypto.randomUUID exists only in a secure context (https or
// localhost), getRandomValues everywhere.
export function newUuid() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = Array.from(b, (v) => v.toString(16).padStart(2, '0')).join('');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

// The event types the stream sends by name (an EventSource hears a named event only
// through a listener for that name). Unknown names still arrive as 'message' if unnamed.
export const EVENT_TYPES = [
  'import:upload:start', 'import:upload:complete', 'import:upload:error', 'import:upload:progress',
  'import:parse:start', 'import:parse:complete', 'import:parse:error', 'import:parse:progress',
  'import:stage:error', 'import:commit:start', 'import:commit:complete', 'import:commit:error',
  'import:revert:complete', 'import:revert:error',
  'prime:handoff:initiated', 'prime:message', 'prime:handoff:error',
  'crystal:analyze:start', 'crystal:analyze:complete', 'crystal:analyze:error', 'advisory:ready',
  'bank:sync:start', 'bank:sync:progress', 'bank:sync:complete', 'bank:sync:error', 'bank:enrich:complete',
  'workflow:phase:queued', 'workflow:phase:complete', 'workflow:phase:retry', 'workflow:phase:dead',
];
const RESUME_DELAY_MS = 2000;

// EventFeed: one import's events (importId), or all of the user's (importId null), replayed
// from the start, then live; with { fromNow: true } only what happens from now on (the
// stream's after=now: its cursor is read first as a JSON page, so a reconnect before the
// first event still resumes from there; `ready` resolves once the stream is being opened).
// On a lost connection it opens a new EventSource itself with the last id it saw
// (lastEventId in the query: a new EventSource cannot set the header, and in jwt mode the
// old URL's token may have expired) and tells the page through
// onState('resuming' | 'live' | 'closed' | 'expired', lastId). Live progress events
// (id null) are never replayed.
export class EventFeed {
  constructor(session, importId, onEvent, onState, { fromNow = false } = {}) {
    this.session = session;
    this.importId = importId;
    this.onEvent = onEvent;
    this.onState = onState;
    this.fromNow = fromNow;
    this.lastId = null;
    this.seen = new Set();
    this.es = null;
    this.timer = null;
    this.closed = false;
    this.ready = fromNow ? this.startFromNow() : Promise.resolve(this.open());
  }

  async startFromNow() {
    const query = this.importId ? { after: 'now', importId: this.importId } : { after: 'now' };
    try {
      const page = await api(this.session, 'GET', '/.netlify/functions/import-events', { query });
      if (page && page.nextAfter !== undefined && page.nextAfter !== null) this.lastId = String(page.nextAfter);
    } catch (e) {
      // the stream itself then starts at now (url()); only a reconnect before its first event could miss one
    }
    this.open();
  }

  url() {
    const q = this.importId ? { importId: this.importId } : {};
    if (this.session.mode === 'jwt') q.access_token = this.session.token;
    else q.userId = this.session.userId;
    if (this.lastId !== null) q.lastEventId = this.lastId;
    else if (this.fromNow) q.after = 'now';
    return '/.netlify/functions/import-events' + queryString(q);
  }

  open() {
    if (this.closed) return;
    const es = new EventSource(this.url());
    this.es = es;
    const handle = (e) => {
      let ev;
      try { ev = JSON.parse(e.data); } catch (x) { return; }
      if (e.lastEventId) this.lastId = e.lastEventId;
      if (ev && ev.id !== undefined && ev.id !== null) {   // live progress (id null) is never repeated
        if (this.seen.has(ev.id)) return;
        this.seen.add(ev.id);
      }
      this.onEvent(ev);
    };
    for (const t of EVENT_TYPES) es.addEventListener(t, handle);
    es.addEventListener('message', handle);
    es.onopen = () => this.onState('live', this.lastId);
    es.onerror = () => {
      // Reconnect ourselves, with the cursor in the URL (see above).
      es.close();
      if (this.closed) return;
      // An expired token ends the stream for good: a new one needs a new sign-in.
      if (this.session.mode === 'jwt' && this.session.exp && this.session.exp * 1000 <= Date.now()) {
        this.closed = true;
        this.onState('expired', this.lastId);
        return;
      }
      this.onState('resuming', this.lastId);
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.open(), RESUME_DELAY_MS);
    };
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.es) this.es.close();
    this.onState('closed', this.lastId);
  }
}
