#!/usr/bin/env bash
# First start of the db container (docker-entrypoint-initdb.d, after
# 10-colpali-roles.sql): a login for each service, in its group, with the
# password from its Docker secret. See sql/roles.sql for what each may do.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v owner="$(cat /run/secrets/owner_password)" \
  -v ingest="$(cat /run/secrets/ingest_password)" \
  -v search="$(cat /run/secrets/search_password)" <<'SQL'
ALTER ROLE colpali_owner LOGIN PASSWORD :'owner';
CREATE ROLE colpali_ingest LOGIN PASSWORD :'ingest' IN ROLE colpali_writer;
CREATE ROLE colpali_search LOGIN PASSWORD :'search' IN ROLE colpali_reader;
SQL
