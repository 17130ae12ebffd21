#!/usr/bin/env bash
# fresh_root: the README's two commands on a fresh Debian 12. A minimal bookworm root is made
# with mmdebstrap from the mirror in this machine's apt sources, the source tree is copied into
# it as a clone has it, and there, in its own mount, PID and network namespaces, run
# `cd /src && bash scripts/demo.sh` (command 1 as written) and then command 2's install step,
# build and fast tests. apt inside reaches the mirror only through mirror_proxy.py on a veth.
# Environment (CTest): PX_SOURCE_DIR; PX_FRESH_CACHE, the root tarball's cache directory.
set -euo pipefail

log() { echo "[fresh_root] $*" >&2; }
fail() { echo "[fresh_root] FAIL: $*" >&2; exit 1; }
skip() { echo "[fresh_root] SKIP: $*" >&2; exit 77; }

# The whole test must end within CTest's TIMEOUT (1,500 s, tests/fresh/CMakeLists.txt): each phase
# gets at most what is left of this budget.
BUDGET=1440
# PX_FRESH_FULL=1: README command 2 in full (scripts/test.sh: both builds, every test) instead
# of its fast part, within PX_FRESH_BUDGET_S (default 5400 s). Not for CI (it is an hour):
# run it by hand before a release, e.g.
#   PX_FRESH_FULL=1 PX_SOURCE_DIR=$PWD bash tests/fresh/fresh_root.sh
# Inside, this very test skips (a root within the root would need the mirror twice over).
FULL=${PX_FRESH_FULL:-0}
[ "$FULL" != 1 ] || BUDGET=${PX_FRESH_BUDGET_S:-5400}
# A cached root older than this is made again (the mirror moves on: security updates).
CACHE_DAYS=3
# The fast part of command 2: every test but the world and chaos scenarios (about 13 minutes
# of test time together, beyond this budget) and the labels world30, model and fresh (this very
# test). By name, because world_* and chaos_* carry the plain integration label; the demo
# test is left out too, command 1 has just run the demo here. The world runs
# here anyway, in the demo; of the tools those tests use, only jq (chaos_spool_full) is used
# nowhere else, so a deps.sh without it would still pass.
SUITE_EXCLUDE='^integration\.((world|chaos)_|demo$)'
SUITE_EXCLUDE_LABELS='world30|model|fresh'
ROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# remaining CAP: seconds a phase may take, at most CAP, within what is left of the budget.
remaining() {
    local left=$((BUDGET - SECONDS))
    [ "$left" -gt 10 ] || fail "the budget of ${BUDGET}s is spent"
    echo $((left < $1 ? left : $1))
}

# ---- Inside the namespaces (this script run again by unshare, as PID 1 of its PID namespace,
# still seeing the host's files): the root's own /proc, /sys, /dev, /run and /tmp, its
# network, then each phase chrooted, its output stamped with the seconds since it began.
# Any exit here ends the namespaces and everything left running in them.
stamp() { local t0=$SECONDS l; while IFS= read -r l; do printf '%4d %s\n' $((SECONDS - t0)) "$l"; done; }

# phase NAME DEADLINE_EPOCH CAP COMMAND: NAME.log, NAME.rc and NAME.secs in $OUT.
phase() {
    local name=$1 deadline=$2 cap=$3 cmd=$4 t0=$SECONDS left
    left=$((deadline - $(date +%s)))
    [ "$left" -lt "$cap" ] || left=$cap
    [ "$left" -gt 10 ] || { echo 124 >"$OUT/$name.rc"; return; }
    {
        local rc=0
        timeout -k 10 "$left" chroot "$R" /usr/bin/env -i HOME=/root PATH="$ROOT_PATH" TERM=dumb \
            /bin/bash -c "$cmd" </dev/null || rc=$?
        echo "$rc" >"$OUT/$name.rc"
    } 2>&1 | stamp >"$OUT/$name.log"
    echo $((SECONDS - t0)) >"$OUT/$name.secs"
}

