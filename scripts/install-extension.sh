#!/usr/bin/env bash
# Builds the colpali extension (sql/, with the kernel sources it compiles in)
# and installs it into the PostgreSQL that pg_config names: the one canonical
# way, used by the quickstart, the tests and the database image.
#
#   scripts/install-extension.sh                   # pg_config on PATH, sudo when not root
#   PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config scripts/install-extension.sh
#   DESTDIR=/out scripts/install-extension.sh      # stage the files (container builds)
#
# Then, in each database: `colpali migrate` (CREATE EXTENSION, or ALTER
# EXTENSION colpali UPDATE after an upgrade).
set -euo pipefail
cd "$(dirname "$0")/.."
pg_config=${PG_CONFIG:-pg_config}
command -v "$pg_config" >/dev/null || { echo "install-extension: $pg_config not found: install postgresql-server-dev-15 (scripts/install-system-packages.sh)" >&2; exit 1; }
make -C sql PG_CONFIG="$pg_config" >/dev/null
sudo=""
if [[ $(id -u) -ne 0 && -z "${DESTDIR:-}" ]]; then sudo="sudo"; fi
$sudo make -C sql install PG_CONFIG="$pg_config" ${DESTDIR:+DESTDIR="$DESTDIR"} >/dev/null
echo "installed the colpali extension $(sed -n "s/^default_version = '\(.*\)'/\1/p" sql/colpali.control) into $("$pg_config" --sharedir)/extension${DESTDIR:+ (staged under $DESTDIR)}"
