// Drives Debian's headless Chromium through the sandbox onboarding page (money out) for the
// Rust browser test. Reads {"url","returnPrefix","outDir"} as JSON on stdin; prints one JSON
// result on stdout: the account the page shows, the URL it landed on after "Complete
// onboarding", the return page's text, and the screenshots it saved. Exits non-zero (with the
// reason on stderr) if any step fails.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

// As checkout-browser.js: no background networking on the closed network.
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
    const account = (await page.textContent('#account')).trim();
    const before = path.join(req.outDir, 'sandbox-onboarding.png');
    await page.screenshot({ path: before, fullPage: true });
    await Promise.all([
      page.waitForURL((u) => u.toString().startsWith(req.returnPrefix), { waitUntil: 'load' }),
      page.click('#complete'),
    ]);
    const landed = page.url();
    const returnText = (await page.textContent('body')).trim();
    const after = path.join(req.outDir, 'sandbox-onboarding-return.png');
    await page.screenshot({ path: after, fullPage: true });
    return { account, landed, returnText, screenshots: [before, after] };
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
