#!/usr/bin/env bash
# routes_import: parallaxctl routes import|follow|origins on MRT files written by
# tests/tools/mrt_write.py (from RFC 6396/4271/4760), checked against python3-mrtparse's
# reading of the same files: the peers, announcements (AS path and
# origin, AS sets, IPv6), withdrawals and session changes land in route_peers/route_updates;
# a second import stores nothing twice; the visibility bins of a group's prefix follow; a
# TABLE_DUMP_V2 RIB names its peers; follow picks up records appended while it runs (a partial
# record waits for its end), reopens a replaced file, stops on SIGTERM; origins loads a
# prefix-to-AS file, replacing its own source's rows.
source "$(dirname "$0")/lib.sh"
MRTW="/usr/bin/python3 $PX_SOURCE_DIR/tests/tools/mrt_write.py"

new_db
T=$(( $(date +%s) / 60 * 60 - 1200 )) # a bin boundary 20 minutes ago
ctl 0 group set IR --prefix 203.0.113.0/24 --asn 64501

log "import: updates, state changes, two updates of one prefix in one second"
$MRTW "$WORK/rc1.mrt" <<SPEC
up $T 198.51.100.1 64500
up $T 198.51.100.2 64502
announce $((T + 1)) 198.51.100.1 64500 203.0.113.0/24,192.0.2.0/24 64500 64501
announce $((T + 1)) 198.51.100.2 64502 203.0.113.0/24 64502 {64501,64503}
announce $((T + 2)).250000 198.51.100.1 64500 2001:db8:1::/48 64500 4200000000
keepalive $((T + 3)) 198.51.100.1 64500
withdraw $((T + 300)) 198.51.100.1 64500 203.0.113.0/24
announce $((T + 300)) 198.51.100.1 64500 203.0.113.0/24 64500 64501
withdraw $((T + 300)) 198.51.100.1 64500 203.0.113.0/24
down $((T + 400)) 198.51.100.2 64502
SPEC
ctl 0 routes import "$WORK/rc1.mrt"
grep -qF "rc1.mrt: 10 records, 5 announces, 2 withdrawals, 3 peer changes, 10 new rows, 1 skipped (not-update 1)" "$WORK/out" ||
    fail "import counts: $(cat "$WORK/out")"
[ "$(sql "SELECT string_agg(collector || ' ' || host(address) || ' ' || asn, ', ' ORDER BY address) FROM parallax.route_peers")" = \
  "rc1 198.51.100.1 64500, rc1 198.51.100.2 64502" ] || fail "peers: $(sql "TABLE parallax.route_peers") $(sql "TABLE parallax.route_updates")"
rows() {
    sql "SELECT string_agg(extract(epoch FROM ts - to_timestamp($T))::numeric(12,6) || ' ' || host(p.address) || ' ' || kind
                || coalesce(' ' || prefix, '') || coalesce(' [' || as_path || ']', '') || coalesce(' ' || origin_asn, ''),
                E'\n' ORDER BY ts, p.address, kind, prefix)
         FROM parallax.route_updates u JOIN parallax.route_peers p ON p.id = u.peer_id WHERE p.collector = '$1'"
}
WANT="0.000000 198.51.100.1 peer_up
0.000001 198.51.100.2 peer_up
1.000000 198.51.100.1 announce 192.0.2.0/24 [64500 64501] 64501
1.000000 198.51.100.1 announce 203.0.113.0/24 [64500 64501] 64501
1.000001 198.51.100.2 announce 203.0.113.0/24 [64502 {64501,64503}]
2.250000 198.51.100.1 announce 2001:db8:1::/48 [64500 4200000000] 4200000000
300.000000 198.51.100.1 withdraw 203.0.113.0/24
300.000001 198.51.100.1 announce 203.0.113.0/24 [64500 64501] 64501
300.000002 198.51.100.1 withdraw 203.0.113.0/24
400.000000 198.51.100.2 peer_down"
[ "$(rows rc1)" = "$WANT" ] || fail "rows:
$(rows rc1)
wanted:
$WANT"
bins() {
    sql "SELECT string_agg(extract(epoch FROM bin_start - to_timestamp($T))::int || ':' || peers_seeing || '/' || peers_total,
                ' ' ORDER BY bin_start)
         FROM parallax.route_bins WHERE prefix = '203.0.113.0/24' AND bin_start < to_timestamp($T + 600)"
}
BINS=$(bins)
[ -n "$BINS" ] || fail "no visibility bins"
log "bins: $BINS"
# Both peers see the prefix at first; after 300 s peer 1 has withdrawn it; after 400 s peer 2
# is down: nobody of the one peer left sees it.
case "$BINS" in "0:2/2 "*"360:0/1"*) ;; *) fail "visibility bins: $BINS" ;; esac

