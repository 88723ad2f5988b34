#!/usr/bin/env bash
# Make sure the PostgreSQL server the tests use is up: use a running one, start an installed
# local cluster, or install Debian's postgresql when we are root. Never skip PostgreSQL.
set -euo pipefail
url="${1:-postgres://postgres@127.0.0.1:5432/cronmonitor}"
hostport="${url#*@}"; hostport="${hostport%%/*}"
host="${hostport%%:*}"; port="${hostport##*:}"; [ "$port" = "$host" ] && port=5432

ready() { pg_isready -q -h "$host" -p "$port" 2>/dev/null; }
ready && exit 0

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing PostgreSQL (Debian's postgresql package)..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "PostgreSQL is not running on $host:$port and is not installed." >&2
    echo "Install it (sudo apt-get install postgresql) or set TEST_DATABASE_URL." >&2
    exit 1
  fi
fi
version=$(ls /etc/postgresql | sort -V | tail -n 1)
echo "Starting PostgreSQL $version cluster 'main'..."
pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
for _ in $(seq 1 30); do ready && break; sleep 1; done
if ! ready; then
  echo "PostgreSQL did not come up on $host:$port; see /var/log/postgresql/." >&2
  exit 1
fi
# A freshly installed cluster only trusts the local socket; let the postgres user in on TCP.
if ! psql "postgres://postgres@$host:$port/postgres" -Atc 'select 1' >/dev/null 2>&1; then
  hba="/etc/postgresql/$version/main/pg_hba.conf"
  echo "Letting the postgres user in over TCP from 127.0.0.1 without a password (trust) in $hba"
  sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
  pg_ctlcluster --skip-systemctl-redirect "$version" main reload
fi
