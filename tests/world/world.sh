# world.sh: the Parallax world — a small internet in network namespaces (sourced, not run).
#
#   vantage v1 (GB) 198.18.1.2 ─┐                        ┌─ border b 198.18.9.2 | 203.0.113.1 ── country servers s
#   vantage v2 (DE) 198.18.2.2 ─┤                        │   AS64501   web 203.0.113.10, dns 203.0.113.53, mail 203.0.113.25
#   vantage v3 (JP) 198.18.3.2 ─┼─ transit t ────────────┤
#   coordinator c   198.18.0.2 ─┤   AS64500              └─ route collector r 198.18.8.2, AS64510
#   control hosts k 192.0.2.10, 192.0.2.11 ─┘  (198.18.N.1 on each link)
#
# BGP is real (BIRD 2 in t, b and r; configs, pid files and logs in $WORLD_DIR/bgp): the
# border announces the country's prefix (203.0.113.0/24) to the transit over eBGP, and the
# transit's kernel route to the country is the one BIRD learned (there is no static one); the
# collector peers with the transit, receives its routes, and writes every BGP message and
# session change it gets as MRT BGP4MP records to $WORLD_BGP_MRT (the file `parallaxctl
# routes import` reads and `routes follow` follows). The other namespaces route statically.
# docs/routes.md, "BGP in the world", says more.
#
# Each vantage reaches everything — the coordinator included — through its own uplink to the
# transit router, so a dead uplink also cuts its agent off from the coordinator, as in
# reality. The country's servers are real (servers.sh: nginx, nsd for xx.test, OpenSMTPD).
# Only documentation and benchmarking ranges are used, inside namespaces made here.
#
#   world_up NAME DIR      NAME: a unique prefix of at most 5 characters; removes a stale world
#                          of that name, and every world whose owner died without world_down
#                          (a test killed with SIGKILL). Returns once the transit routes the
#                          country by BGP and the collector has heard the route.
#   world_down             removes everything, BIRD included; safe to call twice (use it in a trap)
#   in_ns X CMD...         runs CMD in namespace X (t, b, s, c, k, r, v1, v2, v3)
#   world_birdc X CMD...   a command to the BIRD of X (t, b, r), e.g. world_birdc r show route
#   world_fault FAULT ...  see below
# Faults, each one command, returning once it took effect:
#   uplink_down N | uplink_up N       vantage N's uplink (at the transit router)
#   withdraw | restore                the border stops announcing the country's prefix: a real BGP
#                                     withdrawal; the transit has no route (ICMP net unreachable);
#                                     returns when the transit and the collector have lost it
#   blackhole | restore               the routes stay announced; the transit drops the packets.
#                                     restore undoes either; returns when the route is back
#   stop web|dns|mail | start web|dns|mail
#   cut_path N | heal_path N          vantage N alone loses its path to the country
#   stress SECONDS [DEPTH] | unstress the border link limited to 1 Mbit/s and flooded (bounded);
#                                     DEPTH packets in flight set the queueing delay (~10 ms each)

WORLD_VANTAGES=3
WORLD_COORD_ADDR=198.18.0.2
WORLD_WEB=203.0.113.10
WORLD_DNS=203.0.113.53
WORLD_MAIL=203.0.113.25
WORLD_ROUTER=203.0.113.1
WORLD_CONTROL1=192.0.2.10
WORLD_CONTROL2=192.0.2.11
WORLD_COUNTRY_NET=203.0.113.0/24
WORLD_TRANSIT_ASN=64500
WORLD_COUNTRY_ASN=64501
WORLD_COLLECTOR_ASN=64510
WORLD_COLLECTOR_ADDR=198.18.8.2
# BIRD's control sockets: a short path (a socket's name is at most 107 bytes), one per world.
WORLD_BGP_SOCKETS=/run/parallax-bgp

source "$(dirname "${BASH_SOURCE[0]}")/servers.sh"

in_ns() { local x=$1; shift; ip netns exec "${WORLD}$x" "$@"; }

_world_namespaces() {
    local list="t b s c k r" i
    for i in $(seq "$WORLD_VANTAGES"); do list="$list v$i"; done
    echo "$list"
}

# Each world's owner (the shell that made it) is written here; /run is emptied at boot,
# as the namespaces are.
WORLD_OWNERS=/run/parallax-worlds

