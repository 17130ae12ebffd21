# lib.sh: helpers for integration tests (sourced, not run). Each test gets its own database
# in the shared private cluster, its own scratch directory and its own ports, and everything
# it starts is stopped when it exits, pass or fail.
# Environment (set by CTest): PX_SOURCE_DIR, PX_BUILD_DIR, PX_PG_DIR.
set -euo pipefail

# PX_PRIVATE_PG=1, set before sourcing: the test gets a PostgreSQL cluster of its own in
# $PRIVATE_PG, to stop, restart or freeze without disturbing other tests; it is stopped
# when the test ends, after everything the test started.
if [ "${PX_PRIVATE_PG:-}" = 1 ]; then
    : "${PX_SOURCE_DIR:?}"
    PRIVATE_PG=$(mktemp -d /tmp/px-private-pg.XXXXXX)
    "$PX_SOURCE_DIR/scripts/pg.sh" start "$PRIVATE_PG" >/dev/null
    export PX_PG_DIR=$PRIVATE_PG
fi
: "${PX_SOURCE_DIR:?}" "${PX_BUILD_DIR:?}" "${PX_PG_DIR:?}"
TEST_NAME=$(basename "$0" .sh)
WORK=$(mktemp -d "/tmp/px-$TEST_NAME.XXXXXX")
# Every test database and helper process gets a name derived from the test and its pid.
DB_NAME="px_${TEST_NAME//[^a-zA-Z0-9]/_}_$$"
PG_BASE=$("$PX_SOURCE_DIR/scripts/pg.sh" conninfo "$PX_PG_DIR")
export PGDATABASE=$DB_NAME
export PGHOST=$PX_PG_DIR
PGPORT=$(cat "$PX_PG_DIR/port"); export PGPORT
export PGUSER=postgres
DB="$PG_BASE dbname=$DB_NAME"
# conninfo with a later dbname wins, so $DB names this test's database.
# The roles the helpers below connect as, as a deployment would (README "Database roles"):
# the coordinator as a login role granted only parallax_ingest, parallaxctl as one granted
# only parallax_admin, parallax-notifier as one granted only parallax_notify; `db migrate`
# and the tests' own checks (sql) as the owner, postgres.
# So every test that starts a coordinator shows it needs no more than the ingest role.
# A later user= wins too.
# (login_roles sets COORD_DB and ADMIN_DB; on a database without the roles' grants, one a
# parallaxctl from before them migrated, both stay $DB.)
COORD_USER=px_test_ingest
ADMIN_USER=px_test_admin
NOTIFY_USER=px_test_notify
COORD_DB=$DB
ADMIN_DB=$DB
NOTIFY_DB=$DB
CTL="$PX_BUILD_DIR/coordinator/ctl/parallaxctl"
COORD="$PX_BUILD_DIR/coordinator/parallax-coordinator"
AGENT="$PX_BUILD_DIR/agent/parallax-agent"
NOTIFIER="$PX_BUILD_DIR/notifier/parallax-notifier"
PIDS=()
EXIT_HOOKS=()

# on_exit CMD...: runs CMD when the test ends (before its processes are stopped), pass or fail.
on_exit() { EXIT_HOOKS+=("$*"); }

log() { echo "[$TEST_NAME] $*" >&2; }
fail() { echo "[$TEST_NAME] FAIL: $*" >&2; exit 1; }
skip() { echo "[$TEST_NAME] SKIP: $*" >&2; exit 77; }

