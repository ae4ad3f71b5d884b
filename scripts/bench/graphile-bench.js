// scripts/bench/graphile-bench.js: the graphile-worker side of scripts/bench-jobs.
// node graphile-bench.js URL SCHEMA N CONCURRENCY: runs N no-op jobs ("noop") with graphile-worker
// in its own schema on our PostgreSQL; prints "ready" once the runner is up (the script then
// enqueues the jobs with SQL), and at the end one JSON line: first start, last completion as
// the database sees it, and the start latency (run start - created_at) of each job, p50/p99.
'use strict';
const { run, runMigrations } = require('graphile-worker');
const { Pool } = require('pg');

async function main() {
  const [url, schema, nText, concText] = process.argv.slice(2);
  const n = Number(nText), concurrency = Number(concText);
  await runMigrations({ connectionString: url, schema });
  const lat = [];
  let firstStart = 0, done = 0, resolveAll;
  const allDone = new Promise((r) => { resolveAll = r; });
  const runner = await run({
    connectionString: url, schema, concurrency, noHandleSignals: true, pollInterval: 1000,
    taskList: {
      noop: async (_payload, helpers) => {
        const now = Date.now();
        if (firstStart === 0) firstStart = now;
        lat.push(now - helpers.job.created_at.getTime());
        if (++done === n) resolveAll();
      },
    },
  });
  console.log('ready');
  await allDone;
  // The last completion as the database sees it: the queue is empty.
  const pool = new Pool({ connectionString: url, max: 1 });
  const table = (await pool.query("SELECT to_regclass($1) IS NOT NULL AS p", [`${schema}._private_jobs`])).rows[0].p
    ? `${schema}._private_jobs` : `${schema}.jobs`;
  for (;;) {
    const { rows } = await pool.query(`SELECT count(*)::int AS c FROM ${table}`);
    if (rows[0].c === 0) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  const lastEnd = Date.now();
  await pool.end();
  await runner.stop();
  lat.sort((a, b) => a - b);
  const pct = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  console.log(JSON.stringify({ jobs: done, exec_s: (lastEnd - firstStart) / 1000, p50_ms: pct(0.5), p99_ms: pct(0.99) }));
}
main().catch((e) => { console.error(e); process.exit(1); });
