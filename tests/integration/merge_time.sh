#!/usr/bin/env bash
# merge_time: verdicts over time: hysteresis against flapping, late spooled results that
# rewrite the past, agents with wrong clocks, and spool gaps that are "no data".
source "$(dirname "$0")/lib.sh"
source "$PX_SOURCE_DIR/tests/data/merge/merge_fx.sh"

fx_scenario "flapping: an open outage holds, lone bad bins open none"
fx "SELECT fx.rule(0, 50)"
fx "SELECT fx.rule(10, 12, target => 'ir-web1', status => 'timeout')"
for k in 14 16 18 20 32 36 40; do fx "SELECT fx.rule($k, $k, target => 'ir-web1', status => 'timeout')"; done
fx "SELECT fx.play(0, 50)"
expect_timeline target ir-web1 8 42 uuDDDuDuDuDuDuuuuuuuuuuuDuuuDuuuDuu
expect_events "group IR 10 21 servers_offline
target ir-web1 10 21 down"
expect_eq "bins counted" "$(detail ir-web1 '$.bins')" '{"bad": 7, "good": 4, "unknown": 0}'
expect_remerge_same 50

fx_scenario "late spooled results change a past verdict"
fx "SELECT fx.rule(0, 40)"
fx "SELECT fx.rule(10, 19, target => 'ir-web1', status => 'timeout')"
fx "SELECT fx.rule(10, 19, agent => 'B', status => 'local_error')"
# C and D are cut off from the coordinator: they keep probing but nothing arrives.
silence=$(sql "INSERT INTO fx.rules (k_from, k_to, agent, target, status) VALUES (10, 19, 'C|D', '.*', 'none') RETURNING id")
fx "SELECT fx.play(0, 30)"
expect_timeline target ir-web1 5 25 uuuuu??????????uuuuuu
expect_timeline vantage C 5 25 hhhhhoooooooooohhhhhh
expect_events "vantage B 10 20 impaired
vantage C 10 20 offline
vantage D 10 20 offline"
b_id=$(sql "SELECT id FROM parallax.outages WHERE subject = 'B'")
log "their spools arrive at bin 30, without heartbeats for the time they were cut off"
fx "DELETE FROM fx.rules WHERE id = $silence"
fx "SELECT fx.emit(10, 19, agent_re => 'C|D', heartbeats => false)"
[ "$(sql "SELECT count(*) FROM parallax.merge_queue WHERE scope = 'target' AND bin_start < fx.bin(20)")" -gt 0 ] ||
    fail "late results marked no bin dirty"
fx "SELECT fx.merge(30)"
expect_timeline target ir-web1 5 25 uuuuuDDDDDDDDDDuuuuuu
expect_timeline vantage C 5 25 hhhhhhhhhhhhhhhhhhhhh
expect_timeline group IR 5 25 nnnnnssssssssssnnnnnn
expect_events "group IR 10 20 servers_offline
target ir-web1 10 20 down
vantage B 10 20 impaired"
expect_eq "B's outage kept its id" "$(sql "SELECT id FROM parallax.outages WHERE subject = 'B'")" "$b_id"
expect_eq "agreeing" "$(detail ir-web1 '$.agreeing')" '["A", "C", "D"]'
expect_remerge_same 30

fx_scenario "agents with clocks several seconds off"
# Every target runs 2 s into a bin by the agent's clock. A and B run 5 and 7 s early, so by
# true time their run k belongs to bin k-1; D runs 3 s late. The country goes dark at bin 10.
fx "UPDATE fx.phases SET phase_ms = 2000"
fx "UPDATE parallax.agents SET clock_offset_ms = CASE name WHEN 'A' THEN 5000 WHEN 'B' THEN 7000 WHEN 'D' THEN -3000 END"
fx "SELECT fx.rule(0, 30)"
fx "SELECT fx.rule(10, 19, target => 'ir-.*', status => 'timeout')"
fx "SELECT fx.play(0, 30)"
expect_timeline group IR 5 25 nnnnnBBBBBBBBBBnnnnnn
expect_timeline target ir-web1 5 25 uuuuuDDDDDDDDDDuuuuuu
for a in A B C D; do expect_timeline vantage $a 5 25 hhhhhhhhhhhhhhhhhhhhh; done
expect_events "group IR 10 20 blackout
target ir-dns1 10 20 down
target ir-dns2 10 20 down
target ir-mail 10 20 down
target ir-rtr1 10 20 down
target ir-rtr2 10 20 down
target ir-web1 10 20 down
target ir-web2 10 20 down"
log "the same results binned by the agents' clocks would disagree at both edges"
fx "UPDATE parallax.agents SET clock_offset_ms = NULL"
fx "SELECT parallax.merge_mark(fx.bin(0), fx.bin(31))"
fx "SELECT fx.merge(30)"
expect_timeline target ir-web1 5 25 uuuuupDDDDDDDDDpuuuuu
log "the offsets learnt again, one agent at a time: what each one's results touch is re-merged"
for a in A:5000 B:7000 D:-3000; do
    fx "UPDATE parallax.agents SET clock_offset_ms = ${a#*:} WHERE name = '${a%:*}'"
    fx "SELECT parallax.merge_mark_agent(id, fx.bin(0), fx.bin(31), NULL) FROM parallax.agents WHERE name = '${a%:*}'"
done
fx "SELECT fx.merge(30)"
expect_timeline group IR 5 25 nnnnnBBBBBBBBBBnnnnnn
expect_timeline target ir-web1 5 25 uuuuuDDDDDDDDDDuuuuuu

fx_scenario "spool gaps are no data, never failure"
fx "SELECT fx.rule(0, 40)"
# D is cut off and its spool overflows: nothing of bins 10-14 ever arrives, only a gap record.
fx "SELECT fx.rule(10, 14, agent => 'D', status => 'none')"
fx "INSERT INTO parallax.gaps (agent_id, ts_from, ts_to, dropped_count)
    SELECT id, fx.bin(10), fx.bin(15) - interval '1 ms', 450 FROM parallax.agents WHERE name = 'D'"
fx "SELECT fx.rule(30, 31, agent => 'C', target => 'ir-web1', status => 'timeout')"
fx "SELECT fx.play(0, 40)"
expect_timeline vantage D 5 20 hhhhh-----hhhhhh
expect_timeline target ir-web1 28 33 uuppuu
expect_events "group IR 30 32 degraded
target ir-web1 30 32 partial"
log "a gap reported late for C's ir-web1 probe turns those bins into no data from C"
fx "INSERT INTO parallax.gaps (agent_id, probe_id, ts_from, ts_to, dropped_count)
    SELECT a.id, p.id, fx.bin(30), fx.bin(31) + interval '30 s', 2
    FROM parallax.agents a, parallax.probes p JOIN parallax.targets t ON t.id = p.target_id
    WHERE a.name = 'C' AND t.name = 'ir-web1'"
fx "SELECT fx.merge(41)"
expect_timeline target ir-web1 28 33 uuuuuu
expect_eq "C left out" "$(sql "SELECT evidence->>'vantages' FROM parallax.target_bins WHERE target = 'ir-web1' AND bin_start = fx.bin(30)")" 3
expect_events ""
log "ok"