cleanup() {
    local rc=$?
    local hook
    for hook in "${EXIT_HOOKS[@]}"; do eval "$hook" || true; done
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        # Bounded wait; a process that ignores SIGTERM is a bug the test should show.
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
        for f in "$WORK"/*.log; do
            [ -f "$f" ] || continue
            echo "----- $f (last 40 lines)" >&2; tail -n 40 "$f" >&2
        done
    fi
    dropdb --if-exists "$DB_NAME" 2>/dev/null || true
    if [ -n "${PRIVATE_PG:-}" ]; then
        "$PX_SOURCE_DIR/scripts/pg.sh" stop "$PRIVATE_PG" >/dev/null 2>&1 || true
        rm -rf "$PRIVATE_PG"
    fi
    rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT

# login_roles: makes the helpers' login roles if missing and grants them their group role,
# once the first migrate of the cluster has made it, and points COORD_DB and ADMIN_DB at them
# once this test's database has the grants. Roles belong to the cluster that every test
# shares: two tests may race to make one, and the loser finds it made.
LOGIN_ROLES_READY=
login_roles() {
    [ -z "$LOGIN_ROLES_READY" ] || return 0
    local ready
    ready=$(psql -X -q -tA -v ON_ERROR_STOP=1 -d postgres <<SQL
DO \$\$
DECLARE
    pair text[];
BEGIN
    FOREACH pair SLICE 1 IN ARRAY ARRAY[['$COORD_USER', 'parallax_ingest'], ['$ADMIN_USER', 'parallax_admin'],
                                   ['$NOTIFY_USER', 'parallax_notify']] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = pair[1]) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I LOGIN', pair[1]);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
            END;
        END IF;
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = pair[2])
           AND NOT pg_has_role(pair[1], pair[2], 'MEMBER') THEN
            BEGIN
                EXECUTE format('GRANT %I TO %I', pair[2], pair[1]);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
            END;
        END IF;
    END LOOP;
END \$\$;
SELECT pg_has_role('$COORD_USER', 'parallax_ingest', 'MEMBER')
       AND pg_has_role('$ADMIN_USER', 'parallax_admin', 'MEMBER')
FROM pg_roles WHERE rolname = 'parallax_ingest';
SQL
)
    [ "$ready" = t ] || return 0
    [ "$(psql -X -q -tA -d "$DB_NAME" -c "SELECT has_schema_privilege('parallax_ingest', 'parallax', 'USAGE')" 2>/dev/null)" = t ] ||
        return 0
    LOGIN_ROLES_READY=1
    COORD_DB="$DB user=$COORD_USER"
    ADMIN_DB="$DB user=$ADMIN_USER"
    NOTIFY_DB="$DB user=$NOTIFY_USER"
}

# A fresh database with the schema applied.
new_db() {
    createdb "$DB_NAME"
    "$CTL" --db "$DB" db migrate >/dev/null
    login_roles
}

sql() { psql -X -q -tA -v ON_ERROR_STOP=1 -d "$DB_NAME" -c "$1"; }

# ctl WANT ARGS...: runs parallaxctl on this test's database, its output in $WORK/out and
# $WORK/err; fails unless it exits WANT.
# It connects as the admin role, but `db migrate`, the owner's job, as the owner.
ctl() {
    local want=$1 rc=0 db=$ADMIN_DB; shift
    if [ "${1:-} ${2:-}" = "db migrate" ]; then db=$DB; else login_roles; fi
    "$CTL" --db "$db" "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
    [ "$rc" -eq "$want" ] || fail "parallaxctl $* exited $rc, expected $want: $(cat "$WORK/err")"
}
# one_line_error TEXT: the last ctl printed exactly one line on stderr, containing TEXT.
one_line_error() {
    [ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "expected one line on stderr, got: $(cat "$WORK/err")"
    grep -qF -- "$1" "$WORK/err" || fail "stderr lacks '$1': $(cat "$WORK/err")"
}

# A TCP port that nothing listens on now, below the kernel's ephemeral range (32768-60999),
# so that no outgoing connection's TIME_WAIT socket can hold it.
free_port() {
    local p
    for _ in $(seq 200); do
        p=$(( 20000 + RANDOM % 12000 ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
    done
    fail "no free port"
}

# wait_until TIMEOUT_S DESCRIPTION 'CONDITION': re-evaluates the shell text CONDITION until it
# succeeds (single-quote it, so $(...) inside runs on every check, not once).
# Bounded: fails the test after TIMEOUT_S seconds.
wait_until() {
    local limit=$1 what=$2; shift 2
    local deadline=$(( $(date +%s%N) / 1000000 + limit * 1000 ))
    until eval "$*" >/dev/null 2>&1; do
        [ $(( $(date +%s%N) / 1000000 )) -lt $deadline ] || fail "timed out after ${limit}s waiting for: $what"
        sleep 0.1
    done
}

# start_bg NAME CMD...: runs CMD in the background with its output in $WORK/NAME.log;
# its pid is left in LAST_PID and it is stopped when the test ends.
start_bg() {
    local name=$1; shift
    "$@" >"$WORK/$name.log" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}

PXCLIENT="$PX_BUILD_DIR/tests/pxclient"
# as_agent NAME ARGS...: pxclient speaking to the coordinator with agent NAME's key.
as_agent() { local who=$1; shift; "$PXCLIENT" -e "$COORD_EP" -k "$COORD_KEY" -s "$(agent_secret "$who")" "$@"; }

# start_coordinator: writes $WORK/coord.conf, starts the coordinator on a free port and waits
# until it has registered its key. Sets COORD_EP, COORD_KEY and COORD_PID. COORD_CONF_EXTRA,
# if set, is appended to the config (a test whose subject is a setting).
start_coordinator() {
    local port; port=$(free_port)
    COORD_EP="tcp://127.0.0.1:$port"
    login_roles
    cat >"$WORK/coord.conf" <<CONF
listen = $COORD_EP
database = $COORD_DB
key_file = $WORK/coord.key
${COORD_CONF_EXTRA:-}
CONF
    start_bg coordinator "$COORD" -c "$WORK/coord.conf"
    COORD_PID=$LAST_PID
    wait_until 20 "coordinator registered its key" \
        'test -n "$(sql "SELECT public_key FROM parallax.coordinator WHERE endpoint = '"'"'$COORD_EP'"'"'")"'
    COORD_KEY=$(sql "SELECT public_key FROM parallax.coordinator")
    wait_until 20 "coordinator listening" 'grep -q "connected to the database" "$WORK/coordinator.log"'
    [ -z "$LOGIN_ROLES_READY" ] || coordinator_is_ingest
}

# coordinator_is_ingest: every session of the coordinator is its login role's (one granted
# only parallax_ingest); the notifier's, a role of its own, aside.
coordinator_is_ingest() {
    local users
    users=$(sql "SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity
                 WHERE datname = current_database() AND application_name LIKE 'parallax-%'
                   AND application_name <> 'parallax-notifier'")
    [ "$users" = "$COORD_USER" ] || fail "the coordinator connects as '$users', not $COORD_USER"
}

# add_agent NAME COUNTRY: registers an agent; its config is $WORK/NAME.conf.
add_agent() {
    login_roles
    "$CTL" --db "$ADMIN_DB" agent add "$1" --country "$2" --state-dir "$WORK/state-$1" \
        -o "$WORK/$1.conf" >/dev/null
}

# The secret key in an agent's config file.
agent_secret() { sed -n 's/^secret_key *= *//p' "$WORK/$1.conf"; }

# start_agent NAME: runs the agent with its config; its pid is left in LAST_PID.
start_agent() { start_bg "agent-$1" "$AGENT" -c "$WORK/$1.conf"; }

# stop_load: removes every target and waits until the coordinator has made the empty
# schedule that follows (its very first schedule may be empty too); leaves its version in
# EMPTY_VERSION. Agents running it produce nothing more, so their spools can drain.
stop_load() {
    local before q
    before=$(sql "SELECT max(version) FROM parallax.schedule_versions")
    sql "DELETE FROM parallax.targets"
    q="SELECT max(version) FROM parallax.schedule_versions WHERE probes = 0 AND version > $before"
    wait_until 30 "the coordinator made the empty schedule" 'test -n "$(sql "$q")"'
    EMPTY_VERSION=$(sql "$q")
}

# routes_crosscheck COLLECTOR FILE...: the collector's rows are what Debian's python3-mrtparse reads
# in the files (an independent parser; times aside).
routes_crosscheck() {
    local c=$1; shift
    /usr/bin/python3 "$PX_SOURCE_DIR/tests/tools/mrt_crosscheck.py" "$@" | LC_ALL=C sort >"$WORK/theirs" ||
        fail "mrt_crosscheck failed on $*"
    sql "SELECT rtrim(kind || ' ' || host(p.address) || ' ' || p.asn || coalesce(' ' || prefix, '')
                || coalesce(' ' || as_path, ''))
         FROM parallax.route_updates u JOIN parallax.route_peers p ON p.id = u.peer_id
         WHERE p.collector = '$c'" | LC_ALL=C sort >"$WORK/ours"
    [ -s "$WORK/ours" ] || fail "no rows of collector $c"
    diff "$WORK/theirs" "$WORK/ours" >"$WORK/diff" ||
        fail "collector $c differs from python3-mrtparse (< mrtparse, > ours): $(cat "$WORK/diff")"
}
