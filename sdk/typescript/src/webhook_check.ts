/**
 * verifyWebhook against a real delivery, for the test suite:
 * node dist/webhook_check.js <case.json>, the file holding {body, header, secret, old_secret?}
 * as a receiver got them. Prints a line per check; exits non-zero at the first broken one.
 */
import { readFileSync } from "node:fs";
import { verifyWebhook } from "./index.js";

interface Case {
  body: string;
  header: string;
  secret: string;
  old_secret?: string;
}

function check(name: string, condition: boolean): void {
  if (!condition) {
    throw new Error(`broken: ${name}`);
  }
  console.log(`ok ${name}`);
}

const path = process.argv[2];
if (path === undefined) {
  throw new Error("usage: node dist/webhook_check.js <case.json>");
}
const c = JSON.parse(readFileSync(path, "utf8")) as Case;
const signedAt = Number(/t=(\d+)/.exec(c.header)?.[1] ?? "0");
check("a real delivery verifies", verifyWebhook(c.body, c.header, c.secret));
check("as bytes too", verifyWebhook(new TextEncoder().encode(c.body), c.header, c.secret));
check("a changed body fails", !verifyWebhook(c.body + " ", c.header, c.secret));
check("another secret fails", !verifyWebhook(c.body, c.header, `${c.secret}x`));
check(
  "an old signature fails",
  !verifyWebhook(c.body, c.header, c.secret, { now: signedAt + 301 }),
);
check(
  "within a given tolerance it passes",
  verifyWebhook(c.body, c.header, c.secret, { now: signedAt + 301, toleranceSeconds: 600 }),
);
check("a header without t fails", !verifyWebhook(c.body, c.header.replace(/t=\d+,?/, ""), c.secret));
if (c.old_secret !== undefined) {
  check("the rotated-out secret verifies too", verifyWebhook(c.body, c.header, c.old_secret));
}
console.log("webhook checks complete");
