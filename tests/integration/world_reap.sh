#!/usr/bin/env bash
# world_reap: a world whose test was killed with SIGKILL (no trap ran) is removed by the
# next world_up (its BIRD daemons included), and a world whose owner still runs is left alone.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root to make network namespaces"
source "$PX_SOURCE_DIR/tests/world/world.sh"
# Names from this test's pid, so that parallel runs do not meet.
id=$(( $$ % 1000 ))
dead=r${id}a live=r${id}b mine=r${id}c
count() { ip netns list | awk '{ print $1 }' | grep -c "^$1" || true; }
on_exit "for w in $dead $live $mine; do (WORLD=\$w WORLD_DIR=''; world_down); done"

bash -c "source '$PX_SOURCE_DIR/tests/world/world.sh'; world_up $dead '$WORK/dead' >/dev/null 2>&1 || exit 1; kill -KILL \$\$" && true
[ "$(count "$dead")" = 9 ] || fail "the killed test's world was not up: $(count "$dead") namespaces"

bash -c "source '$PX_SOURCE_DIR/tests/world/world.sh'; world_up $live '$WORK/live' >/dev/null 2>&1 || exit 1; exec sleep 60" &
owner=$!
on_exit "kill $owner 2>/dev/null"
for _ in $(seq 100); do
    [ "$(count "$live")" = 9 ] && [ -f "$WORLD_OWNERS/$live" ] && break
    sleep 0.1
done
[ "$(count "$live")" = 9 ] || fail "the running test's world did not come up"

world_up "$mine" "$WORK/mine" >/dev/null || fail "world_up failed"
[ "$(count "$dead")" = 0 ] || fail "the killed test's world is still there: $(count "$dead") namespaces"
[ ! -e "$WORLD_OWNERS/$dead" ] || fail "the killed test's owner file is still there"
# BIRD daemons outlive the shell that started them: the reap stops them too. (They are
# killed, so their pid files stay; a zombie waiting to be reaped by init runs no more.)
birds_gone() {
    local f n=0 st
    for f in "$1"/bgp/*.pid; do
        [ -f "$f" ] || continue
        n=$((n + 1))
        st=$(ps -o stat= -p "$(cat "$f")") && [[ $st != Z* ]] && fail "a BIRD of $1 still runs: $f"
    done
    [ $n = 3 ] || fail "$1 had $n BIRD pid files, not 3"
}
birds_gone "$WORK/dead"
[ "$(count "$live")" = 9 ] || fail "a running test's world was removed"
[ "$(count "$mine")" = 9 ] || fail "the new world is not up"
world_down
birds_gone "$WORK/mine"
[ "$(count "$mine")" = 0 ] && [ ! -e "$WORLD_OWNERS/$mine" ] || fail "world_down left something behind"
log "ok"
