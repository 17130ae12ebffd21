#!/usr/bin/env bash
# chaos_agent_cutoff: an agent cut off from the coordinator by the network for several
# minutes (PX_CUTOFF_S, default 180) while it keeps probing, then reconnected. The agent runs
# in its own network namespace, joined to the host by a veth pair (198.18.0.0/15 addresses);
# the cut is an nftables rule dropping everything on that link, so its ZeroMQ connection
# hangs as in reality (the coordinator itself keeps running, and an agent on the host keeps
# delivering). The cut starts with the coordinator's answers alone, so a batch is stored whose
# ack is lost. A target is added during the cut. Afterwards:
#   * nothing lost or doubled, for both agents: rows = acked, produced = acked + dropped +
#     pending (dropped and pending 0), no (agent, probe, ts) twice, and the batch whose ack
#     was lost was resent and recognised as stored;
#   * delivered in order: the agent's batches (stream, seq) are all stored, without a hole,
#     and ingested in seq order (parallax.batches.ingested_at never goes back as seq grows),
#     and for every probe no result was stored before an earlier one (results.received_at
#     never goes back as ts grows);
#   * the agent runs the schedule changed during the cut (schedule_version_acked = the latest
#     version) and results of the added target arrived.
source "$(dirname "$0")/lib.sh"
CUT=${PX_CUTOFF_S:-180}
TARGETS=${PX_CUTOFF_TARGETS:-25} # each with icmp and tcp, every second
[ "$(id -u)" = 0 ] || skip "needs root (a network namespace and nftables)"
command -v nft >/dev/null || fail "nft is not installed (scripts/deps.sh installs it)"

