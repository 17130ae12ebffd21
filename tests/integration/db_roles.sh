#!/usr/bin/env bash
# db_roles: least privilege in PostgreSQL (issue 16). A coordinator connected as a login role
# granted only parallax_ingest stores an agent's results and merges them; a login role
# granted only parallax_read runs every query of schema/examples.sql and is refused every
# write. Every function of the schema has its search_path pinned, and a second database of
# the same cluster migrates beside the first (the roles are the cluster's).
source "$(dirname "$0")/lib.sh"
new_db
READER=px_test_read_$$
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE ROLE $READER LOGIN IN ROLE parallax_read" >/dev/null
on_exit "dropdb --if-exists ${DB_NAME}_2; psql -X -q -d postgres -c 'DROP ROLE IF EXISTS $READER'"

# as USER SQL: runs SQL as USER on this test's database; output in $WORK/as.out, errors in
# $WORK/as.err; returns psql's status.
as() { psql -X -q -tA -v ON_ERROR_STOP=1 -U "$1" -d "$DB_NAME" -c "$2" >"$WORK/as.out" 2>"$WORK/as.err"; }
# refused USER SQL: SQL fails for USER for want of a privilege, not for any other reason.
refused() {
    if as "$1" "$2"; then fail "$1 was allowed: $2"; fi
    grep -Eq 'permission denied|must be owner' "$WORK/as.err" || fail "$1: '$2' failed otherwise: $(cat "$WORK/as.err")"
}

