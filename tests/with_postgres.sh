#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL server on loopback, then removes the server.
# Usage: tests/with_postgres.sh pytest ...   (sets DATABASE_URL for the command)
# Missing server binaries: a loud warning and exit 0 on a developer machine, a failure under CI=true.
set -euo pipefail

pgbin=""
if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
  pgbin=$(pg_config --bindir)
else
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
fi
if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ] || [ ! -x "$pgbin/pg_ctl" ]; then
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
  echo "!! PostgreSQL server binaries (initdb, pg_ctl) not found: the PostgreSQL leg   !!" >&2
  echo "!! of the suite did NOT run. Install them: apt-get install -y postgresql       !!" >&2
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
  if [ "${CI:-}" = "true" ]; then
    echo "CI=true: a missing leg is a failure." >&2
    exit 1
  fi
  exit 0
fi

# initdb and pg_ctl refuse to run as root: run them as the postgres user then.
as_owner=()
if [ "$(id -u)" = "0" ]; then
  as_owner=(runuser -u postgres --)
fi

dir=$(mktemp -d /tmp/ioaccess-pg.XXXXXX)
port=${IOACCESS_PG_PORT:-$(( 54000 + RANDOM % 1000 ))}
cleanup() {
  "${as_owner[@]}" "$pgbin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM
if [ "$(id -u)" = "0" ]; then
  chown postgres:postgres "$dir"
fi

"${as_owner[@]}" "$pgbin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
# Durability off for speed; IOACCESS_PG_FSYNC=on (make bench-load) keeps PostgreSQL's defaults,
# as a production server runs, so that a commit's cost is measured.
durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
if [ "${IOACCESS_PG_FSYNC:-off}" = "on" ]; then
  durability=""
fi
"${as_owner[@]}" "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
  -o "-k $dir -p $port -h 127.0.0.1 $durability -c max_connections=200" start >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }
echo "PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (fsync ${IOACCESS_PG_FSYNC:-off}; data in $dir, removed afterwards)"

# For a fault test that restarts the server under the suite (pg_ctl restart keeps the options).
export IOACCESS_PG_DATA="$dir/data" IOACCESS_PG_BIN="$pgbin"
DATABASE_URL="postgres://postgres@127.0.0.1:$port/ioaccess" "$@"
