#!/bin/sh
# Compare convoi's routing with pgRouting and routino on the same extract and
# random pairs. Installs Debian packages (needs root). Usage:
#   scripts/compare-routing.sh [EXTRACT.osm.pbf] [PAIRS]
set -eu
PBF=${1:-testdata/osm/malta.osm.pbf}
N=${2:-200}
WORK=$(mktemp -d)
chmod 755 "$WORK"   # the postgres user reads the XML and the SQL from here
apt-get update -q >/dev/null
apt-get install -y -q postgresql-15 postgresql-15-postgis-3 postgresql-15-pgrouting osm2pgrouting routino osmium-tool python3 >/dev/null

# Same random pairs for everyone: endpoints are nodes of drivable roads, so
# every engine snaps them to the same place. osm2pgrouting needs XML anyway.
osmium cat "$PBF" -o "$WORK/x.osm" -f osm --overwrite
python3 - "$WORK/x.osm" "$N" > "$WORK/pairs.csv" <<'PY'
import random, sys
import xml.etree.ElementTree as ET
car = {"motorway", "trunk", "primary", "secondary", "tertiary", "unclassified", "residential",
       "motorway_link", "trunk_link", "primary_link", "secondary_link", "tertiary_link", "living_street"}
coords, road = {}, set()
for _, el in ET.iterparse(sys.argv[1]):
    if el.tag == "node":
        coords[el.get("id")] = (el.get("lat"), el.get("lon"))
    elif el.tag == "way":
        tags = {t.get("k"): t.get("v") for t in el.findall("tag")}
        if tags.get("highway") in car:
            road.update(nd.get("ref") for nd in el.findall("nd"))
    if el.tag in ("node", "way", "relation"):
        el.clear()
ids = sorted(i for i in road if i in coords)
random.seed(42)
for _ in range(int(sys.argv[2])):
    a, b = coords[random.choice(ids)], coords[random.choice(ids)]
    print("%s,%s,%s,%s" % (a[0], a[1], b[0], b[1]))
PY

# convoi
go build -o "$WORK/convoi" ./cmd/convoi
/usr/bin/time -f "%e s %M KB" "$WORK/convoi" graph build "$PBF" -o "$WORK/g.graph" 2> "$WORK/convoi-build.txt"
"$WORK/convoi" bench route --graph "$WORK/g.graph" --pairs "$WORK/pairs.csv" > "$WORK/convoi.txt"
# Per-pair durations, row by row, to set beside pgRouting's (empty: no route).
while IFS=, read -r a b c d; do
  "$WORK/convoi" route --graph "$WORK/g.graph" --from "$a,$b" --to "$c,$d" 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["duration_s"])' 2>/dev/null || echo
done < "$WORK/pairs.csv" > "$WORK/convoi-s.txt"

# pgRouting
service postgresql start >/dev/null
su postgres -c "dropdb --if-exists rt; createdb rt; psql -q -d rt -c 'CREATE EXTENSION postgis; CREATE EXTENSION pgrouting;'"
/usr/bin/time -f "%e s %M KB" su postgres -c "osm2pgrouting -f $WORK/x.osm -d rt -U postgres -h /var/run/postgresql --clean -c /usr/share/osm2pgrouting/mapconfig_for_cars.xml" > /dev/null 2> "$WORK/pgr-build.txt"
python3 - "$WORK/pairs.csv" > "$WORK/pgr.sql" <<'PY'
import sys
print("\\timing on")
for l in open(sys.argv[1]):
    a, b, c, d = l.strip().split(",")
    print(f"SELECT sum(cost) FROM pgr_dijkstra('SELECT gid id, source, target, cost_s cost, reverse_cost_s reverse_cost FROM ways',"
          f" (SELECT id FROM ways_vertices_pgr ORDER BY the_geom <-> ST_SetSRID(ST_Point({b},{a}),4326) LIMIT 1),"
          f" (SELECT id FROM ways_vertices_pgr ORDER BY the_geom <-> ST_SetSRID(ST_Point({d},{c}),4326) LIMIT 1));")
PY
su postgres -c "psql -q -At -d rt -f $WORK/pgr.sql" > "$WORK/pgr.out"
grep '^Time' "$WORK/pgr.out" | awk '{print $2}' | sort -n > "$WORK/pgr-ms.txt"
grep -v '^Time' "$WORK/pgr.out" > "$WORK/pgr-s.txt"

# routino
mkdir -p "$WORK/routino"
/usr/bin/time -f "%e s %M KB" planetsplitter --dir="$WORK/routino" "$PBF" > /dev/null 2> "$WORK/routino-build.txt"
: > "$WORK/routino-ms.txt"
while IFS=, read -r a b c d; do
  s=$(date +%s%N)
  router --dir="$WORK/routino" --transport=motorcar --quickest --lat1="$a" --lon1="$b" --lat2="$c" --lon2="$d" --output-none --quiet >/dev/null 2>&1 || true
  e=$(date +%s%N)
  echo "$(( (e - s) / 1000 ))" >> "$WORK/routino-ms.txt"   # microseconds, process included
done < "$WORK/pairs.csv"
sort -n -o "$WORK/routino-ms.txt" "$WORK/routino-ms.txt"

med() { awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}' "$1"; }
printf '%-10s %-24s %s\n' engine "build (wall, max RSS)" "query median"
printf '%-10s %-24s %s\n' convoi "$(tr '\r' '\n' < "$WORK/convoi-build.txt" | sed 's/\x1b\[K//g' | tail -1)" "$(grep median "$WORK/convoi.txt")"
printf '%-10s %-24s %s ms (psql timing, Dijkstra)\n' pgrouting "$(tail -1 "$WORK/pgr-build.txt")" "$(med "$WORK/pgr-ms.txt")"
printf '%-10s %-24s %s us (whole router process)\n' routino "$(tail -1 "$WORK/routino-build.txt")" "$(med "$WORK/routino-ms.txt")"
# Same pairs, same road nodes: how far apart are the fastest-route durations
# (each engine has its own speed profile, so they differ, but not wildly).
python3 - "$WORK/convoi-s.txt" "$WORK/pgr-s.txt" <<'PY'
import sys
c = [l.strip() for l in open(sys.argv[1])]
p = [l.strip() for l in open(sys.argv[2])]
assert len(c) == len(p), "one line per pair from each engine"
r = sorted(float(b) / float(a) for a, b in zip(c, p) if a and b and float(a) > 0)
if r:
    print("duration pgRouting/convoi over %d pairs: median %.2f, 10%% %.2f, 90%% %.2f" % (len(r), r[len(r) // 2], r[len(r) // 10], r[9 * len(r) // 10]))
PY
echo "work files in $WORK"
