// node_peer.js: the Node.js peer of scripts/bench-http, what a serverless function runs:
// node's `http` server and a `pg` Pool (4 connections, one per responder thread of the C
// side) doing the same prepared primary-key lookup as bare_fcgi.c and answering
// {"ok":true,"version":N}.  Usage: node node_peer.js PORT (DATABASE_URL names the database;
// NODE_PATH points at the folder scripts/bench-http installed `pg` into).
'use strict';
const http = require('http');
const { Pool } = require('pg');

const port = Number(process.argv[2]);
const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 4 });
const lookup = { name: 'lookup', text: 'SELECT version FROM schema_migrations WHERE version = $1', values: [1] };

http.createServer((req, res) => {
  pool.query(lookup).then((r) => {
    const body = JSON.stringify({ ok: true, version: Number(r.rows[0].version) });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }, () => {
    const body = '{"ok":false,"error":"database","code":"db_unavailable"}';
    res.writeHead(503, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
}).listen(port, '127.0.0.1', () => console.log(`listening ${port}`));
