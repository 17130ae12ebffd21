#!/usr/bin/env bash
# ctl_cli: parallaxctl's command line: --help for every command, --version, and usage errors
# (exit 2, one line naming the bad argument) for unknown commands and options.
source "$(dirname "$0")/lib.sh"
new_db

# expect RC ARGS...: runs parallaxctl and checks its exit code; output in $WORK/out, $WORK/err.
expect() {
    local want=$1 rc=0; shift
    "$CTL" "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
    [ "$rc" -eq "$want" ] || fail "parallaxctl $* exited $rc, expected $want: $(cat "$WORK/err")"
}
one_line_error() {
    [ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "expected one line on stderr, got: $(cat "$WORK/err")"
    grep -qF -- "$1" "$WORK/err" || fail "stderr lacks '$1': $(cat "$WORK/err")"
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
target
target add
target list
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
log "ok"
