#!/usr/bin/env bash
# coord_wire_version: agents and coordinator are upgraded together (docs/upgrading.md). An
# agent speaking another protocol version — 0 (an envelope without its version field) or the
# one after this build's — is refused: nothing it sends is answered or stored; `parallaxctl
# agent list`, `agent show` and `status` say so, naming both versions; the coordinator logs it
# once a minute at most while the agent goes on sending, and records it in the database as
# often. The same key speaking this version afterwards lifts the refusal and is stored as usual.
# The old agents are pxclient -P: this build's messages stamped with another version.
source "$(dirname "$0")/lib.sh"
new_db
start_coordinator
add_agent gb1 GB
add_agent nl1 NL
"$CTL" --db "$DB" target add web --address 127.0.0.1 --probe tcp:1 --interval 5 >/dev/null
P=$(sql "SELECT min(id) FROM parallax.probes")
V=$(sed -n 's/^#define PX_PROTOCOL_VERSION \([0-9]*\)$/\1/p' "$PX_SOURCE_DIR/proto/wire.h")
[ -n "$V" ] || fail "no PX_PROTOCOL_VERSION in proto/wire.h"
NEXT=$((V + 1))
client() { local name=$1; shift; "$PXCLIENT" -e "$COORD_EP" -k "$COORD_KEY" -s "$(agent_secret "$name")" "$@"; }
why() { echo "speaks protocol $1; this coordinator speaks $V: upgrade agent and coordinator together"; }
agent_row() { sql "SELECT $2 FROM parallax.agents WHERE name = '$1'"; }
# log_lines NAME VERSION: the coordinator's lines refusing agent NAME for VERSION.
log_lines() { grep -F "agent $1: refused: $(why "$2")" "$WORK/coordinator.log" || true; }

log "an agent speaking protocol 0 says hello and sends a batch: no answer, nothing stored"
rc=0; client gb1 -P 0 hello >"$WORK/hello.out" || rc=$?
[ "$rc" -eq 3 ] || fail "hello in protocol 0: exit $rc (3: no answer expected): $(cat "$WORK/hello.out")"
rc=0; client gb1 -P 0 batch 1 1 "$P" 3 >"$WORK/batch.out" || rc=$?
[ "$rc" -eq 3 ] || fail "batch in protocol 0: exit $rc (3: no answer expected): $(cat "$WORK/batch.out")"
wait_until 10 "gb1's refusal recorded" '[ "$(agent_row gb1 refused)" = "$(why 0)" ]'
[ "$(sql "SELECT count(*) FROM parallax.results")" = 0 ] || fail "a refused batch's results were stored"
[ "$(sql "SELECT count(*) FROM parallax.batches")" = 0 ] || fail "a refused batch was recorded"
[ "$(sql "SELECT count(*) FROM parallax.heartbeats")" = 0 ] || fail "a refused agent's heartbeat was stored"
[ "$(agent_row gb1 "coalesce(last_seen::text, '-') || ' ' || coalesce(agent_version, '-') || ' ' || online")" = "- - false" ] ||
    fail "a refused hello was taken as one: $(sql "SELECT * FROM parallax.agents WHERE name = 'gb1'")"
[ "$(log_lines gb1 0 | wc -l)" -eq 1 ] || fail "expected one log line for hello and batch: $(log_lines gb1 0)"
grep -q "dropped a bad message" "$WORK/coordinator.log" && fail "another version was taken for a broken message"

log "an agent speaking protocol $NEXT is refused alike"
rc=0; client nl1 -P "$NEXT" heartbeats 1 100 0 >/dev/null || rc=$?
[ "$rc" -eq 3 ] || fail "heartbeat in protocol $NEXT: exit $rc (3: no answer expected)"
wait_until 10 "nl1's refusal recorded" '[ "$(agent_row nl1 refused)" = "$(why "$NEXT")" ]'
[ "$(log_lines nl1 "$NEXT" | wc -l)" -eq 1 ] || fail "nl1's refusal not logged once: $(log_lines nl1 "$NEXT")"

log "agent list, agent show and status say so, naming both versions"
ctl 0 agent list
grep -Eq '^gb1 +GB +- +yes +refused +never ' "$WORK/out" || fail "gb1 is not refused in agent list: $(cat "$WORK/out")"
grep -Eq '^nl1 +NL +- +yes +refused +never ' "$WORK/out" || fail "nl1 is not refused in agent list: $(cat "$WORK/out")"
grep -qxF "agent gb1 is refused: $(why 0)" "$WORK/out" || fail "agent list does not say why gb1 is refused: $(cat "$WORK/out")"
grep -qxF "agent nl1 is refused: $(why "$NEXT")" "$WORK/out" || fail "agent list does not say why nl1 is refused: $(cat "$WORK/out")"
ctl 0 agent list --json
python3 - "$WORK/out" "$(why 0)" "$(why "$NEXT")" <<'PY' || fail "agent list --json: $(cat "$WORK/out")"
import json, sys
a = {x["name"]: x for x in json.load(open(sys.argv[1]))}
assert a["gb1"]["state"] == "refused" and a["gb1"]["refused"] == sys.argv[2], a["gb1"]
assert a["nl1"]["state"] == "refused" and a["nl1"]["refused"] == sys.argv[3], a["nl1"]
assert a["gb1"]["refused_at"].endswith("Z"), a["gb1"]
PY
ctl 0 agent show gb1
grep -Eq '^state +refused$' "$WORK/out" || fail "agent show: state: $(cat "$WORK/out")"
grep -Eq "^refused +$(why 0)\$" "$WORK/out" || fail "agent show: why: $(cat "$WORK/out")"
grep -Eq '^refused at +[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC$' "$WORK/out" || fail "agent show: when: $(cat "$WORK/out")"
ctl 0 agent show nl1 --json
python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); assert a["state"] == "refused" and a["refused"] == sys.argv[2] and a["refused_at"], a' \
    "$WORK/out" "$(why "$NEXT")" || fail "agent show --json: $(cat "$WORK/out")"
