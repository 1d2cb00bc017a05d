# Citus 13.2 (the last Citus line for PostgreSQL 15) with the colpali
# extension: every node of the Compose profile `citus` (coordinator and
# workers) runs this image. The official Citus image is the official postgres
# image (Debian bookworm, PostgreSQL 15 from PGDG) with Citus installed and
# shared_preload_libraries='citus' in its configuration sample; its initdb
# step creates the citus extension in POSTGRES_DB.
#
#   docker build -f docker/citus.Dockerfile -t colpali-pg/citus .
#
# Every step below FROM is the same as in docker/db.Dockerfile (the extension
# built from sql/ with PGXS, the colpali roles and logins on first start);
# scripts/check-deploy.sh fails when the two differ.

FROM citusdata/citus:13.2.0-pg15 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential postgresql-server-dev-15 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY sql/ sql/
COPY Sources/ColPaliKernels/ Sources/ColPaliKernels/
COPY scripts/install-extension.sh scripts/install-extension.sh
# DESTDIR keeps the installed files apart, to copy just them into the final image.
RUN DESTDIR=/out bash scripts/install-extension.sh

FROM citusdata/citus:13.2.0-pg15
COPY --from=build /out/usr/lib/postgresql/15/lib/ /usr/lib/postgresql/15/lib/
COPY --from=build /out/usr/share/postgresql/15/extension/ /usr/share/postgresql/15/extension/
# On first start, on every node (after the image's own 001-create-citus-
# extension.sql): the colpali roles and a login for each service, with the
# same passwords everywhere, so that the roles exist on the workers before
# Citus connects to them as those roles.
COPY sql/roles.sql /docker-entrypoint-initdb.d/10-colpali-roles.sql
COPY docker/initdb/20-colpali-logins.sh /docker-entrypoint-initdb.d/20-colpali-logins.sh
# The official entrypoint runs the server as this account (postgres, uid 999)
# when started as it.
USER 999
