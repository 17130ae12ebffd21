#!/usr/bin/env bash
# ctl_import: `parallaxctl target import FILE`: a CSV file becomes targets and probes exactly
# as `target add` would store them, in one transaction: a bad line anywhere (bad address,
# bad probe spec, unknown role, a name stored with another definition, broken quoting, bad
# header) is an error naming FILE:LINE, the exit status is 1 and nothing at all is stored; a
# target stored already exactly as written is left alone, so a second import changes nothing.
source "$(dirname "$0")/lib.sh"
new_db
cd "$WORK"

counts() { sql "SELECT (SELECT count(*) FROM parallax.targets) || '/' || (SELECT count(*) FROM parallax.probes)"; }
GOOD="$PX_SOURCE_DIR/tests/data/ctl/targets.csv"

# bad_line LINENO TEXT MESSAGE: the good file with line LINENO replaced by TEXT must fail
# naming that line and MESSAGE, and store nothing.
bad_line() {
    local n=$1 text=$2 msg=$3
    awk -v n="$n" -v t="$text" 'NR == n { print t; next } { print }' "$GOOD" >bad.csv
    ctl 1 target import bad.csv
    one_line_error "parallaxctl: target import: bad.csv:$n: $msg"
    grep -qF '(nothing was imported)' "$WORK/err" || fail "the error does not say nothing was imported"
    [ "$(counts)" = "0/0" ] || fail "line $n ('$text') left rows behind: $(counts)"
}

log "a bad line anywhere fails naming it, and nothing is stored"
bad_line 3 'xx-web1,192.0.2.300,XX,web,,icmp,60,' "bad --address '192.0.2.300': not an IPv4 or IPv6 address"
bad_line 4 'xx-dns1,192.0.2.53,XX,dns,no,icmp dns:,60,3000' "bad --probe 'dns:'"
bad_line 4 'xx-dns1,192.0.2.53,XX,dns,no,icmp ping:5,60,3000' "bad --probe 'ping:5'"
bad_line 6 'xx-mail,192.0.2.25,XX,postoffice,,smtp,120,' "bad --role 'postoffice'"
bad_line 7 'xx-rtr1,203.0.113.1,XX,router,,,,' "missing --probe SPEC"
bad_line 7 'xx-web1,203.0.113.1,XX,router,,icmp,,' "a target named 'xx-web1' already exists with another definition"
bad_line 8 'ctl-a,198.51.100.7,,host,maybe,icmp,30,' "bad control 'maybe': expected yes or no"
bad_line 8 'ctl-a,198.51.100.7,,host,yes,icmp,0,' "bad --interval '0'"
bad_line 8 'ctl-a,198.51.100.7,,host,yes,icmp,30,30000' "bad --timeout '30000': must be shorter than the interval (30 s)"
bad_line 7 'xx-rtr1,203.0.113.1,XX,router,,icmp trace,,90000' "bad --timeout '90000': must be shorter than the interval (60 s)"
bad_line 8 'ctl a,198.51.100.7,,host,yes,icmp,30,' "bad target name 'ctl a'"
bad_line 8 'ctl-a,"198.51.100.7,,host,yes,icmp,30,' "the quoted field at column 7 does not end on its line"
bad_line 8 'ctl-a,198.5"1.100.7,,host,yes,icmp,30,' "a quote inside the unquoted field at column 7"
bad_line 2 'name,address,group,role,control,probes,interval,timeout,colour' "unknown column 'colour' in the header"
bad_line 2 'name,group,role,control,probes,interval,timeout' "the header lacks the 'address' column"
bad_line 2 'name,address,probes,name' "column 'name' appears twice in the header"

log "missing, empty and unreadable files"
ctl 1 target import "$WORK/nosuch.csv"
one_line_error "cannot open $WORK/nosuch.csv: No such file or directory"
: >empty.csv
ctl 1 target import empty.csv
one_line_error "empty.csv: no header line"
ctl 2 target import
one_line_error "missing FILE"
ctl 2 target import a.csv b.csv
one_line_error "unexpected argument 'b.csv'"
[ "$(counts)" = "0/0" ] || fail "something was stored"

