"""Demo data for `crm dev`: a small sales team's CRM, written through the use cases.

Everything goes through the container's use cases as the caller given (the dev workspace's
key), so the data is valid by construction and leaves the events, timelines and stage
history real writes leave. A seeded random makes it the same every time (due dates and
close dates are relative to today, so that some tasks are overdue on any day).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from itertools import product
from typing import Any

from crm.bootstrap import Container
from crm.domain.model.company import Company
from crm.domain.model.contact import Contact
from crm.domain.model.deal import Deal, LinkedObject
from crm.domain.model.note import RecordType
from crm.domain.model.permissions import Principal
from crm.domain.pagination import PageRequest
from crm.domain.use_cases.companies import CreateCompanyCommand
from crm.domain.use_cases.company_links import LinkCompanyCommand
from crm.domain.use_cases.create_contact import CreateContactCommand
from crm.domain.use_cases.deal_links import LinkCommand
from crm.domain.use_cases.deals import CreateDealCommand, MoveDealCommand
from crm.domain.use_cases.notes import AddNoteCommand
from crm.domain.use_cases.tasks import CreateTaskCommand, TaskCommand

SEED = 13
CONTACTS = 50
DEALS_PER_STAGE = 2
NOTES = 20
TASKS = 12
TASKS_DONE = 3

COMPANIES = (
    ("Northwind Traders", "northwind.example", "Wholesale", "51-200", "GB", "GBP"),
    ("Globex", "globex.example", "Manufacturing", "1001-5000", "US", "USD"),
    ("Initech", "initech.example", "Software", "201-500", "US", "USD"),
    ("Umbrella Health", "umbrella-health.example", "Healthcare", "501-1000", "DE", "EUR"),
    ("Acme Robotics", "acme-robotics.example", "Robotics", "11-50", "FR", "EUR"),
    ("Blue Harbor Foods", "blueharbor.example", "Food & beverage", "51-200", "GB", "GBP"),
)
FIRST_NAMES = (
    "Ada", "Alan", "Grace", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances",
    "Edsger", "Radia", "Donald", "Hedy", "Tim", "Katherine", "John", "Sophie", "Yukihiro",
)  # fmt: skip
LAST_NAMES = (
    "Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson",
    "Allen", "Dijkstra", "Perlman", "Knuth", "Lamarr", "Berners-Lee", "Johnson", "Backus",
)  # fmt: skip
TITLES = ("CEO", "CTO", "Head of Sales", "Procurement Manager", "Engineer", "Office Manager")
STAGES = ("lead", "marketing_qualified_lead", "sales_qualified_lead", "opportunity", "customer")
TAGS = ("vip", "newsletter", "decision-maker", "churn-risk")
SOURCES = ("website", "referral", "event", "outbound")
PRODUCTS = ("Annual licence", "Pilot", "Expansion", "Support plan", "Onboarding")
NOTE_TEXTS = (
    "Called to follow up on the proposal; they want a second demo for the finance team.",
    "Prefers email over calls. Budget approved for next quarter.",
    "Met at the trade fair. Interested in the API integration.",
    "Sent pricing for 50 seats; waiting on legal review.",
    "Renewal risk: usage dropped last month. Schedule a check-in.",
)
TASK_TITLES = (
    "Send the revised quote", "Book a demo with the finance team", "Follow up on the contract",
    "Prepare the onboarding plan", "Check in after the pilot", "Ask for a referral",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class DemoData:
    """What `fill` made."""

    companies: int
    contacts: int
    deals: int
    notes: int
    tasks: int
    tags: int
    custom_fields: int


async def fill(c: Container, who: Principal, seed: int = SEED) -> DemoData:
    """Fill the caller's workspace with the demo CRM."""
    rng = random.Random(seed)  # noqa: S311 - sample data, not secrets
    await c.create_custom_field.execute(
        who,
        {
            "object_type": "contact",
            "key": "lead_source",
            "label": "Lead source",
            "field_type": "single_select",
            "options": [{"value": s} for s in SOURCES],
        },
    )
    companies = [await _company(c, who, row) for row in COMPANIES]
    contacts = await _contacts(c, who, rng, companies)
    deals = await _deals(c, who, rng, companies, contacts)
    records: list[tuple[RecordType, Any]] = [
        *((RecordType.CONTACT, x) for x in contacts),
        *((RecordType.COMPANY, x) for x, _ in companies),
        *((RecordType.DEAL, x) for x in deals),
    ]
    for n in range(NOTES):
        kind, record = rng.choice(records)
        text = rng.choice(NOTE_TEXTS)
        await c.add_note.execute(AddNoteCommand(who, kind, record.id, text, pinned=n % 7 == 0))
    await _tasks(c, who, rng, records)
    tags = {tag for contact in contacts for tag in contact.tags}
    return DemoData(len(companies), len(contacts), len(deals), NOTES, TASKS, len(tags), 1)


