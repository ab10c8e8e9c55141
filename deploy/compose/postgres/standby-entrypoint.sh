#!/usr/bin/env bash
# Entry point of region B's standby. When the data directory is empty it
# clones the primary with pg_basebackup through the primary's replication
# slot; -R writes standby.signal and primary_conninfo with that slot. Then the
# image's own entry point starts PostgreSQL on the copy. Later starts find
# the data directory filled and go straight on, also after a promotion.
set -Eeuo pipefail

: "${PGDATA:?}" "${PRIMARY_HOST:?}" "${PRIMARY_PORT:=5432}"
: "${REPLICATION_USER:?}" "${REPLICATION_PASSWORD:?}" "${REPLICATION_SLOT:?}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 0700 "$PGDATA"

    until gosu postgres pg_isready -q -h "$PRIMARY_HOST" -p "$PRIMARY_PORT"; do
        echo "standby: primary $PRIMARY_HOST:$PRIMARY_PORT not ready, waiting"
        sleep 2
    done

    echo "standby: cloning $PRIMARY_HOST:$PRIMARY_PORT through slot $REPLICATION_SLOT"
    # On failure pg_basebackup empties the directory again, so a restart of
    # this container retries the clone from scratch.
    PGPASSWORD="$REPLICATION_PASSWORD" gosu postgres pg_basebackup \
        --host="$PRIMARY_HOST" --port="$PRIMARY_PORT" \
        --username="$REPLICATION_USER" --pgdata="$PGDATA" \
        --wal-method=stream --slot="$REPLICATION_SLOT" \
        --checkpoint=fast --write-recovery-conf
fi

exec docker-entrypoint.sh "$@"