routes_crosscheck rc1 "$WORK/rc1.mrt"

log "import again: nothing new"
ctl 0 routes import "$WORK/rc1.mrt"
grep -qF "10 new rows" "$WORK/out" && fail "second import stored rows: $(cat "$WORK/out")"
grep -qF "0 new rows" "$WORK/out" || fail "second import: $(cat "$WORK/out")"
[ "$(bins)" = "$BINS" ] || fail "bins changed on a replay: $(bins)"
# Compressed files come through a pipe.
gzip -c "$WORK/rc1.mrt" >"$WORK/rc1.mrt.gz"
ctl 0 routes import --collector rc1 /dev/stdin < <(zcat "$WORK/rc1.mrt.gz")
grep -qF "/dev/stdin: 10 records, 5 announces, 2 withdrawals, 3 peer changes, 0 new rows" "$WORK/out" ||
    fail "import from a pipe: $(cat "$WORK/out")"

log "a malformed record is skipped and named; the rest imports"
cp "$WORK/rc1.mrt" "$WORK/bad.mrt"
# The first record's BGP4MP address family (bytes 12+10..11) made 7.
printf '\x00\x07' | dd of="$WORK/bad.mrt" bs=1 seek=22 conv=notrunc status=none
ctl 0 routes import --collector rc1 "$WORK/bad.mrt"
grep -qF "malformed 1" "$WORK/out" || fail "malformed not counted: $(cat "$WORK/out")"
grep -qF "record at byte 0 (type 16/5) skipped: byte 22: BGP4MP address family 7 unknown" "$WORK/err" ||
    fail "malformed not named: $(cat "$WORK/err")"

log "TABLE_DUMP_V2: a peer index table and RIBs"
$MRTW "$WORK/rib.mrt" <<SPEC
rib $T 203.0.113.0/24 198.51.100.7:64507:64507_64501 2001:db8::7:64508:64508_64500_64501
rib $T 2001:db8:2::/48 198.51.100.7:64507:64507_{64510,64511}
SPEC
ctl 0 routes import --collector dump "$WORK/rib.mrt"
grep -qF "3 records, 3 announces, 0 withdrawals, 0 peer changes, 3 new rows, 0 skipped" "$WORK/out" ||
    fail "rib counts: $(cat "$WORK/out")"
