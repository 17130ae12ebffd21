#!/usr/bin/env bash
# probe_faults: every status is produced by a real fault against real servers in network
# namespaces, and the agent's up/down verdict agrees with tools nobody here wrote — fping
# (icmp), curl (http/https), dig (dns), traceroute (trace) — in every case of the matrix.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root to make network namespaces"
for tool in fping curl dig traceroute nginx nsd smtpd nft; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/deps.sh installs it)"
done
source "$PX_SOURCE_DIR/tests/world/lab.sh"
LAB=pf$$
LAB=${LAB:0:8}
on_exit lab_down
lab_up "$LAB" "$WORK/lab" || fail "the lab did not come up"
S=$LAB_S_ADDR
ROUTER=$LAB_R_V_ADDR
RESOLVE="www.lab.test:80:$S"

# Routers limit the ICMP errors they send per source address (Linux: a burst of 5 for
# unreachable routes, then one a second, host-wide and not tunable per namespace). Each probe
# and each peer therefore speaks from a fresh vantage address, so that this test is about the
# agent and its peers, not about the router's limiter.
SRC=10
fresh_source() {
    SRC=$((SRC + 1))
    [ $SRC -le 250 ] || SRC=11
    in_v ip addr add "198.51.100.$SRC/24" dev "${LAB}vr" 2>/dev/null || true
    [ "${NO_DEFAULT:-0}" = 1 ] ||
        in_v ip route replace default via "$ROUTER" src "198.51.100.$SRC" 2>/dev/null || true
}

# probe SPEC [ADDRESS]: the agent's result as key=value lines in $OUT, status in $STATUS.
probe() {
    fresh_source
    OUT=$(in_v env SSL_CERT_FILE="$LAB_CA" "$AGENT" --probe "${2:-$S}" "$1" --timeout 1500 2>&1) || true
    STATUS=$(sed -n 's/^status=//p' <<<"$OUT")
}

