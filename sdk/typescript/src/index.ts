export * from "./client.js";
export { type VerifyWebhookOptions, verifyWebhook } from "./webhooks.js";
export type { components, operations, paths } from "./schema.js";