# Names carry this shell's pid; a killed earlier run leaves a namespace and veth whose pid is
# no longer a chaos_agent_cutoff: those are removed here.
NS=pxcut$$
VH=${NS}h
VA=${NS}a
ns_gone() {
    ip netns pids "$1" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
    ip netns del "$1" 2>/dev/null || true
}
stale() {
    local pid=${1#pxcut}
    pid=${pid%[ha]}
    ! grep -qs chaos_agent_cutoff "/proc/$pid/cmdline"
}
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^pxcut[0-9]+$' || true); do
    if stale "$ns"; then log "removing stale namespace $ns"; ns_gone "$ns"; fi
done
for dev in $(ip -o link show 2>/dev/null | grep -oE 'pxcut[0-9]+h' | sort -u || true); do
    if stale "$dev"; then log "removing stale veth $dev"; ip link del "$dev" 2>/dev/null || true; fi
done

ip netns add "$NS" || fail "cannot create a network namespace"
on_exit "ns_gone $NS; ip link del $VH 2>/dev/null"
# A /30 of 198.19.0.0/16 from the pid, so parallel runs do not collide.
NET=198.19.$(( ($$ >> 6) & 255 ))
LOW=$(( ($$ & 63) * 4 ))
HOST_IP=$NET.$((LOW + 1))
AGENT_IP=$NET.$((LOW + 2))
ip link add "$VH" type veth peer name "$VA" || fail "cannot create a veth pair"
ip link set "$VA" netns "$NS"
ip addr add "$HOST_IP/30" dev "$VH"
ip link set "$VH" up
ip -n "$NS" addr add "$AGENT_IP/30" dev "$VA"
ip -n "$NS" link set "$VA" up
ip -n "$NS" link set lo up
ip netns exec "$NS" nft list tables >/dev/null 2>&1 || fail "nftables unusable in a namespace"
wait_until 20 "veth link up" 'ip netns exec "$NS" ping -c 1 -W 1 "$HOST_IP"'

new_db
# The coordinator listens on the host end of the veth only (lib's start_coordinator binds
# loopback, which the namespace cannot reach).
PORT=$(free_port)
COORD_EP="tcp://$HOST_IP:$PORT"
cat >"$WORK/coord.conf" <<CONF
listen = $COORD_EP
database = $DB
key_file = $WORK/coord.key
CONF
start_bg coordinator "$COORD" -c "$WORK/coord.conf"
COORD_PID=$LAST_PID
wait_until 30 "coordinator connected" 'grep -q "connected to the database" "$WORK/coordinator.log"'

# Probes stay inside each agent's own network: loopback (the namespace has its own).
# tcp:9 is refused at once (nothing listens on the discard port), leaving no TIME_WAIT.
{
    echo "name,address,probes,interval,timeout,allow_internal"
    for i in $(seq "$TARGETS"); do echo "lo$i,127.0.0.1,icmp tcp:9,1,500,yes"; done
} >"$WORK/targets.csv"
"$CTL" --db "$DB" target import "$WORK/targets.csv" >/dev/null
add_agent cut GB
add_agent stay DE
grep -q "^coordinator = $COORD_EP\$" "$WORK/cut.conf" || fail "agent config without $COORD_EP: $(grep coordinator "$WORK/cut.conf")"
start_bg agent-cut ip netns exec "$NS" "$AGENT" -c "$WORK/cut.conf"; CUT_PID=$LAST_PID
start_agent stay; STAY_PID=$LAST_PID

stat_of() { sed -n "s/^$2=//p" "$WORK/state-$1/stats" 2>/dev/null; }
agent_id() { sql "SELECT id FROM parallax.agents WHERE name = '$1'"; }
rows_of() { sql "SELECT count(*) FROM parallax.results WHERE agent_id = $(agent_id "$1")"; }
lost() { stat_of cut link_losses; }
connected() { stat_of cut link_ups; }
latest() { sql "SELECT max(version) FROM parallax.schedule_versions"; }
acked_version() { sql "SELECT coalesce(schedule_version_acked, 0) FROM parallax.agents WHERE name = '$1'"; }

wait_until 60 "both agents delivering" 'test "$(rows_of cut)" -gt 200 -a "$(rows_of stay)" -gt 200'
wait_until 30 "the cut agent runs the schedule" 'test "$(acked_version cut)" = "$(latest)"'
v1=$(latest)

# The cut begins with the way back alone (the coordinator's acks are lost, so a batch is
# stored whose ack the agent never gets: it must be resent and recognised), then the whole link.
# Only segments that carry data are dropped on the way back, not TCP's bare acknowledgements
# (at most 80 bytes: 20 of IP, 60 of TCP with every option; the smallest CURVE message is
# over 30 bytes more). Dropping those too would let through only what the agent sends before
# its first retransmission timeout (~200 ms): after it, TCP sends nothing new until an
# acknowledgement arrives, so whether a batch reached the coordinator would be down to
# whether one happened to be sent in that first moment rather than a heartbeat.
log "cut: data packets to the namespace dropped; the coordinator's acks are lost"
ip netns exec "$NS" nft -f - <<NFT
table inet pxcut {
    chain in { type filter hook input priority 0; policy accept; iifname "$VA" ip length > 80 drop; }
}
NFT
T_CUT=$(date +%s)
T_ACKS=$(date +%s.%N)
p0=$(stat_of cut produced)
stay0=$(rows_of stay)
lost0=$(lost); conn0=$(connected)
CUT_ID=$(agent_id cut)
wait_until 60 "a batch stored after the acks stopped" \
    'test "$(sql "SELECT count(*) FROM parallax.batches WHERE agent_id = $CUT_ID AND ingested_at > to_timestamp($T_ACKS)")" -gt 0'
log "cut: every packet on the namespace's link dropped for ${CUT}s in all"
ip netns exec "$NS" nft -f - <<NFT
table inet pxcut {
    chain in { iifname "$VA" drop; }
    chain out { type filter hook output priority 0; policy accept; oifname "$VA" drop; }
}
NFT
wait_until 60 "the cut agent's ZeroMQ heartbeats notice the dead path" 'test "$(lost)" -gt "$lost0"'
"$CTL" --db "$DB" target add during-cut --address 127.0.0.1 --allow-internal --probe icmp --interval 1 >/dev/null
wait_until 30 "the coordinator has the new schedule" 'test "$(latest)" -gt "$v1"'
s0=$(rows_of stay)
wait_until 60 "the agent on the host still delivering" 'test "$(rows_of stay)" -gt $((s0 + 100))'
if [ "$CUT" -ge 90 ]; then
    wait_until "$CUT" "the coordinator sees the cut agent offline" \
        'test "$(sql "SELECT online FROM parallax.agents WHERE name = '"'"'cut'"'"'")" = f'
fi
# The cut lasts CUT seconds: a scenario's length, not a synchronisation; meanwhile the agent
# must keep probing and spooling.
wait_until $((CUT + 60)) "the cut has lasted ${CUT}s" 'test "$(date +%s)" -ge $((T_CUT + CUT))'
p1=$(stat_of cut produced)
log "the agent produced $((p1 - p0)) results during the cut; $(stat_of cut pending) pending"
[ $((p1 - p0)) -gt $((CUT * TARGETS)) ] || fail "the agent did not keep probing while cut off"
[ "$(rows_of stay)" -gt $((stay0 + CUT * TARGETS)) ] || fail "the agent on the host stopped delivering"

log "the link is back"
ip netns exec "$NS" nft delete table inet pxcut
wait_until 60 "the agent reconnected" 'test "$(connected)" -gt "$conn0" -a "$(stat_of cut link_up)" = 1'
wait_until 60 "it runs the schedule changed during the cut" 'test "$(acked_version cut)" = "$(latest)" -a "$(stat_of cut schedule_version)" = "$(latest)"'
NEW=$(sql "SELECT p.id FROM parallax.probes p JOIN parallax.targets t ON t.id = p.target_id WHERE t.name = 'during-cut'")
wait_until 120 "the backlog delivered" 'test "$(stat_of cut acked)" -ge "$p1"'
wait_until 30 "results of the target added during the cut" \
    'test "$(sql "SELECT count(*) FROM parallax.results WHERE agent_id = $(agent_id cut) AND probe_id = $NEW")" -gt 2'

log "load stops: every target removed; the agents drain"
stop_load; V=$EMPTY_VERSION
for n in cut stay; do
    wait_until 120 "$n drained on schedule $V" \
        'test "$(stat_of '"$n"' schedule_version)" = "$V" -a "$(stat_of '"$n"' pending)" = 0'
done
kill -TERM "$CUT_PID" "$STAY_PID"
wait "$CUT_PID" || fail "agent cut exit status $?"
wait "$STAY_PID" || fail "agent stay exit status $?"

for n in cut stay; do
    id=$(agent_id "$n")
    produced=$(stat_of "$n" produced); acked=$(stat_of "$n" acked); dropped=$(stat_of "$n" dropped)
    pending=$(stat_of "$n" pending); rejected=$(stat_of "$n" rejected_results)
    r=$(rows_of "$n")
    log "$n: produced=$produced acked=$acked dropped=$dropped pending=$pending rows=$r"
    [ "$r" = "$acked" ] || fail "$n: rows $r != acked $acked"
    [ "$produced" = $((acked + dropped + pending + rejected)) ] || fail "$n: produced != acked + dropped + pending + rejected"
    [ "$dropped" = 0 ] || fail "$n: $dropped results dropped"
    [ "$pending" = 0 ] || fail "$n: $pending results pending at exit"
    # Order: every batch of the stream from the first to the last, ingested in seq order.
    read -r nb lo hi <<<"$(sql "SELECT count(*), min(seq), max(seq) FROM parallax.batches WHERE agent_id = $id" | tr '|' ' ')"
    [ "$nb" = $((hi - lo + 1)) ] || fail "$n: $nb batches stored for seqs $lo..$hi: a hole"
    back=$(sql "SELECT count(*) FROM (SELECT ingested_at < lag(ingested_at) OVER (PARTITION BY stream ORDER BY seq) AS back
                FROM parallax.batches WHERE agent_id = $id) b WHERE back")
    [ "$back" = 0 ] || fail "$n: $back batches ingested before an earlier one"
    back=$(sql "SELECT count(*) FROM (SELECT received_at < lag(received_at) OVER (PARTITION BY probe_id ORDER BY ts) AS back
                FROM parallax.results WHERE agent_id = $id) r WHERE back")
    [ "$back" = 0 ] || fail "$n: $back results stored before an earlier result of their probe"
done
in_cut=$(sql "SELECT count(*) FROM parallax.results WHERE agent_id = $(agent_id cut)
              AND ts >= to_timestamp($T_CUT) AND ts < to_timestamp($((T_CUT + CUT)))")
log "results of the cut agent timed inside the cut: $in_cut; delivered after it in $(sql "SELECT count(DISTINCT ingested_at) FROM parallax.batches WHERE agent_id = $(agent_id cut) AND ingested_at > to_timestamp($((T_CUT + CUT)))") transactions"
[ "$in_cut" -gt $((CUT * TARGETS)) ] || fail "only $in_cut results from the cut period stored"
resent=$(grep -c "agent cut: batch [0-9]* was already stored; acknowledging again" "$WORK/coordinator.log" || true)
log "batches of the cut agent resent after the cut and recognised as stored: $resent"
[ "$resent" -gt 0 ] || fail "no batch stored during the cut was resent and recognised"
[ "$(grep -c "lost connection to coordinator" "$WORK/agent-cut.log")" = "$(stat_of cut link_losses)" ] ||
    fail "the cut agent's log and stats disagree on how often its link was lost"
dups=$(sql "SELECT count(*) FROM (SELECT 1 FROM parallax.results GROUP BY agent_id, probe_id, ts HAVING count(*) > 1) d")
[ "$dups" = 0 ] || fail "$dups (agent, probe, ts) keys stored more than once"
# A clean stop of the coordinator (under the sanitizers this is where leaks are reported).
kill -TERM "$COORD_PID"; wait "$COORD_PID" || fail "coordinator exit status $?"
log "ok"
