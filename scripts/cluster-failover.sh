#!/usr/bin/env bash
# The cluster's failure test (docs/deploy.md): two convoi nodes on one
# PostgreSQL database and one NATS JetStream server, simulated Teltonika
# trackers split between them, 20 underway escorts whose vans are among
# B's trackers and whose leases A holds (A monitors them from B's fixes,
# through the bus), a panic from a random van every PANIC, and node A
# killed with SIGKILL in the middle. It counts the fixes the trackers had
# acknowledged against the fixes stored (none may be lost), the alarm
# evidence raised before the kill (by A) and after it (by B) against the
# panics stored (none lost: every stored panic counted in its escort's
# attack alarm; none doubled: none counted twice, so none raised by both
# nodes), times each panic frame to its alarm on B's SSE stream, and
# reports how long B's lease takeover of A's escorts took. Set KILL=0 for
# the same run without the kill (the steady-state cross-node latency), and
# STREAM=a to read the SSE stream of A, the node that monitors the escorts
# (a fix ingested on B, its alarm raised on A and read there: one crossing
# each way through NATS, then none) instead of B's (two crossings).
#
#   scripts/cluster-failover.sh [DEVICES] [RATE] [SECONDS] [ESCORTS] [PANIC]
#
# Needs: a PostgreSQL role that may create databases (CONVOI_FAILOVER_ADMIN,
# default: psql's defaults), NATS with JetStream on 127.0.0.1:4222.
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES=${1:-500} RATE=${2:-5000} SECONDS_=${3:-20} ESCORTS=${4:-20} PANIC=${5:-500ms} KILL=${KILL:-1} STREAM=${STREAM:-b}
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
half=$((DEVICES / 2))
# The demo world and the underway escorts, before any node starts: the vans'
# trackers are the first ESCORTS of B's devices, which report to B throughout.
loadB=(--store "$STORE" --devices "$half" --first-device "$half" --rate $((RATE / 2)) --duration "${SECONDS_}s"
  --seed 2 --monitor "$ESCORTS" --panic-every "$PANIC" --seal-key "$work/seal.key")
"$bin" loadgen "${loadB[@]}" --setup-only
escorts_sql="SELECT id FROM movements WHERE ref LIKE 'LG-%'"
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

# Devices 0..half-1 report to A, the others to B (a load balancer's split).
"$bin" loadgen --store "$STORE" --addr 127.0.0.1:25027 --devices "$half" --rate $((RATE / 2)) \
  --duration "${SECONDS_}s" >"$work/la.out" 2>&1 &
la=$!
"$bin" loadgen "${loadB[@]}" --addr 127.0.0.1:25028 --stream "http://127.0.0.1:$([ "$STREAM" = a ] && echo 18080 || echo 18081)" >"$work/lb.out" 2>&1 &
lb=$!
sleep $((SECONDS_ / 2))
held_a=$(grep -c '"msg":"monitoring movement"' "$work/a.log" || true)
held_b=$(grep -c '"msg":"monitoring movement"' "$work/b.log" || true)
if [ "$KILL" = 1 ]; then
  kill -9 "$a"
  killed=$(date +%s.%N)
  # What A raised: everything stored on the escorts' attack alarms now.
  before=$(psql "$STORE" -Atc "SELECT COALESCE(SUM(count), 0) FROM alarms WHERE rule = 'attack' AND movement_id IN ($escorts_sql)")
  echo "node A killed with SIGKILL after $((SECONDS_ / 2)) s"
else
  killed=$(date +%s.%N)
  echo "no kill (KILL=0)"
fi
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
echo "lost: 0 (stored - acknowledged = $((stored - total)): committed, their ack cut off by the kill or by the end of the run)"
cat "$work/lb.out" | grep -E "latency|rate|panic" || true
echo "underway escorts monitored before the kill: A $held_a, B $held_b"

# The alarms. Each stored panic of a van is one piece of evidence of its
# escort's attack alarm (the escorts raise nothing else: they drive their
# released routes); an alarm's count is how often it was raised.
psql "$STORE" -At -F ' ' >"$work/alarms" <<SQL
WITH panics AS (
  SELECT mv.movement_id, COUNT(*) AS n, MAX(e.time) AS last
  FROM device_events e JOIN trackers t ON t.device_id = e.device_id
  JOIN movement_vehicles mv ON mv.vehicle_id = t.vehicle_id
  WHERE e.kind = 'panic' AND mv.movement_id IN ($escorts_sql) GROUP BY mv.movement_id),
raised AS (
  SELECT movement_id, COUNT(*) AS alarms, SUM(count) AS n,
    (EXTRACT(EPOCH FROM MAX(last_seen)) * 1e9)::bigint AS last
  FROM alarms WHERE rule = 'attack' AND movement_id IN ($escorts_sql) GROUP BY movement_id)
SELECT COALESCE(SUM(p.n), 0), COALESCE(SUM(r.n), 0), COALESCE(SUM(r.alarms), 0),
  COALESCE(SUM(GREATEST(COALESCE(p.n, 0) - COALESCE(r.n, 0), 0)), 0),
  COALESCE(SUM(GREATEST(COALESCE(r.n, 0) - COALESCE(p.n, 0), 0)), 0),
  COUNT(*) FILTER (WHERE r.last IS DISTINCT FROM p.last),
  (SELECT COUNT(*) FROM alarms WHERE rule <> 'attack' AND movement_id IN ($escorts_sql))
FROM panics p FULL JOIN raised r USING (movement_id)
SQL
read -r panics raised nalarms lost doubled stale others <"$work/alarms"
echo "panics stored: $panics; attack alarms: $nalarms on $ESCORTS escorts, raised $raised times"
if [ "$KILL" = 1 ]; then
  echo "raised before the kill (by A): $before; after it (by B): $((raised - before))"
fi
echo "alarm evidence lost: $lost, doubled: $doubled; escorts whose alarm misses the last panic: $stale; other alarms: $others"
if [ "$lost" != 0 ] || [ "$doubled" != 0 ] || [ "$stale" != 0 ] || [ "$panics" = 0 ]; then
  echo "ALARMS: lost $lost, doubled $doubled, stale $stale (panics stored $panics)"; exit 1
fi
if [ "$KILL" != 1 ]; then exit 0; fi
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
