# world_run.sh: Parallax running in the world (sourced by the demo and the end-to-end tests):
# a private PostgreSQL, the coordinator in its namespace, one agent per vantage, the
# country's targets and the control targets registered with parallaxctl. Everything runs on
# its shipped defaults: the only choice is the probe interval (the merge derives its bin
# widths from it, parallaxctl the probes' timeouts).
#
#   pxw_start DIR INTERVAL_S [DB]
#                               everything up (world_up first); sets DB, PXW_* variables.
#                               With DB (an empty database), no private PostgreSQL is started.
#                               PXW_COORD_DB, PXW_ADMIN_DB (optional): the conninfo the
#                               coordinator and parallaxctl use instead of DB, e.g. as the
#                               login roles of parallax_ingest and parallax_admin; DB
#                               (the owner) migrates.
#                               PXW_NOTIFIER=1 (optional): parallax-notifier too, in the
#                               coordinator's namespace on the shipped defaults, connecting
#                               as PXW_NOTIFY_DB (a parallax_notify login; default DB)
#                               (log: DIR/notifier.log; pid: PXW_NOTIFIER_PID).
#                               PXW_ROUTES=1 (optional): the world's route collector as a live
#                               BGP feed too: `parallaxctl routes follow $WORLD_BGP_MRT` as
#                               PXW_ADMIN_DB, started once the targets are there
#                               (log: DIR/routes.log; pid: PXW_ROUTES_PID).
#   pxw_targets CONNINFO INTERVAL_S
#                               the world's targets (country XX and two control hosts), as
#                               pxw_start adds them; for a second database to compare with
#   pxw_routes_stop             stops the BGP feed (it commits what it has read first)
#   pxw_stop                    agents, coordinator, PostgreSQL, world: all gone
#   pxw_sql QUERY               runs QUERY on the world's database (tab-separated, no header)
#   pxw_wait SECONDS WHAT COND  re-evaluates COND (shell text) until true; bounded
#   pxw_stop_agent N / pxw_start_agent N
# Needs: BIN (build dir), ROOT (source dir), world.sh sourced.

pxw_sql() { psql -X -q -tA -F $'\t' -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }

# pxw_outage_wait SECONDS SCOPE SUBJECT STAGE: waits until an open outage of SCOPE/SUBJECT has
# reached STAGE (or a worse one); prints the seconds it took. Bounded.
pxw_outage_wait() {
    local limit=$1 scope=$2 subject=$3 stage=$4 t0=$(date +%s%N)
    pxw_wait "$limit" "$scope $subject $stage" \
        "test \"\$(pxw_sql \"SELECT count(*) FROM parallax.outages WHERE scope = '$scope' AND subject = '$subject' AND ended_at IS NULL AND detail -> 'first_reached' ? '$stage'\")\" -gt 0" || return 1
    awk -v ns=$(( $(date +%s%N) - t0 )) 'BEGIN { printf "%.1f\n", ns / 1e9 }'
}

pxw_wait() {
    local limit=$1 what=$2; shift 2
    local end=$((SECONDS + limit))
    until eval "$*" >/dev/null 2>&1; do
        [ $SECONDS -lt $end ] || { echo "timed out after ${limit}s waiting for: $what" >&2; return 1; }
        sleep 0.2
    done
}

pxw_start_agent() {
    local n=$1
    ip netns exec "${WORLD}v$n" env SSL_CERT_FILE="$WORLD_CA" "$BIN/agent/parallax-agent" \
        -c "$PXW_DIR/agent$n.conf" >>"$PXW_DIR/agent$n.log" 2>&1 &
    PXW_AGENT_PID[$n]=$!
}

pxw_stop_agent() {
    local pid=${PXW_AGENT_PID[$1]:-}
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    PXW_AGENT_PID[$1]=
}

pxw_stop() {
    local i
    for i in "${!PXW_AGENT_PID[@]}"; do pxw_stop_agent "$i"; done
    pxw_routes_stop || true
    if [ -n "${PXW_NOTIFIER_PID:-}" ]; then
        kill -TERM "$PXW_NOTIFIER_PID" 2>/dev/null || true
        wait "$PXW_NOTIFIER_PID" 2>/dev/null || true
        PXW_NOTIFIER_PID=
    fi
    if [ -n "${PXW_COORD_PID:-}" ]; then
        kill -TERM "$PXW_COORD_PID" 2>/dev/null || true
        wait "$PXW_COORD_PID" 2>/dev/null || true
        PXW_COORD_PID=
    fi
    [ -z "${PXW_DIR:-}" ] || [ ! -d "$PXW_DIR/pg" ] || bash "$ROOT/scripts/pg.sh" stop "$PXW_DIR/pg" >/dev/null 2>&1 || true
    world_down
}

