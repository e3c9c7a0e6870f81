// Drives Debian's headless Chromium through the sandbox onboarding page (money out) for the
// Rust browser test. Reads {"url","returnPrefix","outDir"} as JSON on stdin; prints one JSON
// result on stdout: the account the page shows, the URL it landed on after "Complete
// onboarding", the return page's text, and the screenshots it saved. Exits non-zero (with the
// reason on stderr) if any step fails.
'use strict';
const fs = require('fs');
const path = require('path');
const { withPage, runStdin } = require('./chromium');

async function main(req) {
  fs.mkdirSync(req.outDir, { recursive: true });
  return withPage({ viewport: { width: 900, height: 700 } }, async (page) => {
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
  });
}

runStdin(main);
