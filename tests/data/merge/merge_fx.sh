# merge_fx.sh: helpers for the merge tests (sourced after tests/integration/lib.sh): a fresh
# database holding the fixture world per scenario, and assertions on verdict timelines and
# outage events written as one character per bin (see fixture.sql for the letters).
FX_SQL="$PX_SOURCE_DIR/tests/data/merge/fixture.sql"

# fx_scenario TITLE: a fresh database with the schema, the fixture and the standard world.
fx_scenario() {
    log "scenario: $1"
    dropdb --if-exists "$DB_NAME" 2>/dev/null
    new_db
    psql -X -q -v ON_ERROR_STOP=1 -d "$DB_NAME" -f "$FX_SQL" >/dev/null
    sql "SELECT fx.world()" >/dev/null
}

# fx SQL: runs SQL for its effect.
fx() { sql "$1" >/dev/null; }

# expect_eq WHAT GOT WANT
expect_eq() { [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"; }

# expect_timeline SCOPE SUBJECT K_FROM K_TO WANT
expect_timeline() {
    local got; got=$(sql "SELECT fx.timeline('$1', '$2', $3, $4)")
    [ "$got" = "$5" ] || fail "$1 $2 bins $3..$4: got $got, want $5"
}

# expect_events WANT: every outage, "scope subject k_start k_end stage" per line, sorted.
expect_events() {
    local got; got=$(sql "SELECT fx.events()")
    [ "$got" = "$1" ] || fail "$(printf 'outages differ\n--- got\n%s\n--- want\n%s' "$got" "$1")"
}

# detail SUBJECT JSONPATH: a value from the detail of SUBJECT's only outage.
detail() { sql "SELECT jsonb_path_query_first(detail, '$2') #>> '{}' FROM parallax.outages WHERE subject = '$1'"; }

# expect_remerge_same K_LAST: re-merging every bin up to K_LAST from scratch gives the same
# bins and outages (ids included) as merging them as they came, which extends open outages
# bin by bin instead of rebuilding them.
expect_remerge_same() {
    local snap="SELECT md5(string_agg(format('%s %s %s %s %s %s %s %s', scope, subject_id, bin_start, state, rtt_ms, evidence, h_open, h_outage_start), ',' ORDER BY scope, subject_id, bin_start)) FROM parallax.bins
                UNION ALL SELECT md5(string_agg(format('%s %s %s %s %s %s %s', id, scope, subject, started_at, ended_at, stage, detail), ',' ORDER BY id)) FROM parallax.outages"
    local before; before=$(sql "$snap")
    local events; events=$(sql "SELECT fx.events()")
    fx "SELECT parallax.merge_mark(fx.bin(0), fx.bin($1 + 1))"
    fx "SELECT fx.merge($1)"
    expect_eq "outages after a full re-merge" "$(sql "SELECT fx.events()")" "$events"
    expect_eq "bins and outage details after a full re-merge" "$(sql "$snap")" "$before"
}
