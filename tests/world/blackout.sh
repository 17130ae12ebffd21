# blackout.sh: the body of the two blackout scenario tests (sourced after lib.sh and
# scenario.sh, with FAULT=withdraw|blackhole and EVIDENCE, the failure status the targets'
# evidence must name). Every vantage agrees: a group blackout, every country target down, no
# vantage blamed; then the route returns and the outage ends.
world_fault "$FAULT"
t=$(pxw_outage_wait $(iv 60) group XX blackout) || fail "no blackout"
detected "blackout (route $FAULT)" "$t"
# Every country target is down in the bins of the blackout (an outage's worst stage is
# down once it got there).
for target in xx-web xx-dns xx-mail xx-border; do
    pxw_wait $(iv 20) "$target down" \
        "test \"\$(pxw_sql \"SELECT count(*) FROM parallax.outages WHERE scope = 'target' AND subject = '$target' AND stage = 'down'\")\" = 1" ||
        fail "$target not down: $(pxw_sql "SELECT subject, stage, detail FROM parallax.outages WHERE subject = '$target'")"
done
pxw_sql "SELECT detail::text FROM parallax.outages WHERE scope = 'target' AND subject = 'xx-web'" | grep -q "$EVIDENCE" ||
    fail "the web target's evidence does not say $EVIDENCE: $(pxw_sql "SELECT detail FROM parallax.outages WHERE subject = 'xx-web'")"
no_outage vantage
# The fault is the control plane's (withdraw: a real BGP withdrawal, the collector lost the
# route) or the data plane's alone (blackhole: the route stays announced).
# (birdc's answer is read whole: grep -q on a pipe could kill it with SIGPIPE, a failure
# under pipefail; birdc exits 1 when it says "Network not found".)
routes=$(world_birdc r show route "$WORLD_COUNTRY_NET" 2>&1) || true
if [ "$FAULT" = withdraw ]; then
    grep -q "Network not found" <<<"$routes" ||
        fail "the collector still has the country's route after the withdrawal: $routes"
else
    grep -q "^$WORLD_COUNTRY_NET " <<<"$routes" || fail "the collector lost the country's route in a blackhole: $routes"
fi
[ -s "$WORLD_BGP_MRT" ] || fail "the collector wrote no MRT file"
# A test that watches the blackout from elsewhere too (world_blackout_withdraw: Prometheus)
# defines these; the outage is still open here, and closed after `closed`.
! declare -F blackout_during >/dev/null || blackout_during
t_restore=$(pxw_sql "SELECT now()")
world_fault restore
# Every outage closes — xx-web's HTTPS on 8443, failing throughout (an expired certificate),
# included: it never worked, so it never counted.
closed "blackout (route $FAULT)" "$t_restore"
! declare -F blackout_after >/dev/null || blackout_after
pxw_sql "SELECT evidence->'chronic' FROM parallax.target_bins WHERE target = 'xx-web' AND state = 'up' ORDER BY bin_start DESC LIMIT 1" |
    grep -q 'https://www.xx.test:8443/' || fail "xx-web's expired-certificate probe is not listed as chronic"
scenario_done
