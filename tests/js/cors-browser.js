// Drives Debian's headless Chromium for the Rust CORS test: opens each front-end page (each on
// its own origin) and, from the page, calls the API the way the original front end's axios does
// (fetch with credentials: 'include', a bearer token, JSON bodies, an Idempotency-Key).
// Reads {"pages": [{"name", "url"}], "api", "adminToken", "clientToken", "jobId", "freelancerId"}
// on stdin; prints {"<name>": {balance, created, replayed}} where each call is
// {ok, status, body, header} or {error} when the browser refused to give the page the answer.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

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
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'escrow-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
    timeout: 60000,
  });
  const out = {};
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.setDefaultTimeout(30000);
    for (const p of req.pages) {
      await page.goto(p.url, { waitUntil: 'load' });
      out[p.name] = await page.evaluate(calls, { ...req, name: p.name });
    }
    return out;
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  main(JSON.parse(input)).then(
    (out) => { process.stdout.write(JSON.stringify(out) + '\n'); },
    (e) => { process.stderr.write(`browser step failed: ${e && e.stack || e}\n`); process.exit(1); },
  );
});
