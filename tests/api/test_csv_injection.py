"""CSV injection (#13 item 9): every CSV the service sends goes through one writer, which
defuses each text cell that a spreadsheet would run as a formula, whatever CSV it is in."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from crm.entrypoints.api.csv_writer import FORMULA_LEADS, csv_text
from tests.api.test_imports import imported
from tests.support.api import Api

SRC = Path(__file__).resolve().parents[2] / "src"
PAYLOAD = "cmd|' /C calc'!A0"
HARMLESS = ("5", "'=already quoted", "a=b", " =spaced", "")


def parsed(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize("lead", FORMULA_LEADS)
def test_the_writer_defuses_every_dangerous_lead_in_any_cell(lead: str) -> None:
    text = csv_text([[lead + PAYLOAD, "x"], ["x", lead + PAYLOAD], [lead]])
    assert parsed(text) == [["'" + lead + PAYLOAD, "x"], ["x", "'" + lead + PAYLOAD], ["'" + lead]]


def test_the_writer_leaves_other_text_and_real_numbers_alone() -> None:
    # Text that looks like a negative number is prefixed too (see csv_writer); numbers are not.
    rows = parsed(csv_text([[*HARMLESS, "-5", -5, 3.5, 7]]))
    assert rows == [[*HARMLESS, "'-5", "-5", "3.5", "7"]]


def test_no_other_module_writes_csv() -> None:
    writers = re.compile(r"csv\.(writer|DictWriter)\(")
    found = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if writers.search(path.read_text()) and path.name != "csv_writer.py"
    ]
    assert found == []


async def test_failed_rows_defuse_the_header_and_every_cell(api: Api) -> None:
    auth = await api.key()
    header = ["Email", "Note", "=HYPERLINK(1)"]
    leads = [*FORMULA_LEADS, "-5", "+14155550123"]
    lines = [",".join(header)]
    for lead in leads:
        cell = lead if lead[0].isdigit() or lead in ("-5", "+14155550123") else lead + PAYLOAD
        # A bad email fails the row; its cells come back as they were read.
        lines.append(f'"{lead}not-an-email","{cell}",x')
    job = await imported(api, auth, ("\n".join(lines) + "\n").encode(), mapping={"Email": "emails"})
    assert job["progress"]["failed"] == len(leads), job
    response = await api.client.get(f"/v1/imports/{job['id']}/failed-rows", headers=auth)
    assert response.status_code == 200, response.text
    rows = parsed(response.text)
    assert rows[0] == ["line", "code", "message", "Email", "Note", "'=HYPERLINK(1)"]
    dangerous = [cell for row in rows for cell in row if cell.startswith(FORMULA_LEADS)]
    assert dangerous == []
    notes = [row[4] for row in rows[1:]]
    assert notes == ["'" + lead + PAYLOAD for lead in FORMULA_LEADS] + ["'-5", "'+14155550123"]
    assert [row[3] for row in rows[1:]] == ["'" + lead + "not-an-email" for lead in leads]


async def test_exports_defuse_every_dangerous_lead(api: Api) -> None:
    auth = await api.key()
    define = {"object_type": "contact", "key": "plan", "label": "Plan", "field_type": "text"}
    made = await api.client.post("/v1/custom-fields", json=define, headers=auth)
    assert made.status_code == 201, made.text
    for n, lead in enumerate(FORMULA_LEADS):
        body = {"first_name": f"P{n}", "custom_fields": {"plan": lead + PAYLOAD}}
        if lead.isprintable():
            body["job_title"] = lead + PAYLOAD
        created = await api.client.post("/v1/contacts", json=body, headers=auth)
        assert created.status_code == 201, (repr(lead), created.text)
    response = await api.client.post(
        "/v1/contacts/export", json={"sort": "created_at"}, headers=auth
    )
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["custom_fields.plan"] for r in rows] == [
        "'" + lead + PAYLOAD for lead in FORMULA_LEADS
    ]
    titles = [r["job_title"] for r in rows if r["job_title"]]
    assert titles == ["'" + lead + PAYLOAD for lead in FORMULA_LEADS if lead.isprintable()]
