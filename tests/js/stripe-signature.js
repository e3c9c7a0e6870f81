// The official Stripe SDK's webhook signing, for the Rust tests' cross-check.
// Reads one JSON request on stdin and prints one JSON answer on stdout:
//   {"op":"sign","payload":"…","secret":"whsec_…","timestamp":1700000000}
//     → {"header":"t=…,v1=…"}            (stripe.webhooks.generateTestHeaderString)
//   {"op":"verify","payload":"…","header":"t=…,v1=…","secret":"whsec_…"}
//     → {"ok":true,"id":"evt_…"} or {"ok":false,"error":"…"}   (stripe.webhooks.constructEvent)
'use strict';
const Stripe = require('stripe');

// No request is ever sent: the key only satisfies the constructor.
const stripe = new Stripe('sk_test_not_used_offline');

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const req = JSON.parse(input);
  let out;
  if (req.op === 'sign') {
    out = {
      header: stripe.webhooks.generateTestHeaderString({
        payload: req.payload,
        secret: req.secret,
        timestamp: req.timestamp,
      }),
    };
  } else if (req.op === 'verify') {
    try {
      const event = stripe.webhooks.constructEvent(req.payload, req.header, req.secret);
      out = { ok: true, id: event.id };
    } catch (e) {
      out = { ok: false, error: String(e.message || e) };
    }
  } else {
    throw new Error(`unknown op ${req.op}`);
  }
  process.stdout.write(JSON.stringify(out) + '\n');
});
