#!/bin/bash
# The replica's start (docker-compose.yml, service db-replica, running as the postgres user): on an empty data
# directory, a base backup of the primary through its slot, then the two things that make it a hot standby,
# standby.signal and primary_conninfo; on later starts the standby resumes streaming where it stopped.
set -euo pipefail
PGDATA=${PGDATA:-/var/lib/postgresql/data}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    # The primary may still be finishing its first start: retry until it takes replication connections.
    until PGPASSWORD="$REPLICATION_PASSWORD" pg_basebackup --host=db --username=replicator \
        --pgdata="$PGDATA" --wal-method=stream --slot=replica1 --checkpoint=fast --no-password; do
        echo "waiting for the primary to accept replication connections"
        rm -rf "${PGDATA:?}"/*
        sleep 2
    done
    touch "$PGDATA/standby.signal"
    cat >> "$PGDATA/postgresql.auto.conf" <<CONF
primary_conninfo = 'host=db port=5432 user=replicator password=$REPLICATION_PASSWORD application_name=replica1'
primary_slot_name = 'replica1'
hot_standby = on
CONF
    chmod 0700 "$PGDATA"
fi
exec postgres -D "$PGDATA"