[ "$(rows dump)" = "0.000000 198.51.100.7 announce 203.0.113.0/24 [64507 64501] 64501
0.000000 2001:db8::7 announce 203.0.113.0/24 [64508 64500 64501] 64501
0.000001 198.51.100.7 announce 2001:db8:2::/48 [64507 {64510,64511}]" ] || fail "rib rows: $(rows dump)"
routes_crosscheck dump "$WORK/rib.mrt"

log "bad input: a missing file, a bad collector name"
ctl 1 routes import "$WORK/none.mrt"
one_line_error "none.mrt: cannot open"
ctl 2 routes import --collector 'a b' "$WORK/rc1.mrt"
one_line_error "collector name 'a b'"

log "follow: records appended while it runs, a partial record, a replaced file"
F="$WORK/live.mrt"
start_bg follow "$CTL" --db "$ADMIN_DB" routes follow "$F"
FOLLOW_PID=$LAST_PID
wait_until 10 "follow waits for the file" 'grep -q "waiting for the file" "$WORK/follow.log"'
$MRTW "$F" <<SPEC
up $((T + 10)) 198.51.100.9 64509
announce $((T + 11)) 198.51.100.9 64509 203.0.113.0/24 64509 64501
SPEC
wait_until 10 "the first records stored" '[ "$(sql "SELECT count(*) FROM parallax.route_updates u JOIN parallax.route_peers p ON p.id = peer_id WHERE collector = '"'live'"'")" = 2 ]'
# Half a record, then the rest: nothing of it is stored before its end is there.
$MRTW "$WORK/next.mrt" <<SPEC
withdraw $((T + 20)) 198.51.100.9 64509 203.0.113.0/24
SPEC
head -c 20 "$WORK/next.mrt" >>"$F"
sleep 0.5 # not a wait for an event: a window in which a wrong follow would store the half
[ "$(sql "SELECT count(*) FROM parallax.route_updates WHERE kind = 'withdraw' AND ts = to_timestamp($T + 20)")" = 0 ] ||
    fail "a partial record was stored"
tail -c +21 "$WORK/next.mrt" >>"$F"
wait_until 10 "the appended withdrawal stored" '[ "$(sql "SELECT count(*) FROM parallax.route_updates WHERE kind = '"'withdraw'"' AND ts = to_timestamp($T + 20)")" = 1 ]'
# Rotation: a new file at the path.
$MRTW "$F.new" <<SPEC
announce $((T + 30)) 198.51.100.9 64509 203.0.113.0/24 64509 64501
SPEC
mv "$F.new" "$F"
wait_until 10 "the replaced file read" '[ "$(sql "SELECT count(*) FROM parallax.route_updates WHERE kind = '"'announce'"' AND ts = to_timestamp($T + 30)")" = 1 ]'
grep -q "replaced, reopening" "$WORK/follow.log" || fail "no reopen: $(cat "$WORK/follow.log")"
kill -TERM "$FOLLOW_PID"
wait_until 10 "follow stops on SIGTERM" '! kill -0 '"$FOLLOW_PID"
wait "$FOLLOW_PID" || fail "follow exited $?: $(cat "$WORK/follow.log")"
grep -q "^stopped" "$WORK/follow.log" || fail "follow log: $(cat "$WORK/follow.log")"
# What follow stored is what an import of the same bytes stores.
[ "$(rows live)" = "10.000000 198.51.100.9 peer_up
11.000000 198.51.100.9 announce 203.0.113.0/24 [64509 64501] 64501
20.000000 198.51.100.9 withdraw 203.0.113.0/24
30.000000 198.51.100.9 announce 203.0.113.0/24 [64509 64501] 64501" ] || fail "followed rows: $(rows live)"

log "origins: a prefix-to-AS file, replaced by its next import"
printf '# pfx2as\n192.0.2.0\t24\t64496\n198.51.100.0\t24\t64497_64498\n2001:db8::\t32\t64499,64500\n' >"$WORK/pfx2as.txt"
ctl 0 routes origins "$WORK/pfx2as.txt"
grep -qF "3 prefixes from source pfx2as.txt" "$WORK/out" || fail "origins: $(cat "$WORK/out")"
[ "$(sql "SELECT string_agg(prefix || '=' || asn, ' ' ORDER BY prefix) FROM parallax.prefix_origins")" = \
  "192.0.2.0/24=64496 198.51.100.0/24=64497 2001:db8::/32=64499" ] || fail "origins rows: $(sql "TABLE parallax.prefix_origins")"
printf '192.0.2.0\t24\t64511\n' >"$WORK/pfx2as.txt"
ctl 0 routes origins "$WORK/pfx2as.txt"
[ "$(sql "SELECT string_agg(prefix || '=' || asn, ' ' ORDER BY prefix) FROM parallax.prefix_origins")" = "192.0.2.0/24=64511" ] ||
    fail "origins not replaced: $(sql "TABLE parallax.prefix_origins")"
printf '192.0.2.0\t24\tAS1\n' >"$WORK/bad.txt"
ctl 1 routes origins "$WORK/bad.txt"
one_line_error "bad.txt:1: 'AS1' is not an AS number"
log "ok"
