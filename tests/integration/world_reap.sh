#!/usr/bin/env bash
# world_reap: a world whose test was killed with SIGKILL (no trap ran) is removed by the
# next world_up, and a world whose owner still runs is left alone.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root to make network namespaces"
source "$PX_SOURCE_DIR/tests/world/world.sh"
# Names from this test's pid, so that parallel runs do not meet.
id=$(( $$ % 1000 ))
dead=r${id}a live=r${id}b mine=r${id}c
count() { ip netns list | awk '{ print $1 }' | grep -c "^$1" || true; }
on_exit "for w in $dead $live $mine; do (WORLD=\$w WORLD_DIR=''; world_down); done"

bash -c "source '$PX_SOURCE_DIR/tests/world/world.sh'; world_up $dead '$WORK/dead' >/dev/null 2>&1 || exit 1; kill -KILL \$\$" && true
[ "$(count "$dead")" = 8 ] || fail "the killed test's world was not up: $(count "$dead") namespaces"

bash -c "source '$PX_SOURCE_DIR/tests/world/world.sh'; world_up $live '$WORK/live' >/dev/null 2>&1 || exit 1; exec sleep 60" &
owner=$!
on_exit "kill $owner 2>/dev/null"
for _ in $(seq 100); do
    [ "$(count "$live")" = 8 ] && [ -f "$WORLD_OWNERS/$live" ] && break
    sleep 0.1
done
[ "$(count "$live")" = 8 ] || fail "the running test's world did not come up"

world_up "$mine" "$WORK/mine" >/dev/null || fail "world_up failed"
[ "$(count "$dead")" = 0 ] || fail "the killed test's world is still there: $(count "$dead") namespaces"
[ ! -e "$WORLD_OWNERS/$dead" ] || fail "the killed test's owner file is still there"
[ "$(count "$live")" = 8 ] || fail "a running test's world was removed"
[ "$(count "$mine")" = 8 ] || fail "the new world is not up"
world_down
[ "$(count "$mine")" = 0 ] && [ ! -e "$WORLD_OWNERS/$mine" ] || fail "world_down left something behind"
log "ok"
