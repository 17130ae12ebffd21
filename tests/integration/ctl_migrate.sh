#!/usr/bin/env bash
# ctl_migrate: `parallaxctl db migrate` applies the embedded migrations once, records them,
# installs the definitions every time, is idempotent and safe to run concurrently, and
# refuses an edited applied migration. (Upgrades from stable 1: ctl_upgrade.)
source "$(dirname "$0")/lib.sh"

# ctl RC ARGS...: runs parallaxctl on this test's database and checks its exit code;
# leaves stdout in $WORK/out and stderr in $WORK/err.
# one_line_error PATTERN: stderr is exactly one line and contains PATTERN.

createdb "$DB_NAME"
# Every migration in schema/migrations/, in order, as "applied NNN_name" lines and
# "N NNN_name" records; the definitions in schema/definitions/.
MIGRATIONS=$(cd "$PX_SOURCE_DIR/schema/migrations" && ls [0-9][0-9][0-9]_*.sql | sort | sed 's/\.sql$//')
N_MIGRATIONS=$(wc -l <<<"$MIGRATIONS")
N_DEFINITIONS=$(cd "$PX_SOURCE_DIR/schema/definitions" && ls [0-9][0-9]_*.sql | wc -l)
INSTALLED="installed $N_DEFINITIONS definition files (functions, views, triggers)"

log "first run applies every migration, in order, then the definitions"
ctl 0 db migrate
[ "$(cat "$WORK/out")" = "$(sed 's/^/applied /' <<<"$MIGRATIONS"; echo "$INSTALLED")" ] || fail "first run printed: $(cat "$WORK/out")"
[ ! -s "$WORK/err" ] || fail "migrate wrote to stderr: $(cat "$WORK/err")"
[ "$(sql "SELECT version || ' ' || name FROM parallax.schema_migrations ORDER BY version")" = \
  "$(sed -E 's/^0*([0-9]+)_/\1 &/' <<<"$MIGRATIONS")" ] ||
    fail "schema_migrations does not record every migration: $(sql "SELECT name FROM parallax.schema_migrations")"
sql "SELECT checksum FROM parallax.schema_migrations WHERE version = 1" | grep -Eqx 'sha256:[0-9a-f]{64}' ||
    fail "checksum not recorded"
expected=$(sha256sum "$PX_SOURCE_DIR/schema/migrations/001_stable.sql" | cut -d' ' -f1)
[ "$(sql "SELECT checksum FROM parallax.schema_migrations WHERE version = 1")" = "sha256:$expected" ] ||
    fail "checksum is not the SHA-256 of schema/migrations/001_stable.sql"
[ "$(sql "SELECT count(*) FROM pg_tables WHERE schemaname = 'parallax' AND tablename IN ('agents', 'targets', 'probes', 'coordinator', 'batches')")" = 5 ] ||
    fail "core tables missing"

[ "$(sql "SELECT release FROM parallax.schema_definitions")" = "$("$CTL" --version | cut -d' ' -f2)" ] ||
    fail "the definitions' release is not recorded: $(sql "SELECT * FROM parallax.schema_definitions")"

log "second run applies no migration and installs the definitions again"
sql "CREATE OR REPLACE FUNCTION parallax.merge_due(p_now timestamptz) RETURNS boolean LANGUAGE sql AS 'SELECT false'"
ctl 0 db migrate
[ "$(cat "$WORK/out")" = "no migration to apply
$INSTALLED" ] || fail "second run printed: $(cat "$WORK/out")"
sql "SELECT pg_get_functiondef('parallax.merge_due'::regproc)" | grep -q "merge_dirty" ||
    fail "a function changed by hand was not installed again"
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
[ "$(cat "$WORK"/par*.out | grep -cx 'applied 001_stable')" = 1 ] ||
    fail "expected exactly one migrator to apply 001_stable: $(cat "$WORK"/par*.out)"
[ "$(sql "SELECT count(*) FROM parallax.schema_migrations")" = "$N_MIGRATIONS" ] || fail "concurrent runs double-recorded"

log "an edited applied migration is refused"
sql "UPDATE parallax.schema_migrations SET checksum = 'sha256:0000' WHERE version = 1"
ctl 1 db migrate
one_line_error "parallaxctl: db migrate: migration 001_stable was edited after it was applied"
sql "UPDATE parallax.schema_migrations SET checksum = 'sha256:$expected' WHERE version = 1"
ctl 0 db migrate

log "a migration this parallaxctl does not know is refused"
sql "INSERT INTO parallax.schema_migrations (version, name, checksum) VALUES (999, '999_future', 'x')"
ctl 1 db migrate
one_line_error "migration 999 (999_future)"
sql "DELETE FROM parallax.schema_migrations WHERE version = 999"

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
[ "$rc" -eq 0 ] && grep -qx 'no migration to apply' "$WORK/out" || fail "migrate via PG* env failed: $(cat "$WORK/err")"
log "ok"
