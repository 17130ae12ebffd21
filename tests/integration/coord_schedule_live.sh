#!/usr/bin/env bash
# coord_schedule_live: a parallaxctl change reaches a connected agent within 2 s (LISTEN /
# NOTIFY, no polling), the agent's acknowledgement of the version it runs is stored and shown
# by parallax.agent_status_view; versions are persistent and only grow: a restarted
# coordinator serves the same version for the same probes, and a larger one after a change.
source "$(dirname "$0")/lib.sh"
new_db
start_coordinator
add_agent gb1 GB
"$CTL" --db "$DB" target add web --address 127.0.0.1 --probe tcp:1 --interval 5 >/dev/null
wait_until 10 "schedule with the probe" 'test "$(sql "SELECT max(probes) FROM parallax.schedule_versions")" = 1'
follow() { start_bg "$1" "$PXCLIENT" -e "$COORD_EP" -k "$COORD_KEY" -s "$(agent_secret gb1)" follow 60; }
version_of() { grep "^schedule" "$WORK/$1.log" | tail -n 1 | awk '{print $2}'; }

follow follow1
FOLLOW1_PID=$LAST_PID
wait_until 20 "the agent gets its schedule" 'grep -q "^schedule" "$WORK/follow1.log"'
v1=$(version_of follow1)
[ "$v1" = "$(sql "SELECT max(version) FROM parallax.schedule_versions")" ] || fail "served $v1, table says otherwise"
wait_until 10 "ack of v1 stored" 'test "$(sql "SELECT schedule_version_acked FROM parallax.agents WHERE name = '"'"'gb1'"'"'")" = "$v1"'

log "a change made with parallaxctl reaches the connected agent within 2 s"
t0=$(date +%s%3N)
"$CTL" --db "$DB" target add mail --address 127.0.0.1 --probe tcp:25 --interval 5 >/dev/null
wait_until 10 "the new schedule" 'test "$(version_of follow1)" != "$v1"'
line=$(grep "^schedule" "$WORK/follow1.log" | tail -n 1)
v2=$(awk '{print $2}' <<<"$line"); n2=$(awk '{print $3}' <<<"$line"); t2=$(awk '{print $4}' <<<"$line")
log "schedule $v2 arrived $((t2 - t0)) ms after the command started"
[ $((t2 - t0)) -le 2000 ] || fail "the change took $((t2 - t0)) ms to reach the agent"
[ "$n2" = 2 ] || fail "new schedule has $n2 probes"
[ "$v2" -gt "$v1" ] || fail "version went from $v1 to $v2"
wait_until 5 "ack of v2 stored" 'test "$(sql "SELECT schedule_version_acked FROM parallax.agents WHERE name = '"'"'gb1'"'"'")" = "$v2"'
[ "$(sql "SELECT schedule_current FROM parallax.agent_status_view WHERE name = 'gb1'")" = t ] \
    || fail "agent_status_view: $(sql "SELECT * FROM parallax.agent_status_view")"
[ "$(sql "SELECT schedule_acked_at IS NOT NULL FROM parallax.agents WHERE name = 'gb1'")" = t ] || fail "schedule_acked_at unset"

log "a restarted coordinator serves the same version for the same probes"
# One connection per agent key, as in real life: the first stand-in goes away.
kill -TERM "$FOLLOW1_PID"
kill -TERM "$COORD_PID"
wait_until 10 "coordinator stopped" '! kill -0 $COORD_PID'
start_bg coordinator2 "$COORD" -c "$WORK/coord.conf"
COORD_PID=$LAST_PID
wait_until 20 "coordinator back" 'grep -q "connected to the database" "$WORK/coordinator2.log"'
follow follow2
wait_until 20 "schedule after the restart" 'grep -q "^schedule" "$WORK/follow2.log"'
[ "$(version_of follow2)" = "$v2" ] || fail "restart changed the version from $v2 to $(version_of follow2)"
"$CTL" --db "$DB" target remove mail >/dev/null
wait_until 5 "schedule after removal" 'test "$(version_of follow2)" != "$v2"'
v3=$(version_of follow2)
[ "$v3" -gt "$v2" ] || fail "removing a target gave version $v3 after $v2: not monotonic"
[ "$(sql "SELECT max(version) FROM parallax.schedule_versions")" = "$v3" ] || fail "versions: $(sql "SELECT version, probes FROM parallax.schedule_versions")"
log "ok"