world_down() {
    [ -n "${WORLD:-}" ] || return 0
    [ -z "${WORLD_DIR:-}" ] || srv_stop_all "$WORLD_DIR/servers"
    [ -z "${WORLD_FLOOD_PID:-}" ] || kill "$WORLD_FLOOD_PID" 2>/dev/null || true
    local x
    # BIRD first, the collector's before the others: its MRT file then ends with what it heard
    # while the world ran, not with its session dying as the transit goes. (Removing a
    # namespace kills whatever else runs in it.)
    for x in r t b; do _world_kill_ns "${WORLD}$x"; done
    for x in $(_world_namespaces); do ns_remove "${WORLD}$x"; done
    rm -f "$WORLD_OWNERS/$WORLD" "$WORLD_BGP_SOCKETS/$WORLD".*
}

# _world_kill_ns NS: kills every process in namespace NS and waits (bounded) until they are gone.
_world_kill_ns() {
    local pids i
    pids=$(ip netns pids "$1" 2>/dev/null) || return 0
    [ -n "$pids" ] || return 0
    kill -KILL $pids 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        [ -z "$(ip netns pids "$1" 2>/dev/null)" ] && return 0
        sleep 0.1
    done
    echo "world: processes in $1 outlived SIGKILL for 5 s" >&2
    return 1
}

# Removes the worlds whose owner is gone. A world is recorded before its first namespace
# is made, so one being built is never taken for a stale one.
_world_reap() {
    local f pid
    for f in "$WORLD_OWNERS"/*; do
        [ -f "$f" ] || continue
        pid=$(cat "$f" 2>/dev/null) || continue
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then continue; fi
        (WORLD=${f##*/} WORLD_DIR='' WORLD_FLOOD_PID='' world_down)
    done
}

world_up() {
    WORLD=$1
    WORLD_DIR=$2
    world_down
    _world_reap
    mkdir -p "$WORLD_OWNERS"
    echo "$$" >"$WORLD_OWNERS/$WORLD"
    mkdir -p "$WORLD_DIR/servers"
    local x i
    SRV_DNS_ADDR=$WORLD_DNS
    local hosts="$WORLD_WEB www.xx.test
$WORLD_DNS ns1.xx.test
$WORLD_MAIL mx.xx.test
$WORLD_COORD_ADDR coordinator.test
"
    for x in $(_world_namespaces); do
        HOSTS_EXTRA=$hosts ns_names "${WORLD}$x"
        ip netns add "${WORLD}$x"
        ip -n "${WORLD}$x" link set lo up
    done
    ns_link "${WORLD}t" "${WORLD}tc" 198.18.0.1/24 "${WORLD}c" "${WORLD}ct" "$WORLD_COORD_ADDR/24"
    ns_link "${WORLD}t" "${WORLD}tb" 198.18.9.1/24 "${WORLD}b" "${WORLD}bt" 198.18.9.2/24
    ns_link "${WORLD}t" "${WORLD}tk" 192.0.2.1/24 "${WORLD}k" "${WORLD}kt" "$WORLD_CONTROL1/24"
    ns_link "${WORLD}t" "${WORLD}tr" 198.18.8.1/24 "${WORLD}r" "${WORLD}rt" "$WORLD_COLLECTOR_ADDR/24"
    ip -n "${WORLD}k" addr add "$WORLD_CONTROL2/24" dev "${WORLD}kt"
    ns_link "${WORLD}b" "${WORLD}bs" "$WORLD_ROUTER/24" "${WORLD}s" "${WORLD}sb" "$WORLD_WEB/24"
    ip -n "${WORLD}s" addr add "$WORLD_DNS/24" dev "${WORLD}sb"
    ip -n "${WORLD}s" addr add "$WORLD_MAIL/24" dev "${WORLD}sb"
    for i in $(seq "$WORLD_VANTAGES"); do
        ns_link "${WORLD}t" "${WORLD}t$i" "198.18.$i.1/24" "${WORLD}v$i" "${WORLD}v${i}t" "198.18.$i.2/24"
        ip -n "${WORLD}v$i" route add default via "198.18.$i.1"
    done
    ip -n "${WORLD}c" route add default via 198.18.0.1
    ip -n "${WORLD}k" route add default via 192.0.2.1
    # The border answers traces (time exceeded) from its address inside the country, as
    # border routers commonly do (a source in their own prefix): traces show where they
    # enter the country (discover's border routers, where paths die).
    ip -n "${WORLD}b" route add default via 198.18.9.1 src "$WORLD_ROUTER"
    ip -n "${WORLD}s" route add default via "$WORLD_ROUTER"
    ip -n "${WORLD}r" route add default via 198.18.8.1
    for x in t b; do
        in_ns $x sysctl -qw net.ipv4.ip_forward=1
        in_ns $x sysctl -qw net.ipv4.icmp_ratelimit=0
    done
    _world_bgp_up || return 1
    srv_setup "$WORLD_DIR/servers" xx.test "$WORLD_WEB" "$WORLD_DNS" "$WORLD_MAIL"
    WORLD_CA=$SRV_CA
    srv_start "${WORLD}s" "$WORLD_DIR/servers" nginx &&
        srv_start "${WORLD}s" "$WORLD_DIR/servers" nsd &&
        srv_start "${WORLD}s" "$WORLD_DIR/servers" smtpd
}

