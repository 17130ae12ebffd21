#!/usr/bin/env bash
# retention: what is older than the keep_* settings is removed, and nothing else. History
# spanning five days (results, heartbeats, gaps, batch ids, bins, an outage) under a short
# retention set with `parallaxctl settings`: `retention run` drops exactly the daily result
# partitions wholly past keep_results and trims heartbeats, gaps and batch ids at their
# horizons, keeps every bin and outage; `parallaxctl retention` says so; `verify` stays clean
# (it starts at the merge floor), and neither a late result nor --remerge-since re-judges a
# bin whose inputs are gone. A drop that cannot have the results table's lock at once is put
# off and done at the next run. Then the coordinator does the same by itself.
source "$(dirname "$0")/lib.sh"
source "$PX_SOURCE_DIR/tests/data/merge/merge_fx.sh"

log "five days of history, merged"
# Bins are numbered from t0, midnight UTC four days ago, one per minute.
T0=$(psql -X -q -tA -d postgres -c "SELECT (((now() AT TIME ZONE 'UTC')::date - 4)::timestamp AT TIME ZONE 'UTC')::text")
dropdb --if-exists "$DB_NAME" 2>/dev/null
new_db
psql -X -q -v ON_ERROR_STOP=1 -d "$DB_NAME" -f "$FX_SQL" >/dev/null
fx "CREATE OR REPLACE FUNCTION fx.t0() RETURNS timestamptz LANGUAGE sql IMMUTABLE RETURN timestamptz '$T0'"
fx "SELECT fx.world()"
fx "SELECT parallax.ensure_partition(fx.t0()::date + d) FROM generate_series(3, 4) d"
fx "SELECT fx.rule(0, 4 * 1440 + 20)"
# An outage of ir-web2 on the first day: it must outlive the results it was judged from.
fx "SELECT fx.rule(3, 9, target => 'ir-web2', status => 'refused')"
# Ten minutes at the start of each day, merged as they come; in between the vantages are
# judged offline (the sweep reaches back a day at most).
for day in 0 1 2 3 4; do
    fx "SELECT fx.play($day * 1440, $day * 1440 + 12)"
done
last=$((4 * 1440 + 12))
fx "SELECT count(*) FROM generate_series(1, 1000) i WHERE parallax.merge_run(fx.bin($last + 1) + interval '3 minutes') > 0"
[ "$(sql "SELECT count(*) FROM parallax.merge_dirty WHERE closes_at <= fx.bin($last + 1) + interval '3 minutes'")" = 0 ] ||
    fail "the merge did not catch up"
[ "$(sql "SELECT count(*) FROM parallax.outage_events WHERE subject = 'ir-web2' AND ended_at IS NOT NULL")" = 1 ] ||
    fail "no ended ir-web2 outage: $(sql "SELECT subject, started_at, ended_at FROM parallax.outage_events")"
# Gaps: one a day; batch ids: one an hour for five days, by when they were stored.
A=$(sql "SELECT id FROM parallax.agents WHERE name = 'A'")
fx "INSERT INTO parallax.gaps (agent_id, ts_from, ts_to, dropped_count)
    SELECT $A, fx.bin(d * 1440 + 5), fx.bin(d * 1440 + 5) + interval '10 seconds', 1 FROM generate_series(0, 4) d"
fx "INSERT INTO parallax.batches (agent_id, stream, seq, results, ingested_at)
    SELECT $A, 9, s, 1, now() - s * interval '1 hour' FROM generate_series(1, 120) s"
fx "SELECT count(*) FROM generate_series(1, 1000) i WHERE parallax.merge_run(fx.bin($last + 1) + interval '3 minutes') > 0"
ctl 0 verify --all
grep -q "every bin and outage equals a merge from scratch" "$WORK/out" || fail "verify before retention: $(cat "$WORK/out")"

