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
"$bin" seal keygen "$work/seal.key" >/dev/null # one key file for every node

psql "$PGURL/postgres" -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
"$bin" migrate --store "$STORE" >/dev/null
# 20 underway escorts for the nodes to share (which node monitors which).
psql "$STORE" -q <<'SQL'
INSERT INTO sites (kind, name, lat, lon, entry_lat, entry_lon, created_at, updated_at) VALUES
  ('prison', 'Maison d''arrêt de Monaco', 43.7318, 7.4271, 43.7318, 7.4271, now(), now()),
  ('court', 'Palais de Justice de Monaco', 43.73021, 7.42223, 43.73021, 7.42223, now(), now());
INSERT INTO detainees (name, legal_status, site_id, risk, created_at, updated_at)
  SELECT 'Detainee ' || i, 'remand', 1, '{}', now(), now() FROM generate_series(1, 20) i;
INSERT INTO movements (ref, detainee_id, from_site_id, to_site_id, purpose, appointment_at, requester, state, created_at, updated_at)
  SELECT 'FAIL-' || i, i, 1, 2, 'court_appearance', now() + interval '1 hour', 'test', 'underway', now(), now()
  FROM generate_series(1, 20) i;
SQL

start_node() { # name port-offset
  "$bin" serve --store "$STORE" --bus "$NATS" --node "$1" --seal-key "$work/seal.key" --data "$work/data-$1" --addr "127.0.0.1:$((18080 + $2))" \
    --teltonika-addr "127.0.0.1:$((25027 + $2))" --teltonika-udp-addr "" --osmand-addr "" --mqtt-addr "" \
    >"$work/$1.log" 2>&1 &
  echo $!
}
# A starts first and takes the leases of every underway escort; B joins.
a=$(start_node a 0)
b=""
trap 'kill $a $b 2>/dev/null || true; rm -rf "$work"' EXIT
sleep 3
b=$(start_node b 1)
sleep 3
for n in a b; do
  if ! grep -q '"msg":"convoi serving"' "$work/$n.log"; then echo "node $n did not start:"; cat "$work/$n.log"; exit 1; fi
done

half=$((DEVICES / 2))
# Devices 0..half-1 report to A, the others to B (a load balancer's split).
"$bin" loadgen --store "$STORE" --addr 127.0.0.1:25027 --devices "$half" --rate $((RATE / 2)) \
  --duration "${SECONDS_}s" >"$work/la.out" 2>&1 &
la=$!
"$bin" loadgen --store "$STORE" --addr 127.0.0.1:25028 --devices "$half" --rate $((RATE / 2)) \
  --duration "${SECONDS_}s" --seed 2 --first-device "$half" >"$work/lb.out" 2>&1 &
lb=$!
sleep $((SECONDS_ / 2))
held_a=$(grep -c '"msg":"monitoring movement"' "$work/a.log" || true)
held_b=$(grep -c '"msg":"monitoring movement"' "$work/b.log" || true)
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
echo "underway escorts monitored before the kill: A $held_a, B $held_b"
python3 - "$work/b.log" "$killed" "$held_a" <<'PY'
import json, sys, datetime
log, killed, held_a = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
gains = []
for line in open(log):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("msg") == "monitoring movement":
        t = datetime.datetime.fromisoformat(e["time"].replace("Z", "+00:00")).timestamp()
        if t > killed:
            gains.append(t - killed)
print(f"B took over {len(gains)} of A's {held_a} escorts; the last {max(gains) if gains else float('nan'):.2f} s after the kill")
sys.exit(0 if len(gains) == held_a else 1)
PY
