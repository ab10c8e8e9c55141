#!/usr/bin/env bash
# First start of the region A primary (run once by the image's entry point,
# from /docker-entrypoint-initdb.d, while the data directory is new): the
# replication role and the Odoo role, the physical slot region B's standby
# streams through, and replication access in pg_hba.conf.
#
# The slot reserves WAL from now on, so the standby's clone can start from it
# even if the standby comes up much later.
set -Eeuo pipefail

: "${REPLICATION_USER:?}" "${REPLICATION_PASSWORD:?}" "${REPLICATION_SLOT:?}"
: "${ODOO_DB_USER:?}" "${ODOO_DB_PASSWORD:?}"

psql --no-psqlrc -v ON_ERROR_STOP=1 \
    --username "$POSTGRES_USER" --dbname postgres \
    -v repl_user="$REPLICATION_USER" \
    -v repl_password="$REPLICATION_PASSWORD" \
    -v slot="$REPLICATION_SLOT" \
    -v odoo_user="$ODOO_DB_USER" \
    -v odoo_password="$ODOO_DB_PASSWORD" <<'SQL'
CREATE ROLE :"repl_user" WITH LOGIN REPLICATION PASSWORD :'repl_password';
CREATE ROLE :"odoo_user" WITH LOGIN CREATEDB PASSWORD :'odoo_password';
SELECT pg_create_physical_replication_slot(:'slot', true);
SQL

# "all" in pg_hba.conf does not cover replication connections.
echo "host replication $REPLICATION_USER all scram-sha-256" >> "$PGDATA/pg_hba.conf"
