#!/usr/bin/env bash
# world_blackout_blackhole: the country's route stays announced in BGP while the transit drops its packets:
# they vanish, so the evidence is timeouts, not errors — still a blackout seen by every vantage
# (tests/world/blackout.sh).
source "$(dirname "$0")/lib.sh"
PXW_ROUTES=1 # the world's route collector feeds Parallax live (tests/world/blackout.sh)
source "$PX_SOURCE_DIR/tests/world/scenario.sh"
FAULT=blackhole EVIDENCE=timeout
source "$PX_SOURCE_DIR/tests/world/blackout.sh"
