# Shared by the benchmark scripts: build in release, start the benchmark's
# private cluster (under $COLPALI_BENCH_DATA, default
# ~/.cache/colpali-bench/pg), and helpers for its databases.
bench_data=${COLPALI_BENCH_DATA:-$HOME/.cache/colpali-bench/pg}
swift build -c release >/dev/null 2>&1
export COLPALI_MIGRATIONS_DIR=$PWD/migrations
.build/release/colpali db start --data-dir "$bench_data" >/dev/null
bench_url=$(.build/release/colpali db url --data-dir "$bench_data")
bench_host=${bench_url#*host=}
bench_host=${bench_host%%&*}

# bench_database NAME: creates it if missing, prints its URL.
bench_database() {
  psql -h "$bench_host" -U colpali -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$1'" | grep -q 1 \
    || psql -h "$bench_host" -U colpali -d postgres -qc "CREATE DATABASE $1"
  echo "postgresql:///$1?host=$bench_host&user=colpali"
}
