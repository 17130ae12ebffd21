#!/usr/bin/env bash
# db_roles_owner: the deployment README "Database roles" describes, in a cluster of its own
# (roles are the cluster's). An owner without CREATEROLE migrates, is told the roles are
# missing and grants nothing; a superuser runs the README's block; the next migrate grants;
# the coordinator then runs as the README's login role, and partitions belong to the owner.
PX_PRIVATE_PG=1
source "$(dirname "$0")/lib.sh"
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE ROLE px_owner LOGIN" >/dev/null
createdb -O px_owner "$DB_NAME"
OWNER_DB="$DB user=px_owner"

log "an owner that may not create roles migrates, and is told"
"$CTL" --db "$OWNER_DB" db migrate >"$WORK/out" 2>"$WORK/err" || fail "migrate as the owner: $(cat "$WORK/err")"
grep -q "no grants made: the roles parallax_ingest, parallax_admin, parallax_read, parallax_notify do not exist" "$WORK/out" ||
    fail "no word of the missing roles: $(cat "$WORK/out")"
[ "$(sql "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'parallax\_%'")" = 0 ] || fail "roles made"

log "the README's block, as a superuser; then migrate again"
/usr/bin/python3 "$PX_SOURCE_DIR/tests/tools/docs_blocks.py" get "$PX_SOURCE_DIR/README.md" db-roles >"$WORK/roles.sql"
psql -X -q -v ON_ERROR_STOP=1 -d postgres -f "$WORK/roles.sql" >/dev/null
"$CTL" --db "$OWNER_DB" db migrate >"$WORK/out" 2>"$WORK/err" || fail "migrate again: $(cat "$WORK/err")"
if grep -q "no grants made" "$WORK/out"; then fail "roles still missing: $(cat "$WORK/out")"; fi

log "the coordinator runs as parallax_coordinator, parallaxctl as ops, analyst reads"
login_roles
COORD_USER=parallax_coordinator
COORD_DB="$DB user=$COORD_USER"
start_coordinator
"$CTL" --db "$DB user=ops" agent add ir1 --country IR -o "$WORK/ir1.conf" >/dev/null ||
    fail "agent add as ops"
wait_until 20 "today's partition" 'test "$(sql "SELECT count(*) FROM pg_inherits WHERE inhparent = '"'"'parallax.results'"'"'::regclass")" -ge 1'
[ "$(sql "SELECT string_agg(DISTINCT pg_get_userbyid(c.relowner), ',') FROM pg_inherits i
          JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'parallax.results'::regclass")" = px_owner ] ||
    fail "partitions not owned by the owner"
psql -X -q -tA -v ON_ERROR_STOP=1 -U analyst -d "$DB_NAME" -c "SELECT count(*) FROM parallax.agents" \
    >"$WORK/out" 2>"$WORK/err" || fail "analyst: $(cat "$WORK/err")"
[ "$(cat "$WORK/out")" = 1 ] || fail "analyst sees $(cat "$WORK/out") agents"
if psql -X -q -v ON_ERROR_STOP=1 -U analyst -d "$DB_NAME" -c "DELETE FROM parallax.agents" 2>/dev/null; then
    fail "analyst deleted an agent"
fi
psql -X -q -tA -v ON_ERROR_STOP=1 -U notifier -d "$DB_NAME" -c "SELECT count(*) FROM parallax.notify_receivers WHERE secret IS NULL" \
    >/dev/null 2>"$WORK/err" || fail "the notifier's login role cannot read the receivers: $(cat "$WORK/err")"
if psql -X -q -v ON_ERROR_STOP=1 -U analyst -d "$DB_NAME" -c "SELECT secret FROM parallax.notify_receivers" 2>/dev/null; then
    fail "analyst read the receivers' secrets"
fi
log "ok"
