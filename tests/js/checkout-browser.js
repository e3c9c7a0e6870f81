// Drives Debian's headless Chromium through the sandbox checkout page for the Rust browser test.
// Reads {"url","successPrefix","outDir"} as JSON on stdin; prints one JSON result on stdout:
// the page's title and amount, the URL it landed on after Pay, the success page's text, and the
// screenshots it saved. Exits non-zero (with the reason on stderr) if any step fails.
'use strict';
const fs = require('fs');
const path = require('path');
const { withPage, runStdin } = require('./chromium');

async function main(req) {
  fs.mkdirSync(req.outDir, { recursive: true });
  return withPage({ viewport: { width: 900, height: 700 } }, async (page) => {
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
  });
}

runStdin(main);
