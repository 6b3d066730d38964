"""search: trigram indexes for fuzzy search (`?q=`) on contacts, companies and deals

`array_to_string` and `concat_ws` are only STABLE, so an index cannot use them directly: the
searched text of a contact (names, emails, phones) and of a company (name, domain) is built by
IMMUTABLE SQL functions, which the index and the search queries both call.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 12:00:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        "CREATE FUNCTION crm_contact_search_text("
        "display_name text, first_name text, last_name text, emails text[], phones text[])"
        " RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS"
        " $$ SELECT concat_ws(' ', display_name, first_name, last_name,"
        " array_to_string(emails, ' '), array_to_string(phones, ' ')) $$"
    )
    op.execute(
        "CREATE FUNCTION crm_company_search_text(name text, domain text)"
        " RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS"
        " $$ SELECT concat_ws(' ', name, domain) $$"
    )
    op.execute(
        "CREATE INDEX ix_contact_search_text ON contact USING gin ("
        "crm_contact_search_text(display_name, first_name, last_name, emails, phones)"
        " gin_trgm_ops)"
    )
    op.execute(
        "CREATE INDEX ix_company_search_text ON company USING gin ("
        "crm_company_search_text(name, domain) gin_trgm_ops)"
    )
    op.execute("CREATE INDEX ix_deal_name_trgm ON deal USING gin (name gin_trgm_ops)")


def downgrade() -> None:
    op.execute("DROP INDEX ix_deal_name_trgm")
    op.execute("DROP INDEX ix_company_search_text")
    op.execute("DROP INDEX ix_contact_search_text")
    op.execute("DROP FUNCTION crm_company_search_text(text, text)")
    op.execute("DROP FUNCTION crm_contact_search_text(text, text, text, text[], text[])")
    op.execute("DROP EXTENSION IF EXISTS pg_trgm")
