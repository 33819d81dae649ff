#!/bin/bash
# Run once by the postgres image on the primary's first start (/docker-entrypoint-initdb.d): the role the
# replica streams as, the physical slot that keeps the WAL it has not replayed yet, and the pg_hba line that
# lets the role connect for replication (the image's own lines match databases, never `replication`).
set -euo pipefail
psql -v ON_ERROR_STOP=1 -v password="$REPLICATION_PASSWORD" --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'password';
SELECT pg_create_physical_replication_slot('replica1');
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