pxw_start() {
    PXW_DIR=$1
    local interval=$2
    declare -gA PXW_AGENT_PID=()
    mkdir -p "$PXW_DIR"
    if [ -n "${3:-}" ]; then
        DB=$3
    else
        local pg
        pg=$(bash "$ROOT/scripts/pg.sh" start "$PXW_DIR/pg")
        psql "$pg" -qc "CREATE DATABASE parallax" >/dev/null
        DB="$pg dbname=parallax"
    fi
    local ctl="$BIN/coordinator/ctl/parallaxctl --db"
    $ctl "$DB" db migrate >/dev/null
    local admin=${PXW_ADMIN_DB:-$DB}
    local port=7700
    cat >"$PXW_DIR/coordinator.conf" <<CONF
listen = tcp://$WORLD_COORD_ADDR:$port
database = ${PXW_COORD_DB:-$DB}
key_file = $PXW_DIR/coordinator.key
CONF
    ip netns exec "${WORLD}c" "$BIN/coordinator/parallax-coordinator" -c "$PXW_DIR/coordinator.conf" \
        >"$PXW_DIR/coordinator.log" 2>&1 &
    PXW_COORD_PID=$!
    pxw_wait 20 "the coordinator" 'test -n "$(pxw_sql "SELECT public_key FROM parallax.coordinator")"' || return 1
    if [ "${PXW_NOTIFIER:-0}" = 1 ]; then
        printf 'database = %s\n' "${PXW_NOTIFY_DB:-$DB}" >"$PXW_DIR/notifier.conf"
        ip netns exec "${WORLD}c" "$BIN/notifier/parallax-notifier" -c "$PXW_DIR/notifier.conf" \
            >"$PXW_DIR/notifier.log" 2>&1 &
        PXW_NOTIFIER_PID=$!
        pxw_wait 20 "the notifier" 'grep -q "connected to the database" "$PXW_DIR/notifier.log"' || return 1
    fi
    local i cc=(GB DE JP) asn=(64501 64502 64503)
    for i in $(seq "$WORLD_VANTAGES"); do
        $ctl "$admin" agent add "vp$i-${cc[$((i - 1))],,}" --country "${cc[$((i - 1))]}" --asn "${asn[$((i - 1))]}" \
            --state-dir "$PXW_DIR/state$i" -o "$PXW_DIR/agent$i.conf" >/dev/null
    done
    pxw_targets "$admin" "$interval" || return 1
    if [ "${PXW_ROUTES:-0}" = 1 ]; then
        # After the targets: the visibility bins are written for the prefixes they watch.
        "$BIN/coordinator/ctl/parallaxctl" --db "$admin" routes follow "$WORLD_BGP_MRT" \
            >"$PXW_DIR/routes.log" 2>&1 &
        PXW_ROUTES_PID=$!
        pxw_wait 20 "the BGP feed" 'grep -q ": following" "$PXW_DIR/routes.log"' || return 1
    fi
    for i in $(seq "$WORLD_VANTAGES"); do pxw_start_agent "$i"; done
}

pxw_targets() {
    local ctl="$BIN/coordinator/ctl/parallaxctl --db" db=$1 interval=$2
    # The web server also answers ping, and its HTTPS on 8443 has an expired certificate
    # throughout (tls_error): a probe that never works must not hold an outage open
    # (docs/verdicts.md, live probes).
    $ctl "$db" target add xx-web --address "$WORLD_WEB" --group XX --role web --probe icmp \
        --probe http:http://www.xx.test/ --probe https:https://www.xx.test:8443/ --interval "$interval" >/dev/null &&
        $ctl "$db" target add xx-dns --address "$WORLD_DNS" --group XX --role dns \
            --probe dns:xx.test:SOA --interval "$interval" >/dev/null &&
        $ctl "$db" target add xx-mail --address "$WORLD_MAIL" --group XX --role mail \
            --probe smtp --interval "$interval" >/dev/null &&
        $ctl "$db" target add xx-border --address "$WORLD_ROUTER" --group XX --role router \
            --probe icmp --interval "$interval" >/dev/null &&
        $ctl "$db" target add control-1 --address "$WORLD_CONTROL1" --role host --control \
            --probe icmp --interval "$interval" >/dev/null &&
        $ctl "$db" target add control-2 --address "$WORLD_CONTROL2" --role host --control \
            --probe icmp --interval "$interval" >/dev/null
}

pxw_routes_stop() {
    local pid=${PXW_ROUTES_PID:-} rc=0
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" || rc=$?
    PXW_ROUTES_PID=
    [ $rc = 0 ] || echo "routes follow exited $rc (log: $PXW_DIR/routes.log)" >&2
    return $rc
}
