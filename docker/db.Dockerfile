# PostgreSQL 15 with the colpali extension, built from sql/ (and the kernel
# sources it compiles in) with PGXS on the official image.
#
#   docker build -f docker/db.Dockerfile -t colpali-pg/db .

FROM postgres:15.18-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential postgresql-server-dev-15 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY sql/ sql/
COPY Sources/ColPaliKernels/ Sources/ColPaliKernels/
COPY scripts/install-extension.sh scripts/install-extension.sh
# DESTDIR keeps the installed files apart, to copy just them into the final image.
RUN DESTDIR=/out bash scripts/install-extension.sh

FROM postgres:15.18-bookworm
COPY --from=build /out/usr/lib/postgresql/15/lib/ /usr/lib/postgresql/15/lib/
COPY --from=build /out/usr/share/postgresql/15/extension/ /usr/share/postgresql/15/extension/
# On first start: the colpali roles (owner, writer, reader) and a login for
# each service.
COPY sql/roles.sql /docker-entrypoint-initdb.d/10-colpali-roles.sql
COPY docker/initdb/20-colpali-logins.sh /docker-entrypoint-initdb.d/20-colpali-logins.sh
# The official entrypoint runs the server as this account (postgres, uid 999)
# when started as it.
USER 999
