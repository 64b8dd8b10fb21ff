#!/usr/bin/env bash
# Sourced by .ci/run: makes sure PostgreSQL and a NATS server with JetStream
# answer on loopback for the cluster tests (postgres/, natsbus/, cmd/convoi),
# starting them (and installing Debian's packages) when they do not, and
# exports CONVOI_TEST_POSTGRES and CONVOI_TEST_NATS so that those tests run
# instead of skipping. Values already set in the environment are kept.
# A NATS server started here is stopped by ci_servers_stop (.ci/run's trap).

PG_HOST=127.0.0.1 PG_PORT=5432 NATS_PORT=4222
ci_nats_pid=""

as_postgres() { # run a command as the postgres superuser
  if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null; then runuser -u postgres -- "$@"
  elif command -v sudo >/dev/null; then sudo -n -u postgres "$@"
  else "$@"; fi
}

apt_install() {
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -n"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

if [ -z "${CONVOI_TEST_POSTGRES:-}" ]; then
  if ! pg_isready -q -h "$PG_HOST" -p "$PG_PORT" 2>/dev/null; then
    command -v pg_ctlcluster >/dev/null || apt_install postgresql
    ver=$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1)
    if [ -z "$ver" ]; then echo "no PostgreSQL cluster found after installing postgresql" >&2; return 1; fi
    as_postgres pg_ctlcluster "$ver" main start || { [ "$(id -u)" = 0 ] && pg_ctlcluster "$ver" main start; }
    for _ in $(seq 30); do pg_isready -q -h "$PG_HOST" -p "$PG_PORT" && break; sleep 1; done
  fi
  # A role and database of its own; each test then works in a schema of its own.
  as_postgres psql -h /var/run/postgresql -p "$PG_PORT" -qAtc "SELECT 1 FROM pg_roles WHERE rolname = 'convoi_ci'" postgres | grep -q 1 ||
    as_postgres psql -h /var/run/postgresql -p "$PG_PORT" -qc "CREATE ROLE convoi_ci LOGIN PASSWORD 'convoi_ci'" postgres
  as_postgres psql -h /var/run/postgresql -p "$PG_PORT" -qAtc "SELECT 1 FROM pg_database WHERE datname = 'convoi_ci'" postgres | grep -q 1 ||
    as_postgres psql -h /var/run/postgresql -p "$PG_PORT" -qc "CREATE DATABASE convoi_ci OWNER convoi_ci" postgres
  export CONVOI_TEST_POSTGRES="postgres://convoi_ci:convoi_ci@$PG_HOST:$PG_PORT/convoi_ci"
fi

if [ -z "${CONVOI_TEST_NATS:-}" ]; then
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$NATS_PORT") 2>/dev/null; then
    command -v nats-server >/dev/null || apt_install nats-server || true
    ci_nats_dir=$(mktemp -d)
    if command -v nats-server >/dev/null; then
      nats-server -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$ci_nats_dir" >"$ci_nats_dir/log" 2>&1 &
    else # embedded from the Go module
      go run github.com/nats-io/nats-server/v2@v2.15.3 -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$ci_nats_dir" >"$ci_nats_dir/log" 2>&1 &
    fi
    ci_nats_pid=$!
    for _ in $(seq 60); do (exec 3<>"/dev/tcp/127.0.0.1/$NATS_PORT") 2>/dev/null && break; sleep 1; done
  fi
  export CONVOI_TEST_NATS="nats://127.0.0.1:$NATS_PORT"
fi

ci_servers_stop() {
  if [ -n "$ci_nats_pid" ]; then kill "$ci_nats_pid" 2>/dev/null || true; fi
}
echo "PostgreSQL: ${CONVOI_TEST_POSTGRES%%:*}://…@${CONVOI_TEST_POSTGRES##*@}  NATS: $CONVOI_TEST_NATS"
