#!/usr/bin/env bash
# dashboards: the shipped Grafana dashboards work. Both are importable (an input for their data
# source, no fixed uid). A database is filled by a scenario of the merge fixtures (a vantage in
# maintenance, a group going through every stage to blackout and back, a vantage impaired, a
# server down and left down, bins not merged yet, results refused); every variable and panel
# query of the SQL dashboard, expanded as Grafana expands it for the scenario's time range, runs
# as a login role granted only parallax_read and must return rows, with a time column and
# numbers for time series. The checker must catch a broken query and an empty one. Every PromQL
# expression of the metrics dashboard must parse (promtool check rules) and use only metrics
# that docs/metrics.md lists and the coordinator's /metrics declares.
# Block taken from docs/dashboards.md: grafana-role.
source "$(dirname "$0")/lib.sh"
source "$PX_SOURCE_DIR/tests/data/merge/merge_fx.sh"
DASH="$PX_SOURCE_DIR/dashboards"
TOOL="/usr/bin/python3 $PX_SOURCE_DIR/tests/tools/grafana_dash.py"
command -v promtool >/dev/null || fail "promtool is missing: run scripts/deps.sh"

log "both dashboards are importable"
$TOOL lint "$DASH/parallax-verdicts.json" "$DASH/parallax-coordinator.json" || fail "lint"

fx_scenario "a day of an operator's troubles"
# Grafana's role as docs/dashboards.md makes it (roles are the cluster's: a name of this test's).
READER=px_test_dash_read_$$
on_exit "psql -X -q -d postgres -c 'DROP ROLE IF EXISTS $READER'"
/usr/bin/python3 "$PX_SOURCE_DIR/tests/tools/docs_blocks.py" get "$PX_SOURCE_DIR/docs/dashboards.md" grafana-role |
    sed "s/grafana_parallax/$READER/g" | psql -X -q -v ON_ERROR_STOP=1 -d postgres >/dev/null ||
    fail "the role of docs/dashboards.md"
fx "INSERT INTO parallax.maintenance (agent_id, starts_at, ends_at, reason)
    SELECT id, fx.bin(3), fx.bin(8), 'router swap' FROM parallax.agents WHERE name = 'D'"
fx "SELECT fx.rule(0, 52, rtt_ms => 50)"
fx "SELECT fx.rule(0, 52, agent => 'B', rtt_ms => 120)"
# The stages in order (as merge_stages), then recovery.
fx "SELECT fx.rule(20, 23, target => 'ir-.*', rtt_ms => 400)"
fx "SELECT fx.rule(24, 31, target => 'ir-web.*|ir-mail', status => 'timeout')"
fx "SELECT fx.rule(24, 25, target => 'ir-dns.*|ir-rtr.*', rtt_ms => 400)"
fx "SELECT fx.rule(26, 31, target => 'ir-dns.*', status => 'timeout')"
fx "SELECT fx.rule(26, 27, target => 'ir-rtr.*', rtt_ms => 400)"
fx "SELECT fx.rule(28, 31, target => 'ir-rtr.*', status => 'unreachable')"
# A vantage failing on its own from bin 38 to the end, a server down from 42 to the end.
fx "SELECT fx.rule(38, 52, agent => 'C', status => 'local_error')"
fx "SELECT fx.rule(42, 52, target => 'ir-web2', status => 'refused')"
fx "SELECT fx.play(0, 50)"
# C's clock is far off: the coordinator refused some of its results at the door.
fx "SELECT parallax.rejections_add(ARRAY[id], '{result}', '{12}', '{stamped 2 hours ahead of its receipt}')
    FROM parallax.agents WHERE name = 'C'"
# Two bins stored, not merged yet: the merge's backlog.
fx "SELECT fx.emit(51, 52)"
expect_timeline group IR 18 34 nnggggssddBBBBnnn
expect_eq "open outages" "$(sql "SELECT string_agg(scope || ' ' || subject || ' ' || stage, ', ' ORDER BY scope, subject)
                                 FROM parallax.outages WHERE ended_at IS NULL")" \
    "group IR servers_offline, target ir-web2 down, vantage C impaired"
[ "$(sql "SELECT count(*) FROM parallax.merge_queue")" -gt 0 ] || fail "no backlog"
[ "$(sql "SELECT count(*) FROM parallax.vantage_bins WHERE health = 'maintenance'")" -gt 0 ] || fail "no maintenance bin"

