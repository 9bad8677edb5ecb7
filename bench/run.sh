#!/usr/bin/env bash
# The benchmark harness: imhotep (PostgreSQL and SQLite) against the reference Djoser server, plus
# the limits (argon2id, PBKDF2, an axum `{}` server, pgbench) and a 1,000,000-user scale step.
#
#   bash bench/run.sh            full run (~20-25 min on 2 cores): bench/results.json, BENCHMARKS.md,
#                                bench/requests_per_second.png
#   bash bench/run.sh --quick    CI smoke run (~1 min plus builds): imhotep only, 1 s warm-up + 2 s per
#                                workload, no scale step, no reference; writes bench/quick/ (add
#                                --publish to write the files above instead)
#   bash bench/run.sh --throttle the rate limiter only: W1/W2 with it on and off (interleaved), and a
#                                1,000-connection login flood; writes bench/throttle/results.json
#   bash bench/run.sh --jwt-algorithms HS256,EdDSA,RS256 --servers imhotep-pg
#                                signing-key mode: W1 and W2 once per JWT algorithm (~2 min at the
#                                defaults); writes bench/signing-keys.json and bench/signing-keys.md
#   bash bench/run.sh --cores 1,2 --servers imhotep-pg
#                                per-core mode: W1-W3 with the server pinned (taskset) to 1, then 2
#                                cores; writes bench/cores.json and bench/cores.md
#   bash bench/run.sh --quick --servers imhotep-sqlite --workloads w3,w4 --duration 8 --warmup 2
#                                A/B mode: some workloads only (with --quick), for comparing builds
#   bash bench/run.sh --help     all options (--users N, --connections C, --duration S, --no-scale, ...)
#   IMHOTEP_BIN=path bash bench/run.sh ...
#                                measures that binary instead of building target/release/imhotep (CI's
#                                smoke run uses the debug build; an older commit's binary must be run
#                                from a checkout of that commit, for its config/default.toml)
#   BENCH_EXTRA_ENV='{"IMHOTEP_DATABASE__MAX_CONNECTIONS": "10"}' bash bench/run.sh ...
#                                adds settings (a JSON object) to every imhotep server's environment,
#                                for an A/B of a setting
#
# Installs what it needs: wrk (Debian package) when missing, matplotlib into bench/.venv; builds
# target/release/imhotep and bench/ceiling. Needs PostgreSQL on 127.0.0.1:5432 (user postgres, no
# password; PGHOST/PGPORT/PGUSER override) and, for the reference, ../shared/reference-djoser
# (REFERENCE_DIR overrides). Exits non-zero if any request failed or the harness broke.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=false
for arg in "$@"; do
  case "$arg" in
    -h | --help) exec python3 bench/bench.py --help ;;
    --quick) quick=true ;;
  esac
done

say() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

if ! command -v wrk > /dev/null; then
  say "installing wrk"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq wrk > /dev/null
fi
for tool in psql pgbench createdb dropdb cargo python3; do
  command -v "$tool" > /dev/null || { echo "bench/run.sh: $tool is missing" >&2; exit 1; }
done
if ! pg_isready -h "${PGHOST:-127.0.0.1}" -p "${PGPORT:-5432}" -q 2> /dev/null; then
  say "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  for _ in $(seq 1 30); do pg_isready -h "${PGHOST:-127.0.0.1}" -p "${PGPORT:-5432}" -q && break; sleep 1; done
fi

venv=bench/.venv
if ! "$venv/bin/python" -c 'import matplotlib, cryptography' 2> /dev/null; then
  say "preparing $venv (matplotlib for the chart, cryptography for --jwt-algorithms tokens)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check 'matplotlib>=3.8,<4' 'cryptography>=42'
fi

if [ -n "${IMHOTEP_BIN:-}" ]; then
  say "measuring $IMHOTEP_BIN (IMHOTEP_BIN), not a release build of this checkout"
  BENCH_BUILD_SECONDS=
else
  say "building imhotep (release)"
  started=$(now)
  cargo build --release --locked --bin imhotep
  BENCH_BUILD_SECONDS=$(since "$started")
fi
say "building bench/ceiling (release)"
started=$(now)
(cd bench/ceiling && cargo build --release --locked --quiet)
BENCH_CEILING_BUILD_SECONDS=$(since "$started")
say "builds took ${BENCH_BUILD_SECONDS:-no} s (imhotep) and ${BENCH_CEILING_BUILD_SECONDS} s (bench/ceiling)"

export BENCH_BUILD_SECONDS BENCH_CEILING_BUILD_SECONDS
# The --throttle login flood opens 1,000 connections (wrk and the server each hold one descriptor per connection).
ulimit -n "$(ulimit -Hn)" 2> /dev/null || true
export BENCH_COMMAND="bash bench/run.sh${*:+ $*}"
# A hard stop for the whole run; bench.py cleans up (servers, databases) on SIGTERM.
if $quick; then limit=900; else limit=3600; fi
exec timeout -s TERM "$limit" "$venv/bin/python" bench/bench.py "$@"
