# The colpali-ingest daemon (and the colpali CLI): built with the official
# Swift image, run on a slim Debian with only the shared libraries needed.
#
#   docker build -f docker/ingest.Dockerfile -t colpali-pg/ingest .

FROM swift:6.3.1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenblas-dev libpoppler-glib-dev libpng-dev libjpeg-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Build caches stay in a cache mount, out of every layer. One product per
# invocation: given several --product, SwiftPM builds only the last.
RUN --mount=type=cache,target=/src/.build \
    swift build -c release --static-swift-stdlib --product colpali-ingest \
 && swift build -c release --static-swift-stdlib --product colpali \
 && mkdir -p /out/bin \
 && cp .build/release/colpali-ingest .build/release/colpali /out/bin/ \
 && cp -r .build/release/colpali-pg_ColPaliServer.resources /out/bin/

FROM debian:12.12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libopenblas0-pthread libpoppler-glib8 libpng16-16 libjpeg62-turbo fonts-dejavu-core ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 colpali \
 && mkdir -p /home/colpali/.cache/huggingface /inbox /uploads \
 && chown -R colpali:colpali /home/colpali /uploads
COPY --from=build /out/bin/ /usr/local/bin/
COPY migrations/ /usr/share/colpali/migrations/
ENV HF_HOME=/home/colpali/.cache/huggingface \
    COLPALI_MIGRATIONS_DIR=/usr/share/colpali/migrations
USER 10001
WORKDIR /home/colpali
ENTRYPOINT ["colpali-ingest"]
CMD ["run", "--watch", "/inbox"]
