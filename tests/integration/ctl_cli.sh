#!/usr/bin/env bash
# ctl_cli: parallaxctl's command line: --help for every command, --version, usage errors
# (exit 2, one line naming the bad argument) for unknown commands, options and bad durations,
# and --json output that parses for every reading command.
source "$(dirname "$0")/lib.sh"
new_db

# expect RC ARGS...: runs parallaxctl and checks its exit code; output in $WORK/out, $WORK/err.
expect() {
    local want=$1 rc=0; shift
    "$CTL" "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
    [ "$rc" -eq "$want" ] || fail "parallaxctl $* exited $rc, expected $want: $(cat "$WORK/err")"
}

log "--version"
expect 0 --version
[ "$(cat "$WORK/out")" = "parallaxctl 0.1.0" ] || fail "--version printed: $(cat "$WORK/out")"

log "--help everywhere"
while read -r words; do
    for h in --help -h; do
        # shellcheck disable=SC2086 # words are split on purpose
        expect 0 $words $h
        grep -q '^usage: parallaxctl' "$WORK/out" || fail "'$words $h' printed no usage"
        [ ! -s "$WORK/err" ] || fail "'$words $h' wrote to stderr"
    done
done <<'LIST'
--db x
db
db migrate
agent
agent add
agent list
agent enable
agent disable
agent show
agent remove
agent rotate-key
target
target add
target list
target show
target remove
target import
status
outages
explain
timeline
LIST
expect 0 agent add gb1 --country GB --help
grep -q 'agent add NAME --country CC' "$WORK/out" || fail "agent add --help is not agent add's usage"
expect 0 target add x --bogus --help
grep -q 'target add NAME --address IP' "$WORK/out" || fail "target add --help is not target add's usage"
expect 0 --db "$DB" --help
grep -q 'db migrate' "$WORK/out" || fail "main usage lacks the command list"

log "usage errors"
expect 2
one_line_error "parallaxctl: no command given"
expect 2 frobnicate
one_line_error "unknown command 'frobnicate'"
expect 2 agent frobnicate
one_line_error "parallaxctl: agent: unknown command 'frobnicate'"
expect 2 agent
one_line_error "parallaxctl: agent: missing command"
expect 2 --bogus agent list
one_line_error "unknown option '--bogus'"
expect 2 --db
one_line_error "option --db needs a value"
expect 2 --db "$DB" --db "$DB" agent list
one_line_error "--db given more than once"
expect 2 --db "$DB" agent list --bogus
one_line_error "parallaxctl: agent list: unknown option '--bogus'"
expect 2 --db "$DB" agent list extra
one_line_error "unexpected argument 'extra'"
expect 2 --db "$DB" target list --json=yes
one_line_error "option --json takes no value"
expect 2 --db "$DB" agent enable
one_line_error "missing agent NAME"

log "durations: 30m, 2h, 7d, 1h30m are fine; anything else is a usage error naming it"
for d in 30m 2h 7d 1h30m 45s 2w 3650d; do
    expect 0 --db "$DB" outages --since "$d"
done
for d in 30 2x h -5m 0m 3651d 1.5h 99999999999999999999h '' 'm30'; do
    expect 2 --db "$DB" outages --since "$d"
    one_line_error "parallaxctl: outages: bad --since '$d': expected a duration such as 30m, 2h, 7d or 1h30m"
done
expect 2 --db "$DB" status --window 10q
one_line_error "bad --window '10q'"
expect 2 --db "$DB" timeline --group IR --since 1y
one_line_error "bad --since '1y'"
expect 2 --db "$DB" outages --scope planet
one_line_error "bad --scope 'planet': expected target, group or vantage"
expect 2 --db "$DB" explain
one_line_error "parallaxctl: explain: missing outage ID"
expect 2 --db "$DB" explain 12x
one_line_error "bad outage ID '12x'"
expect 2 --db "$DB" explain 0
one_line_error "bad outage ID '0'"
expect 2 --db "$DB" explain 1 2
one_line_error "unexpected argument '2'"
expect 2 --db "$DB" timeline
one_line_error "give either --group G or --target T"
expect 2 --db "$DB" timeline --group IR --target x
one_line_error "give either --group G or --target T"
expect 2 --db "$DB" timeline --group IR --color --no-color
one_line_error "--color and --no-color contradict each other"
expect 2 --db "$DB" timeline --group IR --columns 5
one_line_error "bad --columns '5'"
expect 2 --db "$DB" status extra
one_line_error "parallaxctl: status: unexpected argument 'extra'"

log "--json parses everywhere, also on an empty database"
while read -r words; do
    # shellcheck disable=SC2086 # words are split on purpose
    expect 0 --db "$DB" $words --json
    python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$WORK/out" || fail "'$words --json' does not parse: $(cat "$WORK/out")"
done <<'LIST'
status
outages
outages --open --scope group --since 7d
agent list
target list
LIST

log "a database that cannot be reached is a failure (1), not a usage error"
expect 1 --db "host=$WORK/nowhere dbname=x" status
one_line_error "parallaxctl: status: cannot connect to the database"
log "ok"