inside() {
    R=$1 OUT=$2
    local dev=$3 addr=$4 deadline=$5 command1=$6 n
    # The root is a mount point, as / is on a machine (`ip netns exec` remounts / as a slave).
    mount --bind "$R" "$R"
    mount -t proc proc "$R/proc"
    mount -t sysfs sysfs "$R/sys"
    mount -t tmpfs -o mode=0755,nosuid,size=16m dev "$R/dev"
    for n in null zero full random urandom tty; do
        touch "$R/dev/$n"
        mount --bind "/dev/$n" "$R/dev/$n"
    done
    mkdir "$R/dev/pts" "$R/dev/shm"
    mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$R/dev/pts"
    mount -t tmpfs -o mode=1777,nosuid,nodev shm "$R/dev/shm"
    ln -s pts/ptmx "$R/dev/ptmx"
    ln -s /proc/self/fd "$R/dev/fd"
    for n in 0:stdin 1:stdout 2:stderr; do ln -s "/proc/self/fd/${n%%:*}" "$R/dev/${n#*:}"; done
    mount -t tmpfs -o mode=0755,nosuid,nodev run "$R/run"
    mount -t tmpfs -o mode=1777,nosuid,nodev tmp "$R/tmp"
    # The host writes the apt proxy file last, once the veth and the proxy are up.
    for n in $(seq 300); do
        [ -e "$R/etc/apt/apt.conf.d/00fresh-proxy" ] && break
        sleep 0.1
    done
    ip link set lo up
    ip addr add "$addr/30" dev "$dev"
    ip link set "$dev" up
    phase demo "$deadline" 540 "cd /src && $command1"
    if [ "$FULL" = 1 ]; then
        phase suite "$deadline" "$BUDGET" "cd /src && PX_FRESH_NESTED=1 bash scripts/test.sh"
    else
        phase suite "$deadline" 900 "cd /src && bash scripts/deps.sh && bash scripts/build.sh build &&
        cd build && ctest --output-on-failure -j2 --timeout 300 -E '$SUITE_EXCLUDE' -LE '$SUITE_EXCLUDE_LABELS'"
    fi
}

if [ "${1:-}" = --inside ]; then
    shift
    inside "$@"
    exit 0
fi

# ---- On the host.
: "${PX_SOURCE_DIR:?}"
[ "$(id -u)" = 0 ] || skip "needs root (namespaces, mounts, chroot)"
[ "${PX_FRESH_NESTED:-0}" != 1 ] || skip "already inside a fresh root (PX_FRESH_FULL's own run)"
for tool in mmdebstrap unshare chroot flock ip git python3; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/deps.sh installs it)"
done
phase_line() { log "phase $1: ${2}s"; }

# Debian 12 mirrors from the apt sources, as one-line "deb URI SUITE COMPONENTS" entries:
# plain http only (the proxy forwards nothing else) and bookworm suites only.
apt_sources() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk '{ sub(/#.*/, "") } $1 == "deb" {
                 i = 2
                 if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                 line = "deb " $i " " $(i + 1)
                 for (j = i + 2; j <= NF; j++) line = line " " $j
                 print line }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # deb822: stanzas split by blank lines; a line starting with a blank continues a field.
        awk 'function flush(  n, m, i, j, u, s) {
                 if (F["types"] ~ /(^| )deb( |$)/ && tolower(F["enabled"]) != "no") {
                     n = split(F["uris"], u, " "); m = split(F["suites"], s, " ")
                     for (i = 1; i <= n; i++) for (j = 1; j <= m; j++)
                         print "deb " u[i] " " s[j] " " F["components"]
                 }
                 delete F; key = "" }
             /^#/ { next }
             /^[ \t]*$/ { flush(); next }
             /^[ \t]/ { if (key != "") F[key] = F[key] " " $0; next }
             { key = tolower($0); sub(/:.*/, "", key); v = $0; sub(/^[^:]*:[ \t]*/, "", v); F[key] = v }
             END { flush() }' "$f"
    done
}
MIRRORS=$(apt_sources | awk '$2 ~ /^http:\/\// && $3 ~ /^bookworm(-|$)/ { $1 = $1; if (!seen[$0]++) print }')
[ -n "$MIRRORS" ] || fail "no plain-http Debian 12 (bookworm) mirror in the apt sources to make the root from"
HOSTS=$(echo "$MIRRORS" | awk '{ h = $2; sub(/^http:\/\//, "", h); sub(/\/.*/, "", h); sub(/^.*@/, "", h)
                                 sub(/:80$/, "", h); print tolower(h) }' | sort -u)
