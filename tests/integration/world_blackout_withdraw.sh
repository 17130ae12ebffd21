#!/usr/bin/env bash
# world_blackout_withdraw: the country's route is withdrawn at the transit router, which
# answers "unreachable": a blackout seen by every vantage (tests/world/blackout.sh).
source "$(dirname "$0")/lib.sh"
source "$PX_SOURCE_DIR/tests/world/scenario.sh"
FAULT=withdraw EVIDENCE=unreachable
source "$PX_SOURCE_DIR/tests/world/blackout.sh"
