#!/bin/sh
# Compare convoi's routing with pgRouting and routino on the same extract and
# random pairs. Installs Debian packages (needs root). Usage:
#   scripts/compare-routing.sh [EXTRACT.osm.pbf] [PAIRS]
set -eu
PBF=${1:-testdata/osm/malta.osm.pbf}
N=${2:-200}
WORK=$(mktemp -d)
apt-get install -y -q postgresql-15 postgresql-15-pgrouting osm2pgrouting routino osmium-tool python3 >/dev/null

# Same random pairs for everyone (inside the extract's box).
python3 - "$PBF" "$N" > "$WORK/pairs.csv" <<'PY'
import random, subprocess, sys
box = subprocess.run(["osmium", "fileinfo", "-g", "data.bbox", sys.argv[1]], capture_output=True, text=True).stdout
x1, y1, x2, y2 = map(float, box.strip("()\n").replace(")", "").replace("(", "").split(","))
random.seed(42)
for _ in range(int(sys.argv[2])):
    print("%.6f,%.6f,%.6f,%.6f" % (random.uniform(y1, y2), random.uniform(x1, x2), random.uniform(y1, y2), random.uniform(x1, x2)))
PY

# convoi
go build -o "$WORK/convoi" ./cmd/convoi
/usr/bin/time -f "%e s %M KB" "$WORK/convoi" graph build "$PBF" -o "$WORK/g.graph" 2> "$WORK/convoi-build.txt"
"$WORK/convoi" bench route --graph "$WORK/g.graph" --pairs "$WORK/pairs.csv" > "$WORK/convoi.txt"

# pgRouting: osm2pgrouting needs XML.
osmium cat "$PBF" -o "$WORK/x.osm" -f osm
service postgresql start >/dev/null
su postgres -c "dropdb --if-exists rt; createdb rt; psql -q -d rt -c 'CREATE EXTENSION postgis; CREATE EXTENSION pgrouting;'"
/usr/bin/time -f "%e s %M KB" su postgres -c "osm2pgrouting -f $WORK/x.osm -d rt -U postgres --clean -c /usr/share/osm2pgrouting/mapconfig_for_cars.xml" > /dev/null 2> "$WORK/pgr-build.txt"
python3 - "$WORK/pairs.csv" > "$WORK/pgr.sql" <<'PY'
import sys
print("\\timing on")
for l in open(sys.argv[1]):
    a, b, c, d = l.strip().split(",")
    print(f"SELECT sum(cost_s) FROM pgr_dijkstra('SELECT gid id, source, target, cost_s cost, reverse_cost_s reverse_cost FROM ways',"
          f" (SELECT id FROM ways_vertices_pgr ORDER BY the_geom <-> ST_SetSRID(ST_Point({b},{a}),4326) LIMIT 1),"
          f" (SELECT id FROM ways_vertices_pgr ORDER BY the_geom <-> ST_SetSRID(ST_Point({d},{c}),4326) LIMIT 1));")
PY
su postgres -c "psql -q -d rt -f $WORK/pgr.sql" | grep '^Time' | awk '{print $2}' | sort -n > "$WORK/pgr-ms.txt"

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
printf '%-10s %-24s %s\n' convoi "$(tail -1 "$WORK/convoi-build.txt")" "$(grep median "$WORK/convoi.txt")"
printf '%-10s %-24s %s ms (psql timing, Dijkstra)\n' pgrouting "$(tail -1 "$WORK/pgr-build.txt")" "$(med "$WORK/pgr-ms.txt")"
printf '%-10s %-24s %s us (whole router process)\n' routino "$(tail -1 "$WORK/routino-build.txt")" "$(med "$WORK/routino-ms.txt")"
echo "work files in $WORK"
