#!/usr/bin/env bash
# discover: `parallaxctl discover --zone xx.test` in the world: the country's name server, mail
# exchanger and web server from its real DNS server (nsd), asked through the system's resolver
# and through --server, and from an agent's vantage (--via), and the border router 203.0.113.1 from the traces the three vantages'
# agents run to them; each with its role. Its CSV imports cleanly, a second import changes
# nothing, a rerun prints the same file, and a zone nobody serves is an error.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root to make network namespaces"
for tool in nginx nsd smtpd; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/deps.sh installs it)"
done
ROOT=$PX_SOURCE_DIR
BIN=$PX_BUILD_DIR
source "$PX_SOURCE_DIR/tests/world/world.sh"
source "$PX_SOURCE_DIR/scripts/world_run.sh"
on_exit pxw_stop
new_db
world_up "d$(($$ % 10000))" "$WORK/world" || fail "the world did not come up"
[ -n "$LOGIN_ROLES_READY" ] || fail "the database has no grants for the login roles"
PXW_COORD_DB=$COORD_DB PXW_ADMIN_DB=$ADMIN_DB pxw_start "$WORK/px" 5 "$DB" || fail "Parallax did not start in the world"
on_exit 'cp "$WORK"/px/*.log "$WORK"/ 2>/dev/null'

log "trace probes to the country's servers, as an operator adds them to find its border"
for s in "web=$WORLD_WEB" "dns=$WORLD_DNS" "mail=$WORLD_MAIL"; do
    ctl 0 target add "trace-${s%%=*}" --address "${s#*=}" --probe trace --interval 5
done
pxw_wait 60 "every agent's traces reach the servers" \
    'test "$(pxw_sql "SELECT count(DISTINCT r.agent_id) FROM parallax.results r JOIN parallax.probes p ON p.id = r.probe_id
                      WHERE p.kind = '"'"'trace'"'"' AND (r.detail -> '"'"'trace'"'"' ->> '"'"'reached'"'"')::boolean")" = 3' ||
    fail "no traces: $(pxw_sql "SELECT status, message FROM parallax.results r JOIN parallax.probes p ON p.id = r.probe_id WHERE p.kind = 'trace' LIMIT 3")"

# discover FILE ARGS...: runs discover in the coordinator's namespace (its resolv.conf names
# the country's DNS server), CSV in FILE, stderr in FILE.err; the exit status is discover's.
discover() {
    local file=$1
    shift
    in_ns c "$CTL" --db "$ADMIN_DB" discover "$@" >"$file" 2>"$file.err"
}

want="name,address,group,role,probes
mx.xx.test,$WORLD_MAIL,XX,mail,icmp smtp
ns1.xx.test,$WORLD_DNS,XX,dns,icmp dns:xx.test:SOA
www.xx.test,$WORLD_WEB,XX,web,icmp http:http://www.xx.test/
xx.test-router-$WORLD_ROUTER,$WORLD_ROUTER,XX,router,icmp"

log "the system's resolver: servers and the border router, with roles"
discover "$WORK/d1.csv" --zone xx.test || fail "discover failed: $(cat "$WORK/d1.csv.err")"
[ "$(cat "$WORK/d1.csv")" = "$want" ] ||
    fail "$(printf 'discover printed\n%s\n--- want\n%s\n--- stderr\n%s' "$(cat "$WORK/d1.csv")" "$want" "$(cat "$WORK/d1.csv.err")")"
# Names without A or AAAA records (xx.test itself, no AAAA anywhere) are no failure; the
# servers the world registered under other names are noted.
! grep -v ': discover: note: ' "$WORK/d1.csv.err" || fail "discover said more than notes"
for note in "$WORLD_WEB (www.xx.test) is target xx-web already" \
    "$WORLD_ROUTER (xx.test-router-$WORLD_ROUTER) is target xx-border already"; do
    grep -qF "$note" "$WORK/d1.csv.err" || fail "no note '$note': $(cat "$WORK/d1.csv.err")"
done

log "--server: the same file"
discover "$WORK/d2.csv" --zone XX.TEST. --server "$WORLD_DNS:53" || fail "discover --server failed: $(cat "$WORK/d2.csv.err")"
cmp -s "$WORK/d1.csv" "$WORK/d2.csv" || fail "--server printed another file: $(cat "$WORK/d2.csv")"

log "--via: the lookups from the second vantage, in one-off dns runs its agent makes: the same file"
via=vp2-de
# The command of docs/routes.md, as it is written there (its server is the world's).
block=$(/usr/bin/python3 "$PX_SOURCE_DIR/tests/tools/docs_blocks.py" get "$PX_SOURCE_DIR/docs/routes.md" discover-via) ||
    fail "docs/routes.md has no block discover-via"
[ "$WORLD_DNS" = 203.0.113.53 ] && grep -qF -- "--via $via --server $WORLD_DNS" <<<"$block" ||
    fail "docs/routes.md's discover --via names another agent or server: $block"
