#!/usr/bin/env bash
# package_deb: the Debian packages. Builds both from this build tree with CPack, installs them
# with dpkg -i, checks the three programs' --version, the installed files and users, and
# `systemd-analyze verify` on both units, then removes them again. Needs root (it installs
# into the real system); exits 77 (skipped) otherwise, or if Parallax packages are already
# installed here (a real installation is never touched).
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root to install packages"
for tool in cpack dpkg dpkg-deb systemd-analyze flock; do
    command -v "$tool" >/dev/null || fail "$tool is missing: run scripts/deps.sh"
done
# dpkg takes one caller at a time; deploy_* tests install the same packages.
exec 9>/run/lock/parallax-package-tests.lock
flock 9
for p in parallax-agent parallax-coordinator; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
        skip "$p is installed on this machine; not touching it"
    fi
done
had_user=0
getent passwd parallax >/dev/null && had_user=1

log "cpack builds two packages"
cpack --config "$PX_BUILD_DIR/CPackConfig.cmake" -B "$WORK/pkg" >"$WORK/cpack.log" 2>&1 || fail "cpack failed: $(tail -5 "$WORK/cpack.log")"
AGENT_DEB=$(ls "$WORK"/pkg/parallax-agent_*_*.deb)
COORD_DEB=$(ls "$WORK"/pkg/parallax-coordinator_*_*.deb)
[ "$(ls "$WORK"/pkg/*.deb | wc -l)" = 2 ] || fail "expected two packages: $(ls "$WORK"/pkg/*.deb)"
[ "$(dpkg-deb -f "$AGENT_DEB" Package)" = parallax-agent ] || fail "bad agent package name"
dpkg-deb -f "$AGENT_DEB" Depends | grep -q libzmq5 || fail "the agent package does not depend on libzmq5"
dpkg-deb -f "$COORD_DEB" Depends | grep -q libpq5 || fail "the coordinator package does not depend on libpq5"
dpkg-deb -c "$AGENT_DEB" | grep -q 'parallaxctl' && fail "parallaxctl is in the agent package"
dpkg-deb -c "$COORD_DEB" | grep -q 'bin/parallax-agent$' && fail "the agent is in the coordinator package"

remove() {
    dpkg -P parallax-agent parallax-coordinator >/dev/null 2>&1 || true
    [ $had_user = 1 ] || userdel parallax 2>/dev/null || true
}
on_exit remove

log "dpkg -i installs both"
dpkg -i "$AGENT_DEB" "$COORD_DEB" >"$WORK/dpkg.log" 2>&1 || fail "dpkg -i failed: $(cat "$WORK/dpkg.log")"
[ "$(/usr/bin/parallax-agent --version)" = "parallax-agent 0.1.0" ] || fail "installed agent --version: $(/usr/bin/parallax-agent --version)"
[ "$(/usr/bin/parallax-coordinator --version)" = "parallax-coordinator 0.1.0" ] || fail "installed coordinator --version"
[ "$(/usr/bin/parallaxctl --version)" = "parallaxctl 0.1.0" ] || fail "installed parallaxctl --version"
[ "$(/usr/bin/parallax-notifier --version)" = "parallax-notifier 0.1.0" ] || fail "installed parallax-notifier --version"
dpkg-deb -f "$COORD_DEB" Depends | grep -q libcurl4 || fail "the coordinator package does not depend on libcurl4 (the notifier)"
getent passwd parallax >/dev/null || fail "the coordinator package did not create the user parallax"
for f in /usr/lib/systemd/system/parallax-agent.service /usr/lib/systemd/system/parallax-coordinator.service \
         /usr/lib/systemd/system/parallax-notifier.service /usr/share/doc/parallax-coordinator/notifier.conf.example \
         /usr/share/parallax/install-agent.sh /usr/share/doc/parallax-coordinator/examples.sql; do
    [ -f "$f" ] || fail "$f not installed"
done
for f in parallax-verdicts.json parallax-coordinator.json; do
    dpkg -L parallax-coordinator | grep -qx "/usr/share/parallax/grafana/$f" || fail "the dashboard $f is not in the coordinator's package"
    cmp -s "/usr/share/parallax/grafana/$f" "$PX_SOURCE_DIR/dashboards/$f" || fail "the installed $f differs from dashboards/$f"
done
[ -f /usr/share/doc/parallax-coordinator/dashboards.md ] || fail "docs/dashboards.md not installed"
[ -f /usr/share/doc/parallax-coordinator/metrics.md ] || fail "docs/metrics.md (the coordinator's metrics, named by its man page) not installed"
dpkg -L parallax-agent | grep -qx /usr/share/man/man8/parallax-agent.8 || fail "the agent's man page is not in its package"
dpkg -L parallax-coordinator | grep -qx /usr/share/man/man8/parallaxctl.8 || fail "parallaxctl's man page is not in its package"
dpkg -L parallax-coordinator | grep -qx /usr/share/man/man8/parallax-notifier.8 || fail "the notifier's man page is not in its package"
/usr/bin/parallax-notifier --check -c /usr/share/doc/parallax-coordinator/notifier.conf.example >/dev/null ||
    fail "the shipped example notifier.conf does not pass --check"

log "systemd-analyze verify on the installed units"
# --man=no: the man pages may be excluded by dpkg in minimal images; they are checked above.
for unit in parallax-agent parallax-coordinator parallax-notifier; do
    systemd-analyze verify --man=no "/usr/lib/systemd/system/$unit.service" >"$WORK/verify.log" 2>&1 ||
        fail "systemd-analyze verify $unit.service: $(cat "$WORK/verify.log")"
    [ ! -s "$WORK/verify.log" ] || fail "systemd-analyze verify $unit.service warned: $(cat "$WORK/verify.log")"
done
unit=/usr/lib/systemd/system/parallax-agent.service
for want in 'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' 'DynamicUser=yes' \
            'AmbientCapabilities=CAP_NET_RAW' 'CapabilityBoundingSet=CAP_NET_RAW' 'StateDirectory=parallax-agent'; do
    grep -qx "$want" "$unit" || fail "the agent unit lacks $want"
done
unit=/usr/lib/systemd/system/parallax-coordinator.service
for want in 'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' 'User=parallax' \
            'CapabilityBoundingSet=' 'StateDirectory=parallax-coordinator'; do
    grep -qx "$want" "$unit" || fail "the coordinator unit lacks $want"
done
grep -q 'CAP_NET_RAW' "$unit" && fail "the coordinator unit grants CAP_NET_RAW"
unit=/usr/lib/systemd/system/parallax-notifier.service
for want in 'NoNewPrivileges=yes' 'ProtectSystem=strict' 'User=parallax' 'CapabilityBoundingSet='; do
    grep -qx "$want" "$unit" || fail "the notifier unit lacks $want"
done

log "dpkg -r removes them"
dpkg -r parallax-agent parallax-coordinator >"$WORK/dpkg.log" 2>&1 || fail "dpkg -r failed: $(cat "$WORK/dpkg.log")"
for f in /usr/bin/parallax-agent /usr/bin/parallax-coordinator /usr/bin/parallaxctl /usr/bin/parallax-notifier; do
    [ ! -e "$f" ] || fail "$f still there after dpkg -r"
done
log "ok"
