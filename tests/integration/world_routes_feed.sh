#!/usr/bin/env bash
# world_routes_feed: the live feed and a replay of it agree, on BIRD's real MRT file. In the
# namespace world (tests/world/world.sh) `parallaxctl routes follow` reads the collector's
# file while the border's prefix is withdrawn and announced again; then the same file,
# replayed into a fresh database with `routes import`, gives the same route updates and the
# same visibility bins; and what both stored is what python3-mrtparse reads in the file.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root to make network namespaces"
command -v bird >/dev/null || fail "bird is not installed (scripts/deps.sh installs it)"
source "$PX_SOURCE_DIR/tests/world/world.sh"

new_db
REPLAY_DB="${DB_NAME}_replay"
on_exit dropdb --if-exists "$REPLAY_DB"
on_exit world_down
world_up "f$(($$ % 10000))" "$WORK/world" >/dev/null || fail "the world did not come up"
ctl 0 group set CC --prefix "$WORLD_COUNTRY_NET" --asn "$WORLD_COUNTRY_ASN"

start_bg follow "$CTL" --db "$ADMIN_DB" routes follow --collector r "$WORLD_BGP_MRT"
FOLLOW_PID=$LAST_PID
kinds() {
    sql "SELECT coalesce(string_agg(kind, ' ' ORDER BY ts), '') FROM parallax.route_updates
         WHERE prefix = '$WORLD_COUNTRY_NET' OR prefix IS NULL"
}
wait_until 30 "the live feed has the session and the route" '[ "$(kinds)" = "peer_up announce" ]'
[ "$(sql "SELECT host(address) || ' ' || asn FROM parallax.route_peers")" = "198.18.8.1 $WORLD_TRANSIT_ASN" ] ||
    fail "the collector's peer: $(sql "TABLE parallax.route_peers")"
[ "$(sql "SELECT as_path || ' ' || origin_asn FROM parallax.route_updates WHERE kind = 'announce'")" = \
  "$WORLD_TRANSIT_ASN $WORLD_COUNTRY_ASN $WORLD_COUNTRY_ASN" ] || fail "the announcement: $(sql "TABLE parallax.route_updates")"
world_fault withdraw || fail "withdraw failed"
wait_until 30 "the live feed has the withdrawal" '[ "$(kinds)" = "peer_up announce withdraw" ]'
world_fault restore || fail "restore failed"
wait_until 30 "the live feed has the announcement again" '[ "$(kinds)" = "peer_up announce withdraw announce" ]'
log "live: $(kinds)"

# Stop the BIRDs, so the file is final, and let the feed read it to its end.
world_down
size=$(stat -c %s "$WORLD_BGP_MRT")
wait_until 30 "the feed read the whole file" '[ "$(sed -n "s/^.*: \([0-9]*\) records.*/\1/p" "$WORK/follow.log" | tail -1)" = "$(/usr/bin/python3 -c "
import struct, sys
d = open(sys.argv[1], \"rb\").read(); n = at = 0
while at + 12 <= len(d): at += 12 + struct.unpack_from(\">I\", d, at + 8)[0]; n += 1
print(n)" "$WORLD_BGP_MRT")" ]'
kill -TERM "$FOLLOW_PID"
wait_until 10 "follow stops" '! kill -0 '"$FOLLOW_PID"
wait "$FOLLOW_PID" || fail "follow exited $?: $(cat "$WORK/follow.log")"
routes_crosscheck r "$WORLD_BGP_MRT"

# The replay, into a fresh database.
createdb "$REPLAY_DB"
"$CTL" --db "$PG_BASE dbname=$REPLAY_DB" db migrate >/dev/null
"$CTL" --db "$PG_BASE dbname=$REPLAY_DB" group set CC --prefix "$WORLD_COUNTRY_NET" --asn "$WORLD_COUNTRY_ASN" >/dev/null
"$CTL" --db "$PG_BASE dbname=$REPLAY_DB" routes import --collector r "$WORLD_BGP_MRT" >"$WORK/replay.out" ||
    fail "the replay failed"
log "replay ($size bytes): $(cat "$WORK/replay.out")"
updates_q="SELECT p.collector, host(p.address), p.asn, u.ts, u.kind, u.prefix, u.origin_asn, u.as_path
           FROM parallax.route_updates u JOIN parallax.route_peers p ON p.id = u.peer_id ORDER BY 1, 2, 3, 4, 5, 6"
bins_q="SELECT prefix, bin_start, bin_end, peers_seeing, peers_total, origin_asns, withdrawn_at
        FROM parallax.route_bins ORDER BY 1, 2"
for q in "$updates_q" "$bins_q"; do
    sql "$q" >"$WORK/live"
    psql -X -q -tA -v ON_ERROR_STOP=1 -d "$REPLAY_DB" -c "$q" >"$WORK/replayed"
    [ -s "$WORK/live" ] || fail "nothing in the live database for: $q"
    diff "$WORK/live" "$WORK/replayed" >"$WORK/diff" ||
        fail "the replay differs from the live feed (< live, > replay) in: $q
$(cat "$WORK/diff")"
done
log "the replay stored the live feed's $(wc -l <"$WORK/live") visibility bins and its updates exactly"
log "ok"
