#!/usr/bin/env bash
# docs_examples: the man pages' examples, as written. The config examples of
# parallax-coordinator.conf(5) and parallax-agent.conf(5) load (`--check`), the comment rule's
# example line included; parallaxctl(8)'s EXAMPLES run one after the other against a
# database that holds what a reader's would: the coordinator's key, README.md's targets.csv,
# and outage 12 (a blackout of group XX, merged from the merge tests' fixture).
source "$(dirname "$0")/lib.sh"
source "$PX_SOURCE_DIR/tests/data/merge/merge_fx.sh"
BLOCKS="/usr/bin/python3 $PX_SOURCE_DIR/tests/tools/docs_blocks.py"
MAN=$PX_SOURCE_DIR/man

# block FILE ID: the block's text, or the test fails.
block() { $BLOCKS get "$1" "$2" || fail "$1 has no block $2"; }

log "parallax-coordinator.conf(5): the example and the comment rule's line load"
block "$MAN/parallax-coordinator.conf.5" coordinator-conf-example >"$WORK/coordinator.conf"
"$COORD" -c "$WORK/coordinator.conf" --check >"$WORK/out" 2>&1 || fail "the example does not load: $(cat "$WORK/out")"
line=$(block "$MAN/parallax-coordinator.conf.5" comment-rule)
grep -q '#' <<<"$line" || fail "the comment rule's example has no comment: $line"
sed "s|^listen .*|$line|" "$WORK/coordinator.conf" >"$WORK/commented.conf"
grep -qxF "$line" "$WORK/commented.conf" || fail "could not put the line in: $(cat "$WORK/commented.conf")"
"$COORD" -c "$WORK/commented.conf" --check >"$WORK/out" 2>&1 || fail "the comment rule's line does not load: $(cat "$WORK/out")"

log "parallax-agent.conf(5): the example loads (its keys hold '#')"
block "$MAN/parallax-agent.conf.5" agent-conf-example >"$WORK/agent.conf"
chmod 600 "$WORK/agent.conf" # it holds a secret key: the agent refuses it readable by others
grep -q '^secret_key = .*#' "$WORK/agent.conf" || fail "the example's secret key no longer shows a '#'"
"$AGENT" -c "$WORK/agent.conf" --check >"$WORK/out" 2>&1 || fail "the example does not load: $(cat "$WORK/out")"
grep -qx "$WORK/agent.conf: ok" "$WORK/out" || fail "--check printed: $(cat "$WORK/out")"

log "parallaxctl(8): the examples, in order"
fx_scenario "a blackout of a country, as outage 12"
fx "SELECT setval('parallax.outage_events_id_seq', 11)"
fx "SELECT fx.rule(0, 30)"
fx "SELECT fx.rule(10, 19, target => 'ir-.*', status => 'timeout')"
fx "SELECT fx.play(0, 30)"
fx "UPDATE parallax.targets SET group_name = 'XX' WHERE group_name = 'IR';
    UPDATE parallax.merge_groups SET name = 'XX' WHERE name = 'IR';
    UPDATE parallax.outage_events SET subject = 'XX' WHERE scope = 'group' AND subject = 'IR'"
[ "$(sql "SELECT scope || ' ' || subject FROM parallax.outages WHERE id = 12")" = "group XX" ] ||
    fail "outage 12 is not the blackout: $(sql "SELECT id, scope, subject FROM parallax.outages")"
sql "INSERT INTO parallax.coordinator (public_key, endpoint)
     VALUES ('rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7', 'tcp://coord.example.net:7000')"
mkdir -p "$WORK/reader"
block "$PX_SOURCE_DIR/README.md" targets | sed -n "/<<'CSV'/,/^CSV\$/p" | sed '1d;$d' >"$WORK/reader/targets.csv"
{ echo "set -euo pipefail"; block "$MAN/parallaxctl.8" ctl-examples; } >"$WORK/reader/examples.sh"
# parallaxctl from the build, the database from PG* (lib.sh sets them), as a reader's shell.
(cd "$WORK/reader" && PATH="$(dirname "$CTL"):$PATH" bash -x examples.sh) >"$WORK/examples.out" 2>&1 ||
    fail "an example failed: $(tail -n 20 "$WORK/examples.out")"
grep -q 'blackout' "$WORK/examples.out" || fail "explain 12 did not explain the blackout: $(cat "$WORK/examples.out")"
[ "$(sql "SELECT open_after || ' ' || close_after FROM parallax.merge_settings")" = "3 5" ] ||
    fail "settings set did not change the settings"
log "ok"