log "the good file: every target and probe, canonical like target add"
ctl 0 target import "$GOOD"
grep -qF "imported 5 targets with 10 probes from $GOOD" "$WORK/out" || fail "import said: $(cat "$WORK/out")"
got=$(sql "SELECT t.name || ' ' || host(t.address) || ' ' || coalesce(t.group_name, '-') || ' ' || t.role || ' ' || t.control || ' ' || p.spec || ' ' || p.interval_s || ' ' || p.timeout_ms
           FROM parallax.targets t JOIN parallax.probes p ON p.target_id = t.id ORDER BY t.name, p.spec")
want="ctl-a 198.51.100.7 - host true icmp 30 5000
xx-dns1 192.0.2.53 XX dns false dns:xx.example:SOA 60 3000
xx-dns1 192.0.2.53 XX dns false icmp 60 3000
xx-mail 192.0.2.25 XX, the country mail false smtp:25 120 5000
xx-mail 192.0.2.25 XX, the country mail false tcp:25 120 5000
xx-rtr1 203.0.113.1 XX router false icmp 60 5000
xx-rtr1 203.0.113.1 XX router false trace 60 5000
xx-web1 192.0.2.10 XX web false https:https://www.xx.example:443/ 60 5000
xx-web1 192.0.2.10 XX web false icmp 60 5000
xx-web1 192.0.2.10 XX web false tcp:443 60 5000"
[ "$got" = "$want" ] || fail "$(printf 'imported rows differ\n--- got\n%s\n--- want\n%s' "$got" "$want")"

log "importing it again changes nothing: every target is there as written"
before=$(sql "SELECT string_agg(t.id || t.name || p.id || p.spec, ',' ORDER BY p.id) FROM parallax.targets t JOIN parallax.probes p ON p.target_id = t.id")
ctl 0 target import "$GOOD"
grep -qF "imported 0 targets with 0 probes from $GOOD; 5 already there as written, unchanged" "$WORK/out" ||
    fail "the second import said: $(cat "$WORK/out")"
[ "$(sql "SELECT string_agg(t.id || t.name || p.id || p.spec, ',' ORDER BY p.id) FROM parallax.targets t JOIN parallax.probes p ON p.target_id = t.id")" = "$before" ] ||
    fail "the second import changed the rows"

log "a name stored with another definition fails and changes nothing"
sed 's/^xx-rtr1,203.0.113.1,/xx-rtr1,203.0.113.2,/' "$GOOD" >moved.csv
ctl 1 target import moved.csv
one_line_error "moved.csv:7: a target named 'xx-rtr1' already exists with another definition"
[ "$(counts)" = "5/10" ] || fail "a failed import changed the counts: $(counts)"

log "an empty timeout follows the interval like target add's: min(5000 ms, half of it)"
printf 'name,address,probes,interval,timeout\nfast4,192.0.2.97,icmp,4,\nfast3,192.0.2.96,icmp,3,2999\n' >fast.csv
ctl 0 target import fast.csv
[ "$(sql "SELECT string_agg(t.name || ' ' || p.interval_s || ' ' || p.timeout_ms, ', ' ORDER BY t.name)
          FROM parallax.targets t JOIN parallax.probes p ON p.target_id = t.id WHERE t.name LIKE 'fast%'")" = "fast3 3 2999, fast4 4 2000" ] ||
    fail "short intervals imported as: $(sql "SELECT name FROM parallax.targets")"

log "standard input, CRLF line ends and quoted quotes"
printf 'name,address,probes,group\r\nq1,192.0.2.99,icmp,"say ""hi"""\r\n' | "$CTL" --db "$DB" target import - >"$WORK/out" 2>"$WORK/err" ||
    fail "import from stdin failed: $(cat "$WORK/err")"
grep -qF 'imported 1 target with 1 probe from <stdin>' "$WORK/out" || fail "stdin import said: $(cat "$WORK/out")"
[ "$(sql "SELECT group_name FROM parallax.targets WHERE name = 'q1'")" = 'say "hi"' ] || fail "quoted quotes read wrongly"
log "ok"
