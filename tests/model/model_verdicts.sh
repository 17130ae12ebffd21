#!/usr/bin/env bash
# model_verdicts: the SQL merge against the independent reference model (tests/model/) on
# random histories, on the shipped defaults: at least 300 seeds with two workers (each its
# own database) within a budget of 8 minutes; none may differ. A difference prints its seed,
# what differs, a timeline and the command that reruns it alone.
# PX_MODEL_SEEDS, PX_MODEL_FIRST, PX_MODEL_BUDGET_S override the 300 seeds from seed 1 in 480 s.
source "$PX_SOURCE_DIR/tests/integration/lib.sh"
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import psycopg2' 2>/dev/null ||
    fail "python3 with psycopg2 is not installed (scripts/deps.sh installs python3-psycopg2)"
SEEDS=${PX_MODEL_SEEDS:-300}
FIRST=${PX_MODEL_FIRST:-1}
BUDGET=${PX_MODEL_BUDGET_S:-480}
# One database per worker, migrated here; run.py uses them as they are and leaves them.
for w in 0 1; do
    createdb "${DB_NAME}_$w"
    on_exit "dropdb --if-exists ${DB_NAME}_$w"
    "$CTL" --db "$PG_BASE dbname=${DB_NAME}_$w" db migrate >/dev/null
done
log "seeds $FIRST..$((FIRST + SEEDS - 1)), 2 workers, budget ${BUDGET} s"
/usr/bin/python3 "$PX_SOURCE_DIR/tests/model/run.py" --db "$PG_BASE" --ctl "$CTL" \
    --first "$FIRST" --seeds "$SEEDS" --jobs 2 --budget "$BUDGET" --min-seeds "$SEEDS" \
    --prefix "$DB_NAME" ||
    fail "the merge differs from the model (seeds above), or fewer than $SEEDS seeds ran"
log "ok"
