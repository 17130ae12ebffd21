#!/usr/bin/env bash
# docs_help: each program's man page names exactly the options its --help names (for
# parallaxctl, the help of every command), and every parallaxctl command --help lists has
# its own help; so the man pages cannot drift from the programs.
source "$(dirname "$0")/lib.sh"

# options TEXT: the long options (--name) in TEXT, one a line, sorted.
options() { grep -o -- '--[a-z][a-z-]*' | sort -u; }
# man_options PAGE: the same of a man page, as a reader sees it.
man_options() { sed 's/\\-/-/g' "$PX_SOURCE_DIR/man/$1" | options; }

check() {
    local name=$1 help=$2 page=$3
    diff <(options <<<"$help") <(man_options "$page") >"$WORK/diff" ||
        fail "$(printf '%s --help and %s differ (< help only, > man page only):\n%s' "$name" "$page" "$(cat "$WORK/diff")")"
}

check parallax-agent "$("$AGENT" --help)" parallax-agent.8
check parallax-coordinator "$("$COORD" --help)" parallax-coordinator.8
check parallax-notifier "$("$NOTIFIER" --help)" parallax-notifier.8

# Every command the top-level help lists: "  agent add NAME ...", "  agent list | show NAME",
# "  agent enable|disable NAME" give agent add, agent list, agent show, agent enable, ...
commands=$("$CTL" --help | sed -n '/^reading:/,/^options:/p' |
    grep -E '^  [a-z]' | sed -E 's/ \| /|/g; s/^  ([a-z]+)( ([a-z][a-z|-]*))?.*/\1 \3/' |
    while read -r cmd subs; do
        [ -z "$subs" ] || [ "$subs" != "${subs#[A-Z]}" ] && { echo "$cmd"; continue; }
        tr '|' '\n' <<<"$subs" | sed "s/^/$cmd /"
    done | sort -u)
[ "$(wc -l <<<"$commands")" -ge 15 ] || fail "found only these commands in --help: $commands"
all=$("$CTL" --help)
# Read once: `sed | grep -q` would fail now and then under pipefail, when grep's early exit
# makes sed's next write die of SIGPIPE.
man_text=$(sed 's/\\-/-/g' "$PX_SOURCE_DIR/man/parallaxctl.8")
while read -r cmd; do
    # shellcheck disable=SC2086 # "agent add" is two words
    out=$("$CTL" $cmd --help) || fail "parallaxctl $cmd --help failed"
    grep -q "^usage: parallaxctl" <<<"$out" || fail "parallaxctl $cmd --help printed no usage: $out"
    all+=$'\n'"$out"
    grep -q "$cmd" <<<"$man_text" || fail "man parallaxctl does not name '$cmd'"
done <<<"$commands"
check parallaxctl "$all" parallaxctl.8
log "$(wc -l <<<"$commands") parallaxctl commands; every option in both: ok"
