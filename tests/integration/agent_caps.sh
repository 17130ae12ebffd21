#!/usr/bin/env bash
# agent_caps: the agent keeps no privilege once its raw sockets are open, and its icmp and
# trace probes still work. Two agents beside one coordinator, in a namespace of their own,
# probe an address in a second namespace: one started as nobody with CAP_NET_RAW ambient (as
# systemd's AmbientCapabilities= starts it) and no `user`, which keeps its uid and loses the
# capability; one started as root without `user`, which becomes nobody (the documented
# default) and is handed its state_dir. Both show no capability in any set of
# /proc/PID/status and no_new_privs; neither can be root again.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root to make network namespaces and switch users"
command -v setpriv >/dev/null || fail "setpriv (util-linux) is missing"
NOBODY=$(id -u nobody) || fail "no user nobody"
NOGROUP=$(id -g nobody)

NS=pxc$$
NS=${NS:0:10}
NS_T=${NS}t
on_exit "ip netns del $NS 2>/dev/null; ip netns del $NS_T 2>/dev/null"
ip netns add "$NS"
ip netns add "$NS_T"
ip -n "$NS" link set lo up
ip -n "$NS_T" link set lo up
ip -n "$NS" link add "${NS}a" type veth peer name "${NS}b" netns "$NS_T"
ip -n "$NS" addr add 198.18.77.1/24 dev "${NS}a"
ip -n "$NS_T" addr add 198.18.77.2/24 dev "${NS}b"
ip -n "$NS" link set "${NS}a" up
ip -n "$NS_T" link set "${NS}b" up
TARGET=198.18.77.2

# The coordinator runs in the agents' namespace (its loopback), reaching PostgreSQL's socket.
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$NS" "$COORD" >"$WORK/coord-in-ns"
chmod 755 "$WORK/coord-in-ns"
new_db
COORD=$WORK/coord-in-ns start_coordinator
"$CTL" --db "$DB" target add inner --address "$TARGET" --role host --probe icmp --probe trace \
    --interval 1 >/dev/null

# Agent 1: nobody, CAP_NET_RAW ambient, no user. Its files must be its own: the test's
# directory is searchable by others, its config and state_dir belong to nobody.
chmod 711 "$WORK"
add_agent amb1 GB
mkdir -p "$WORK/state-amb1"
chown "$NOBODY:$NOGROUP" "$WORK/amb1.conf" "$WORK/state-amb1"
grep -q '^user' "$WORK/amb1.conf" && fail "agent add wrote a user line"
start_bg agent-amb1 ip netns exec "$NS" setpriv --reuid="$NOBODY" --regid="$NOGROUP" --clear-groups \
    --inh-caps=+net_raw --ambient-caps=+net_raw "$AGENT" -c "$WORK/amb1.conf"
AMB_PID=$LAST_PID

# Agent 2: root, no user.
add_agent root1 DE
start_bg agent-root1 ip netns exec "$NS" "$AGENT" -c "$WORK/root1.conf"
ROOT_PID=$LAST_PID

for who in amb1 root1; do
    wait_until 20 "$who started" "grep -q 'starting; coordinator' '$WORK/agent-$who.log'"
done

# status_of PID: fails unless every capability set is empty, no_new_privs is set and the
# uid is nobody's (real, effective, saved, filesystem).
check_status() {
    local pid=$1 who=$2 st=/proc/$1/status set
    [ -r "$st" ] || fail "$who (pid $pid) is not running"
    log "$who: $(grep -E '^(Uid|Cap(Inh|Prm|Eff|Amb)|NoNewPrivs):' "$st" | tr -s '\t\n' '  ')"
    for set in CapInh CapPrm CapEff CapAmb; do
        grep -qx "$set:	0000000000000000" "$st" || fail "$who: $(grep "^$set:" "$st")"
    done
    grep -qx 'NoNewPrivs:	1' "$st" || fail "$who: no_new_privs not set"
    grep -qx "Uid:	$NOBODY	$NOBODY	$NOBODY	$NOBODY" "$st" || fail "$who: $(grep '^Uid:' "$st")"
}
check_status "$AMB_PID" "ambient agent"
check_status "$ROOT_PID" "root-started agent"
grep -q "no privileges left: running as uid $NOBODY without capabilities" "$WORK/agent-amb1.log" \
    || fail "the ambient agent did not say it dropped its capabilities"
grep -q "running as user 'nobody'.*no user set: the default for an agent started as root" \
    "$WORK/agent-root1.log" || fail "the root-started agent did not say it became nobody"
[ -z "$(find "$WORK/state-root1" ! -user nobody)" ] || fail "state_dir not handed to nobody: $(find "$WORK/state-root1" ! -user nobody)"

# Both agents' icmp and trace probes reach the target with the sockets opened before the drop.
ok_rows="SELECT count(DISTINCT (agent, kind)) FROM parallax.result_view WHERE status = 'ok' AND target = 'inner'"
wait_until 60 "ok icmp and trace results from both agents" 'test "$(sql "$ok_rows")" = 4'
[ "$(sql "SELECT count(*) FROM parallax.result_view WHERE target = 'inner' AND kind = 'trace' AND status = 'ok' AND detail ? 'trace'")" -gt 0 ] \
    || fail "trace results without their hops"
# Still without a capability after probing.
check_status "$AMB_PID" "ambient agent, after probing"
check_status "$ROOT_PID" "root-started agent, after probing"
log "ok"
