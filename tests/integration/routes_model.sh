#!/usr/bin/env bash
# routes_model: BGP visibility in SQL (parallax.route_visibility, parallax.group_routes)
# against a reference written apart from it, from docs/routes.md (tests/model/routes_model.py),
# on 100 random histories of collector peers: sessions starting and ending, announcements and
# withdrawals of overlapping prefixes, inserted in random batches — and the visibility bins
# route_bins_refresh writes. None may differ (about 50 s).
source "$(dirname "$0")/lib.sh"
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import psycopg2' 2>/dev/null ||
    fail "python3 with psycopg2 is not installed (scripts/deps.sh installs python3-psycopg2)"
new_db
/usr/bin/python3 "$PX_SOURCE_DIR/tests/model/routes_model.py" --db "$DB" --seeds "${PX_ROUTES_SEEDS:-100}" >"$WORK/out" ||
    fail "the SQL differs from the model: $(cat "$WORK/out")"
tail -1 "$WORK/out" | grep -q ", 0 differing$" || fail "the model did not run: $(cat "$WORK/out")"
log "$(tail -1 "$WORK/out")"
