// web/app/ui.js: the view library in one place: Preact's h/Component/render and htm's
// tagged template bound to h (`html`), from the vendored files nginx serves under /vendor/
// (web/node_modules, pinned in web/package-lock.json), plus small shared pieces.
import { h, Component, render, createRef, Fragment } from '/vendor/preact/preact.mjs';
import htm from '/vendor/htm/htm.mjs';

export const html = htm.bind(h);
export { h, Component, render, createRef, Fragment };

// An API error, in words, announced to screen readers.
export function ErrorBox({ error, id }) {
  if (!error) return null;
  const msg = typeof error === 'string' ? error : error.message;
  return html`<div class="error" role="alert" id=${id}><strong>Error: </strong>${msg}</div>`;
}

// A progress bar with a visible text (the bar alone is not enough for everyone).
export function Progress({ label, value, max, text, id }) {
  const known = typeof value === 'number' && typeof max === 'number' && max > 0;
  return html`<div class="progress-wrap">
    <label for=${id}>${label}</label>
    ${known
      ? html`<progress id=${id} value=${value} max=${max}></progress>`
      : html`<progress id=${id}></progress>`}
    <span class="progress-text" aria-live="polite">${text}</span>
  </div>`;
}