parallaxctl() { in_ns c "$CTL" --db "$ADMIN_DB" "$@"; }
t0=$(date +%s.%N)
eval "$block" >"$WORK/d5.csv" 2>"$WORK/d5.csv.err" || fail "discover --via failed: $(cat "$WORK/d5.csv.err")"
log "discover --via took $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
unset -f parallaxctl
cmp -s "$WORK/d1.csv" "$WORK/d5.csv" || fail "--via printed another file: $(cat "$WORK/d5.csv") $(cat "$WORK/d5.csv.err")"
! grep -v ': discover: note: ' "$WORK/d5.csv.err" || fail "discover --via said more than notes"
# The agent's answers are stored results, and they say what dig says from its namespace.
runs=$(pxw_sql "SELECT count(*) FROM parallax.probe_request_results
                WHERE agent = '$via' AND reason = 'discover' AND kind = 'dns' AND status = 'ok'")
[ "$runs" -ge 6 ] || fail "the agent's dns runs for discover: $runs stored, want at least 6"
sql=$(/usr/bin/python3 "$PX_SOURCE_DIR/tests/tools/docs_blocks.py" get "$PX_SOURCE_DIR/docs/routes.md" discover-via-sql) ||
    fail "docs/routes.md has no block discover-via-sql"
out=$(pxw_sql "$sql") || fail "docs/routes.md's query failed"
grep -qF '"host": "ns1.xx.test."' <<<"$out" || fail "docs/routes.md's query shows no NS record: $out"
agent_ns=$(pxw_sql "SELECT string_agg(rec->>'host', ' ' ORDER BY rec->>'host')
                    FROM parallax.probe_request_results r,
                         jsonb_array_elements(r.detail->'dns'->'records') rec
                    WHERE r.agent = '$via' AND r.spec = 'dns:xx.test:NS' AND rec->>'type' = 'NS'")
dig_ns=$(in_ns v2 dig +norecurse +short @"$WORLD_DNS" xx.test NS | sort | tr '\n' ' ' | sed 's/ $//')
[ -n "$dig_ns" ] && [ "$agent_ns" = "$dig_ns" ] || fail "the agent saw NS '$agent_ns', dig '$dig_ns'"
agent_mx=$(pxw_sql "SELECT string_agg(rec->>'preference' || ' ' || (rec->>'host'), ' ')
                    FROM parallax.probe_request_results r,
                         jsonb_array_elements(r.detail->'dns'->'records') rec
                    WHERE r.agent = '$via' AND r.spec = 'dns:xx.test:MX' AND rec->>'type' = 'MX'")
dig_mx=$(in_ns v2 dig +norecurse +short @"$WORLD_DNS" xx.test MX | tr '\n' ' ' | sed 's/ $//')
[ -n "$dig_mx" ] && [ "$agent_mx" = "$dig_mx" ] || fail "the agent saw MX '$agent_mx', dig '$dig_mx'"
# The agent counted them (its stats file, rewritten within a second of a change).
taken() { sed -n 's/^requests=//p' "$WORK/px/state2/stats"; }
pxw_wait 5 "vp2-de's stats count the requests" 'test "$(taken)" -ge 6' ||
    fail "vp2-de's stats file counts $(taken) requests, want at least 6"
ctl 0 agent add idle-gb --country GB -o "$WORK/idle.conf"
rc=0
discover "$WORK/d7.csv" --zone xx.test --via idle-gb --server "$WORLD_DNS" || rc=$?
[ "$rc" = 1 ] && grep -qF "xx.test NS: not sent: the agent has no session with the coordinator (agent idle-gb)" "$WORK/d7.csv.err" ||
    fail "--via an agent that is not connected exited $rc: $(cat "$WORK/d7.csv.err")"
rc=0
discover "$WORK/d6.csv" --zone xx.test --via nobody --server "$WORLD_DNS" || rc=$?
[ "$rc" = 1 ] && grep -qF 'no agent named "nobody"' "$WORK/d6.csv.err" ||
    fail "--via an unknown agent exited $rc: $(cat "$WORK/d6.csv.err")"

log "its CSV imports; a second import changes nothing"
targets() { pxw_sql "SELECT t.id, t.name, host(t.address), t.group_name, t.role, p.id, p.spec, p.interval_s, p.timeout_ms
                     FROM parallax.targets t JOIN parallax.probes p ON p.target_id = t.id ORDER BY p.id"; }
# The commands of docs/routes.md, as they are written there.
block=$(/usr/bin/python3 "$PX_SOURCE_DIR/tests/tools/docs_blocks.py" get "$PX_SOURCE_DIR/docs/routes.md" discover-import) ||
    fail "docs/routes.md has no block discover-import"
parallaxctl() { in_ns c "$CTL" --db "$ADMIN_DB" "$@"; }
mkdir -p "$WORK/doc"
(cd "$WORK/doc" && eval "$block") >"$WORK/out" 2>"$WORK/err" || fail "docs/routes.md's commands failed: $(cat "$WORK/err")"
cmp -s "$WORK/d1.csv" "$WORK/doc/xx.csv" || fail "docs/routes.md's discover printed another file"
grep -qF "imported 4 targets with 7 probes" "$WORK/out" || fail "import said: $(cat "$WORK/out")"
before=$(targets)
ctl 0 target import "$WORK/d1.csv"
grep -qF "imported 0 targets with 0 probes from $WORK/d1.csv; 4 already there as written, unchanged" "$WORK/out" ||
    fail "the second import said: $(cat "$WORK/out")"
[ "$(targets)" = "$before" ] || fail "the second import changed the targets"

log "a rerun prints the same file"
discover "$WORK/d3.csv" --zone xx.test || fail "the rerun failed: $(cat "$WORK/d3.csv.err")"
cmp -s "$WORK/d1.csv" "$WORK/d3.csv" || fail "the rerun printed another file: $(cat "$WORK/d3.csv")"

log "a zone the server refuses: every lookup said, exit 1"
rc=0
discover "$WORK/d4.csv" --zone nowhere.test --server "$WORLD_DNS" || rc=$?
[ "$rc" = 1 ] || fail "discover of an unserved zone exited $rc"
grep -q "nowhere.test NS: REFUSED" "$WORK/d4.csv.err" || fail "the refusal was not said: $(cat "$WORK/d4.csv.err")"
grep -q "no addresses found for nowhere.test" "$WORK/d4.csv.err" || fail "no error: $(cat "$WORK/d4.csv.err")"
log "ok"
