#!/usr/bin/env bash
# merge_vantages: the merge tells a country's outage from a vantage's own failure. Synthetic
# results with a known truth go in through plain INSERTs; verdicts and outages are checked.
source "$(dirname "$0")/lib.sh"
source "$PX_SOURCE_DIR/tests/data/merge/merge_fx.sh"

fx_scenario "country blackout seen by every vantage"
fx "SELECT fx.rule(0, 40)"
fx "SELECT fx.rule(10, 19, target => 'ir-.*', status => 'timeout')"
fx "SELECT fx.play(0, 30)"
expect_timeline group IR 0 30 nnnnnnnnnnBBBBBBBBBBnnnnnnnnnnn
expect_timeline target ir-rtr1 0 30 uuuuuuuuuuDDDDDDDDDDuuuuuuuuuuu
for a in A B C D; do expect_timeline vantage $a 0 30 hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh; done
expect_events "group IR 10 20 blackout
target ir-dns1 10 20 down
target ir-dns2 10 20 down
target ir-mail 10 20 down
target ir-rtr1 10 20 down
target ir-rtr2 10 20 down
target ir-web1 10 20 down
target ir-web2 10 20 down"
expect_eq "agreeing vantages" "$(detail IR '$.agreeing')" '["A", "B", "C", "D"]'
expect_eq "disagreeing vantages" "$(detail IR '$.disagreeing')" '[]'
expect_eq "dominant failure" "$(detail IR '$.dominant_failure')" timeout
expect_eq "blackout first reached" "$(detail IR '$.first_reached.blackout')" "2031-03-03T00:10:00+00:00"
expect_eq "no dirty bins left" "$(sql "SELECT count(*) FROM parallax.merge_dirty WHERE closes_at <= fx.bin(31)")" 0

fx_scenario "one vantage's uplink dies (local errors), another goes silent: vantage outages only"
fx "SELECT fx.rule(0, 45)"
fx "SELECT fx.rule(10, 19, agent => 'C', status => 'local_error')"
fx "SELECT fx.rule(25, 34, agent => 'D', status => 'none')"
fx "SELECT fx.play(0, 45)"
expect_timeline vantage C 0 45 hhhhhhhhhhiiiiiiiiiihhhhhhhhhhhhhhhhhhhhhhhhhh
expect_timeline vantage D 0 45 hhhhhhhhhhhhhhhhhhhhhhhhhoooooooooohhhhhhhhhhh
expect_timeline target ir-web1 0 45 uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu
expect_timeline group IR 0 45 nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn
expect_events "vantage C 10 20 impaired
vantage D 25 35 offline"
expect_eq "C's peers were fine" "$(detail C '$.disagreeing')" '["A", "B", "D"]'
expect_eq "C's failure" "$(detail C '$.dominant_failure')" local_error
expect_eq "C excluded from the target's evidence" \
    "$(sql "SELECT evidence->'excluded' FROM parallax.target_bins WHERE target = 'ir-web1' AND bin_start = fx.bin(12)")" '["C"]'
expect_remerge_same 45

fx_scenario "a vantage dies during a real blackout: blackout still called, vantage flagged"
fx "SELECT fx.rule(0, 40)"
fx "SELECT fx.rule(10, 29, target => 'ir-.*', status => 'timeout')"
fx "SELECT fx.rule(15, 24, agent => 'B', status => 'none')"
fx "SELECT fx.rule(17, 18, agent => 'A', target => 'ctl-.*', status => 'timeout')"
fx "SELECT fx.play(0, 40)"
expect_timeline group IR 5 35 nnnnnBBBBBBBBBBBBBBBBBBBBnnnnnn
expect_timeline vantage B 5 35 hhhhhhhhhhoooooooooohhhhhhhhhhh
expect_timeline vantage A 5 35 hhhhhhhhhhhhiihhhhhhhhhhhhhhhhh
expect_eq "vantages counted while B is dead and A impaired" \
    "$(sql "SELECT evidence->>'vantages' FROM parallax.target_bins WHERE target = 'ir-web1' AND bin_start = fx.bin(17)")" 2
expect_events "group IR 10 30 blackout
target ir-dns1 10 30 down
target ir-dns2 10 30 down
target ir-mail 10 30 down
target ir-rtr1 10 30 down
target ir-rtr2 10 30 down
target ir-web1 10 30 down
target ir-web2 10 30 down
vantage A 17 19 impaired
vantage B 15 25 offline"
expect_remerge_same 40

fx_scenario "only one healthy vantage left: unknown, not down"
fx "SELECT fx.rule(0, 30)"
fx "SELECT fx.rule(10, 19, agent => 'A|B|C', status => 'local_error')"
fx "SELECT fx.rule(10, 19, agent => 'D', target => 'ir-.*', status => 'timeout')"
fx "SELECT fx.play(0, 30)"
expect_timeline target ir-web1 0 30 uuuuuuuuuu??????????uuuuuuuuuuu
expect_timeline group IR 0 30 nnnnnnnnnn??????????nnnnnnnnnnn
expect_events "vantage A 10 20 impaired
vantage B 10 20 impaired
vantage C 10 20 impaired"

fx_scenario "healthy vantages that all fail but share one network: unknown, not down"
fx "UPDATE parallax.agents SET country = 'DE', asn = 3320"
fx "SELECT fx.rule(0, 20)"
fx "SELECT fx.rule(5, 9, target => 'ir-web1', status => 'timeout')"
fx "SELECT fx.play(0, 15)"
expect_timeline target ir-web1 0 15 uuuuu?????uuuuuu
fx "UPDATE parallax.agents SET asn = 3320 + id"
fx "SELECT parallax.merge_mark(fx.bin(0), fx.bin(16))"
fx "SELECT fx.merge(15)"
expect_timeline target ir-web1 0 15 uuuuuDDDDDuuuuuu
log "ok"
