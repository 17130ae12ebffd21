#!/usr/bin/env bash
# coord_identity: a lost key file never silently becomes a new identity (issue 16). The
# coordinator registered its key; with key_file gone it refuses to start, saying what to do,
# and leaves the registered key as it was; --new-key makes a new identity on purpose; a key
# file that others may read or that another user owns is refused.
source "$(dirname "$0")/lib.sh"
new_db
start_coordinator
first=$COORD_KEY
[ "$(stat -c %a "$WORK/coord.key")" = 600 ] || fail "first key file mode $(stat -c %a "$WORK/coord.key")"
kill -TERM "$COORD_PID"
wait "$COORD_PID" || true

log "key_file missing, a key registered: refused, the registered key kept"
mv "$WORK/coord.key" "$WORK/coord.key.saved"
rc=0
timeout 20 "$COORD" -c "$WORK/coord.conf" 2>"$WORK/refused.log" || rc=$?
[ "$rc" = 1 ] || fail "exit $rc, expected 1: $(tail -n 3 "$WORK/refused.log")"
grep -qF "key_file $WORK/coord.key is missing, but the database has this deployment's coordinator key $first registered" "$WORK/refused.log" &&
    grep -qF -- "--new-key" "$WORK/refused.log" ||
    fail "no clear error: $(tail -n 3 "$WORK/refused.log")"
[ ! -e "$WORK/coord.key" ] || fail "a key file was written anyway"
[ "$(sql "SELECT public_key FROM parallax.coordinator")" = "$first" ] || fail "the registered key changed"
# The secret never appears in the log.
secret=$(sed -n 's/^secret *= *//p' "$WORK/coord.key.saved")
! grep -qF "$secret" "$WORK/refused.log" || fail "the secret key was logged"

log "--new-key on an existing key file is refused"
mv "$WORK/coord.key.saved" "$WORK/coord.key"
rc=0
timeout 20 "$COORD" -c "$WORK/coord.conf" --new-key 2>"$WORK/newkey-exists.log" || rc=$?
[ "$rc" = 1 ] && grep -q -- "--new-key: .* exists" "$WORK/newkey-exists.log" ||
    fail "exit $rc: $(tail -n 3 "$WORK/newkey-exists.log")"

log "the restored key file is accepted as it was"
start_bg coordinator2 "$COORD" -c "$WORK/coord.conf"
pid=$LAST_PID
wait_until 20 "connected" 'grep -q "connected to the database" "$WORK/coordinator2.log"'
[ "$(sql "SELECT public_key FROM parallax.coordinator")" = "$first" ] || fail "the key changed"
kill -TERM "$pid"
wait "$pid" || true

log "--new-key with the file gone: a new identity, said loudly"
rm "$WORK/coord.key"
start_bg coordinator3 "$COORD" -c "$WORK/coord.conf" --new-key
pid=$LAST_PID
wait_until 20 "re-keyed" 'test "$(sql "SELECT public_key FROM parallax.coordinator")" != "$first"'
# -F: Z85 keys hold regular-expression characters.
grep -qF "replacing $first (--new-key): every agent needs the new key" "$WORK/coordinator3.log" ||
    fail "the re-key was not logged: $(grep -i key "$WORK/coordinator3.log" | tail -n 2)"
[ "$(stat -c %a "$WORK/coord.key")" = 600 ] || fail "new key file mode $(stat -c %a "$WORK/coord.key")"
kill -TERM "$pid"
wait "$pid" || true

log "a key file others may read, or another user owns, is refused"
chmod 640 "$WORK/coord.key"
rc=0
timeout 20 "$COORD" -c "$WORK/coord.conf" 2>"$WORK/mode.log" || rc=$?
[ "$rc" = 1 ] && grep -q "readable by others" "$WORK/mode.log" || fail "mode 640: exit $rc"
chmod 600 "$WORK/coord.key"
if [ "$(id -u)" = 0 ]; then
    chown 65534 "$WORK/coord.key"
    rc=0
    timeout 20 "$COORD" -c "$WORK/coord.conf" 2>"$WORK/owner.log" || rc=$?
    [ "$rc" = 1 ] && grep -q "owned by uid 65534" "$WORK/owner.log" || fail "foreign owner: exit $rc"
fi
log "ok"