log "every function pins its search_path, but SQL functions, which are inlined instead"
unpinned=$(sql "SELECT string_agg(p.oid::regprocedure::text, ', ') FROM pg_proc p
                WHERE p.pronamespace = 'parallax'::regnamespace AND p.prokind IN ('f', 'p')
                  AND p.prolang <> (SELECT oid FROM pg_language WHERE lanname = 'sql')
                  AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search\_path=%')")
[ -z "$unpinned" ] || fail "functions without a pinned search_path: $unpinned"
# An unpinned SQL function runs with its caller's rights and path: never as its owner.
definer=$(sql "SELECT string_agg(p.oid::regprocedure::text, ', ') FROM pg_proc p
               WHERE p.pronamespace = 'parallax'::regnamespace AND p.prosecdef AND p.proconfig IS NULL")
[ -z "$definer" ] || fail "SECURITY DEFINER functions without a pinned search_path: $definer"
[ "$(sql "SELECT count(*) FROM pg_proc p WHERE p.pronamespace = 'parallax'::regnamespace AND p.prosecdef
          AND NOT 'search_path=pg_catalog, pg_temp' = ANY (p.proconfig)")" = 0 ] ||
    fail "a SECURITY DEFINER function without pg_temp last on its search_path"
[ "$(sql "SELECT prosecdef FROM pg_proc WHERE oid = 'parallax.ensure_partition(date)'::regprocedure")" = t ] ||
    fail "ensure_partition does not run as the owner"

log "the coordinator runs as a login role with only parallax_ingest"
[ "$(sql "SELECT string_agg(r.rolname, ',') FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
          JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = '$COORD_USER'")" = parallax_ingest ] ||
    fail "$COORD_USER is a member of more than parallax_ingest"
[ "$(sql "SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls FROM pg_roles WHERE rolname = '$COORD_USER'")" = f ] ||
    fail "$COORD_USER has role attributes beyond LOGIN"
# client_encoding is pinned to UTF8 whatever the environment says (it refuses to run on
# another).
PGCLIENTENCODING=LATIN1 start_coordinator
[ "$(sql "SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity
          WHERE datname = current_database() AND application_name LIKE 'parallax-%'")" = "$COORD_USER" ] ||
    fail "the coordinator's sessions are not all $COORD_USER"
add_agent ir1 IR
ctl 0 target add ir-web1 --address 127.0.0.1 --allow-internal --group IR --role host --probe icmp --interval 1
ctl 0 target add control-1 --address 127.0.0.1 --allow-internal --role host --control --probe icmp --interval 1
start_agent ir1
wait_until 60 "results stored" 'test "$(sql "SELECT count(*) FROM parallax.results")" -gt 5'
# One vantage is too few for a target's verdict (min_vantages), not for its bins.
wait_until 60 "vantage bins merged" 'test "$(sql "SELECT count(*) FROM parallax.vantage_bins WHERE agent = '"'"'ir1'"'"' AND health = '"'"'healthy'"'"'")" -gt 0'
wait_until 60 "target bins merged" 'test "$(sql "SELECT count(*) FROM parallax.target_bins WHERE target = '"'"'ir-web1'"'"'")" -gt 0'
wait_until 60 "group bins merged" 'test "$(sql "SELECT count(*) FROM parallax.group_bins WHERE group_name = '"'"'IR'"'"'")" -gt 0'
[ "$(sql "SELECT count(*) FROM parallax.heartbeats")" -gt 0 ] || fail "no heartbeat stored"
[ "$(sql "SELECT count(*) FROM parallax.batches")" -gt 0 ] || fail "no batch stored"
# Partitions made through ensure_partition belong to the owner, not to the coordinator.
[ "$(sql "SELECT string_agg(DISTINCT pg_get_userbyid(c.relowner), ',') FROM pg_inherits i
          JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'parallax.results'::regclass")" = postgres ] ||
    fail "a partition not owned by the owner"
if grep -q 'permission denied' "$WORK/coordinator.log"; then
    fail "the coordinator was refused something: $(grep 'permission denied' "$WORK/coordinator.log" | head -3)"
fi

log "the ingest role cannot change the configuration nor remove evidence"
refused "$COORD_USER" "UPDATE parallax.agents SET enabled = false"
refused "$COORD_USER" "UPDATE parallax.agents SET public_key = repeat('x', 40)"
refused "$COORD_USER" "INSERT INTO parallax.targets (name, address) VALUES ('evil', '127.0.0.1')"
refused "$COORD_USER" "DELETE FROM parallax.probes"
refused "$COORD_USER" "UPDATE parallax.merge_settings SET vantage_bin_s = 5"
refused "$COORD_USER" "DELETE FROM parallax.results"
refused "$COORD_USER" "TRUNCATE parallax.heartbeats"
refused "$COORD_USER" "CREATE TABLE parallax.evil (x integer)"
refused "$COORD_USER" "ALTER TABLE parallax.results ADD COLUMN evil integer"

log "the read role runs every query of schema/examples.sql"
psql -X -q -v ON_ERROR_STOP=1 -U "$READER" -d "$DB_NAME" -f "$PX_SOURCE_DIR/schema/examples.sql" \
    >"$WORK/examples.out" 2>"$WORK/examples.err" || fail "examples.sql as the read role: $(cat "$WORK/examples.err")"
as "$READER" "SELECT count(*) FROM parallax.target_bins WHERE target = 'ir-web1'" || fail "$(cat "$WORK/as.err")"
[ "$(cat "$WORK/as.out")" -gt 0 ] || fail "the read role sees no target bins"

log "... and is refused every write"
tables=$(sql "SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'parallax'::regnamespace
              AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1")
[ "$(echo "$tables" | wc -l)" -ge 15 ] || fail "too few tables: $tables"
for t in $tables; do
    col=$(sql "SELECT attname FROM pg_attribute WHERE attrelid = 'parallax.$t'::regclass AND attnum = 1")
    refused "$READER" "INSERT INTO parallax.$t DEFAULT VALUES"
    refused "$READER" "UPDATE parallax.$t SET $col = $col"
    refused "$READER" "DELETE FROM parallax.$t"
    refused "$READER" "TRUNCATE parallax.$t"
done
refused "$READER" "SELECT parallax.merge_run(now())"
refused "$READER" "SELECT parallax.merge_mark(now() - interval '1 hour', now())"
refused "$READER" "SELECT parallax.merge_setting_set('vantage_bin_s', '5')"
refused "$READER" "SELECT parallax.ensure_partition(current_date + 3)"
refused "$READER" "SELECT parallax.agent_clock_set(1, 0, 1, 100)"
refused "$READER" "SELECT parallax.schedule_version_current()"
refused "$READER" "CREATE TABLE parallax.evil (x integer)"

log "the coordinator's sslmode reaches libpq, in both kinds of connection string"
expect_config_error() {  # expect_config_error PATTERN CONFIG-LINES
    printf 'listen = tcp://127.0.0.1:1\nkey_file = %s/k\n%b' "$WORK" "$2" >"$WORK/bad.conf"
    local rc=0; "$COORD" -c "$WORK/bad.conf" >"$WORK/out" 2>&1 || rc=$?
    [ $rc = 2 ] && grep -q -- "$1" "$WORK/out" || fail "config '$2': exit $rc: $(cat "$WORK/out")"
}
expect_config_error "bad.conf:3: bad value 'maybe' for 'sslmode'" 'sslmode = maybe\n'
expect_config_error "bad.conf:4: 'sslrootcert' needs sslmode = verify-ca or verify-full" 'sslmode = require\nsslrootcert = /x\n'
# A server that answers libpq's SSL request with "no": with verify-full the coordinator must
# ask, then give up on that server (the test cluster listens on a socket only, where libpq
# never uses TLS).
FAKE_PORT=$(free_port)
start_bg fake-pg /usr/bin/python3 -c '
import socket, struct, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); s.settimeout(60)
for _ in range(20):
    c, _ = s.accept(); c.settimeout(5)
    n, code = struct.unpack("!II", c.recv(8).ljust(8, b"\0"))
    print("ssl-request" if code == 80877103 else "startup", flush=True)
    c.sendall(b"N"); c.close()' "$FAKE_PORT"
for database in "host=127.0.0.1 port=$FAKE_PORT dbname=x" "postgresql://127.0.0.1:$FAKE_PORT/x?connect_timeout=5"; do
    printf 'listen = tcp://127.0.0.1:%s\ndatabase = %s\nkey_file = %s/ssl.key\nsslmode = verify-full\nsslrootcert = %s/ca.crt\n' \
        "$(free_port)" "$database" "$WORK" "$WORK" >"$WORK/ssl.conf"
    start_bg ssl-coordinator "$COORD" -c "$WORK/ssl.conf"
    wait_until 20 "the coordinator refused a server without TLS" 'grep -q "does not support SSL" "$WORK/ssl-coordinator.log"'
    kill -TERM "$LAST_PID"; wait "$LAST_PID" || true
done
grep -q startup "$WORK/fake-pg.log" && fail "the coordinator sent a startup packet without TLS"

log "a second database in the same cluster migrates beside the first"
createdb "${DB_NAME}_2"
"$CTL" --db "$PG_BASE dbname=${DB_NAME}_2" db migrate >"$WORK/out" 2>"$WORK/err" || fail "second database: $(cat "$WORK/err")"
"$CTL" --db "$PG_BASE dbname=${DB_NAME}_2" db migrate >"$WORK/out" 2>"$WORK/err" || fail "second migrate: $(cat "$WORK/err")"
psql -X -q -tA -v ON_ERROR_STOP=1 -U "$READER" -d "${DB_NAME}_2" -c "SELECT count(*) FROM parallax.outages" \
    >/dev/null 2>"$WORK/err" || fail "the read role on the second database: $(cat "$WORK/err")"
log "ok"