log "nothing is removed at the shipped defaults"
ctl 0 retention run
grep -q "^removed: 0 result partitions, 0 heartbeats, 0 gaps, 0 batch ids, 0 bins, 0 outages" "$WORK/out" ||
    fail "defaults removed something: $(cat "$WORK/out")"
[ -z "$(sql "SELECT parallax.merge_floor()")" ] || fail "a merge floor with nothing removed"

log "a short retention, set with parallaxctl settings"
ctl 0 settings set keep_results='2 days' keep_heartbeats='2 days' keep_gaps='2 days' keep_batches='3 days'
grep -q '^keep_results: 31 days -> 2 days$' "$WORK/out" || fail "settings set: $(cat "$WORK/out")"
ctl 1 settings set keep_batches='1 day'
one_line_error "keep_batches (1 day) must be at least keep_results (2 days)"
ctl 1 settings set keep_bins='1 day'
one_line_error "keep_bins (1 day) must be at least keep_results, keep_heartbeats and keep_gaps (2 days, 2 days, 2 days)"
ctl 1 settings set keep_results='12 hours'
one_line_error "keep_results = 12 hours is out of range"
# The rules hold when the transaction ends, whatever the order the settings are named in.
ctl 0 settings set keep_bins=forever keep_results=forever keep_batches=forever
ctl 0 settings set keep_results='2 days' keep_bins='400 days' keep_batches='3 days'
[ "$(sql "SELECT keep_results || ' ' || keep_batches || ' ' || keep_bins FROM parallax.merge_settings")" = "2 days 3 days 400 days" ] ||
    fail "settings: $(sql "SELECT keep_results, keep_batches, keep_bins FROM parallax.merge_settings")"
ctl 0 settings
grep -Eq '^keep_outages +forever +forever +forever +default$' "$WORK/out" || fail "keep_outages: $(grep keep_outages "$WORK/out")"

