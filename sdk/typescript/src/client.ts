/**
 * A small typed client for the CRM API: openapi-fetch over the types generated from
 * openapi.json, plus the API key, an Idempotency-Key on every POST and problem responses
 * thrown as `CrmProblemError`.
 */
import createClient, { type Client, type Middleware } from "openapi-fetch";

import type { components, operations, paths } from "./schema.js";

type Schemas = components["schemas"];
export type Problem = Schemas["Problem"];
export type ProblemFieldError = Schemas["ProblemFieldError"];
export type Contact = Schemas["Contact"];
export type ContactCreate = Schemas["ContactCreate"];
export type ContactUpdate = Schemas["ContactUpdate"];
export type ContactPage = Schemas["ContactPage"];
export type ListContactsQuery = NonNullable<operations["listContacts"]["parameters"]["query"]>;

/** A non-2xx answer from the API, carrying its RFC 9457 problem document. */
export class CrmProblemError extends Error {
  readonly status: number;
  /** Stable machine-readable reason, e.g. `version_conflict`, `contact_not_found`. */
  readonly code: string;
  readonly detail: string;
  readonly requestId: string;
  readonly errors: ProblemFieldError[];

  constructor(readonly problem: Problem) {
    super(`${problem.status} ${problem.code}: ${problem.detail}`);
    this.name = "CrmProblemError";
    this.status = problem.status;
    this.code = problem.code;
    this.detail = problem.detail;
    this.requestId = problem.request_id;
    this.errors = problem.errors ?? [];
  }
}

export interface CrmClientOptions {
  /** Where the API is served, e.g. `https://crm.example.com` (no `/v1`). */
  baseUrl: string;
  /** A workspace API key, `crm_sk_...`. */
  apiKey: string;
  /** A `fetch` to use instead of `globalThis.fetch` (tests, proxies, retries). */
  fetch?: (input: Request) => Promise<Response>;
}

/** Per-call options of the POST helpers. */
export interface WriteOptions {
  /** Reuse a key to retry a create safely; a fresh UUID is sent when left out. */
  idempotencyKey?: string;
}

/** Per-call options of the conditional writes. */
export interface ConditionalOptions {
  /** The ETag of the version you read, e.g. `"3"`; a stale one fails with 412. */
  ifMatch?: string;
}

export interface ContactsApi {
  create(body: ContactCreate, options?: WriteOptions): Promise<Contact>;
  get(contactId: string): Promise<Contact>;
  list(query?: ListContactsQuery): Promise<ContactPage>;
  update(contactId: string, changes: ContactUpdate, options?: ConditionalOptions): Promise<Contact>;
  delete(contactId: string, options?: ConditionalOptions): Promise<void>;
}

/** The openapi-fetch client (`GET`, `POST`, ...) plus thin helpers per resource. */
export type CrmClient = Client<paths> & { contacts: ContactsApi };

const IDEMPOTENCY_KEY = "Idempotency-Key";

const idempotencyKeys: Middleware = {
  onRequest({ request }) {
    if (request.method === "POST" && !request.headers.has(IDEMPOTENCY_KEY)) {
      request.headers.set(IDEMPOTENCY_KEY, crypto.randomUUID());
    }
    return request;
  },
};

const problemsAsErrors: Middleware = {
  async onResponse({ request, response }) {
    if (!response.ok) {
      throw new CrmProblemError(await readProblem(request, response));
    }
  },
};

/** The response's problem document, or a stand-in when a proxy answered with something else. */
async function readProblem(request: Request, response: Response): Promise<Problem> {
  const text = await response.clone().text();
  try {
    const body: unknown = JSON.parse(text);
    if (isProblem(body)) {
      return body;
    }
  } catch {
    // Not JSON: fall through to the stand-in below.
  }
  return {
    type: "about:blank",
    title: response.statusText || `HTTP ${response.status}`,
    status: response.status,
    detail: text.slice(0, 500),
    instance: new URL(request.url).pathname,
    code: "unexpected_response",
    request_id: response.headers.get("X-Request-ID") ?? "",
  };
}

function isProblem(body: unknown): body is Problem {
  if (typeof body !== "object" || body === null) {
    return false;
  }
  const fields = body as Record<string, unknown>;
  return typeof fields["status"] === "number" && typeof fields["code"] === "string";
}

/** The ETag of a resource's version, e.g. `"3"`, as reads send it and `If-Match` expects. */
export function etagOf(resource: { version: number }): string {
  return `"${resource.version}"`;
}

/** A client for one workspace API key; every non-2xx response throws `CrmProblemError`. */
export function createCrmClient(options: CrmClientOptions): CrmClient {
  const client = createClient<paths>({
    baseUrl: options.baseUrl,
    headers: { Authorization: `Bearer ${options.apiKey}` },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  client.use(idempotencyKeys, problemsAsErrors);
  return Object.assign(client, { contacts: contactsApi(client) });
}

/** The body of a 2xx response; non-2xx never gets here (the middleware throws). */
function body<T>(result: { data?: T }): T {
  if (result.data === undefined) {
    throw new Error("The API answered 2xx without the documented body.");
  }
  return result.data;
}

function contactsApi(client: Client<paths>): ContactsApi {
  const path = (contactId: string) => ({ path: { contact_id: contactId } });
  return {
    async create(contact, { idempotencyKey } = {}) {
      const headers = idempotencyKey ? { [IDEMPOTENCY_KEY]: idempotencyKey } : {};
      return body(await client.POST("/v1/contacts", { body: contact, headers }));
    },
    async get(contactId) {
      return body(await client.GET("/v1/contacts/{contact_id}", { params: path(contactId) }));
    },
    async list(query = {}) {
      return body(await client.GET("/v1/contacts", { params: { query } }));
    },
    async update(contactId, changes, { ifMatch } = {}) {
      const params = { ...path(contactId), header: { "If-Match": ifMatch ?? null } };
      return body(await client.PATCH("/v1/contacts/{contact_id}", { params, body: changes }));
    },
    async delete(contactId, { ifMatch } = {}) {
      const params = { ...path(contactId), header: { "If-Match": ifMatch ?? null } };
      await client.DELETE("/v1/contacts/{contact_id}", { params });
    },
  };
}
