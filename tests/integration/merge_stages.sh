#!/usr/bin/env bash
# merge_stages: target states (partial, down, degraded) and the stages of a group outage,
# from synthetic results with a known truth inserted through plain INSERTs.
source "$(dirname "$0")/lib.sh"
source "$PX_SOURCE_DIR/tests/data/merge/merge_fx.sh"

fx_scenario "path problem from one vantage: partial"
fx "SELECT fx.rule(0, 30)"
fx "SELECT fx.rule(10, 19, agent => 'D', target => 'ir-web1', status => 'unreachable')"
fx "SELECT fx.play(0, 30)"
expect_timeline target ir-web1 0 30 uuuuuuuuuuppppppppppuuuuuuuuuuu
expect_timeline target ir-web2 0 30 uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu
expect_timeline vantage D 0 30 hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh
expect_timeline group IR 0 30 nnnnnnnnnnggggggggggnnnnnnnnnnn
expect_events "group IR 10 20 degraded
target ir-web1 10 20 partial"
expect_eq "agreeing" "$(detail ir-web1 '$.agreeing')" '["D"]'
expect_eq "disagreeing" "$(detail ir-web1 '$.disagreeing')" '["A", "B", "C"]'
expect_eq "failure" "$(detail ir-web1 '$.dominant_failure')" unreachable

fx_scenario "a single server down: target down, group servers_offline"
fx "SELECT fx.rule(0, 30)"
fx "SELECT fx.rule(10, 19, target => 'ir-web2', status => 'refused')"
fx "SELECT fx.play(0, 30)"
expect_timeline target ir-web2 0 30 uuuuuuuuuuDDDDDDDDDDuuuuuuuuuuu
expect_timeline group IR 0 30 nnnnnnnnnnssssssssssnnnnnnnnnnn
expect_events "group IR 10 20 servers_offline
target ir-web2 10 20 down"
expect_eq "failure" "$(detail ir-web2 '$.dominant_failure')" refused
expect_eq "down targets" "$(detail IR '$.down_targets')" '["ir-web2"]'

fx_scenario "DNS servers down while the web answers: dns_down"
fx "SELECT fx.rule(0, 30)"
fx "SELECT fx.rule(10, 19, target => 'ir-dns.', status => 'timeout')"
fx "SELECT fx.play(0, 30)"
expect_timeline group IR 0 30 nnnnnnnnnnddddddddddnnnnnnnnnnn
expect_timeline target ir-web1 0 30 uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu
expect_events "group IR 10 20 dns_down
target ir-dns1 10 20 down
target ir-dns2 10 20 down"

fx_scenario "rising latency and timeouts, then servers, DNS and routers go: stages in order"
# ir-web3 has two probes, so its ping timing out from two vantages leaves its web service
# reachable from all: degraded, not partial (a web probe failing there would be partial).
fx "SELECT fx.target('ir-web3', '203.0.113.12', 'IR', 'web', probes => '{icmp,tcp:443}')"
fx "SELECT fx.rule(0, 45, rtt_ms => 50)"
fx "SELECT fx.rule(20, 23, target => 'ir-.*', rtt_ms => 400)"
fx "SELECT fx.rule(22, 23, agent => 'A|B', target => 'ir-web3/icmp', status => 'timeout')"
fx "SELECT fx.rule(24, 31, target => 'ir-web.*|ir-mail', status => 'timeout')"
fx "SELECT fx.rule(24, 25, target => 'ir-dns.*|ir-rtr.*', rtt_ms => 400)"
fx "SELECT fx.rule(26, 31, target => 'ir-dns.*', status => 'timeout')"
fx "SELECT fx.rule(26, 27, target => 'ir-rtr.*', rtt_ms => 400)"
fx "SELECT fx.rule(28, 31, target => 'ir-rtr.*', status => 'unreachable')"
fx "SELECT fx.play(0, 45)"
expect_timeline group IR 15 40 nnnnnggggssddBBBBnnnnnnnnn
expect_timeline target ir-web1 15 40 uuuuuggggDDDDDDDDuuuuuuuuu
expect_timeline target ir-web3 15 40 uuuuuggggDDDDDDDDuuuuuuuuu
expect_timeline target ir-rtr1 15 40 uuuuuggggggggDDDDuuuuuuuuu
expect_eq "ir-web3 degraded by its timeouts" \
    "$(sql "SELECT evidence->>'failure_share' FROM parallax.target_bins WHERE target = 'ir-web3' AND bin_start = fx.bin(22)")" 0.25
expect_eq "baseline" \
    "$(sql "SELECT evidence->>'baseline_ms' FROM parallax.target_bins WHERE target = 'ir-web1' AND bin_start = fx.bin(20)")" 50
