# The CRM API image: `crm migrate`, then `crm serve` on port 8000 (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    PATH=/app/.venv/bin:$PATH

RUN pip install --no-cache-dir uv

WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project

# The project is installed editable: migrations are found beside src/ (alembic/, alembic.ini).
COPY alembic.ini ./
COPY alembic ./alembic
COPY src ./src
RUN uv sync --locked --no-dev

RUN useradd --system --no-create-home crm
USER crm

EXPOSE 8000
CMD ["sh", "-c", "crm migrate && exec crm serve --host 0.0.0.0 --port 8000"]
