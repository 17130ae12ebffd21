#!/usr/bin/env bash
# deploy_readme: follows README.md's "Deployment" section step by step, with network
# namespaces standing in for machines: a coordinator host and two VPSes (gb1, de1) behind a
# router, addresses from the documentation ranges only. Each "machine" has its own
# /etc/parallax and /var/lib state (a private mount namespace over directories of this test);
# /usr is shared, so the packages are installed once per step as the README says, and removed
# at the end. Where the README runs `systemctl`, systemd is not running here: the test runs
# the installed unit's own ExecStart line instead. Passes when both agents' results are in
# the database. Needs root (exit 77 otherwise).
source "$(dirname "$0")/lib.sh"
source "$PX_SOURCE_DIR/tests/world/servers.sh"
[ "$(id -u)" = 0 ] || skip "needs root (packages, namespaces)"
BLOCKS="/usr/bin/python3 $PX_SOURCE_DIR/tests/tools/docs_blocks.py"
for tool in cpack dpkg ip unshare flock; do
    command -v "$tool" >/dev/null || fail "$tool is missing: run scripts/deps.sh"
done
exec 9>/run/lock/parallax-package-tests.lock
flock 9
for p in parallax-agent parallax-coordinator; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
        skip "$p is installed on this machine; not touching it"
    fi
done
had_user=0
getent passwd parallax >/dev/null && had_user=1

# The machines: namespaces named after this run, and their file systems.
P="pxd$$"
R="${P}r" C="${P}c" V1="${P}g" V2="${P}d"
COORD_ADDR=198.51.100.10
made_dirs=()
for d in /etc/parallax /var/lib/parallax-agent /var/lib/parallax-coordinator; do
    [ -d "$d" ] || { mkdir -p "$d"; made_dirs+=("$d"); }
done
teardown() {
    ns_remove "$C" "$V1" "$V2" "$R"
    dpkg -P parallax-agent parallax-coordinator >/dev/null 2>&1 || true
    [ $had_user = 1 ] || userdel parallax 2>/dev/null || true
    local d
    for d in "${made_dirs[@]}"; do rmdir "$d" 2>/dev/null || true; done
}
on_exit teardown
ip netns add "$R"
for ns in "$C" "$V1" "$V2"; do ip netns add "$ns"; done
ns_link "$C" "${P}cr" "$COORD_ADDR/24" "$R" "${P}rc" 198.51.100.1/24
ns_link "$V1" "${P}gr" 192.0.2.10/24 "$R" "${P}rg" 192.0.2.1/24
ns_link "$V2" "${P}dr" 203.0.113.10/24 "$R" "${P}rd" 203.0.113.1/24
ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1
for ns in "$R" "$C" "$V1" "$V2"; do ip -n "$ns" link set lo up; done
ip -n "$C" route add default via 198.51.100.1
ip -n "$V1" route add default via 192.0.2.1
ip -n "$V2" route add default via 203.0.113.1

# on HOST CMD...: runs CMD "on" machine HOST (coord, gb1, de1): in its network namespace,
# with its own /etc/parallax and /var/lib/parallax-* bound over the shared ones.
on() {
    local host=$1; shift
    local ns; case $host in coord) ns=$C ;; gb1) ns=$V1 ;; de1) ns=$V2 ;; esac
    local root="$WORK/machine-$host"
    mkdir -p "$root/etc" "$root/agent" "$root/coordinator" "$root/home"
    ip netns exec "$ns" unshare -m --propagation private sh -c '
        mount --bind "$1/etc" /etc/parallax &&
        mount --bind "$1/agent" /var/lib/parallax-agent &&
        mount --bind "$1/coordinator" /var/lib/parallax-coordinator &&
        cd "$1/home" && shift && exec "$@"' on "$root" "$@"
}
# exec_start UNIT: the ExecStart line of an installed unit, with %d (the credentials
# directory) pointing where the unit's LoadCredential= reads from.
exec_start() { sed -n 's/^ExecStart=//p' "/usr/lib/systemd/system/$1.service" | sed 's#%d#/etc/parallax#g'; }

log "README step 1: build the packages"
cpack --config "$PX_BUILD_DIR/CPackConfig.cmake" -B "$WORK/pkg" >"$WORK/cpack.log" 2>&1 || fail "cpack failed: $(tail -5 "$WORK/cpack.log")"

log "README step 2: the coordinator host"
on coord dpkg -i "$(ls "$WORK"/pkg/parallax-coordinator_*.deb)" >"$WORK/dpkg-coord.log" 2>&1 || fail "dpkg -i on the coordinator: $(cat "$WORK/dpkg-coord.log")"
createdb "$DB_NAME"
# The README's coordinator.conf (block coordinator-host), with this test's coordinator
# address and database instead of coord.example.net and /run/postgresql.
$BLOCKS get "$PX_SOURCE_DIR/README.md" coordinator-host >"$WORK/coordinator-host.sh" ||
    fail "README.md has no coordinator-host block"
