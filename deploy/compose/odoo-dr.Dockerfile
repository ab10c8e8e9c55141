# syntax=docker/dockerfile:1
# The odoo-dr worker (and, later, the chat bridge) for the compose stack.
# Build context: the repository root; odoo-dr.Dockerfile.dockerignore beside
# this file keeps the virtualenv, git data and tests out of it.

# --- wheels: psycopg2 (needed by barman) builds from source -------------------
FROM python:3.11-slim-bookworm AS wheels
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libpq-dev \
    && rm -rf /var/lib/apt/lists/*
RUN --mount=type=bind,source=.,target=/src,rw \
    pip wheel --no-cache-dir --wheel-dir /wheels /src

# --- runtime ------------------------------------------------------------------
FROM python:3.11-slim-bookworm

# PostgreSQL 15 server binaries: restore drills start their isolated copy in
# this container (inventory: drill.bindir). No cluster is created at install.
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-common \
    && sed -ri 's/#?\s*create_main_cluster\s*=.*/create_main_cluster = false/' \
        /etc/postgresql-common/createcluster.conf \
    && apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/*

RUN --mount=type=bind,from=wheels,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels odoo-dr

# uid 10001 is also the owner traefik-seed gives the routing folder to (see
# docker-compose.yml). PostgreSQL refuses to run as root; drills run as this
# user, so the inventory names no os_user.
RUN useradd --system --uid 10001 --user-group --create-home \
        --home-dir /var/lib/odoo-dr odoo-dr \
    && mkdir -p /var/lib/odoo-dr/drills /etc/odoo-dr \
    && chown odoo-dr:odoo-dr /var/lib/odoo-dr/drills
USER odoo-dr
WORKDIR /var/lib/odoo-dr

CMD ["odoo-dr", "worker", "--inventory", "/etc/odoo-dr/inventory.yaml"]
