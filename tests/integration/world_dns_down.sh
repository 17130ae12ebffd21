#!/usr/bin/env bash
# world_dns_down: the country's DNS server stops while web and mail answer: dns_down.
source "$(dirname "$0")/lib.sh"
source "$PX_SOURCE_DIR/tests/world/scenario.sh"
world_fault stop dns
t=$(pxw_outage_wait $(iv 60) group XX dns_down) || fail "no dns_down"
detected "DNS down" "$t"
[ "$(pxw_sql "SELECT stage FROM parallax.outages WHERE scope = 'target' AND subject = 'xx-dns'")" = down ] || fail "xx-dns not down"
for target in xx-web xx-mail xx-border; do no_outage target "$target"; done
no_outage vantage
scenario_done
