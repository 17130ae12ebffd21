#!/usr/bin/env bash
# docs_running: README.md's "Running it yourself" block, run as written in a scratch directory
# inside a network namespace of its own (loopback only, so the probes of 192.0.2.10 leave
# nothing), then its SQL examples and the `parallax-agent --probe` line. What differs from a
# reader's run, and why:
#   * the first line (scripts/deps.sh and scripts/build.sh) is left out: the suite installed
#     and built everything, and build/ here is the suite's build directory, which other tests
#     are running from;
#   * scripts/ and build/ are links to the source tree's and the suite's, and the private
#     PostgreSQL goes to this test's scratch directory instead of /tmp/parallax-pg.
# Passes when the README's coordinator config loads as written (comments and all), the agent
# it registers comes online and sends results for gov-web, and every command exits 0.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (a network namespace)"
BLOCKS="/usr/bin/python3 $PX_SOURCE_DIR/tests/tools/docs_blocks.py"

block=$($BLOCKS get "$PX_SOURCE_DIR/README.md" running-it-yourself) || fail "no running-it-yourself block"
first=$(head -n 1 <<<"$block")
[ "$first" = "bash scripts/deps.sh && bash scripts/build.sh            # binaries under build/" ] ||
    fail "the block's first line changed (this test leaves it out): $first"
block=$(tail -n +2 <<<"$block")
block=${block//\/tmp\/parallax-pg/$WORK/pg}
sql_examples=$($BLOCKS get "$PX_SOURCE_DIR/README.md" sql-examples) || fail "no sql-examples block"
probe_line=$($BLOCKS get "$PX_SOURCE_DIR/README.md" probe-by-hand) || fail "no probe-by-hand block"

mkdir -p "$WORK/run"
ln -s "$PX_SOURCE_DIR/scripts" "$WORK/run/scripts"
ln -s "$PX_BUILD_DIR" "$WORK/run/build"
on_exit "bash $PX_SOURCE_DIR/scripts/pg.sh stop $WORK/pg >/dev/null 2>&1"
# The block, then what a reader would look at, in the same shell: its jobs are the
# coordinator (%1) and the agent (%2), stopped at the end as the README says.
cat >"$WORK/run/script.sh" <<EOF
set -euo pipefail
# Whatever the block started goes with the script, pass or fail.
trap 'kill \$(jobs -p) 2>/dev/null || true' EXIT
ip link set lo up
$block
echo "== the agent comes online and reports"
for i in \$(seq 300); do
    parallaxctl --db "\$DB" agent list | grep -Eq '^gb1 .* online' &&
        [ "\$(psql -X -tA -d "\$DB" -c "SELECT count(*) FROM parallax.result_view WHERE agent = 'gb1' AND target = 'gov-web'")" -gt 0 ] && break
    [ "\$i" -lt 300 ] || { echo "gb1 sent nothing for gov-web in 60 s"; exit 1; }
    sleep 0.2
done
echo "== the SQL examples"
psql -X -v ON_ERROR_STOP=1 -d "\$DB" <<'SQL'
$sql_examples
SQL
echo "== a probe by hand"
set +e
$probe_line
rc=\$?
set -e
[ "\$rc" = 0 ] || [ "\$rc" = 3 ] || { echo "parallax-agent --probe exited \$rc"; exit 1; }
kill %1 %2
wait
EOF
log "the block, in its own network namespace"
(cd "$WORK/run" && timeout 120 unshare -n bash script.sh) >"$WORK/run.log" 2>&1 ||
    fail "the block failed: $(tail -n 30 "$WORK/run.log")"
grep -qx 'coordinator.conf: ok' "$WORK/run.log" || fail "no 'coordinator.conf: ok': $(cat "$WORK/run.log")"
grep -q '"name": *"gov-web"' "$WORK/run.log" || fail "target list --json shows no gov-web: $(cat "$WORK/run.log")"
grep -q '^status=' "$WORK/run.log" || fail "the probe by hand printed no status: $(tail -n 5 "$WORK/run.log")"
[ "$(stat -c %a "$WORK/run/gb1.conf")" = 600 ] || fail "gb1.conf is not 0600"
[ "$(stat -c %a "$WORK/run/coordinator.key")" = 600 ] || fail "coordinator.key is not 0600"
log "ok"
