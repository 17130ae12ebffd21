#!/usr/bin/env bash
# coord_config: bad command lines and config files get one clear line naming the problem
# (file and line), exit status 2, and the coordinator does not start.
source "$(dirname "$0")/lib.sh"
expect_error() {  # expect_error PATTERN ARGS...
    local pattern=$1; shift
    set +e; "$COORD" "$@" >"$WORK/out" 2>&1; local rc=$?; set -e
    [ $rc = 2 ] || fail "exit $rc (want 2) for $*: $(cat "$WORK/out")"
    grep -q -- "$pattern" "$WORK/out" || fail "message for $* lacks '$pattern': $(cat "$WORK/out")"
}
"$COORD" --version | grep -q '^parallax-coordinator [0-9]' || fail "--version"
"$COORD" --help | grep -q usage || fail "--help"
expect_error "missing -c FILE"
expect_error "unexpected argument '--bogus'" --bogus
expect_error "cannot open" -c "$WORK/nonexistent.conf"
printf 'listen = tcp://127.0.0.1:1\nkey_file = %s/k\nlisten_port = 5\n' "$WORK" >"$WORK/a.conf"
expect_error "a.conf:3: unknown key 'listen_port'" -c "$WORK/a.conf"
printf 'key_file = %s/k\n' "$WORK" >"$WORK/b.conf"
expect_error "missing required key 'listen'" -c "$WORK/b.conf"
printf 'listen = udp://x\nkey_file = k\n' >"$WORK/c.conf"
expect_error "c.conf:1: bad value 'udp://x' for 'listen'" -c "$WORK/c.conf"
printf 'listen = tcp://0.0.0.0:7000\nkey_file = k\n' >"$WORK/d.conf"
expect_error "missing key 'advertise'" -c "$WORK/d.conf"
printf 'listen = tcp://127.0.0.1:7000\nkey_file = k\nsession_timeout_s = soon\n' >"$WORK/e.conf"
expect_error "e.conf:3: bad value 'soon'" -c "$WORK/e.conf"
printf 'listen tcp://127.0.0.1:7000\n' >"$WORK/f.conf"
expect_error "f.conf:1: expected 'key = value'" -c "$WORK/f.conf"
for bad in 'localhost' '127.0.0.1:0' '127.0.0.1:65536' '::1:9467' '[::1]9467' ':9467' 'off'; do
    printf 'listen = tcp://127.0.0.1:7000\nkey_file = k\nmetrics_listen = %s\n' "$bad" >"$WORK/m.conf"
    expect_error "m.conf:3: 'metrics_listen': bad address" -c "$WORK/m.conf"
done
for good in '127.0.0.1:9467' '[::1]:9467' 'metrics.example.net:80' 'none'; do
    printf 'listen = tcp://127.0.0.1:7000\nkey_file = k\nmetrics_listen = %s\n' "$good" >"$WORK/m.conf"
    "$COORD" -c "$WORK/m.conf" --check >"$WORK/out" 2>&1 || fail "metrics_listen = $good refused: $(cat "$WORK/out")"
done

log "a key file others can read is refused"
new_db
install -m 0644 /dev/null "$WORK/open.key"
printf 'public = x\nsecret = y\n' >"$WORK/open.key"
printf 'listen = tcp://127.0.0.1:%s\ndatabase = %s\nkey_file = %s/open.key\n' "$(free_port)" "$DB" "$WORK" >"$WORK/g.conf"
set +e; "$COORD" -c "$WORK/g.conf" >"$WORK/out" 2>&1; rc=$?; set -e
[ $rc = 1 ] && grep -q "readable by others" "$WORK/out" || fail "open key file accepted: $(cat "$WORK/out")"

log "an unmigrated database stops the coordinator with advice"
createdb "${DB_NAME}_empty"
printf 'listen = tcp://127.0.0.1:%s\ndatabase = %s\nkey_file = %s/new.key\n' "$(free_port)" "$PG_BASE dbname=${DB_NAME}_empty" "$WORK" >"$WORK/h.conf"
set +e; timeout 20 "$COORD" -c "$WORK/h.conf" >"$WORK/out" 2>&1; rc=$?; set -e
dropdb "${DB_NAME}_empty"
[ $rc = 1 ] && grep -q "parallaxctl db migrate" "$WORK/out" || fail "unmigrated database: rc=$rc $(cat "$WORK/out")"
# The key pair is written only once the database is checked (it might hold a registered key
# the new one would replace: coord_identity).
[ ! -e "$WORK/new.key" ] || fail "a key file was written before the database was checked"
log "ok"
