# blackout.sh: the body of the two blackout scenario tests (sourced after lib.sh and
# scenario.sh, with FAULT=withdraw|blackhole and EVIDENCE, the failure status the targets'
# evidence must name). Every vantage agrees: a group blackout, every country target down, no
# vantage blamed; then the route returns and the outage ends.
world_fault "$FAULT"
t=$(pxw_outage_wait 60 group XX blackout) || fail "no blackout"
detected "blackout (route $FAULT)" "$t"
# Every country target is down in the bins of the blackout (an outage's worst stage is
# down once it got there).
for target in xx-web xx-dns xx-mail xx-border; do
    pxw_wait 20 "$target down" \
        "test \"\$(pxw_sql \"SELECT count(*) FROM parallax.outages WHERE scope = 'target' AND subject = '$target' AND stage = 'down'\")\" = 1" ||
        fail "$target not down: $(pxw_sql "SELECT subject, stage, detail FROM parallax.outages WHERE subject = '$target'")"
done
pxw_sql "SELECT detail::text FROM parallax.outages WHERE scope = 'target' AND subject = 'xx-web'" | grep -q "$EVIDENCE" ||
    fail "the web target's evidence does not say $EVIDENCE: $(pxw_sql "SELECT detail FROM parallax.outages WHERE subject = 'xx-web'")"
no_outage vantage
world_fault restore
pxw_wait 60 "the blackout ends" \
    'test "$(pxw_sql "SELECT count(*) FROM parallax.outages WHERE scope = '"'"'group'"'"' AND ended_at IS NULL")" = 0' ||
    fail "the blackout never ended"
log "ok"
