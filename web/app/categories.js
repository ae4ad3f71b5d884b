// web/app/categories.js: the categories a transaction can be given, as the API lists them
// (GET /.netlify/functions/category-rules answers `categories`: those of the built-in
// knowledge and Other, the ones the ledger's PATCH accepts). Asked once per page load.
import { api } from './api.js';

let loaded = null;

// A promise of the sorted list; a failure is retried on the next call.
export function categories(session) {
  if (!loaded) {
    loaded = api(session, 'GET', '/.netlify/functions/category-rules')
      .then((r) => (Array.isArray(r.categories) ? r.categories : ['Other']))
      .catch((err) => { loaded = null; throw err; });
  }
  return loaded;
}
