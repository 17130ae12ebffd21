# lab.sh: a small internet in network namespaces for probe tests (sourced, not run).
#
#   vantage ${LAB}v 198.51.100.2 ── router ${LAB}r 198.51.100.1 | 203.0.113.1 ── servers ${LAB}s 203.0.113.10
#
# The server namespace runs real servers from Debian's packages: nginx (HTTP on 80, HTTPS on
# 443 with a certificate from the lab's own CA, HTTPS on 8443 with an expired one, /down
# answering 503), nsd (authoritative for lab.test; broken.test configured without data, so it
# answers SERVFAIL; anything else REFUSED) and OpenSMTPD on 25. Only documentation ranges are
# used, inside namespaces made here. lab_down removes everything and is safe to call twice;
# lab_up first removes a stale lab of the same name.
#
# Needs root. Functions: lab_up NAME DIR, lab_down, in_v/in_r/in_s CMD..., lab_stop SERVER,
# lab_start SERVER (SERVER: nginx, nsd, smtpd). The servers come from servers.sh.

source "$(dirname "${BASH_SOURCE[0]}")/servers.sh"

LAB_V_ADDR=198.51.100.2
LAB_R_V_ADDR=198.51.100.1
LAB_R_S_ADDR=203.0.113.1
LAB_S_ADDR=203.0.113.10

in_v() { ip netns exec "${LAB}v" "$@"; }
in_r() { ip netns exec "${LAB}r" "$@"; }
in_s() { ip netns exec "${LAB}s" "$@"; }

lab_down() {
    [ -n "${LAB:-}" ] || return 0
    [ -z "${LAB_DIR:-}" ] || srv_stop_all "$LAB_DIR"
    ns_remove "${LAB}v" "${LAB}r" "${LAB}s"
}

lab_start() { srv_start "${LAB}s" "$LAB_DIR" "$1"; }
lab_stop() { srv_stop "$LAB_DIR" "$1"; }

# lab_up NAME DIR: NAME is a short unique prefix (at most 8 characters), DIR a scratch directory.
lab_up() {
    LAB=$1
    LAB_DIR=$2
    lab_down
    mkdir -p "$LAB_DIR"
    SRV_DNS_ADDR=$LAB_S_ADDR
    HOSTS_EXTRA="$LAB_V_ADDR vantage.lab.test
$LAB_R_V_ADDR router.lab.test
$LAB_S_ADDR www.lab.test
" ns_names "${LAB}v" "${LAB}r" "${LAB}s"
    ip netns add "${LAB}v"
    ip netns add "${LAB}r"
    ip netns add "${LAB}s"
    local ns
    for ns in v r s; do ip -n "${LAB}$ns" link set lo up; done
    ns_link "${LAB}v" "${LAB}vr" "$LAB_V_ADDR/24" "${LAB}r" "${LAB}rv" "$LAB_R_V_ADDR/24"
    ns_link "${LAB}r" "${LAB}rs" "$LAB_R_S_ADDR/24" "${LAB}s" "${LAB}sr" "$LAB_S_ADDR/24"
    ip -n "${LAB}v" route add default via "$LAB_R_V_ADDR"
    ip -n "${LAB}s" route add default via "$LAB_R_S_ADDR"
    in_r sysctl -qw net.ipv4.ip_forward=1
    # Routers answer with ICMP errors at full speed, as real ones mostly do for tests.
    in_r sysctl -qw net.ipv4.icmp_ratelimit=0
    in_s sysctl -qw net.ipv4.icmp_ratelimit=0
    srv_setup "$LAB_DIR" lab.test "$LAB_S_ADDR" "$LAB_S_ADDR" "$LAB_S_ADDR"
    LAB_CA=$SRV_CA
    lab_start nginx && lab_start nsd && lab_start smtpd
}
