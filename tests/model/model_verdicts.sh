#!/usr/bin/env bash
# model_verdicts: the SQL merge against the independent reference model (tests/model/) on
# random histories, on the shipped defaults: at least 300 seeds within the budget, none may
# differ. A difference prints its seed and timeline and how to rerun it alone.
source "$PX_SOURCE_DIR/tests/integration/lib.sh"
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import psycopg2' 2>/dev/null ||
    skip "python3 with psycopg2 is not installed (scripts/deps.sh installs python3-psycopg2)"
SEEDS=${PX_MODEL_SEEDS:-300}
BUDGET=${PX_MODEL_BUDGET_S:-570}
/usr/bin/python3 "$PX_SOURCE_DIR/tests/model/run.py" --db "$PG_BASE" --ctl "$CTL" \
    --first "${PX_MODEL_FIRST:-1}" --seeds "$SEEDS" --jobs 2 --budget "$BUDGET" --min-seeds "$SEEDS" \
    --prefix "px_model_$$" || fail "the merge differs from the model (seeds above), or too few seeds ran"
log "ok"
