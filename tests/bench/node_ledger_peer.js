// node_ledger_peer.js: the Node.js peer of scripts/bench-read: GET transactions as a Node
// function would serve it: node's `http` server, the caller from an HS256 bearer token
// (node's crypto, SMARTIMPORT_JWT_SECRET), the same parameter checks, a `pg` Pool (4
// connections, one per responder thread of the C side) running the very same statement text
// as the C side for the request (the shape of its filters and their parameters in the order
// of modules/ledger/ledger_sql.h; scripts/bench-read prints every shape into a JSON file)
// unnamed, as a serverless function sends it (planned per request; the C side prepares it
// once per connection), and answering the same JSON.  Usage: node node_ledger_peer.js PORT
// SHAPES.json (DATABASE_URL names the database; NODE_PATH points at the folder
// scripts/bench-read installed `pg` into).
'use strict';
const http = require('http');
const crypto = require('crypto');
const fs = require('fs');
const { Pool } = require('pg');

const port = Number(process.argv[2]);
const shapes = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
// ledger_sql.h's LEDGER_SHAPE_* bits
const DATES = 0x01, Q = 0x02, CATEGORY = 0x04, ACCOUNT = 0x08, IMPORT = 0x10, CURSOR = 0x20;
const secret = process.env.SMARTIMPORT_JWT_SECRET;
const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 4 });
const uuidRe = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function send(res, status, obj) {
  const body = typeof obj === 'string' ? obj : JSON.stringify(obj);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body),
                          'Cache-Control': 'no-store' });
  res.end(body);
}
function fail(res, status, code, error) { send(res, status, { ok: false, error, code }); }

function caller(req) {
  const m = /^Bearer ([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(req.headers.authorization || '');
  if (!m) return null;
  const sig = crypto.createHmac('sha256', secret).update(`${m[1]}.${m[2]}`).digest();
  const got = Buffer.from(m[3], 'base64url');
  if (got.length !== sig.length || !crypto.timingSafeEqual(got, sig)) return null;
  let head, claims;
  try {
    head = JSON.parse(Buffer.from(m[1], 'base64url').toString());
    claims = JSON.parse(Buffer.from(m[2], 'base64url').toString());
  } catch (e) { return null; }
  if (head.alg !== 'HS256' || typeof claims.sub !== 'string' || !uuidRe.test(claims.sub.toLowerCase())) return null;
  if (typeof claims.exp !== 'number' || claims.exp <= Date.now() / 1000) return null;
  return claims.sub.toLowerCase();
}

function validDate(s) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}
const param = (q, name) => { const v = q.get(name); return v === null || v === '' ? null : v; };

http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (req.method !== 'GET') return fail(res, 405, 'method_not_allowed', 'method not allowed');
  const user = caller(req);
  if (!user) return fail(res, 401, 'unauthorized', 'a valid bearer token is required');
  const q = url.searchParams;
  const from = param(q, 'from'), to = param(q, 'to'), text = param(q, 'q'), category = param(q, 'category');
  const account = param(q, 'account'), importId = param(q, 'importId'), limitText = param(q, 'limit');
  const cursor = param(q, 'cursor');
  if (from && !validDate(from)) return fail(res, 400, 'bad_param', 'from must be a date written YYYY-MM-DD');
  if (to && !validDate(to)) return fail(res, 400, 'bad_param', 'to must be a date written YYYY-MM-DD');
  if (text && [...text].length > 200) return fail(res, 400, 'bad_param', 'q must hold at most 200 characters');
  if (importId && !uuidRe.test(importId.toLowerCase())) return fail(res, 400, 'bad_param', 'importId must be a UUID');
  let limit = 50;
  if (limitText) {
    if (!/^\d{1,3}$/.test(limitText) || +limitText < 1 || +limitText > 200)
      return fail(res, 400, 'bad_param', 'limit must be a whole number from 1 to 200');
    limit = +limitText;
  }
  let cdate = null, cid = null;
  if (cursor) {
    const m = /^(\d{4}-\d{2}-\d{2}):(\d{1,19})$/.exec(Buffer.from(cursor, 'base64url').toString());
    if (!m || !validDate(m[1])) return fail(res, 400, 'bad_param', 'cursor must be the next_cursor of an earlier page');
    cdate = m[1]; cid = m[2];
  }
  const pattern = text ? `%${text.replace(/[\\%_]/g, '\\$&')}%` : null;
  // The shape and its parameters, in ledger_sql.h's order.
  let shape = 0;
  const values = [user, String(limit)];
  if (from || to) { shape |= DATES; values.push(from || '-infinity', to || 'infinity'); }
  if (pattern) { shape |= Q; values.push(pattern); }
  if (category) { shape |= CATEGORY; values.push(category); }
  if (account) { shape |= ACCOUNT; values.push(account); }
  if (importId) { shape |= IMPORT; values.push(importId.toLowerCase()); }
  if (cursor) { shape |= CURSOR; values.push(cdate, cid); }
  pool.query({ text: shapes[shape], rowMode: 'array', values }).then((r) => {
    const [rows, readText, last, totals] = r.rows[0];
    const read = Number(readText);
    let next = 'null';
    if (read > limit && last) {
      const [d, id] = last.split(' ');
      next = `"${Buffer.from(`${d}:${id}`).toString('base64url')}"`;
    }
    send(res, 200, `{"ok":true,"transactions":${rows},"totals":${totals === null ? 'null' : totals},"next_cursor":${next}}`);
  }, () => fail(res, 503, 'db_unavailable', 'database'));
}).listen(port, '127.0.0.1', () => console.log(`listening ${port}`));