# world_birdc X CMD...: a command to the BIRD of namespace X (t, b, r).
world_birdc() { local x=$1; shift; birdc -s "$WORLD_BGP_SOCKETS/$WORLD.$x" "$@"; }

# Whether the transit's kernel has the country's route from BIRD (or has none); whether the
# collector has it (or has none); whether the collector's session is up. Outputs are read
# whole, not piped into grep -q: a writer killed by SIGPIPE fails the pipe under pipefail.
_world_routed() { [[ $(ip -n "${WORLD}t" route show "$WORLD_COUNTRY_NET" proto bird) == *via* ]]; }
_world_unrouted() { [ -z "$(ip -n "${WORLD}t" route show "$WORLD_COUNTRY_NET" proto bird)" ]; }
_world_collector_has() { [[ $(world_birdc r show route "$WORLD_COUNTRY_NET" 2>&1) == *"$WORLD_COUNTRY_NET "* ]]; }
_world_collector_lacks() { [[ $(world_birdc r show route "$WORLD_COUNTRY_NET" 2>&1) == *"Network not found"* ]]; }
_world_collector_up() { [[ $(world_birdc r show protocols transit 2>&1) == *Established* ]]; }

# _world_wait SECONDS WHAT CMD...: polls CMD every 0.1 s until it succeeds; fails after SECONDS.
_world_wait() {
    local secs=$1 what=$2 i
    shift 2
    for ((i = 0; i < secs * 10; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    echo "world: $what not within ${secs}s" >&2
    return 1
}

# BIRD in the transit, the border and the collector; returns once the transit routes the
# country by BGP and the collector has the route from its session (so the MRT file holds the
# announcement before anything else happens). Connection timers are short, for a world that
# lives minutes (a session refused because its peer was not listening yet is retried within
# 2 s); hold and keepalive times are BIRD's (240 s, 80 s), so that the stress fault's flood
# across the border link never takes the session down.
_world_bgp_up() {
    local d=$WORLD_DIR/bgp x
    mkdir -p "$d" "$WORLD_BGP_SOCKETS"
    WORLD_BGP_MRT=$d/collector.mrt
    # BIRD appends to its MRT file: one left by an earlier world in the same DIR would be
    # read as this one's history.
    rm -f "$WORLD_BGP_MRT"
    local timers="connect delay time 1; connect retry time 2; error wait time 1, 5;"
    cat >"$d/t.conf" <<EOF
log "$d/t.log" all;
router id 198.18.9.1;
protocol device {}
protocol kernel { ipv4 { import none; export where source = RTS_BGP; }; }
protocol bgp country {
    local 198.18.9.1 as $WORLD_TRANSIT_ASN; neighbor 198.18.9.2 as $WORLD_COUNTRY_ASN; $timers
    ipv4 { import all; export none; };
}
protocol bgp collector {
    local 198.18.8.1 as $WORLD_TRANSIT_ASN; neighbor $WORLD_COLLECTOR_ADDR as $WORLD_COLLECTOR_ASN; $timers
    ipv4 { import none; export where source = RTS_BGP; };
}
EOF
    cat >"$d/b.conf" <<EOF
log "$d/b.log" all;
router id 198.18.9.2;
protocol device {}
# The country's prefix, announced while this protocol is up (world_fault withdraw disables it).
protocol static country { ipv4; route $WORLD_COUNTRY_NET blackhole; }
protocol bgp transit {
    local 198.18.9.2 as $WORLD_COUNTRY_ASN; neighbor 198.18.9.1 as $WORLD_TRANSIT_ASN; $timers
    ipv4 { import none; export where proto = "country"; };
}
EOF
    cat >"$d/r.conf" <<EOF
log "$d/r.log" all;
router id $WORLD_COLLECTOR_ADDR;
mrtdump "$WORLD_BGP_MRT";
protocol device {}
protocol bgp transit {
    local $WORLD_COLLECTOR_ADDR as $WORLD_COLLECTOR_ASN; neighbor 198.18.8.1 as $WORLD_TRANSIT_ASN; $timers
    passive; mrtdump all;
    ipv4 { import all; export none; };
}
EOF
    for x in t b r; do
        in_ns $x bird -c "$d/$x.conf" -s "$WORLD_BGP_SOCKETS/$WORLD.$x" -P "$d/$x.pid" ||
            { echo "world: BIRD did not start in $x ($d/$x.log)" >&2; return 1; }
    done
    _world_wait 30 "the transit's BGP route to the country" _world_routed &&
        _world_wait 30 "the collector's BGP session" _world_collector_up &&
        _world_wait 30 "the country's route at the collector" _world_collector_has
}

_world_server() {
    case $1 in web) echo nginx ;; dns) echo nsd ;; mail) echo smtpd ;;
    *) echo "world: unknown server '$1' (web, dns, mail)" >&2; return 1 ;; esac
}