parts() { sql "SELECT string_agg(c.relname, ' ' ORDER BY c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
               WHERE i.inhparent = 'parallax.results'::regclass"; }
snapshot() { sql "SELECT md5(string_agg(format('%s %s %s %s %s', scope, subject_id, bin_start, state, evidence), ',' ORDER BY scope, subject_id, bin_start))
                  FROM parallax.bins WHERE bin_start < coalesce(parallax.merge_floor(), 'infinity')"; }
# Expected: the partitions of days that end before now - 2 days go, the others stay.
want_gone=$(sql "SELECT string_agg(c.relname, ' ' ORDER BY c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                 WHERE i.inhparent = 'parallax.results'::regclass
                   AND (to_date(substr(c.relname, 9), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC' <= now() - interval '2 days'")
want_kept=$(sql "SELECT string_agg(c.relname, ' ' ORDER BY c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                 WHERE i.inhparent = 'parallax.results'::regclass
                   AND (to_date(substr(c.relname, 9), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC' > now() - interval '2 days'")
[ "$(wc -w <<<"$want_gone")" -ge 3 ] || fail "the fixture should span at least 3 old days: $(parts)"
results_kept=$(sql "SELECT count(*) FROM parallax.results WHERE ts >= (now() AT TIME ZONE 'UTC')::date - 1")
hb_kept=$(sql "SELECT count(*) FROM parallax.heartbeats WHERE ts >= now() - interval '2 days' + interval '1 minute'")
gaps_kept=$(sql "SELECT count(*) FROM parallax.gaps WHERE ts_to >= now() - interval '2 days' + interval '1 minute'")
batches_kept=$(sql "SELECT count(*) FROM parallax.batches WHERE ingested_at >= now() - interval '3 days' + interval '1 minute'")
bins=$(sql "SELECT count(*) FROM parallax.bins")
outages=$(sql "SELECT count(*) FROM parallax.outage_events")

log "retention run: exactly the old partitions dropped, the rest trimmed at the horizons"
ctl 0 retention run
grep -q "^removed: $(wc -w <<<"$want_gone") result partitions, " "$WORK/out" || fail "retention run: $(cat "$WORK/out") (want gone: $want_gone)"
[ "$(parts)" = "$want_kept" ] || fail "partitions left: $(parts); want $want_kept"
[ "$(sql "SELECT count(*) FROM parallax.results WHERE ts >= (now() AT TIME ZONE 'UTC')::date - 1")" = "$results_kept" ] ||
    fail "results of the kept days removed"
[ "$(sql "SELECT count(*) FROM parallax.heartbeats WHERE ts < now() - interval '2 days'")" = 0 ] || fail "old heartbeats left"
[ "$(sql "SELECT count(*) FROM parallax.heartbeats WHERE ts >= now() - interval '2 days' + interval '1 minute'")" = "$hb_kept" ] ||
    fail "recent heartbeats removed"
[ "$(sql "SELECT count(*) FROM parallax.gaps WHERE ts_to < now() - interval '2 days'")" = 0 ] || fail "old gaps left"
# A row within a minute of a horizon may go either way (now() moves between the count and the run).
[ "$(sql "SELECT count(*) FROM parallax.gaps WHERE ts_to >= now() - interval '2 days' + interval '1 minute'")" = "$gaps_kept" ] ||
    fail "recent gaps removed"
[ "$(sql "SELECT count(*) FROM parallax.batches WHERE ingested_at < now() - interval '3 days'")" = 0 ] || fail "old batch ids left"
[ "$(sql "SELECT count(*) FROM parallax.batches WHERE ingested_at >= now() - interval '3 days' + interval '1 minute'")" = "$batches_kept" ] ||
    fail "recent batch ids removed"
[ "$(sql "SELECT count(*) FROM parallax.bins")" = "$bins" ] || fail "bins removed (kept 400 days)"
[ "$(sql "SELECT count(*) FROM parallax.outage_events")" = "$outages" ] || fail "outages removed (kept forever)"
ctl 0 retention run
grep -q "^removed: 0 result partitions, 0 heartbeats, 0 gaps, 0 batch ids, 0 bins, 0 outages" "$WORK/out" ||
    fail "a second run removed more: $(cat "$WORK/out")"

log "parallaxctl retention reports it"
ctl 0 retention --exact
n_parts=$(wc -w <<<"$want_kept")
grep -Eq "^results +2 days +[0-9-]+ [0-9:]+ +$(date -u -d "-2 days" +%F) 00:00 +$(sql "SELECT count(*) FROM parallax.results") +$n_parts +[0-9.]+ [a-zA-Z]+ +$(wc -w <<<"$want_gone")$" "$WORK/out" ||
    fail "results line: $(cat "$WORK/out")"
grep -Eq "^heartbeats +2 days .* $(sql "SELECT count(*) FROM parallax.heartbeats") +- +[0-9.]+ [a-zA-Z]+ +[1-9][0-9]*$" "$WORK/out" ||
    fail "heartbeats line: $(cat "$WORK/out")"
grep -Eq "^bins +400 days .* $bins +- +[0-9.]+ [a-zA-Z]+ +0$" "$WORK/out" || fail "bins line: $(cat "$WORK/out")"
grep -Eq "^outages +forever +- +[0-9-]+ [0-9:]+ +$outages +- " "$WORK/out" || fail "outages line: $(cat "$WORK/out")"
grep -q "^bins before .* UTC are not merged again" "$WORK/out" || fail "no merge floor said: $(cat "$WORK/out")"
ctl 0 retention --json
python3 - "$WORK/out" "$(wc -w <<<"$want_gone")" <<'PY' || fail "json: $(cat "$WORK/out")"
import json, sys
d = json.load(open(sys.argv[1]))
k = {x["kind"]: x for x in d["kinds"]}
assert list(k) == ["results", "heartbeats", "gaps", "batches", "bins", "outages", "routes", "route_bins"], list(k)
assert k["results"]["removed"] == int(sys.argv[2]), k["results"]
assert k["outages"]["keep"] is None and d["merge_floor"], d
PY

log "verify is still clean: it starts at the merge floor"
ctl 0 verify --all
grep -q "every bin and outage equals a merge from scratch" "$WORK/out" || fail "verify after retention: $(cat "$WORK/out")"
[ "$(sql "SELECT stored = 'from ' || parallax.merge_floor()::text FROM parallax.merge_verify(now() - interval '10 days') WHERE kind = 'span'")" = t ] ||
    fail "verify did not start at the merge floor: $(sql "SELECT stored FROM parallax.merge_verify(now() - interval '10 days') WHERE kind = 'span'")"

log "a late result and --remerge-since leave the bins before the floor as they were"
before=$(snapshot)
fx "SELECT parallax.ensure_partition(fx.t0()::date)"
fx "SELECT fx.rule(0, 12, agent => 'D', target => 'ir-web1', status => 'timeout')"
fx "INSERT INTO parallax.results (ts, agent_id, probe_id, status)
    SELECT fx.bin(7) + interval '5 seconds', a.id, p.id, 'timeout' FROM parallax.agents a, parallax.probes p
    JOIN parallax.targets t ON t.id = p.target_id WHERE a.name = 'D' AND t.name = 'ir-web1'"
ctl 0 settings set open_after=2 --remerge-since 5d
fx "SELECT count(*) FROM generate_series(1, 1000) i WHERE parallax.merge_run(fx.bin($last + 1) + interval '3 minutes') > 0"
[ "$(snapshot)" = "$before" ] || fail "bins before the merge floor were judged again"
ctl 0 verify --all
grep -q "every bin and outage equals a merge from scratch" "$WORK/out" || fail "verify after re-merge: $(cat "$WORK/out")"
ctl 0 retention run
grep -q "^removed: 1 result partitions, " "$WORK/out" || fail "the late partition was not dropped again: $(cat "$WORK/out")"

log "a drop that cannot have the lock at once is put off, then done"
old=$(sql "SELECT 'results_' || to_char(current_date - 20, 'YYYYMMDD')")
fx "SELECT parallax.ensure_partition(current_date - 20)"
psql -X -q -d "$DB_NAME" -c "BEGIN; LOCK TABLE parallax.results IN ACCESS SHARE MODE; SELECT pg_sleep(60); COMMIT" >/dev/null 2>&1 &
PIDS+=("$!")
holders() { sql "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                 WHERE l.relation = 'parallax.results'::regclass AND l.granted AND a.query LIKE '%pg_sleep(60)%'"; }
wait_until 10 "a reader holds the results table" '[ "$(holders)" = 1 ]'
ctl 0 retention run
grep -q "^put off: $old not dropped: the results table was busy" "$WORK/out" || fail "not put off: $(cat "$WORK/out")"
[ -n "$(sql "SELECT to_regclass('parallax.$old')")" ] || fail "dropped under the lock"
ctl 0 retention
grep -q "^results: put off: $old not dropped" "$WORK/out" || fail "the report does not say so: $(cat "$WORK/out")"
fx "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()"
ctl 0 retention run
grep -q "^removed: 1 result partitions, " "$WORK/out" || fail "not dropped after the lock: $(cat "$WORK/out")"
[ -z "$(sql "SELECT to_regclass('parallax.$old')")" ] || fail "$old still there"
[ -z "$(sql "SELECT last_error FROM parallax.retention_state WHERE kind = 'results'")" ] || fail "last_error kept"

log "route updates: what later words supersede goes, each peer's latest word stays however old"
fx "INSERT INTO parallax.route_peers (collector, address, asn) VALUES ('rc', '198.51.100.201', 64500)"
P=$(sql "SELECT id FROM parallax.route_peers WHERE collector = 'rc'")
fx "INSERT INTO parallax.route_updates (ts, peer_id, kind, prefix, origin_asn, as_path) VALUES
    (now() - interval '60 days', $P, 'peer_up', NULL, NULL, NULL),
    (now() - interval '45 days', $P, 'peer_down', NULL, NULL, NULL),
    (now() - interval '40 days', $P, 'peer_up', NULL, NULL, NULL),
    (now() - interval '40 days', $P, 'announce', '203.0.113.0/24', 64501, '64500 64501'),
    (now() - interval '35 days', $P, 'withdraw', '203.0.113.0/24', NULL, NULL),
    (now() - interval '33 days', $P, 'announce', '203.0.113.0/24', 64501, '64500 64501'),
    (now() - interval '50 days', $P, 'announce', '198.51.100.0/24', 64502, '64500 64502'),
    (now() - interval '36 hours', $P, 'withdraw', '192.0.2.0/24', NULL, NULL),
    (now() - interval '1 day', $P, 'announce', '192.0.2.0/24', 64503, '64500 64503')"
fx "INSERT INTO parallax.route_bins VALUES
    ('203.0.113.0/24', now() - interval '500 days', now() - interval '500 days' + interval '1 minute', 1, 1, '{64501}', NULL),
    ('203.0.113.0/24', now() - interval '10 days', now() - interval '10 days' + interval '1 minute', 1, 1, '{64501}', NULL)"
seen() { sql "SELECT string_agg(r.prefix || ':' || v.peers_seeing || '/' || v.peers_total, ' ' ORDER BY r.prefix)
              FROM parallax.route_prefixes r, parallax.route_visibility(r.prefix, now()) v"; }
before=$(seen)
ctl 0 retention run
grep -q ", 4 route updates, 1 route bins (" "$WORK/out" || fail "route retention: $(cat "$WORK/out")"
expect_eq "what is left" "$(sql "SELECT string_agg(kind || ':' || coalesce(prefix::text, '-') || ':' || extract(day FROM now() - ts), ' ' ORDER BY ts)
        FROM parallax.route_updates")" "announce:198.51.100.0/24:50 peer_up:-:40 announce:203.0.113.0/24:33 withdraw:192.0.2.0/24:1 announce:192.0.2.0/24:1"
expect_eq "visibility now unchanged" "$(seen)" "$before"
expect_eq "route bins past keep_bins" "$(sql "SELECT count(*) FROM parallax.route_bins")" 1
ctl 0 retention
grep -Eq "^routes +2 days " "$WORK/out" || fail "retention report: $(cat "$WORK/out")"

log "the coordinator removes what is past its horizon by itself"
# Older than the coordinator's accept window (accept_past_s, a week): its own partitions
# for that window are kept.
old=$(sql "SELECT 'results_' || to_char(current_date - 10, 'YYYYMMDD')")
fx "SELECT parallax.ensure_partition(current_date - 10)"
fx "INSERT INTO parallax.heartbeats SELECT $A, now() - interval '10 days' - s * interval '1 second' FROM generate_series(1, 50) s"
start_coordinator
gone() { [ -z "$(sql "SELECT to_regclass('parallax.$old')")" ]; }
wait_until 60 "the coordinator's retention dropped $old" gone
wait_until 20 "its log says what it removed" 'grep -Eq "retention: removed 1 daily result partitions and [0-9]+ rows" "$WORK/coordinator.log"'
[ "$(sql "SELECT count(*) FROM parallax.heartbeats WHERE ts < now() - interval '2 days'")" = 0 ] || fail "old heartbeats left"
week=$(sql "SELECT 'results_' || to_char(current_date - 5, 'YYYYMMDD')")
[ -n "$(sql "SELECT to_regclass('parallax.$week')")" ] || fail "a partition inside the accept window was dropped: $(parts)"
[ "$(sql "SELECT count(*) FROM parallax.outage_events")" = "$outages" ] || fail "outages removed"
log "ok"
