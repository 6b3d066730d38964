/**
 * Checking the signature of a webhook delivery (the `CRM-Signature` header).
 *
 * `CRM-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, keyed by the
 * subscription's whole secret (`whsec_...`). While a rotated secret still signs (24 hours),
 * the header carries two `v1=` values: either may match.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export interface VerifyWebhookOptions {
  /** How far the signature's time may be from now, in seconds (default 300). */
  toleranceSeconds?: number;
  /** The current time in unix seconds (default: the clock); for tests. */
  now?: number;
}

/**
 * True when `header` signs `body` (the raw request body, exactly as received: parse the JSON
 * after checking) with `secret`, and its time is within the tolerance of now.
 */
export function verifyWebhook(
  body: string | Uint8Array,
  header: string,
  secret: string,
  options: VerifyWebhookOptions = {},
): boolean {
  const tolerance = options.toleranceSeconds ?? 300;
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const pairs = header.split(",").map((part) => {
    const at = part.indexOf("=");
    return at < 0 ? ["", ""] : [part.slice(0, at).trim(), part.slice(at + 1).trim()];
  });
  const stamps = pairs.filter(([key]) => key === "t").map(([, value]) => value ?? "");
  const stamp = stamps.length === 1 ? stamps[0] : undefined;
  if (stamp === undefined || !/^\d+$/.test(stamp)) {
    return false;
  }
  const timestamp = Number(stamp);
  if (Math.abs(now - timestamp) > tolerance) {
    return false;
  }
  const raw = typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body);
  const expected = createHmac("sha256", secret)
    .update(Buffer.concat([Buffer.from(`${stamp}.`, "utf8"), raw]))
    .digest();
  return pairs
    .filter(([key]) => key === "v1")
    .some(([, value]) => {
      const given = Buffer.from(value ?? "", "hex");
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
}