ctl 0 status
grep -qF 'agents: 2 (0 online, 0 impaired, 0 offline, 2 refused, 0 disabled;' "$WORK/out" || fail "status summary: $(head -1 "$WORK/out")"
grep -Eq '^gb1 +GB +- +refused ' "$WORK/out" || fail "status: gb1: $(cat "$WORK/out")"
grep -qxF "agent gb1 is refused: $(why 0)" "$WORK/out" || fail "status does not say why gb1 is refused: $(cat "$WORK/out")"
ctl 0 status --json
python3 -c 'import json,sys; a={x["name"]: x for x in json.load(open(sys.argv[1]))["agents"]}; assert a["gb1"]["state"] == "refused" and a["gb1"]["refused"] == sys.argv[2], a' \
    "$WORK/out" "$(why 0)" || fail "status --json: $(cat "$WORK/out")"

log "both go on sending for 65 s: logged and recorded once a minute, never answered"
first_at=$(agent_row gb1 "extract(epoch FROM refused_at)")
start_bg chatter-gb1 client gb1 -P 0 chatter 65 200
GB_PID=$LAST_PID
start_bg chatter-nl1 client nl1 -P "$NEXT" chatter 65 200
NL_PID=$LAST_PID
wait "$GB_PID" || fail "pxclient gb1 failed: $(cat "$WORK/chatter-gb1.log")"
wait "$NL_PID" || fail "pxclient nl1 failed: $(cat "$WORK/chatter-nl1.log")"
for n in gb1 nl1; do
    grep -Eqx 'sent [0-9]+ received 0' "$WORK/chatter-$n.log" || fail "$n: $(tail -3 "$WORK/chatter-$n.log")"
    sent=$(sed -n 's/^sent \([0-9]*\) .*/\1/p' "$WORK/chatter-$n.log")
    [ "$sent" -ge 250 ] || fail "$n sent only $sent messages"
done
# Each agent's lines: the first, then one a minute; the whole run spans over a minute from
# the first, so there are two or three, each at least 60 s after the one before.
for pair in "gb1 0" "nl1 $NEXT"; do
    set -- $pair
    log_lines "$1" "$2" | cut -d' ' -f1 >"$WORK/times-$1"
    lines=$(wc -l <"$WORK/times-$1")
    [ "$lines" -ge 2 ] && [ "$lines" -le 3 ] || fail "$1: $lines log lines in about 80 s: $(log_lines "$1" "$2")"
    python3 - "$WORK/times-$1" <<'PY' || fail "$1 was logged more than once a minute: $(cat "$WORK/times-$1")"
import datetime, sys
t = [datetime.datetime.strptime(l.strip(), "%Y-%m-%dT%H:%M:%S.%fZ") for l in open(sys.argv[1])]
assert all((b - a).total_seconds() >= 59.5 for a, b in zip(t, t[1:])), t
PY
done
later_at=$(agent_row gb1 "extract(epoch FROM refused_at)")
python3 -c 'import sys; d = float(sys.argv[2]) - float(sys.argv[1]); assert 59.5 <= d < 120, d' "$first_at" "$later_at" ||
    fail "gb1's refusal was not recorded again a minute later ($first_at, then $later_at)"
[ "$(sql "SELECT count(*) FROM parallax.results") $(sql "SELECT count(*) FROM parallax.heartbeats")" = "0 0" ] ||
    fail "something a refused agent sent was stored"
kill -0 "$COORD_PID" || fail "coordinator died"

log "the same key speaking protocol $V: the refusal is lifted and what it sends is stored"
out=$(client gb1 hello)
grep -q '^schedule [0-9]* 1$' <<<"$out" || fail "hello in protocol $V: $out"
[ "$(agent_row gb1 "coalesce(refused, '-') || ' ' || coalesce(refused_at::text, '-') || ' ' || online")" = "- - true" ] ||
    fail "the refusal was not lifted: $(sql "SELECT * FROM parallax.agents WHERE name = 'gb1'")"
out=$(client gb1 batch 1 1 "$P" 3)
[ "$out" = "ack 1 stored" ] || fail "batch in protocol $V: $out"
[ "$(sql "SELECT count(*) FROM parallax.results")" = 3 ] || fail "the batch's results were not stored"
grep -q "agent gb1 speaks protocol $V now: refusal lifted" "$WORK/coordinator.log" || fail "the lifted refusal was not logged"
ctl 0 agent list
grep -Eq '^gb1 +GB +- +yes +online ' "$WORK/out" || fail "gb1 not online in agent list: $(cat "$WORK/out")"
grep -q "agent gb1 is refused" "$WORK/out" && fail "agent list still says gb1 is refused: $(cat "$WORK/out")"
grep -qxF "agent nl1 is refused: $(why "$NEXT")" "$WORK/out" || fail "nl1's refusal went with gb1's: $(cat "$WORK/out")"

log "an old copy of it comes back: refused again at once"
rc=0; client gb1 -P 0 heartbeats 1 100 0 >/dev/null || rc=$?
[ "$rc" -eq 3 ] || fail "heartbeat in protocol 0: exit $rc"
wait_until 10 "gb1 refused again" '[ "$(agent_row gb1 refused)" = "$(why 0)" ]'
kill -0 "$COORD_PID" || fail "coordinator died"
log "ok"