FROM=$(sql "SELECT to_char(fx.bin(0) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
TO=$(sql "SELECT to_char(fx.bin(53) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
READ_DSN="host=$PGHOST port=$PGPORT dbname=$DB_NAME user=$READER"

log "every query of the SQL dashboard, $FROM to $TO, as the read role"
$TOOL sql "$DASH/parallax-verdicts.json" --from "$FROM" --to "$TO" --dsn "$READ_DSN" >"$WORK/sql.out" 2>"$WORK/sql.err" ||
    fail "$(cat "$WORK/sql.err")"
cat "$WORK/sql.err" >&2
queries=$(sed -n 's/^\([0-9]*\) queries, 0 failed$/\1/p' "$WORK/sql.out")
panels=$(/usr/bin/python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(len(d["templating"]["list"]) + sum(len(p.get("targets", [])) for p in d["panels"]))' "$DASH/parallax-verdicts.json")
[ "$queries" = "$panels" ] || fail "ran $queries queries of $panels: $(cat "$WORK/sql.out")"

log "the checker fails a broken query, an empty one, and a time series without its time"
# mutate PANEL-TITLE PYTHON-EXPR-OF-SQL: a copy of the dashboard with that panel's SQL changed.
mutate() {
    /usr/bin/python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
hit = [p for p in d["panels"] if p.get("title") == sys.argv[2]]
assert hit, sys.argv[2]
for t in hit[0]["targets"]:
    sql = t["rawSql"]
    t["rawSql"] = eval(sys.argv[3])
json.dump(d, open(sys.argv[4], "w"))' "$DASH/parallax-verdicts.json" "$1" "$2" "$WORK/mutant.json"
}
expect_caught() {  # expect_caught WHAT PATTERN
    if $TOOL sql "$WORK/mutant.json" --from "$FROM" --to "$TO" --dsn "$READ_DSN" >/dev/null 2>"$WORK/mutant.err"; then
        fail "the checker passed $1"
    fi
    grep -q "$2" "$WORK/mutant.err" || fail "$1: not reported as '$2': $(cat "$WORK/mutant.err")"
}
mutate "Group stages" 'sql.replace("g.group_name AS metric", "g.no_such_column AS metric")'
expect_caught "a broken query" "no_such_column"
mutate "Outages in range" 'sql.replace("ORDER BY o.started_at DESC", "AND false ORDER BY o.started_at DESC")'
expect_caught "an empty table" "returned no rows"
mutate "Vantage health" 'sql.replace("AS \"time\"", "AS \"t\"")'
expect_caught "a time series without a time column" "no column named time"
# A time range the scenario does not cover: the range reaches the queries.
if $TOOL sql "$DASH/parallax-verdicts.json" --from 2030-01-01T00:00:00Z --to 2030-01-01T01:00:00Z \
    --dsn "$READ_DSN" >/dev/null 2>"$WORK/empty.err"; then
    fail "the dashboard returned rows for a range with no data"
fi
grep -q "Group stages.*returned no rows" "$WORK/empty.err" || fail "an empty range: $(cat "$WORK/empty.err")"

log "every PromQL expression parses and uses documented metrics"
# Its own port (the default is one address for every test); the rest as shipped.
MPORT=$(free_port)
login_roles
printf 'listen = tcp://127.0.0.1:%s\ndatabase = %s\nkey_file = %s/coord.key\nmetrics_listen = 127.0.0.1:%s\n' \
    "$(free_port)" "$COORD_DB" "$WORK" "$MPORT" >"$WORK/coord.conf"
start_bg coordinator "$COORD" -c "$WORK/coord.conf"
wait_until 30 "the coordinator's metrics with its database figures" \
    'curl -sf "http://127.0.0.1:$MPORT/metrics" >"$WORK/metrics.txt" && grep -q "^parallax_outages_open{" "$WORK/metrics.txt"'
# What both dashboards show as open now agrees: the scenario's three open outages.
for open in "group servers_offline" "target down" "vantage impaired"; do
    set -- $open
    grep -Eq "^parallax_outages_open\{([^}]*,)?scope=\"$1\",stage=\"$2\"\} 1\$" "$WORK/metrics.txt" ||
        fail "/metrics does not show the open $1 outage at $2: $(grep '^parallax_outages_open' "$WORK/metrics.txt")"
done
$TOOL promql "$DASH/parallax-coordinator.json" --rules "$WORK/rules.yml" --names "$PX_SOURCE_DIR/docs/metrics.md" \
    --exposition "$WORK/metrics.txt" >"$WORK/promql.out" 2>"$WORK/promql.err" || fail "$(cat "$WORK/promql.err")"
cat "$WORK/promql.out" >&2
promtool check rules "$WORK/rules.yml" >"$WORK/promtool.out" 2>&1 || fail "promtool: $(cat "$WORK/promtool.out")"
n=$(grep -c '^      - record:' "$WORK/rules.yml")
grep -q "SUCCESS: $n rules found" "$WORK/promtool.out" || fail "promtool: $(cat "$WORK/promtool.out")"
# The checker itself: an expression that does not parse, and a name nobody documented.
sed 's/sum(parallax_sessions)/sum(parallax_sessions/; s/parallax_merge_bins_total/parallax_no_such_total/' \
    "$DASH/parallax-coordinator.json" >"$WORK/mutant.json"
if $TOOL promql "$WORK/mutant.json" --rules "$WORK/bad.yml" --names "$PX_SOURCE_DIR/docs/metrics.md" 2>"$WORK/bad.err"; then
    fail "an undocumented metric passed"
fi
grep -q "parallax_no_such_total is not in" "$WORK/bad.err" || fail "undocumented metric: $(cat "$WORK/bad.err")"
if promtool check rules "$WORK/bad.yml" >/dev/null 2>&1; then fail "promtool passed an expression that does not parse"; fi
log "ok: $queries SQL queries, $n PromQL expressions"
