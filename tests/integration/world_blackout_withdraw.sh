#!/usr/bin/env bash
# world_blackout_withdraw: the country's border withdraws its BGP route, so the transit router
# has none and answers "unreachable": a blackout seen by every vantage (tests/world/blackout.sh). A real
# prometheus in the coordinator's namespace scrapes its /metrics at the shipped default
# address and reads parallax_outages_open{scope="group",stage="blackout"} as 0 before the
# fault, 1 during the blackout and 0 after.
source "$(dirname "$0")/lib.sh"
command -v prometheus >/dev/null && command -v promtool >/dev/null ||
    fail "prometheus is not installed (scripts/deps.sh installs it)"
PXW_ROUTES=1 # the world's route collector feeds Parallax live (tests/world/blackout.sh)
source "$PX_SOURCE_DIR/tests/world/scenario.sh"
source "$PX_SOURCE_DIR/tests/tools/prometheus.sh"
PROM_NS=c
prom_scrape_check http://127.0.0.1:9467/metrics
prom_start 127.0.0.1:9090 127.0.0.1:9467
BLACKOUT='parallax_outages_open{scope="group",stage="blackout"}'
wait_until 30 "prometheus reads $BLACKOUT as 0 before the fault" '[ "$(prom_query "$BLACKOUT")" = 0 ]'
blackout_during() {
    wait_until 30 "prometheus reads $BLACKOUT as 1 during the blackout" '[ "$(prom_query "$BLACKOUT")" = 1 ]'
    log "prometheus reads $BLACKOUT as 1"
}
blackout_after() {
    wait_until 30 "prometheus reads $BLACKOUT as 0 after it" '[ "$(prom_query "$BLACKOUT")" = 0 ]'
    log "prometheus reads $BLACKOUT as 0 again"
}
FAULT=withdraw EVIDENCE=unreachable
source "$PX_SOURCE_DIR/tests/world/blackout.sh"
