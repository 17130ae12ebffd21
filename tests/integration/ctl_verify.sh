#!/usr/bin/env bash
# ctl_verify: parallaxctl verify re-merges history from scratch and reports what differs from
# the incremental merge: nothing after an ordinary history with late results, the bin and the
# outage an edit of the stored verdicts introduced, and nothing changed by the check itself.
source "$(dirname "$0")/lib.sh"
source "$PX_SOURCE_DIR/tests/data/merge/merge_fx.sh"

fx_scenario "a server down, a vantage's results late"
fx "SELECT fx.rule(0, 30)"
fx "SELECT fx.rule(10, 19, target => 'ir-web2', status => 'refused')"
fx "SELECT fx.play(0, 20)"
# Vantage D's results of bins 21..25 (timeouts of ir-web1) arrive only after those bins were
# merged without them: the bins are merged again, as a merge from scratch would have them.
fx "SELECT fx.rule(21, 25, agent => 'D', target => 'ir-web1', status => 'timeout')"
fx "SELECT fx.emit(21, 25, 'A|B|C')"
fx "SELECT fx.merge(25)"
fx "SELECT fx.emit(21, 25, 'D', false)"
fx "SELECT fx.merge(25)"
fx "SELECT fx.play(26, 30)"
expect_timeline target ir-web1 20 30 upppppuuuuu
before=$(sql "SELECT md5(string_agg(format('%s %s %s %s %s', scope, subject_id, bin_start, state, evidence), ',' ORDER BY scope, subject_id, bin_start)) FROM parallax.bins")
ctl 0 verify --all
grep -q "every bin and outage equals a merge from scratch" "$WORK/out" || fail "verify said: $(cat "$WORK/out")"
after=$(sql "SELECT md5(string_agg(format('%s %s %s %s %s', scope, subject_id, bin_start, state, evidence), ',' ORDER BY scope, subject_id, bin_start)) FROM parallax.bins")
[ "$before" = "$after" ] || fail "verify changed the stored bins"
[ "$(sql "SELECT count(*) FROM parallax.merge_dirty")" = 0 ] || fail "verify left bins queued"

log "an edited verdict is found, with its outage"
fx "UPDATE parallax.bins b SET state = 'up', bad = false FROM parallax.targets t
    WHERE b.scope = 'target' AND t.id = b.subject_id AND t.name = 'ir-web2' AND b.bin_start = fx.bin(12)"
ctl 1 verify --all
grep -q "differ from a merge from scratch" "$WORK/out" || fail "verify said: $(cat "$WORK/out")"
grep -Eq "^bin +target +ir-web2 .* up +down" "$WORK/out" || fail "the edited bin is not listed: $(cat "$WORK/out")"
grep -q "the stored verdicts differ" "$WORK/err" || fail "no error line: $(cat "$WORK/err")"
ctl 1 verify --all --json
python3 -c "import json,sys; d=json.load(open('$WORK/out')); assert any(x['subject']=='ir-web2' and x['kind']=='bin' for x in d['differences']), d" ||
    fail "the JSON lacks the bin: $(cat "$WORK/out")"

log "bad arguments"
ctl 2 verify --since forever
ctl 2 verify --since 1h --all
ctl 1 verify --all --until yesterday-ish
grep -q "bad --until" "$WORK/err" || fail "$(cat "$WORK/err")"
log "ok"
