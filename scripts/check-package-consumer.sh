#!/usr/bin/env bash
# A separate Swift package that depends on colpali-pg by URL and version tag
# (the committed HEAD, tagged with the version in Sources/ColPaliCore)
# builds, and runs the README's "From Swift" program against a database.
#
#   scripts/check-package-consumer.sh DATABASE_URL [MODEL]
#
# The database must hold searchable pages embedded with MODEL (default: the
# test model committed in Tests/Fixtures). Builds every dependency again in a
# scratch directory: minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
database_url=${1:?usage: scripts/check-package-consumer.sh DATABASE_URL [MODEL]}
model=${2:-$root/Tests/Fixtures/models/hf-fp32}
version=$(sed -n 's/.*static let string = "\(.*\)".*/\1/p' Sources/ColPaliCore/Version.swift)
work=$(mktemp -d /tmp/colpali-consumer-XXXXXX)
trap 'rm -rf "$work"' EXIT

git clone -q --bare "$root" "$work/colpali-pg.git"
git -C "$work/colpali-pg.git" tag -f "$version" HEAD >/dev/null
mkdir -p "$work/app/Sources/App"
cat > "$work/app/Package.swift" <<SWIFT
// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "App",
    platforms: [.macOS(.v14)],
    dependencies: [.package(url: "file://$work/colpali-pg.git", from: "$version")],
    targets: [
        .executableTarget(name: "App", dependencies: [
            .product(name: "ColPaliSearch", package: "colpali-pg"),
            .product(name: "ColPaliModel", package: "colpali-pg"),
            .product(name: "ColPaliStorage", package: "colpali-pg"),
        ]),
    ]
)
SWIFT
# The README's program, exactly as printed.
awk '/^## From Swift/{s=1} s && /^```swift/{n++; if (n==2) {p=1; next}} p && /^```/{exit} p' README.md > "$work/app/Sources/App/main.swift"
grep -q "SearchClient.with" "$work/app/Sources/App/main.swift" || { echo "check-package-consumer: no program found in README.md"; exit 1; }

echo "building a package that depends on colpali-pg $version by URL"
swift build --package-path "$work/app" 2>&1 | grep -E "error|warning: .*unsafe|Compiling App|Build complete" || true
test -x "$work/app/.build/debug/App" || { echo "check-package-consumer: the dependent package did not build"; exit 1; }
echo "running the README program"
output=$(DATABASE_URL="$database_url" COLPALI_MODEL="$model" HF_HUB_OFFLINE=1 "$work/app/.build/debug/App")
echo "$output"
grep -q "^1 " <<< "$output" || { echo "check-package-consumer: the program printed no hit"; exit 1; }
echo "the README program builds as a dependent package and finds pages"
