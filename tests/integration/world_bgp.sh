#!/usr/bin/env bash
# world_bgp: the world's BGP is real (tests/world/world.sh). The transit's route to the country
# is the one BIRD learned from the border, and the collector hears it; a withdrawal at the
# border removes it from the transit and the collector (the vantages get ICMP net unreachable
# from the transit); a blackhole keeps it announced while packets vanish; each fault and each
# restore shows in the collector's MRT file as the BGP messages it carried; world_down stops
# every BIRD. No Parallax here: the scenarios (world_blackout_*) judge what the probes see.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root to make network namespaces"
for tool in bird birdc ping; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/deps.sh installs it)"
done
source "$PX_SOURCE_DIR/tests/world/world.sh"
on_exit world_down
world_up "g$(($$ % 10000))" "$WORK/world" >/dev/null || fail "the world did not come up"

# The collector's MRT file, one line per record: "state OLD>NEW" (BGP FSM states, 6 is
# Established), "update[ withdraw][ announce]", "message TYPE" for the other BGP messages.
# A reading of the file this test's collector wrote, enough for what it checks here.
mrt_records() {
    /usr/bin/python3 - "$WORLD_BGP_MRT" <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
off = 0
while off + 12 <= len(data):
    _, kind, sub, length = struct.unpack_from(">IHHI", data, off)
    body = data[off + 12:off + 12 + length]
    off += 12 + length
    if kind == 17:  # BGP4MP_ET: microseconds first
        body = body[4:]
    if kind not in (16, 17) or sub not in (0, 1, 4, 5):
        print("other", kind, sub)
        continue
    asn = 4 if sub in (4, 5) else 2
    afi = struct.unpack_from(">H", body, 2 * asn + 2)[0]
    rest = body[2 * asn + 4 + 2 * (4 if afi == 1 else 16):]
    if sub in (0, 5):
        print("state %d>%d" % struct.unpack_from(">HH", rest))
    elif rest[18] != 2:
        print("message", rest[18])
    else:
        withdrawn = struct.unpack_from(">H", rest, 19)[0]
        attrs = struct.unpack_from(">H", rest, 21 + withdrawn)[0]
        nlri = len(rest) - (23 + withdrawn + attrs)
        print("update" + (" withdraw" if withdrawn else "") + (" announce" if nlri > 0 else ""))
if off != len(data):
    sys.exit("a truncated record at byte %d" % off)
EOF
}
count() { local r; r=$(mrt_records) && grep -c "^$1\$" <<<"$r" || true; }
# has TEXT PATTERN: grep -q on a string (a pipe into grep -q could kill its writer with
# SIGPIPE, a failure under pipefail).
has() { grep -q -- "$2" <<<"$1"; }

transit_route() { ip -n "${WORLD}t" route show "$WORLD_COUNTRY_NET"; }
collector_route() { world_birdc r show route "$WORLD_COUNTRY_NET" all 2>&1 || true; } # exits 1 on "Network not found"
ping_web() { in_ns v1 ping -n -c 1 -W 2 "$WORLD_WEB" 2>&1 || true; }

# Up: the transit's only route to the country is BIRD's, via the border; the collector has
# it with the path the border and the transit make; the file tells of the session and the route.
[ "$(transit_route | wc -l)" = 1 ] && has "$(transit_route)" "^$WORLD_COUNTRY_NET via 198.18.9.2 dev ${WORLD}tb proto bird " ||
    fail "the transit's route to the country is not BIRD's, via the border: $(transit_route)"
has "$(collector_route)" "BGP.as_path: $WORLD_TRANSIT_ASN $WORLD_COUNTRY_ASN\$" ||
    fail "the collector has no route with the path $WORLD_TRANSIT_ASN $WORLD_COUNTRY_ASN: $(collector_route)"
has "$(ping_web)" ' 0% packet loss' || fail "vantage 1 does not reach the web server: $(ping_web)"
records=$(mrt_records) || fail "the collector's MRT file does not read: $records"
has "$records" '>6$' || fail "no session Established in the MRT file: $records"
# (At least one: the transit may repeat an announcement as its sessions come up.)
announced=$(count 'update announce')
[ "$announced" -ge 1 ] || fail "no announcement in the MRT file: $records"
size=$(stat -c %s "$WORLD_BGP_MRT")
log "up: the transit routes the country by BGP; the collector's file has $(echo "$records" | wc -l) records ($size bytes)"

# Withdraw: gone from the transit and the collector, one withdrawal on the wire.
world_fault withdraw || fail "withdraw failed"
[ -z "$(transit_route)" ] || fail "the transit still has a route after the withdrawal: $(transit_route)"
has "$(collector_route)" 'Network not found' || fail "the collector still has the route: $(collector_route)"
has "$(ping_web)" "From 198.18.1.1 .*Destination Net Unreachable" ||
    fail "the transit does not answer net unreachable: $(ping_web)"
wait_until 10 "the withdrawal in the MRT file" '[ "$(count "update withdraw")" = 1 ]'
[ "$(stat -c %s "$WORLD_BGP_MRT")" -gt "$size" ] || fail "the MRT file did not grow"
log "withdraw: the transit has no route and answers net unreachable; the collector heard the withdrawal"

world_fault restore || fail "restore failed"
has "$(transit_route)" 'proto bird' || fail "the route is not back at the transit: $(transit_route)"
wait_until 10 "the announcement again in the MRT file" '[ "$(count "update announce")" -gt $announced ]'
has "$(ping_web)" ' 0% packet loss' || fail "the web server is not reachable after restore: $(ping_web)"

# Blackhole: the route stays announced and installed, nothing answers, nothing on the wire.
updates=$(count 'update.*')
world_fault blackhole || fail "blackhole failed"
has "$(transit_route)" 'proto bird' || fail "the blackhole removed the transit's route: $(transit_route)"
has "$(collector_route)" "^$WORLD_COUNTRY_NET" || fail "the blackhole withdrew the route: $(collector_route)"
out=$(ping_web)
has "$out" ' 100% packet loss' && ! has "$out" Unreachable ||
    fail "the blackhole does not drop silently: $out"
world_fault restore || fail "restore after the blackhole failed"
has "$(ping_web)" ' 0% packet loss' || fail "the web server is not reachable after restore: $(ping_web)"
[ "$(count 'update.*')" = "$updates" ] || fail "the blackhole changed what BGP says: $(mrt_records)"
log "blackhole: routes kept (no UPDATE), packets dropped silently; restored"

# world_down stops every BIRD (killed: their pid files stay; a zombie waiting to be reaped
# by init runs no more).
world_down
for x in t b r; do
    st=$(ps -o stat= -p "$(cat "$WORK/world/bgp/$x.pid")") && [[ $st != Z* ]] &&
        fail "BIRD of $x still runs after world_down"
done
log "ok"