async def _company(c: Container, who: Principal, row: tuple[str, ...]) -> tuple[Company, str]:
    name, domain, industry, size, country, currency = row
    fields = {
        "name": name,
        "domain": domain,
        "industry": industry,
        "size_band": size,
        "country": country,
        "website": f"https://www.{domain}",
    }
    return await c.create_company.execute(CreateCompanyCommand(who, fields)), currency


async def _contacts(
    c: Container, who: Principal, rng: random.Random, companies: list[tuple[Company, str]]
) -> list[Contact]:
    made = []
    for n, (first, last) in enumerate(rng.sample(list(product(FIRST_NAMES, LAST_NAMES)), CONTACTS)):
        company, _ = companies[n % len(companies)]
        fields: dict[str, Any] = {
            "first_name": first,
            "last_name": last,
            "emails": [f"{first}.{last}@{company.domain}".lower()],
            "job_title": rng.choice(TITLES),
            "company_name": company.name,
            "lifecycle_stage": rng.choice(STAGES),
            "tags": rng.sample(TAGS, rng.randint(0, 2)),
            "custom_fields": {"lead_source": rng.choice(SOURCES)},
        }
        if rng.random() < 0.7:
            fields["phones"] = [f"+44 20 7946 0{n:03d}" if n % 2 else f"+1 415 555 0{n:03d}"]
        contact = await c.create_contact.execute(CreateContactCommand(who, fields))
        await c.link_company.execute(LinkCompanyCommand(who, contact.id, company.id, True))
        made.append(contact)
    return made


async def _deals(
    c: Container,
    who: Principal,
    rng: random.Random,
    companies: list[tuple[Company, str]],
    contacts: list[Contact],
) -> list[Deal]:
    """Deals in every stage of the default pipeline, each linked to a company and one of its
    people: made in the first stage, then moved on, so each has a stage history."""
    pipelines = await c.sales.list_pipelines.execute(who, PageRequest())
    pipeline = next(p for p in pipelines.items if p.is_default)
    first, today = pipeline.stages[0].id, c.clock.now().date()
    made = []
    for stage_id in (s.id for s in pipeline.stages for _ in range(DEALS_PER_STAGE)):
        company, currency = rng.choice(companies)
        fields = {
            "name": f"{company.name}: {rng.choice(PRODUCTS)}",
            "amount_minor": rng.randrange(50, 2500) * 10_000,
            "currency": currency,
            "expected_close_date": today + timedelta(days=rng.randint(7, 90)),
        }
        deal = await c.sales.create_deal.execute(CreateDealCommand(who, fields, pipeline.id, first))
        if stage_id != first:
            deal = await c.sales.move_deal.execute(MoveDealCommand(who, deal.id, stage_id))
        buyer = rng.choice([x for x in contacts if x.company_name == company.name])
        for kind, other in ((LinkedObject.COMPANY, company.id), (LinkedObject.CONTACT, buyer.id)):
            await c.sales.link_deal.execute(LinkCommand(who, deal.id, kind, other))
        made.append(deal)
    return made


async def _tasks(
    c: Container, who: Principal, rng: random.Random, records: list[tuple[RecordType, Any]]
) -> None:
    """Tasks about records, due from three days ago (overdue) to ten days ahead; some done."""
    now = c.clock.now()
    for n in range(TASKS):
        kind, record = rng.choice(records)
        fields = {
            "title": rng.choice(TASK_TITLES),
            "due_at": now + timedelta(hours=rng.randint(-72, 240)),
            "priority": rng.choice(("low", "normal", "high")),
            "record_type": kind.value,
            "record_id": record.id,
        }
        task = await c.create_task.execute(CreateTaskCommand(who, fields))
        if n < TASKS_DONE:
            await c.complete_task.execute(TaskCommand(who, task.id))
