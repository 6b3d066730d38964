/**
 * One trip through the contacts API with the SDK, against a live server:
 * CRM_BASE_URL=http://127.0.0.1:8000 CRM_API_KEY=crm_sk_... node dist/journey.js
 * Prints a line per step; exits non-zero at the first broken expectation.
 */
import { type Contact, CrmProblemError, createCrmClient, etagOf } from "./index.js";

function fail(message: string): never {
  throw new Error(message);
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) {
    fail(message);
  }
}

function step(name: string, detail: string): void {
  console.log(`ok ${name}: ${detail}`);
}

/** The problem `call` must throw; anything else (success included) fails the journey. */
async function expectProblem(call: () => Promise<unknown>): Promise<CrmProblemError> {
  try {
    await call();
  } catch (error) {
    if (error instanceof CrmProblemError) {
      return error;
    }
    throw error;
  }
  return fail("expected a problem response, the call succeeded");
}

function env(name: string): string {
  return process.env[name] ?? fail(`set ${name}`);
}

async function main(): Promise<void> {
  const sentKeys: (string | null)[] = [];
  const crm = createCrmClient({
    baseUrl: env("CRM_BASE_URL"),
    apiKey: env("CRM_API_KEY"),
    fetch: (request) => {
      if (request.method === "POST") {
        sentKeys.push(request.headers.get("Idempotency-Key"));
      }
      return fetch(request);
    },
  });
  const run = Date.now().toString(36);
  const givenKey = `journey-${run}`;

  const created: Contact[] = [];
  for (const name of ["Ada", "Grace", "Edsger"]) {
    const email = `${name.toLowerCase()}.${run}@example.com`;
    const options = name === "Edsger" ? { idempotencyKey: givenKey } : {};
    const contact = await crm.contacts.create({ first_name: name, emails: [email] }, options);
    check(contact.version === 1, `a new contact has version 1, got ${contact.version}`);
    check(contact.emails[0] === email, `email round-trips: ${contact.emails.join(",")}`);
    created.push(contact);
  }
  step("create", `${created.length} contacts`);

  const [auto1, auto2, given] = sentKeys;
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  check(sentKeys.length === 3, `3 POSTs sent, saw ${sentKeys.length}`);
  check(uuid.test(auto1 ?? "") && uuid.test(auto2 ?? ""), "each POST gets a UUID key");
  check(auto1 !== auto2, "every call gets a key of its own");
  check(given === givenKey, `the caller's key is sent as given, saw ${given}`);
  step("idempotency keys", "generated per POST unless given");

  const first = created[0] ?? fail("nothing created");
  const read = await crm.GET("/v1/contacts/{contact_id}", {
    params: { path: { contact_id: first.id } },
  });
  const etag = read.response.headers.get("ETag");
  check(read.data?.id === first.id, "get returns the contact asked for");
  check(etag === etagOf(first), `ETag ${etag} names version ${first.version}`);
  step("get", `${first.id} ETag ${etag}`);

  const page1 = await crm.contacts.list({ limit: 2 });
  check(page1.data.length === 2, `page 1 has 2 contacts, got ${page1.data.length}`);
  const cursor = page1.next_cursor ?? fail("page 1 of 3 contacts has no next_cursor");
  const page2 = await crm.contacts.list({ limit: 2, cursor });
  const ids1 = page1.data.map((c) => c.id);
  const ids2 = page2.data.map((c) => c.id);
  check(ids2.length >= 1, "page 2 continues the list");
  check(!ids2.some((id) => ids1.includes(id)), "page 2 repeats nothing from page 1");
  const seen = new Set([...ids1, ...ids2]);
  check(created.every((c) => seen.has(c.id)), "two pages hold every created contact");
  step("list", `page 1 ${ids1.length} + page 2 ${ids2.length} contacts, no overlap`);

  const patched = await crm.contacts.update(
    first.id,
    { job_title: "Analyst" },
    { ifMatch: etag ?? fail("no ETag on get") },
  );
  check(patched.version === first.version + 1, `version ${first.version} → ${patched.version}`);
  check(patched.job_title === "Analyst", "the patch is applied");
  step("patch", `If-Match ${etag} → version ${patched.version}`);

  const stale = await expectProblem(() =>
    crm.contacts.update(first.id, { job_title: "Stale" }, { ifMatch: etag }),
  );
  check(stale.status === 412, `a stale If-Match is 412, got ${stale.status}`);
  check(stale.code === "version_conflict", `code version_conflict, got ${stale.code}`);
  check(stale.requestId !== "", "the problem names its request_id");
  step("stale patch", `${stale.status} ${stale.code}`);

  await crm.contacts.delete(first.id, { ifMatch: etagOf(patched) });
  const gone = await expectProblem(() => crm.contacts.get(first.id));
  check(gone.status === 404, `a deleted contact is 404, got ${gone.status}`);
  check(gone.code === "contact_not_found", `code contact_not_found, got ${gone.code}`);
  step("delete", `then get is ${gone.status} ${gone.code}`);

  console.log("journey complete");
}

main().catch((error: unknown) => {
  console.error(`FAILED: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