world_fault() {
    case $1 in
    uplink_down) ip -n "${WORLD}t" link set "${WORLD}t$2" down ;;
    uplink_up) ip -n "${WORLD}t" link set "${WORLD}t$2" up ;;
    withdraw)
        [[ $(world_birdc b disable country 2>&1) == *disabled* ]] ||
            { echo "world: the border's BIRD did not disable its announcement" >&2; return 1; }
        _world_wait 30 "the withdrawal at the transit" _world_unrouted &&
            _world_wait 30 "the withdrawal at the collector" _world_collector_lacks ;;
    # A policy rule BIRD does not manage (it would put a route back): packets die, routes stay.
    blackhole) ip -n "${WORLD}t" rule add to "$WORLD_COUNTRY_NET" blackhole priority 90 ;;
    restore)
        if [[ $(ip -n "${WORLD}t" rule list priority 90) == *blackhole* ]]; then
            ip -n "${WORLD}t" rule del to "$WORLD_COUNTRY_NET" blackhole priority 90 || return 1
        fi
        [[ $(world_birdc b enable country 2>&1) == *enabled* ]] ||
            { echo "world: the border's BIRD did not enable its announcement" >&2; return 1; }
        _world_wait 30 "the country's route back at the transit" _world_routed &&
            _world_wait 30 "the country's route back at the collector" _world_collector_has ;;
    stop) srv_stop "$WORLD_DIR/servers" "$(_world_server "$2")" ;;
    start) srv_start "${WORLD}s" "$WORLD_DIR/servers" "$(_world_server "$2")" ;;
    # A policy rule at the transit router: packets from vantage N to the country find no
    # route, while its other paths (the coordinator, the control hosts) keep working.
    cut_path) ip -n "${WORLD}t" rule add from "198.18.$2.0/24" to "$WORLD_COUNTRY_NET" blackhole priority 100 ;;
    heal_path) ip -n "${WORLD}t" rule del from "198.18.$2.0/24" to "$WORLD_COUNTRY_NET" blackhole priority 100 ;;
    stress)
        # A thin border link (1 Mbit/s, deep queue) and a flood across it, bounded in time and
        # packets: queueing delay grows, then packets are lost, before anything goes down.
        local secs=${2:-20} depth=${3:-20}
        ip netns exec "${WORLD}b" tc qdisc replace dev "${WORLD}bs" root tbf rate 1mbit burst 8kb latency 2s
        ip netns exec "${WORLD}b" tc qdisc replace dev "${WORLD}bt" root tbf rate 1mbit burst 8kb latency 2s
        ip netns exec "${WORLD}k" timeout "$secs" ping -q -f -l "$depth" -s 1200 -c 200000 "$WORLD_WEB" >/dev/null 2>&1 &
        WORLD_FLOOD_PID=$! ;;
    unstress)
        [ -z "${WORLD_FLOOD_PID:-}" ] || kill "$WORLD_FLOOD_PID" 2>/dev/null || true
        WORLD_FLOOD_PID=
        ip netns exec "${WORLD}b" tc qdisc del dev "${WORLD}bs" root 2>/dev/null || true
        ip netns exec "${WORLD}b" tc qdisc del dev "${WORLD}bt" root 2>/dev/null || true ;;
    *) echo "world_fault: unknown fault '$1'" >&2; return 1 ;;
    esac
}
