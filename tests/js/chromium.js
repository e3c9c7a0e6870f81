// What every browser script of the Rust tests shares: Debian's headless Chromium launched on a
// fresh, empty profile (--user-data-dir) and removed afterwards, and the stdin/stdout protocol
// (one JSON request in, one JSON result out; a failure goes to stderr with a non-zero exit).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

// The flags this machine's notes give: without the background-networking ones Chromium keeps
// trying to reach Google's hosts, which the closed network refuses.
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// Runs `work(page)` in a new browser (the binary CHROMIUM names, else /usr/bin/chromium) with
// `options` for its context (a viewport, say); the browser and its profile go afterwards.
async function withPage(options, work) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'escrow-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
    timeout: 60000,
    ...options,
  });
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.setDefaultTimeout(30000);
    return await work(page);
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

// Reads the request from stdin, runs `main(request)`, prints its result as one JSON line.
function runStdin(main) {
  let input = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => { input += chunk; });
  process.stdin.on('end', () => {
    main(JSON.parse(input)).then(
      (out) => { process.stdout.write(JSON.stringify(out) + '\n'); },
      (e) => { process.stderr.write(`browser step failed: ${e && e.stack || e}\n`); process.exit(1); },
    );
  });
}

module.exports = { withPage, runStdin };