log "mirror: $(echo "$MIRRORS" | tr '\n' ';')"

# A run killed before its trap ran leaves its directory (and maybe its host veth): removed when
# the process that made it is gone.
for d in /var/tmp/px-fresh.*; do
    [ -f "$d/owner" ] || continue
    kill -0 "$(cat "$d/owner")" 2>/dev/null && continue
    log "removing $d, left by a run that was killed"
    rm -rf "$d"
done
for dev in $(ip -o link show 2>/dev/null | grep -oE 'pxf[0-9]+h' | sort -u || true); do
    kill -0 "${dev//[a-z]/}" 2>/dev/null || ip link del "$dev" 2>/dev/null || true
done

WORK=$(mktemp -d /var/tmp/px-fresh.XXXXXX)
echo $$ >"$WORK/owner"
ROOT=$WORK/root
NS_PID=
PROXY_PID=
VH=pxf$$h VR=pxf$$r
cleanup() {
    local rc=$?
    # unshare --kill-child: unshare gone, PID 1 of the namespace gets SIGKILL, and with it
    # everything in the namespace; its network namespace, veth end and mounts go too.
    if [ -n "$NS_PID" ]; then
        kill -TERM "$NS_PID" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$NS_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$NS_PID" 2>/dev/null || true
    fi
    [ -z "$PROXY_PID" ] || kill "$PROXY_PID" 2>/dev/null || true
    ip link del "$VH" 2>/dev/null || true
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# The README's block 'two-commands': command 1 is run as written; of command 2 (test.sh: two
# builds and every test, far beyond this budget) the install step, the normal build and the
# fast tests.
block=$(cd "$PX_SOURCE_DIR" && /usr/bin/python3 tests/tools/docs_blocks.py get README.md two-commands) ||
    fail "README.md has no block 'two-commands'"
COMMAND1=$(sed -n 1p <<<"$block")
if [[ "$COMMAND1" != "bash scripts/demo.sh "* ]] || [[ "$(sed -n 2p <<<"$block")" != "bash scripts/test.sh "* ]]; then
    fail "README's two commands are not demo.sh and test.sh, which this test knows how to judge: $block"
fi

# ---- Phase 1: the bare root, from the cache when it is recent and of this mirror.
t0=$SECONDS
CACHE=${PX_FRESH_CACHE:-/var/cache/parallax}
TARBALL=$CACHE/fresh-bookworm-minbase.tar
KEY="mmdebstrap --variant=minbase bookworm
$MIRRORS"
mkdir -p "$CACHE"
# One run at a time makes or reads the cache (two build directories may test at once); the lock
# is let go once the root is unpacked.
exec 9>"$CACHE/fresh.lock"
flock -w 300 9 || fail "$CACHE/fresh.lock stayed taken for 300 s"
if [ -f "$TARBALL" ] && [ "$(cat "$TARBALL.key" 2>/dev/null)" = "$KEY" ] &&
    [ -n "$(find "$TARBALL" -mtime -"$CACHE_DAYS")" ]; then
    log "bare root from the cache ($TARBALL, $(date -r "$TARBALL" +%F))"
else
    rm -rf "$TARBALL" "$TARBALL.key" "$TARBALL.tmp"
    mapfile -t lines <<<"$MIRRORS"
    # In a mount namespace of its own, so that mmdebstrap killed by the timeout leaves no mount
    # behind; its temporary directory is in $WORK, removed on exit.
    TMPDIR=$WORK timeout -k 10 "$(remaining 300)" unshare --mount --propagation private \
        mmdebstrap --quiet --variant=minbase --format=tar bookworm "$TARBALL.tmp" "${lines[@]}" \
        >"$WORK/mmdebstrap.log" 2>&1 ||
        { tail -n 20 "$WORK/mmdebstrap.log" >&2; rm -f "$TARBALL.tmp"; fail "mmdebstrap failed"; }
    mv "$TARBALL.tmp" "$TARBALL"
    echo "$KEY" >"$TARBALL.key"
fi
phase_line "bare root" $((SECONDS - t0))

# ---- Phase 2: the root unpacked, the source tree as a clone has it (history included: a
# test reads old commits) with the working tree's changes to tracked files, and what a booted
# machine has that mmdebstrap does not write.
t0=$SECONDS
mkdir "$ROOT"
tar -xf "$TARBALL" -C "$ROOT"
exec 9>&- # the cache lock
git -c advice.detachedHead=false clone --quiet --no-hardlinks "$PX_SOURCE_DIR" "$ROOT/src"
(cd "$PX_SOURCE_DIR" && git ls-files -z | tar --null -T - --ignore-failed-read -cf - 2>/dev/null) |
    tar -xf - -C "$ROOT/src"
(cd "$PX_SOURCE_DIR" && git ls-files -z --deleted) | (cd "$ROOT/src" && xargs -0 -r rm -f --)
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$ROOT/etc/hosts"
phase_line "unpack and copy" $((SECONDS - t0))

# ---- The namespaces, and the one way out of them: a veth to the proxy.
IDX=$(($$ % 256))
NET=198.18.$((252 + IDX / 64)).$((IDX % 64 * 4))
HOST_IP=${NET%.*}.$((${NET##*.} + 1))
ROOT_IP=${NET%.*}.$((${NET##*.} + 2))
unshare --mount --propagation private --pid --fork --net --kill-child \
    bash "$0" --inside "$ROOT" "$WORK" "$VR" "$ROOT_IP" $(($(date +%s) + BUDGET - SECONDS)) "$COMMAND1" \
    >"$WORK/inside.log" 2>&1 &
NS_PID=$!
# $! is known before unshare has made its namespaces: the veth must not land in the host's.
for _ in $(seq 100); do
    [ "$(readlink "/proc/$NS_PID/ns/net" 2>/dev/null)" != "$(readlink /proc/$$/ns/net)" ] && break
    sleep 0.05
done
[ "$(readlink "/proc/$NS_PID/ns/net" 2>/dev/null)" != "$(readlink /proc/$$/ns/net)" ] ||
    fail "unshare made no network namespace: $(cat "$WORK/inside.log")"
ip link add "$VH" type veth peer name "$VR" netns "$NS_PID"
ip addr add "$HOST_IP/30" dev "$VH"
ip link set "$VH" up
# shellcheck disable=SC2086 # HOSTS is a list
python3 "$(dirname "$0")/mirror_proxy.py" "$HOST_IP" "$WORK/proxy.port" "$BUDGET" $HOSTS \
    >"$WORK/proxy.log" 2>&1 &
PROXY_PID=$!
for _ in $(seq 100); do [ -s "$WORK/proxy.port" ] && break; sleep 0.1; done
[ -s "$WORK/proxy.port" ] || fail "the mirror proxy did not start: $(cat "$WORK/proxy.log")"
echo "Acquire::http::Proxy \"http://$HOST_IP:$(cat "$WORK/proxy.port")/\";" >"$WORK/proxy.conf"
mv "$WORK/proxy.conf" "$ROOT/etc/apt/apt.conf.d/00fresh-proxy"

# Bounded: the phases inside are; this is the last word.
while kill -0 "$NS_PID" 2>/dev/null; do
    [ "$SECONDS" -lt $((BUDGET + 30)) ] || { kill -TERM "$NS_PID"; fail "the namespaces outlived the budget"; }
    sleep 1
done
rc=0
wait "$NS_PID" || rc=$?
NS_PID=
[ "$rc" = 0 ] || fail "the namespaces' setup failed (exit $rc): $(tail -n 20 "$WORK/inside.log")"

# secs_to LOG TEXT: the seconds stamped on the first line of LOG containing TEXT.
secs_to() { grep -m1 -F -- "$2" "$1" | awk '{print $1}'; }
# show NAME: the end of a phase's log, but the build's progress and the tests that pass.
show() {
    echo "----- $1 (last 150 lines, the build's progress and passing tests left out)" >&2
    grep -vE '^ *[0-9]+ +(\[ *[0-9]+%\]|Start +[0-9]+: |.*Test +#[0-9]+: .* Passed)' "$WORK/$1.log" |
        tail -n 150 >&2
}

# ---- Phase 3: README command 1, as written ($COMMAND1). Phase 4: README command 2's install
# step, the build and the fast tests. Both are judged and shown before the test fails.
D=$WORK/demo.log S=$WORK/suite.log
FAILED=()
[ -f "$WORK/demo.rc" ] || fail "the demo never ran: $(tail -n 20 "$WORK/inside.log")"
log "phase demo: $(cat "$WORK/demo.secs")s in all: deps.sh done at $(secs_to "$D" "deps.sh: packages installed")s," \
    "the build at $(secs_to "$D" "Building the world")s, the timeline from $(secs_to "$D" "Normal operation")s"
if [ "$(cat "$WORK/demo.rc")" != 0 ]; then
    FAILED+=("bash scripts/demo.sh exited $(cat "$WORK/demo.rc")")
else
    prev=0
    for act in "Normal operation" "Stress:" "goes offline" "stops answering" "withdraws its BGP route" \
        "Recovery:" "loses its uplink" "Summary: parallax.outages" "Check: the whole history"; do
        at=$(grep -n -m1 -F "$act" "$D" | cut -d: -f1 || true)
        if [ -z "$at" ] || [ "$at" -le "$prev" ]; then FAILED+=("the demo did not reach '$act' in order"); break; fi
        prev=$at
    done
    grep -Eq '\| group +\| XX +\| blackout +\|' "$D" || FAILED+=("no group blackout in the demo's summary")
    grep -q "every bin and outage equals a merge from scratch" "$D" || FAILED+=("verify found differences")
fi
[ ${#FAILED[@]} = 0 ] || show demo

log "phase suite: $(cat "$WORK/suite.secs" 2>/dev/null)s in all: deps.sh done at" \
    "$(secs_to "$S" "deps.sh: packages installed")s, ctest from $(secs_to "$S" "Test project")s:" \
    "$(grep -m1 -E 'tests passed|tests failed' "$S" | cut -c6-)"
n=${#FAILED[@]}
if [ "$(cat "$WORK/suite.rc" 2>/dev/null)" != 0 ]; then
    FAILED+=("deps.sh, build.sh or ctest failed in the fresh root (exit $(cat "$WORK/suite.rc" 2>/dev/null))")
fi
# A test that skips for a missing tool hides the very hole this test looks for.
skipped=$(grep -E '\*\*\*Skipped|Not Run' "$S" | grep -v 'fresh\.root' || true)
if [ -n "$skipped" ]; then
    grep -h "SKIP:" "$ROOT/src/build/Testing/Temporary/LastTest.log" >&2 || true
    FAILED+=("tests skipped in the fresh root: $skipped")
fi
[ ${#FAILED[@]} = "$n" ] || show suite
[ ${#FAILED[@]} = 0 ] || fail "$(printf '%s; ' "${FAILED[@]}")"
log "ok in ${SECONDS}s"