# peer SPEC: 0 if the peer tool for the spec's kind says the target is up.
peer() {
    local spec=$1 url
    fresh_source
    case $spec in
    icmp) in_v fping -q -r 0 -t 1000 "$S" 2>/dev/null ;;
    tcp:*) in_v timeout 2 bash -c "exec 3<>/dev/tcp/$S/${spec#tcp:}" 2>/dev/null ;;
    http:* | https:*)
        url=${spec#*:}; url=${url%%|*}
        local host_port=${url#*://}; host_port=${host_port%%/*}
        local port=${host_port##*:}
        [ "$port" = "$host_port" ] && { [ "${spec%%:*}" = https ] && port=443 || port=80; }
        local code expect body
        expect=$(grep -o '|expect=[0-9]*' <<<"$spec" | cut -d= -f2 || true)
        body=$(grep -o '|body=[^|]*' <<<"$spec" | cut -d= -f2- || true)
        code=$(in_v curl -s -o "$WORK/body" -w '%{http_code}' --max-time 2 --cacert "$LAB_CA" \
            --resolve "www.lab.test:$port:$S" "$url") || return 1
        if [ -n "$expect" ]; then [ "$code" = "$expect" ] || return 1; else [ "$code" -lt 500 ] || return 1; fi
        [ -z "$body" ] || grep -qF -- "$body" "$WORK/body" ;;
    dns:*)
        local q=${spec#dns:} name type
        name=${q%%:*}; type=${q#*:}; [ "$type" = "$q" ] && type=A
        in_v dig +norec +time=1 +tries=1 @"$S" "$name" "$type" 2>/dev/null |
            grep -Eq 'status: (NOERROR|NXDOMAIN)' ;;
    trace) in_v traceroute -n -q 1 -m 8 -w 1 "$S" 2>/dev/null | tail -n 1 | grep -q " $S " ;;
    smtp*) return 2 ;;  # no peer named for smtp
    esac
}

CASES=0
# expect SCENARIO SPEC STATUS [KEY=VALUE...]: the agent's status and details, then the peer.
expect() {
    local scenario=$1 spec=$2 want=$3; shift 3
    probe "$spec"
    [ "$STATUS" = "$want" ] || fail "$scenario: $spec gave '${STATUS:-nothing}', want $want:
$OUT"
    local kv
    for kv in "$@"; do
        # A whole line, or a line's leading words (trace_hop=TTL ADDRESS, then the RTT).
        grep -qE -- "^$(sed 's/[.|]/\\&/g' <<<"$kv")( |\$)" <<<"$OUT" || fail "$scenario: $spec lacks '$kv':
$OUT"
    done
    local agent_up=0 peer_up=0 rc=0
    [ "$want" = ok ] && agent_up=1
    peer "$spec" || rc=$?
    [ $rc = 2 ] && { CASES=$((CASES + 1)); return 0; }
    [ $rc = 0 ] && peer_up=1
    [ $agent_up = $peer_up ] || fail "$scenario: $spec: agent says $STATUS but its peer says $([ $peer_up = 1 ] && echo up || echo down)"
    CASES=$((CASES + 1))
}

# same_records SPEC: the records the agent reports (dns_record=TYPE NAME ADDRESS HOST
# PREFERENCE) are those of dig's answer section, compared as sorted "TYPE NAME [PREF] DATA".
same_records() {
    local q=${1#dns:} name type agent peer
    name=${q%%:*}; type=${q#*:}
    probe "$1"
    [ "$STATUS" = ok ] || fail "records: $1 gave '${STATUS:-nothing}':
$OUT"
    agent=$(sed -n 's/^dns_record=//p' <<<"$OUT" |
        awk '{ d = $3 != "*" ? $3 : $4; print $1, $2, ($1 == "MX" ? $5 " " : "") d }' | sort)
    fresh_source
    peer=$(in_v dig +norec +noall +answer +time=1 +tries=1 @"$S" "$name" "$type" 2>/dev/null |
        awk '{ if ($4 == "MX") print $4, tolower($1), $5, tolower($6); else print $4, tolower($1), tolower($5) }' |
        sort)
    [ -n "$agent" ] && [ "$agent" = "$peer" ] || fail "records: $1: the agent reports
$agent
but dig
$peer
$OUT"
    log "records of $1 as dig has them: $(tr '\n' ';' <<<"$agent")"
    CASES=$((CASES + 1))
}

log "normal operation"
expect normal icmp ok
expect normal tcp:80 ok
expect normal tcp:81 refused
expect normal http:http://www.lab.test/ ok app_code=200
expect normal "http:http://www.lab.test/|body=Welcome" ok
expect normal "http:http://www.lab.test/|body=Goodbye" app_error
expect normal http:http://www.lab.test/down app_error app_code=503
expect normal https:https://www.lab.test/ ok app_code=200 tls_verified=1
expect normal https:https://www.lab.test:8443/ tls_error tls_verified=0
grep -Eq '^tls_days_left=-[0-9]+$' <<<"$OUT" || fail "expired certificate without negative days_left: $OUT"
expect normal dns:www.lab.test ok dns_rcode=0 dns_aa=1 dns_answers=1
expect normal dns:lab.test:SOA ok dns_soa_serial=2026112201
same_records dns:www.lab.test:A
same_records dns:lab.test:NS
same_records dns:lab.test:MX
expect normal dns:www.broken.test app_error app_code=2
expect normal dns:www.other.test app_error app_code=5
expect normal smtp ok app_code=220
expect normal trace ok trace_reached=1 trace_hops=2 "trace_hop=1 $ROUTER" "trace_hop=2 $S"
OUT_TRACE=$OUT

log "packets dropped by an nft rule at the server: timeouts"
in_s nft -f - <<NFT
table inet lab {
    chain input {
        type filter hook input priority 0;
        tcp dport 80 drop
    }
}
NFT
expect dropped tcp:80 timeout
expect dropped http:http://www.lab.test/ timeout
expect dropped icmp ok
in_s nft delete table inet lab

log "route withdrawn at the router: unreachable, named by the router"
in_r ip route add unreachable "$S/32"
expect withdrawn icmp unreachable "icmp_from=$ROUTER" icmp_type=3
expect withdrawn tcp:80 unreachable
expect withdrawn http:http://www.lab.test/ unreachable
expect withdrawn dns:www.lab.test unreachable
expect withdrawn trace unreachable trace_reached=0 trace_last_responsive_ttl=1 "icmp_from=$ROUTER"
in_r ip route del unreachable "$S/32"

log "route blackholed at the router: silence, even from the router itself"
in_r ip route add blackhole "$S/32"
expect blackholed icmp timeout
expect blackholed tcp:80 timeout
expect blackholed dns:www.lab.test timeout
# Linux drops blackholed packets before the TTL check: the router is silent too.
expect blackholed trace timeout trace_reached=0 trace_last_responsive_ttl=0
in_r ip route del blackhole "$S/32"

log "replies swallowed beyond the router: the path ends at the router"
in_s ip route add blackhole 198.51.100.0/24
expect swallowed icmp timeout
expect swallowed trace unreachable trace_reached=0 trace_last_responsive_ttl=1 "trace_hop=1 $ROUTER"
in_s ip route del blackhole 198.51.100.0/24

log "no local route at the vantage: local errors"
NO_DEFAULT=1
in_v ip route del default
expect noroute icmp local_error
expect noroute tcp:80 local_error
expect noroute http:http://www.lab.test/ local_error
expect noroute dns:www.lab.test local_error
NO_DEFAULT=0
in_v ip route add default via "$ROUTER"

log "servers stopped: refused (the host is alive)"
lab_stop nginx; lab_stop nsd; lab_stop smtpd
expect stopped http:http://www.lab.test/ refused
expect stopped dns:www.lab.test refused
expect stopped smtp refused
expect stopped icmp ok
log "ok: $CASES cases, every one agreeing with its peer"
