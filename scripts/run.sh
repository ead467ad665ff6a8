#!/usr/bin/env bash
# make run: generate a synthetic history that ends yesterday (once a day),
# train on it, print three curl examples, then serve on $ADDR until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-bin/lapse}
USERS=${RUN_USERS:-20000}
DAYS=${RUN_DAYS:-365}
SEED=${RUN_SEED:-1}
HORIZON=${RUN_HORIZON:-30d}
ADDR=${RUN_ADDR:-127.0.0.1:8080}
DIR=${RUN_DIR:-run}

mkdir -p "$DIR"
# The history ends yesterday, so live scores (as of the request time) are
# about today; a new day gives a new file.
start=$(date -u -d "$DAYS days ago" +%F)
events="$DIR/events-$start.csv"
if [ ! -f "$events" ]; then
	"$BIN" gen --users "$USERS" --days "$DAYS" --seed "$SEED" --start "$start" --out "$events"
fi
# Train when the store is missing or older than the history (model
# versions are immutable: the same data and seed give the same version).
if [ ! -f "$DIR/lapse.db" ] || [ "$events" -nt "$DIR/lapse.db" ]; then
	"$BIN" train --events "$events" --horizon "$HORIZON" --store "$DIR/lapse.db" --report-dir "$DIR/report"
fi
"$BIN" score --store "$DIR/lapse.db" --out "$DIR/scores.csv"
# A user from the high-risk band for the examples (the first by id).
user=$(awk -F, 'NR > 1 && $3 == "high" { print $1; exit }' "$DIR/scores.csv")
[ -n "$user" ] || user=$(awk -F, 'NR == 2 { print $1 }' "$DIR/scores.csv")
today=$(date -u +%F)

cat <<MSG

lapse is serving $DIR/lapse.db on http://$ADDR (report: $DIR/report/report.html). Try, from another terminal:

  curl -s http://$ADDR/v1/users/$user
  curl -s -X POST http://$ADDR/v1/events -H 'Content-Type: application/json' \\
    -d '[{"user_id":"$user","event":"purchase","timestamp":"${today}T00:00:01Z","amount":42.5}]'
  curl -s -H 'Accept: text/csv' 'http://$ADDR/v1/segments/risk_band/high/users?limit=5'

Ctrl-C stops the server.
MSG
exec "$BIN" serve --store "$DIR/lapse.db" --addr "$ADDR"