expect_events "group IR 20 32 blackout
target ir-dns1 20 32 down
target ir-dns2 20 32 down
target ir-mail 20 32 down
target ir-rtr1 20 32 down
target ir-rtr2 20 32 down
target ir-web1 20 32 down
target ir-web2 20 32 down
target ir-web3 20 32 down"
expect_eq "stages reached, in order" \
    "$(sql "SELECT string_agg(key || '@' || fx.k(value::text::timestamptz), ' ' ORDER BY value::text::timestamptz)
            FROM parallax.outages, jsonb_each(detail->'first_reached') WHERE subject = 'IR'")" \
    "degraded@20 servers_offline@24 dns_down@26 blackout@28"
expect_eq "router first reached" \
    "$(sql "SELECT string_agg(key || '@' || fx.k(value::text::timestamptz), ' ' ORDER BY value::text::timestamptz)
            FROM parallax.outages, jsonb_each(detail->'first_reached') WHERE subject = 'ir-rtr1'")" \
    "degraded@20 down@28"
expect_remerge_same 45

fx_scenario "bins of two widths: a 2-minute target beside 1-minute ones, down and back"
# Its 2-minute bins close after the 1-minute bins of the same time are merged, so the merge
# finds later bins there and looks each target's previous bin up on its own; the 1-minute
# ones find theirs among the bins just before. Both ways must give what a re-merge gives.
fx "SELECT fx.target('ir-web9', '203.0.113.19', 'IR', 'web')"
fx "UPDATE parallax.probes SET interval_s = 120 WHERE target_id = (SELECT id FROM parallax.targets WHERE name = 'ir-web9')"
fx "SELECT fx.rule(0, 40)"
fx "SELECT fx.rule(14, 23, target => 'ir-web9|ir-web1', status => 'timeout')"
fx "SELECT fx.play(0, 40)"
expect_timeline target ir-web1 10 27 "uuuuDDDDDDDDDDuuuu"
expect_eq "2-minute bins of ir-web9" \
    "$(sql "SELECT string_agg(fx.k(bin_start) || ':' || state, ' ' ORDER BY bin_start) FROM parallax.target_bins
            WHERE target = 'ir-web9' AND bin_start >= fx.bin(10) AND bin_start < fx.bin(28)")" \
    "10:up 12:up 14:down 16:down 18:down 20:down 22:down 24:up 26:up"
expect_events "group IR 14 24 servers_offline
target ir-web1 14 24 down
target ir-web9 14 24 down"
expect_remerge_same 40

fx_scenario "a web server down while its host answers ping: down (service), servers_offline"
fx "SELECT fx.target('ir-web3', '203.0.113.12', 'IR', 'web', probes => '{icmp,tcp:443}')"
fx "SELECT fx.rule(0, 30)"
fx "SELECT fx.rule(10, 19, target => 'ir-web3/tcp:443', status => 'refused')"
fx "SELECT fx.play(0, 30)"
expect_timeline target ir-web3 0 30 uuuuuuuuuuDDDDDDDDDDuuuuuuuuuuu
expect_timeline group IR 0 30 nnnnnnnnnnssssssssssnnnnnnnnnnn
expect_eq "service down, host reachable" \
    "$(sql "SELECT count(*) FROM parallax.target_bins WHERE target = 'ir-web3' AND evidence ? 'service_down'")" 10
expect_remerge_same 30

fx_scenario "a probe failing throughout holds no outage open: blackout, recovery, closed"
# ir-web3's tcp:443 never works (a closed port): it is chronic from the start and left out;
# the blackout's outages close when everything else is back.
fx "SELECT fx.target('ir-web3', '203.0.113.12', 'IR', 'web', probes => '{icmp,tcp:443}')"
fx "SELECT fx.rule(0, 40)"
fx "SELECT fx.rule(0, 40, target => 'ir-web3/tcp:443', status => 'refused')"
fx "SELECT fx.rule(10, 19, target => 'ir-.*', status => 'unreachable')"
fx "SELECT fx.play(0, 40)"
expect_timeline target ir-web3 0 30 uuuuuuuuuuDDDDDDDDDDuuuuuuuuuuu
expect_timeline group IR 0 30 nnnnnnnnnnBBBBBBBBBBnnnnnnnnnnn
expect_eq "the closed port is chronic" \
    "$(sql "SELECT evidence->>'chronic' FROM parallax.target_bins WHERE target = 'ir-web3' AND bin_start = fx.bin(25)")" '["tcp:443"]'
[ "$(sql "SELECT count(*) FROM parallax.outages WHERE ended_at IS NULL")" = 0 ] ||
    fail "outages left open: $(sql "SELECT scope, subject, stage FROM parallax.outages WHERE ended_at IS NULL")"
expect_remerge_same 40
log "ok"
