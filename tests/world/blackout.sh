# blackout.sh: the body of the two blackout scenario tests (sourced after lib.sh and
# scenario.sh, with FAULT=withdraw|blackhole and EVIDENCE, the failure status the targets'
# evidence must name; PXW_ROUTES=1 was set before scenario.sh, so the world's route
# collector feeds Parallax live). Every vantage agrees: a group blackout, every country target
# down, no vantage blamed; the group's outage says what BGP said — unroutable, withdrawn when
# the border withdrew (withdraw), or routes present (blackhole) — and explain says it; then the
# route returns and the outage ends. Last, the collector's MRT file replayed into a fresh
# database gives the same visibility bins as the live feed did.
[ -n "${PXW_ROUTES_PID:-}" ] || fail "no live BGP feed (set PXW_ROUTES=1 before scenario.sh)"
t_fault=$(date +%s.%N)
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
# What BGP said, in the group's outage (the routes evidence of the bin where it reached
# blackout; routes data arriving after that bin was judged re-judges it, hence the wait).
if [ "$FAULT" = withdraw ]; then routes_want=unroutable; else routes_want=routed; fi
group_routes() { pxw_sql "SELECT detail->'routes'->>'state' FROM parallax.outages WHERE scope = 'group' AND subject = 'XX' AND ended_at IS NULL"; }
pxw_wait $(iv 30) "the group's outage says routes $routes_want" '[ "$(group_routes)" = $routes_want ]' ||
    fail "the group's outage does not say routes $routes_want: $(pxw_sql "SELECT detail->'routes' FROM parallax.outages WHERE scope = 'group'")"
group_id=$(pxw_sql "SELECT id FROM parallax.outages WHERE scope = 'group' AND subject = 'XX' AND ended_at IS NULL")
explain=$("$BIN/coordinator/ctl/parallaxctl" --db "$DB" explain "$group_id") || fail "explain failed"
if [ "$FAULT" = withdraw ]; then
    # The withdrawal's time is the BGP data's: the collector heard it at the fault (its MRT
    # records carry whole seconds), and the outage carries that time.
    lag=$(pxw_sql "SELECT extract(epoch FROM (detail->'routes'->>'withdrawn_at')::timestamptz) - $t_fault
                   FROM parallax.outages WHERE id = $group_id")
    awk -v l="$lag" 'BEGIN { exit !(l > -1 && l < 3) }' ||
        fail "withdrawn_at is ${lag}s from the fault: $(pxw_sql "SELECT detail->'routes' FROM parallax.outages WHERE id = $group_id")"
    [ "$(pxw_sql "SELECT (detail->'routes'->>'withdrawn_at')::timestamptz = (SELECT max(ts) FROM parallax.route_updates WHERE kind = 'withdraw')
                  FROM parallax.outages WHERE id = $group_id")" = t ] || fail "withdrawn_at is not the withdrawal's time in the BGP data"
    grep -q "^routes (BGP, from the route collectors): unroutable" <<<"$explain" &&
        grep -q "^  $WORLD_COUNTRY_NET withdrawn from 1 of 1 collector peers at " <<<"$explain" ||
        fail "explain does not say the country was unroutable: $explain"
    log "the group's outage: unroutable, withdrawn ${lag}s after the fault (BGP data)"
else
    grep -q "^routes (BGP, from the route collectors): routes present" <<<"$explain" &&
        grep -q "^  $WORLD_COUNTRY_NET announced, seen by 1 of 1 collector peers (origin AS$WORLD_COUNTRY_ASN)" <<<"$explain" ||
        fail "explain does not say the routes were present: $explain"
    log "the group's outage: routes present (BGP data)"
fi
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
# The replay: the collector's file imported in one go into a fresh database with the same
# targets gives the visibility bins the live feed wrote, row for row.
pxw_routes_stop || fail "the live BGP feed did not stop cleanly: $(cat "$WORK/px/routes.log")"
replay_db="$PG_BASE dbname=${DB_NAME}_replay"
createdb "${DB_NAME}_replay"
on_exit "dropdb --if-exists '${DB_NAME}_replay'"
"$CTL" --db "$replay_db" db migrate >/dev/null
pxw_targets "$replay_db" "$INTERVAL" || fail "the replay database's targets"
"$CTL" --db "$replay_db" routes import "$WORLD_BGP_MRT" >"$WORK/replay.log" 2>&1 ||
    fail "the replay failed: $(cat "$WORK/replay.log")"
route_bins() {
    psql -X -q -tA -v ON_ERROR_STOP=1 -d "$1" -c "SELECT count(*) || ' bins, ' || count(*) FILTER (WHERE peers_seeing = 0) || ' unseen, md5 ' ||
        coalesce(md5(string_agg(concat_ws(' ', prefix, bin_start, bin_end, peers_seeing, peers_total, origin_asns, withdrawn_at),
                                E'\n' ORDER BY prefix, bin_start)), '-')
        FROM parallax.route_bins"
}
live=$(route_bins "$DB") && replay=$(route_bins "$replay_db") || fail "reading the visibility bins"
[ "$live" = "$replay" ] || fail "the replay's visibility bins differ from the live feed's: live $live, replay $replay"
case $FAULT:$live in withdraw:0*|withdraw:*" 0 unseen"*|blackhole:0*) fail "too few visibility bins to compare: $live" ;; esac
log "replay of the collector's MRT file: the same visibility bins as the live feed ($live)"
scenario_done
