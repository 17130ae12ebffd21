#!/usr/bin/env bash
# pg.sh: a private, throw-away PostgreSQL cluster for the demo and the tests.
#   pg.sh start DIR [PORT]   initdb DIR if needed, start it on a unix socket in DIR, print conninfo
#   pg.sh stop DIR           stop it (fast shutdown); no error if it is not running
#   pg.sh conninfo DIR       print the connection string of the cluster in DIR
# As root the server runs as the unprivileged 'postgres' user (PostgreSQL refuses to run as
# root); otherwise as the caller. It listens on no TCP port: only the socket in DIR.
set -euo pipefail

die() { echo "pg.sh: $*" >&2; exit 1; }

bindir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$d" ] && [ -x "$d/initdb" ] || die "PostgreSQL server binaries not found; run scripts/deps.sh"
    echo "$d"
}

as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

conninfo() {
    local dir=$1
    [ -f "$dir/port" ] || die "no cluster in $dir"
    echo "host=$dir port=$(cat "$dir/port") user=postgres dbname=postgres"
}

start() {
    local dir=$1 port=${2:-}
    local bin; bin=$(bindir)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$dir"
        # The server must be able to reach its directory through every parent.
        local p=$dir
        while [ "$p" != / ]; do p=$(dirname "$p"); chmod o+x "$p" 2>/dev/null || true; done
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
            >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    fi
    if [ -z "$port" ]; then
        # Any free number will do: the port only names the socket file in $dir.
        port=$(( 20000 + ( $(cksum <<<"$dir" | cut -d' ' -f1) % 20000 ) ))
    fi
    echo "$port" >"$dir/port"
    if as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        conninfo "$dir"
        return 0
    fi
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-k $dir -p $port -c listen_addresses='' -c fsync=on -c synchronous_commit=on" \
        start >/dev/null || { tail -n 20 "$dir/server.log" >&2; die "server did not start"; }
    conninfo "$dir"
}

stop() {
    local dir=$1
    local bin; bin=$(bindir)
    [ -f "$dir/data/PG_VERSION" ] || return 0
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
}

case "${1:-}" in
    start) [ $# -ge 2 ] || die "usage: pg.sh start DIR [PORT]"; start "$2" "${3:-}" ;;
    stop) [ $# -eq 2 ] || die "usage: pg.sh stop DIR"; stop "$2" ;;
    conninfo) [ $# -eq 2 ] || die "usage: pg.sh conninfo DIR"; conninfo "$2" ;;
    *) die "usage: pg.sh start DIR [PORT] | stop DIR | conninfo DIR" ;;
esac
