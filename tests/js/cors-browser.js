// Drives Debian's headless Chromium for the Rust CORS test: opens each front-end page (each on
// its own origin) and, from the page, calls the API the way the original front end's axios does
// (fetch with credentials: 'include', a bearer token, JSON bodies, an Idempotency-Key).
// Reads {"pages": [{"name", "url"}], "api", "adminToken", "clientToken", "jobId", "freelancerId"}
// on stdin; prints {"<name>": {balance, created, replayed}} where each call is
// {ok, status, body, header} or {error} when the browser refused to give the page the answer.
'use strict';
const { withPage, runStdin } = require('./chromium');

// Runs in the page.
async function calls(req) {
  const call = async (method, url, token, body, key) => {
    try {
      const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` };
      if (key) headers['Idempotency-Key'] = key;
      const r = await fetch(req.api + url, {
        method,
        headers,
        credentials: 'include',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return {
        ok: r.ok,
        status: r.status,
        body: await r.json(),
        header: r.headers.get('Idempotent-Replayed'),
      };
    } catch (e) {
      return { error: String(e) };
    }
  };
  const balance = await call('GET', '/api/admin/escrow/balance', req.adminToken);
  const path = `/api/client/contract/create-contract/${req.jobId}`;
  const body = { freelancerId: req.freelancerId, amount: 1500.5, title: 'From the browser' };
  const created = await call('POST', path, req.clientToken, body, `browser-${req.name}`);
  const replayed = await call('POST', path, req.clientToken, body, `browser-${req.name}`);
  const missing = await call('GET', '/api/no/such/route', req.adminToken);
  return { balance, created, replayed, missing };
}

async function main(req) {
  return withPage({}, async (page) => {
    const out = {};
    for (const p of req.pages) {
      await page.goto(p.url, { waitUntil: 'load' });
      out[p.name] = await page.evaluate(calls, { ...req, name: p.name });
    }
    return out;
  });
}

runStdin(main);
