#!/usr/bin/env bash
# ctl_upgrade: a database made by stable 1 — the schema of commit $STABLE1, built as that
# commit's parallaxctl built it (each migration in a transaction, recorded with its SHA-256) —
# holding results, bins and outages, upgrades in place with today's `parallaxctl db migrate`
# (recorded as 001_stable, then the migrations after it applied): no row changes, the merge
# goes on from where it was and ends where a database that had today's schema from the start
# ends, and the schema is exactly a fresh one's. Databases made by a development version
# before stable 1, or migrated by a newer parallaxctl, are refused with an error that says so.
source "$(dirname "$0")/lib.sh"
source "$PX_SOURCE_DIR/tests/data/merge/merge_fx.sh"

# The commit whose schema is stable 1 (ctl_migrate.c lists its migrations' checksums).
STABLE1=df44cf2
git -C "$PX_SOURCE_DIR" cat-file -e "$STABLE1^{commit}" 2>/dev/null ||
    fail "commit $STABLE1 (stable 1) is not in $PX_SOURCE_DIR: this test reads it from a git clone with history"

# make_stable1 DB: the database as stable 1's `parallaxctl db migrate` left it.
make_stable1() {
    createdb "$1"
    psql -X -q -v ON_ERROR_STOP=1 -d "$1" -c "CREATE SCHEMA parallax;
        CREATE TABLE parallax.schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
            checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
    local path name
    for path in $(git -C "$PX_SOURCE_DIR" ls-tree --name-only "$STABLE1" schema/ | grep -E '/[0-9]{3}_.*\.sql$'); do
        name=$(basename "$path" .sql)
        git -C "$PX_SOURCE_DIR" show "$STABLE1:$path" >"$WORK/m.sql"
        { cat "$WORK/m.sql"; echo ";INSERT INTO parallax.schema_migrations (version, name, checksum)
            VALUES ($((10#${name:0:3})), '$name', 'sha256:$(sha256sum <"$WORK/m.sql" | cut -d' ' -f1)');"; } |
            psql -X -q -v ON_ERROR_STOP=1 -1 -d "$1" -f - >/dev/null ||
            fail "stable 1's migration $name does not apply"
    done
}

# note_columns: remembers every table of the parallax schema but the migration records and
# their columns, as they are now (in stable 1), for snapshot.
declare -A STABLE1_COLUMNS=()
note_columns() {
    local t
    for t in $(sql "SELECT tablename FROM pg_tables WHERE schemaname = 'parallax'
                    AND tablename NOT IN ('schema_migrations', 'schema_definitions')
                    AND tablename NOT LIKE 'results_%'"); do
        STABLE1_COLUMNS[$t]=$(sql "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum)
                                   FROM pg_attribute WHERE attrelid = 'parallax.$t'::regclass
                                   AND attnum > 0 AND NOT attisdropped")
    done
}

# snapshot: each table note_columns found, as row count and a digest of its rows in the
# columns it found, one line per table: later migrations may add tables and columns (they
# only add), never change what was there.
snapshot() {
    local t out=""
    for t in $(printf '%s\n' "${!STABLE1_COLUMNS[@]}" | sort); do
        out+="$t $(sql "SELECT count(*) || ' ' || coalesce(md5(string_agg(r::text, ',' ORDER BY r::text)), '-')
                       FROM (SELECT ${STABLE1_COLUMNS[$t]} FROM parallax.$t) r")"$'\n'
    done
    printf '%s' "$out"
}

# The migrations after stable 1, which the upgrade applies: "NNN_name" lines.
LATER=$(cd "$PX_SOURCE_DIR/schema/migrations" && ls [0-9][0-9][0-9]_*.sql | sort | sed 's/\.sql$//' | { grep -v '^001_' || true; })
N_DEFINITIONS=$(cd "$PX_SOURCE_DIR/schema/definitions" && ls [0-9][0-9]_*.sql | wc -l)

# The same history on both: a blackout of country IR in bins 10..19, played to bin 30 by
# stable 1 and on by today's schema.
play_history() {
    psql -X -q -v ON_ERROR_STOP=1 -d "$DB_NAME" -f "$FX_SQL" >/dev/null
    fx "SELECT fx.world()"
    fx "SELECT fx.rule(0, 45)"
    fx "SELECT fx.rule(10, 19, target => 'ir-.*', status => 'timeout')"
    fx "SELECT fx.play(0, 30)"
}

log "stable 1, with a history merged by its own functions"
make_stable1 "$DB_NAME"
play_history
[ "$(sql "SELECT count(*) FROM parallax.outages WHERE scope = 'group'")" = 1 ] ||
    fail "stable 1 did not record the blackout: $(sql "SELECT fx.events()")"
note_columns
before=$(snapshot)
grep -q '^results [1-9]' <<<"$before" && grep -q '^bins [1-9]' <<<"$before" &&
    grep -q '^outage_events [1-9]' <<<"$before" || fail "nothing to upgrade: $before"

log "this coordinator refuses the old schema, saying what to run"
cat >"$WORK/old.conf" <<CONF
listen = tcp://127.0.0.1:$(free_port)
database = $DB
key_file = $WORK/old.key
CONF
rc=0
timeout 20 "$COORD" -c "$WORK/old.conf" 2>"$WORK/old-coordinator.log" || rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "the coordinator ran on stable 1's schema (exit $rc)"
grep -q "schema is older than this coordinator.*parallaxctl db migrate" "$WORK/old-coordinator.log" ||
    fail "no clear error: $(tail -n 3 "$WORK/old-coordinator.log")"
[ "$(snapshot)" = "$before" ] || fail "the refused coordinator changed the database"

log "db migrate upgrades it in place and loses nothing"
ctl 0 db migrate
[ "$(cat "$WORK/out")" = "recorded 001_core..012_gap_reason as 001_stable (stable 1)
$(if [ -n "$LATER" ]; then sed 's/^/applied /' <<<"$LATER"; else echo "no migration to apply"; fi)
installed $N_DEFINITIONS definition files (functions, views, triggers)" ] || fail "upgrade printed: $(cat "$WORK/out")"
after=$(snapshot)
[ "$after" = "$before" ] || fail "$(printf 'rows changed by the upgrade\n--- before\n%s\n--- after\n%s' "$before" "$after")"
[ "$(sql "SELECT version || ' ' || name FROM parallax.schema_migrations ORDER BY version")" = \
  "$(printf '1 001_stable\n'; sed -E 's/^0*([0-9]+)_/\1 &/' <<<"$LATER" | grep .)" ] ||
    fail "migration records: $(sql "SELECT * FROM parallax.schema_migrations")"
ctl 0 db migrate
[ "$(head -n 1 "$WORK/out")" = "no migration to apply" ] || fail "second run printed: $(cat "$WORK/out")"

log "the merge goes on, and ends where today's schema from the start ends"
fx "SELECT fx.play(31, 45)"
upgraded_events=$(sql "SELECT fx.events()")
upgraded_bins=$(sql "SELECT md5(string_agg(format('%s %s %s %s %s', scope, subject_id, bin_start, state, evidence), ',' ORDER BY scope, subject_id, bin_start)) FROM parallax.bins")
[ "$(sql "SELECT count(*) FROM parallax.merge_verify(fx.bin(0), fx.bin(46)) WHERE kind <> 'span'")" = 0 ] ||
    fail "verify finds differences after the upgrade: $(sql "SELECT * FROM parallax.merge_verify(fx.bin(0), fx.bin(46)) WHERE kind <> 'span' LIMIT 5")"
upgraded_schema=$(pg_dump -s -n parallax -d "$DB_NAME" | grep -v '^\\\(un\)\?restrict ')

UPGRADED=$DB_NAME
on_exit "dropdb --if-exists $UPGRADED"
DB_NAME=${UPGRADED}_fresh
DB="$PG_BASE dbname=$DB_NAME"
on_exit "dropdb --if-exists $DB_NAME"
new_db
play_history
fx "SELECT fx.play(31, 45)"
[ "$(sql "SELECT fx.events()")" = "$upgraded_events" ] ||
    fail "$(printf 'outages differ\n--- upgraded\n%s\n--- fresh\n%s' "$upgraded_events" "$(sql "SELECT fx.events()")")"
[ "$(sql "SELECT md5(string_agg(format('%s %s %s %s %s', scope, subject_id, bin_start, state, evidence), ',' ORDER BY scope, subject_id, bin_start)) FROM parallax.bins")" = "$upgraded_bins" ] ||
    fail "bins differ between the upgraded and the fresh database"

log "the upgraded schema is exactly a fresh one's"
fresh_schema=$(pg_dump -s -n parallax -d "$DB_NAME" | grep -v '^\\\(un\)\?restrict ')
diff <(echo "$upgraded_schema") <(echo "$fresh_schema") >"$WORK/schema.diff" ||
    fail "schemas differ: $(head -n 40 "$WORK/schema.diff")"

log "a newer parallaxctl's definitions are not overwritten"
sql "UPDATE parallax.schema_definitions SET release = '99.0.0'"
ctl 1 db migrate
one_line_error "the database's definitions were installed by parallaxctl 99.0.0, newer than this one"
sql "UPDATE parallax.schema_definitions SET release = '0.0.1'"
ctl 0 db migrate

log "a development version's database (before stable 1) is refused, untouched"
DB_NAME=${UPGRADED}_dev
DB="$PG_BASE dbname=$DB_NAME"
on_exit "dropdb --if-exists $DB_NAME"
make_stable1 "$DB_NAME"
sql "UPDATE parallax.schema_migrations SET checksum = 'sha256:0123' WHERE version = 4"
ctl 1 db migrate
one_line_error "the database was made by a development version of Parallax before stable 1 (its migration 004_merge_bins is missing or differs)"
[ "$(sql "SELECT count(*) FROM parallax.schema_migrations")" = 11 ] || fail "the refused database was changed"
log "ok"
