// Drives Debian's headless Chromium through the sandbox checkout page for the Rust browser test.
// Reads {"url","successPrefix","outDir"} as JSON on stdin; prints one JSON result on stdout:
// the page's title and amount, the URL it landed on after Pay, the success page's text, and the
// screenshots it saved. Exits non-zero (with the reason on stderr) if any step fails.
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

async function main(req) {
  fs.mkdirSync(req.outDir, { recursive: true });
  // A fresh, empty profile every run (--user-data-dir).
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'escrow-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
    viewport: { width: 900, height: 700 },
    timeout: 60000,
  });
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.setDefaultTimeout(30000);
    await page.goto(req.url, { waitUntil: 'load' });
    const title = (await page.textContent('#title')).trim();
    const amount = (await page.textContent('#amount')).trim();
    const checkoutShot = path.join(req.outDir, 'sandbox-checkout.png');
    await page.screenshot({ path: checkoutShot, fullPage: true });
    await Promise.all([
      page.waitForURL((u) => u.toString().startsWith(req.successPrefix), { waitUntil: 'load' }),
      page.click('#pay'),
    ]);
    const landed = page.url();
    const successText = (await page.textContent('body')).trim();
    const successShot = path.join(req.outDir, 'sandbox-success.png');
    await page.screenshot({ path: successShot, fullPage: true });
    return { title, amount, landed, successText, screenshots: [checkoutShot, successShot] };
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
