#!/usr/bin/env bash
# ctl_migrate: `parallaxctl db migrate` applies the embedded migrations once, records them,
# is idempotent and safe to run concurrently, and refuses an edited applied migration.
source "$(dirname "$0")/lib.sh"

# ctl RC ARGS...: runs parallaxctl on this test's database and checks its exit code;
# leaves stdout in $WORK/out and stderr in $WORK/err.
# one_line_error PATTERN: stderr is exactly one line and contains PATTERN.

createdb "$DB_NAME"
# Every migration in schema/, in order, as "applied NNN_name" lines and "N NNN_name" records.
MIGRATIONS=$(cd "$PX_SOURCE_DIR/schema" && ls [0-9][0-9][0-9]_*.sql | sort | sed 's/\.sql$//')
N_MIGRATIONS=$(wc -l <<<"$MIGRATIONS")

log "first run applies every migration, in order"
ctl 0 db migrate
[ "$(cat "$WORK/out")" = "$(sed 's/^/applied /' <<<"$MIGRATIONS")" ] || fail "first run printed: $(cat "$WORK/out")"
[ ! -s "$WORK/err" ] || fail "migrate wrote to stderr: $(cat "$WORK/err")"
[ "$(sql "SELECT version || ' ' || name FROM parallax.schema_migrations ORDER BY version")" = \
  "$(sed -E 's/^0*([0-9]+)_/\1 &/' <<<"$MIGRATIONS")" ] ||
    fail "schema_migrations does not record every migration: $(sql "SELECT name FROM parallax.schema_migrations")"
sql "SELECT checksum FROM parallax.schema_migrations WHERE version = 1" | grep -Eqx 'sha256:[0-9a-f]{64}' ||
    fail "checksum not recorded"
expected=$(sha256sum "$PX_SOURCE_DIR/schema/001_core.sql" | cut -d' ' -f1)
[ "$(sql "SELECT checksum FROM parallax.schema_migrations WHERE version = 1")" = "sha256:$expected" ] ||
    fail "checksum is not the SHA-256 of schema/001_core.sql"
[ "$(sql "SELECT count(*) FROM pg_tables WHERE schemaname = 'parallax' AND tablename IN ('agents', 'targets', 'probes', 'coordinator', 'batches')")" = 5 ] ||
    fail "core tables missing"

log "second run changes nothing"
ctl 0 db migrate
grep -qx 'database is up to date' "$WORK/out" || fail "second run printed: $(cat "$WORK/out")"
[ ! -s "$WORK/err" ] || fail "second migrate wrote to stderr: $(cat "$WORK/err")"
[ "$(sql "SELECT count(*) FROM parallax.schema_migrations")" = "$N_MIGRATIONS" ] || fail "second run added a record"

log "concurrent migrators on a fresh database take turns"
dropdb "$DB_NAME" && createdb "$DB_NAME"
pids=()
for i in 1 2 3 4; do
    "$CTL" --db "$DB" db migrate >"$WORK/par$i.out" 2>"$WORK/par$i.err" & pids+=($!)
done
for i in 1 2 3 4; do
    wait "${pids[$((i - 1))]}" || fail "concurrent migrator $i failed: $(cat "$WORK/par$i.err")"
done
[ "$(cat "$WORK"/par*.out | grep -cx 'applied 001_core')" = 1 ] ||
    fail "expected exactly one migrator to apply 001_core: $(cat "$WORK"/par*.out)"
[ "$(sql "SELECT count(*) FROM parallax.schema_migrations")" = "$N_MIGRATIONS" ] || fail "concurrent runs double-recorded"

log "an edited applied migration is refused"
sql "UPDATE parallax.schema_migrations SET checksum = 'sha256:0000' WHERE version = 1"
ctl 1 db migrate
one_line_error "parallaxctl: db migrate: migration 001_core was edited after it was applied"
sql "UPDATE parallax.schema_migrations SET checksum = 'sha256:$expected' WHERE version = 1"
ctl 0 db migrate

log "a migration this parallaxctl does not know is refused"
sql "INSERT INTO parallax.schema_migrations (version, name, checksum) VALUES (999, '999_future', 'x')"
ctl 1 db migrate
one_line_error "migration 999 (999_future)"
sql "DELETE FROM parallax.schema_migrations WHERE version = 999"

log "upgrading to 011 clamps probe timeouts that are not shorter than the interval"
# The database as a parallaxctl before 011 left it: migrations up to 010 and their records.
dropdb "$DB_NAME" && createdb "$DB_NAME"
sql "CREATE SCHEMA parallax; CREATE TABLE parallax.schema_migrations (version integer PRIMARY KEY,
     name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
for name in $MIGRATIONS; do
    [ "$((10#${name:0:3}))" -lt 11 ] || break
    psql -X -q -v ON_ERROR_STOP=1 -1 -d "$DB_NAME" -f "$PX_SOURCE_DIR/schema/$name.sql" >/dev/null
    sql "INSERT INTO parallax.schema_migrations (version, name, checksum)
         VALUES (${name:0:3}, '$name', 'sha256:$(sha256sum "$PX_SOURCE_DIR/schema/$name.sql" | cut -d' ' -f1)')"
done
sql "INSERT INTO parallax.targets (name, address) VALUES ('t', '192.0.2.1')"
sql "INSERT INTO parallax.probes (target_id, kind, spec, interval_s, timeout_ms)
     SELECT id, 'tcp', 'tcp:' || p, i, ms FROM parallax.targets,
     (VALUES (1, 5, 5000), (2, 5, 4999), (3, 1, 5000), (4, 60, 5000), (5, 60, 60000), (6, 3, 3000)) v(p, i, ms)"
ctl 0 db migrate
grep -qx 'applied 011_probe_timeout' "$WORK/out" || fail "011 not applied: $(cat "$WORK/out")"
[ "$(sql "SELECT string_agg(spec || ' ' || interval_s || ' ' || timeout_ms, ', ' ORDER BY spec) FROM parallax.probes")" = \
  "tcp:1 5 2500, tcp:2 5 4999, tcp:3 1 500, tcp:4 60 5000, tcp:5 60 30000, tcp:6 3 1500" ] ||
    fail "timeouts after the upgrade: $(sql "SELECT spec, interval_s, timeout_ms FROM parallax.probes ORDER BY spec")"

log "usage and connection errors"
ctl 2 db migrate extra
one_line_error "parallaxctl: db migrate: unexpected argument 'extra'"
rc=0
"$CTL" --db "host=$WORK/nowhere port=1 dbname=x" db migrate >"$WORK/out" 2>"$WORK/err" || rc=$?
[ "$rc" -eq 1 ] || fail "unreachable database: exit $rc, expected 1"
one_line_error "parallaxctl: db migrate: cannot connect to the database"

log "PG* environment variables apply without --db"
rc=0
"$CTL" db migrate >"$WORK/out" 2>"$WORK/err" || rc=$?
[ "$rc" -eq 0 ] && grep -qx 'database is up to date' "$WORK/out" || fail "migrate via PG* env failed: $(cat "$WORK/err")"
log "ok"