sed -n "/<<'CONF'/,/^CONF\$/p" "$WORK/coordinator-host.sh" | sed '1d;$d' |
    sed -e "s#coord\.example\.net#$COORD_ADDR#" -e "s#^database  = .*#database  = $DB#" \
        >"$WORK/machine-coord/etc/coordinator.conf"
grep -q "^advertise = tcp://$COORD_ADDR:7000" "$WORK/machine-coord/etc/coordinator.conf" ||
    fail "the README's coordinator.conf changed shape: $(cat "$WORK/machine-coord/etc/coordinator.conf")"
on coord parallax-coordinator -c /etc/parallax/coordinator.conf --check >/dev/null ||
    fail "the README's coordinator.conf does not load"
on coord parallaxctl --db "$DB" db migrate >/dev/null || fail "db migrate with the installed parallaxctl failed"
# systemctl enable --now parallax-coordinator:
# shellcheck disable=SC2046 # the unit's command line, split as systemd would
start_bg coordinator on coord $(exec_start parallax-coordinator)
wait_until 30 "the coordinator registered its key" \
    'test "$(sql "SELECT endpoint FROM parallax.coordinator")" = "tcp://$COORD_ADDR:7000"'

log "README step 3: targets, as written (block targets), and two this test's agents can reach"
$BLOCKS get "$PX_SOURCE_DIR/README.md" targets >"$WORK/machine-coord/home/targets.sh" ||
    fail "README.md has no targets block"
# parallaxctl finds the database through PGHOST/PGDATABASE, as the README allows.
on coord bash targets.sh >"$WORK/targets.out" 2>&1 || fail "the README's targets block failed: $(cat "$WORK/targets.out")"
[ "$(sql "SELECT count(*) FROM parallax.targets")" = 3 ] || fail "the README's targets were not imported"
cat >"$WORK/machine-coord/home/reachable.csv" <<CSV
name,address,group,role,probes,interval
router-a,198.51.100.1,DOC,router,icmp,2
coord-ssh,$COORD_ADDR,DOC,host,tcp:7000,2
CSV
on coord parallaxctl --db "$DB" target import reachable.csv >/dev/null || fail "target import failed"

log "README step 4: one config per VPS, copied there with the package and install-agent.sh"
for vps in gb1:GB:64500 de1:DE:64501; do
    IFS=: read -r name cc asn <<<"$vps"
    on coord parallaxctl --db "$DB" agent add "$name" --country "$cc" --asn "$asn" -o "$name.conf" >"$WORK/add-$name.out" ||
        fail "agent add $name failed"
    cmd=$(sed -n 's/^  sudo //p' "$WORK/add-$name.out")
    [ "$cmd" = "sh install-agent.sh $name.conf" ] || fail "agent add printed no one-line command: $(cat "$WORK/add-$name.out")"
    # scp NAME.conf parallax-agent_*.deb /usr/share/parallax/install-agent.sh root@vps:
    mkdir -p "$WORK/machine-$name/home"
    cp "$WORK/machine-coord/home/$name.conf" "$WORK"/pkg/parallax-agent_*.deb \
        /usr/share/parallax/install-agent.sh "$WORK/machine-$name/home/"
    # On the VPS, the printed command.
    # shellcheck disable=SC2086 # the printed command, split as a shell would
    on "$name" $cmd >"$WORK/install-$name.log" 2>&1 || fail "install-agent.sh on $name failed: $(cat "$WORK/install-$name.log")"
    [ "$(stat -c %a "$WORK/machine-$name/etc/agent.conf")" = 600 ] || fail "agent.conf on $name is not 0600"
    grep -q 'systemd is not running here' "$WORK/install-$name.log" || fail "install-agent.sh said: $(cat "$WORK/install-$name.log")"
    # systemctl enable --now parallax-agent, as the unit would run it:
    # shellcheck disable=SC2046
    start_bg "agent-$name" on "$name" $(exec_start parallax-agent)
done

log "README step 5: both agents report results"
wait_until 60 "results from both agents" \
    'test "$(sql "SELECT count(DISTINCT agent) FROM parallax.result_view WHERE status = '"'"'ok'"'"'")" = 2'
on coord parallaxctl --db "$DB" status >"$WORK/status.out" || fail "status failed"
grep -Eq '^gb1 +GB +64500 +online ' "$WORK/status.out" || fail "gb1 is not online: $(cat "$WORK/status.out")"
grep -Eq '^de1 +DE +64501 +online ' "$WORK/status.out" || fail "de1 is not online: $(cat "$WORK/status.out")"
log "results: $(sql "SELECT string_agg(agent || '=' || n, ' ' ORDER BY agent) FROM (SELECT agent, count(*) n FROM parallax.result_view GROUP BY agent) x")"
log "ok"
