#!/usr/bin/env bash
# docs_blocks: every example a reader may copy from README.md, agent/README.md and the man
# pages (shell, SQL and config blocks) is either run by a test that takes it from the
# document, or marked as not runnable with the reason (tests/tools/docs_blocks.py).
source "$(dirname "$0")/lib.sh"
cd "$PX_SOURCE_DIR"
/usr/bin/python3 tests/tools/docs_blocks.py check README.md agent/README.md docs/notifications.md docs/routes.md man/*.[0-9] >"$WORK/out" ||
    fail "$(printf 'examples without a test or a reason:\n%s' "$(cat "$WORK/out")")"
n=$(/usr/bin/python3 tests/tools/docs_blocks.py list README.md agent/README.md docs/notifications.md docs/routes.md man/*.[0-9] | wc -l)
[ "$n" -ge 10 ] || fail "only $n example blocks found: is the extractor broken?"
log "$n blocks, each run by a test or marked: ok"
