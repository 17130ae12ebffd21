#!/usr/bin/env bash
# units_security: the packaged units stay as hardened as they are now. Runs
# `systemd-analyze security --offline=true` on each unit file of packaging/systemd, prints its
# overall exposure, and fails if it is above the level the unit reached when this test was
# written (systemd's 0-10 scale, times ten for --threshold): a directive removed, or a new
# exposure, shows here. Each limit is also checked to be tight (one below fails), so the test
# can fail and is raised only on purpose. Also checks that the resource limits are set.
source "$(dirname "$0")/lib.sh"
command -v systemd-analyze >/dev/null || fail "systemd-analyze is missing: run scripts/deps.sh"
UNITS=$PX_SOURCE_DIR/packaging/systemd
# unit  most exposure allowed (x10)
declare -A LIMIT=([parallax-agent]=16 [parallax-coordinator]=11 [parallax-notifier]=11)
for unit in "${!LIMIT[@]}"; do
    file=$UNITS/$unit.service
    [ -f "$file" ] || fail "$file is missing"
    systemd-analyze security --offline=true --no-pager "$file" >"$WORK/$unit.txt" 2>&1 || true
    score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$WORK/$unit.txt")
    [ -n "$score" ] || fail "no exposure level for $unit: $(tail -3 "$WORK/$unit.txt")"
    log "$unit.service: exposure $score (limit $(awk -v l="${LIMIT[$unit]}" 'BEGIN { printf "%.1f", l / 10 }'))"
    systemd-analyze security --offline=true --threshold="${LIMIT[$unit]}" --no-pager "$file" >/dev/null 2>&1 ||
        fail "$unit.service is exposed above ${LIMIT[$unit]}: $(grep '✗' "$WORK/$unit.txt")"
    if systemd-analyze security --offline=true --threshold="$((LIMIT[$unit] - 1))" --no-pager "$file" >/dev/null 2>&1; then
        fail "$unit.service is below its limit ${LIMIT[$unit]}: lower the limit to what it reaches ($score)"
    fi
    for want in LimitNOFILE= MemoryMax= TasksMax= NoNewPrivileges=yes ProtectSystem=strict \
                'SystemCallFilter=~@privileged @resources' PrivateMounts=yes ProcSubset=pid; do
        grep -q "^$want" "$file" || fail "$unit.service lacks $want"
    done
    # The notifier keeps no state: what is left to deliver is in the database.
    [ "$unit" = parallax-notifier ] || grep -q '^StateDirectory=' "$file" || fail "$unit.service lacks StateDirectory="
done
log "ok"
