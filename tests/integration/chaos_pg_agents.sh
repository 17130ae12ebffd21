#!/usr/bin/env bash
# chaos_pg_agents: PostgreSQL restarted under load from real agents. Three agents probe
# loopback every second; the database is stopped while they send, kept away until every
# agent has results waiting, and started again. The coordinator answers "retry" meanwhile,
# the agents keep their results in their spools, and at the end what each agent says it
# produced equals what the database holds: rows = acked, produced = acked + dropped +
# pending, no duplicate (agent, probe, time), none dropped.
# Uses a private cluster of its own, so stopping it disturbs no other test.
set -euo pipefail
PX_PRIVATE_PG=1 source "$(dirname "$0")/lib.sh"
new_db
start_coordinator
AGENTS="gb1 de1 jp1"
i=0
for a in $AGENTS; do add_agent "$a" "$(echo GB DE JP | cut -d' ' -f$((++i)))"; done
# Many probes a second per agent: icmp and tcp to the coordinator's own port on loopback.
for n in $(seq 1 20); do
    "$CTL" --db "$DB" target add "t$n" --address 127.0.0.1 --allow-internal --probe "tcp:${COORD_EP##*:}" --probe icmp --interval 1 >/dev/null
done
stat_of() { sed -n "s/^$2=//p" "$WORK/state-$1/stats" 2>/dev/null; }
# every_agent 'CONDITION': true if CONDITION (using $a) holds for every agent.
every_agent() { local a; for a in $AGENTS; do eval "$1" || return 1; done; }
rows_of() { sql "SELECT count(*) FROM parallax.results r JOIN parallax.agents a ON a.id = r.agent_id WHERE a.name = '$1'"; }
declare -A PID
for a in $AGENTS; do start_agent "$a"; PID[$a]=$LAST_PID; done
wait_until 60 "results from every agent" \
    'every_agent "test \$(rows_of \$a) -gt 100"'

log "stopping PostgreSQL under load"
"$PX_SOURCE_DIR/scripts/pg.sh" stop "$PRIVATE_PG"
# Every agent must have results it could not deliver: the outage really was under load.
wait_until 60 "results pile up in every spool" \
    'every_agent "test 0\$(stat_of \$a pending) -gt 200"'
kill -0 "$COORD_PID" || fail "coordinator died when the database went away"
for a in $AGENTS; do kill -0 "${PID[$a]}" || fail "agent $a died while the database was away"; done

log "starting PostgreSQL again"
"$PX_SOURCE_DIR/scripts/pg.sh" start "$PRIVATE_PG" >/dev/null
# The agents keep producing, so "drained" is: the backlog is gone, only the batch in flight
# is left (it stays in the spool at exit, counted as pending).
wait_until 120 "every backlog delivered" 'every_agent "test 0\$(stat_of \$a pending) -lt 100"'
for a in $AGENTS; do
    kill -TERM "${PID[$a]}"; wait "${PID[$a]}" || fail "agent $a exit status $?"
done
[ "$(grep -c "connected to the database" "$WORK/coordinator.log")" -ge 2 ] || fail "no reconnect logged"
for a in $AGENTS; do
    produced=$(stat_of $a produced); acked=$(stat_of $a acked)
    dropped=$(stat_of $a dropped); pending=$(stat_of $a pending); r=$(rows_of $a)
    log "$a: produced=$produced acked=$acked dropped=$dropped pending=$pending rows=$r"
    [ "$r" = "$acked" ] || fail "$a: rows $r != acked $acked"
    [ "$produced" = $((acked + dropped + pending)) ] || fail "$a: produced != acked + dropped + pending"
    [ "$dropped" = 0 ] || fail "$a: the spool dropped $dropped results without being full"
done
dups=$(sql "SELECT count(*) FROM (SELECT 1 FROM parallax.results GROUP BY agent_id, probe_id, ts HAVING count(*) > 1) d")
[ "$dups" = 0 ] || fail "$dups duplicated results"
log "ok"
