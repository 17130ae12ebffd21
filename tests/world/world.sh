# world.sh: the Parallax world — a small internet in network namespaces (sourced, not run).
#
#   vantage v1 (GB) 198.18.1.2 ─┐                        ┌─ border b 198.18.9.2 | 203.0.113.1 ── country servers s
#   vantage v2 (DE) 198.18.2.2 ─┤                        │     web 203.0.113.10, dns 203.0.113.53, mail 203.0.113.25
#   vantage v3 (JP) 198.18.3.2 ─┼─ transit t ────────────┘
#   coordinator c   198.18.0.2 ─┤   (198.18.N.1 on each link)
#   control hosts k 192.0.2.10, 192.0.2.11 ─┘
#
# Each vantage reaches everything — the coordinator included — through its own uplink to the
# transit router, so a dead uplink also cuts its agent off from the coordinator, as in
# reality. The country's servers are real (servers.sh: nginx, nsd for xx.test, OpenSMTPD).
# Only documentation and benchmarking ranges are used, inside namespaces made here.
#
#   world_up NAME DIR      NAME: a unique prefix of at most 5 characters; removes a stale world
#                          of that name, and every world whose owner died without world_down
#                          (a test killed with SIGKILL)
#   world_down             removes everything; safe to call twice (use it in a trap)
#   in_ns X CMD...         runs CMD in namespace X (t, b, s, c, k, v1, v2, v3)
#   world_fault FAULT ...  see below
# Faults, each one command:
#   uplink_down N | uplink_up N       vantage N's uplink (at the transit router)
#   withdraw | restore                the country's route at the transit router: unreachable (ICMP)
#   blackhole | restore               ... or silently dropped
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

source "$(dirname "${BASH_SOURCE[0]}")/servers.sh"

in_ns() { local x=$1; shift; ip netns exec "${WORLD}$x" "$@"; }

_world_namespaces() {
    local list="t b s c k" i
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
    for x in $(_world_namespaces); do ns_remove "${WORLD}$x"; done
    rm -f "$WORLD_OWNERS/$WORLD"
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
    ip -n "${WORLD}b" route add default via 198.18.9.1
    ip -n "${WORLD}s" route add default via "$WORLD_ROUTER"
    ip -n "${WORLD}t" route add "$WORLD_COUNTRY_NET" via 198.18.9.2
    for x in t b; do
        in_ns $x sysctl -qw net.ipv4.ip_forward=1
        in_ns $x sysctl -qw net.ipv4.icmp_ratelimit=0
    done
    srv_setup "$WORLD_DIR/servers" xx.test "$WORLD_WEB" "$WORLD_DNS" "$WORLD_MAIL"
    WORLD_CA=$SRV_CA
    srv_start "${WORLD}s" "$WORLD_DIR/servers" nginx &&
        srv_start "${WORLD}s" "$WORLD_DIR/servers" nsd &&
        srv_start "${WORLD}s" "$WORLD_DIR/servers" smtpd
}

_world_server() {
    case $1 in web) echo nginx ;; dns) echo nsd ;; mail) echo smtpd ;;
    *) echo "world: unknown server '$1' (web, dns, mail)" >&2; return 1 ;; esac
}

world_fault() {
    case $1 in
    uplink_down) ip -n "${WORLD}t" link set "${WORLD}t$2" down ;;
    uplink_up) ip -n "${WORLD}t" link set "${WORLD}t$2" up ;;
    withdraw) ip -n "${WORLD}t" route replace unreachable "$WORLD_COUNTRY_NET" ;;
    blackhole) ip -n "${WORLD}t" route replace blackhole "$WORLD_COUNTRY_NET" ;;
    restore) ip -n "${WORLD}t" route replace "$WORLD_COUNTRY_NET" via 198.18.9.2 ;;
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
