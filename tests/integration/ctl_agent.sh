#!/usr/bin/env bash
# ctl_agent: `parallaxctl agent add|list|enable|disable` against a real database: the config
# file and the row are written together or not at all, the file holds a key pair whose public
# half is the one stored, bad arguments are usage errors that store nothing.
source "$(dirname "$0")/lib.sh"
new_db
cd "$WORK"

# The ZeroMQ reference server key pair's public half, standing in for the coordinator's.
COORD_KEY='rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7'
COORD_ENDPOINT='tcp://coord.example.net:7070'

agents() { sql "SELECT count(*) FROM parallax.agents"; }
# No file but the ones named may exist in $WORK (besides the test's own out/err/logs).
only_files() {
    local got want
    got=$(cd "$WORK" && ls -A | { grep -vxE 'out|err|.*\.log|.*\.py' || true; } | sort | tr '\n' ' ')
    want=$(for f in "$@"; do echo "$f"; done | sort | tr '\n' ' ')
    [ "$got" = "$want" ] || fail "files in the work directory: '$got', expected '$want'"
}
conf_value() { sed -n "s/^$2 = //p" "$1"; }

# X25519 in plain Python (no crypto module needed): prints the Z85 public key of a Z85 secret.
cat >"$WORK/curve_public.py" <<'PY'
import sys
Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
def dec(s):
    out = b""
    for i in range(0, len(s), 5):
        v = 0
        for c in s[i:i + 5]:
            v = v * 85 + Z85.index(c)
        out += v.to_bytes(4, "big")
    return out
def enc(b):
    s = ""
    for i in range(0, len(b), 4):
        v = int.from_bytes(b[i:i + 4], "big")
        chunk = ""
        for _ in range(5):
            chunk = Z85[v % 85] + chunk
            v //= 85
        s += chunk
    return s
P = 2**255 - 19
def public(secret):
    k = bytearray(secret)
    k[0] &= 248; k[31] &= 127; k[31] |= 64
    n = int.from_bytes(k, "little")
    x2, z2, x3, z3, swap = 1, 0, 9, 1, 0
    for t in reversed(range(255)):
        bit = (n >> t) & 1
        if swap ^ bit:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a, b, c, d = x2 + z2, x2 - z2, x3 + z3, x3 - z3
        aa, bb, da, cb = a * a, b * b, d * a, c * b
        e = aa - bb
        x3, z3 = (da + cb) ** 2 % P, 9 * (da - cb) ** 2 % P
        x2, z2 = aa * bb % P, e * (aa + 121665 * e) % P
    if swap:
        x2, z2 = x3, z3
    return (x2 * pow(z2, P - 2, P) % P).to_bytes(32, "little")
print(enc(public(dec(sys.argv[1]))))
PY
# The script itself must be right: the ZeroMQ reference client key pair.
[ "$(python3 "$WORK/curve_public.py" 'D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs')" = 'Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID' ] ||
    fail "curve_public.py is wrong"

log "without a registered coordinator, agent add fails clearly and leaves nothing"
ctl 1 agent add gb1 --country GB
one_line_error "the coordinator has not registered its key yet: start parallax-coordinator once, or pass --coordinator-key KEY --endpoint tcp://HOST:PORT"
[ "$(agents)" = 0 ] || fail "a row was left behind"
only_files
ctl 1 agent add gb1 --country GB --endpoint tcp://x.example:1
one_line_error "the coordinator has not registered its key yet"

log "with --coordinator-key and --endpoint it works without the row"
ctl 0 agent add early --country de --coordinator-key "$COORD_KEY" --endpoint tcp://192.0.2.1:7070 -o early.conf
[ "$(conf_value early.conf coordinator)" = tcp://192.0.2.1:7070 ] || fail "early.conf has the wrong endpoint"
[ "$(conf_value early.conf coordinator_key)" = "$COORD_KEY" ] || fail "early.conf has the wrong coordinator key"

sql "INSERT INTO parallax.coordinator (public_key, endpoint) VALUES ('$COORD_KEY', '$COORD_ENDPOINT')"

log "agent add writes a 0600 config and the row"
ctl 0 agent add gb1 --country gb --asn 64500
[ -f gb1.conf ] || fail "gb1.conf not written"
[ "$(stat -c %a gb1.conf)" = 600 ] || fail "gb1.conf has mode $(stat -c %a gb1.conf)"
grep -qF './gb1.conf' "$WORK/out" || fail "stdout does not name the file: $(cat "$WORK/out")"
grep -qF 'parallax-agent -c /etc/parallax/agent.conf' "$WORK/out" || fail "stdout lacks the start command"
grep -qxF '  sudo sh install-agent.sh gb1.conf' "$WORK/out" || fail "stdout lacks the one-line VPS command: $(cat "$WORK/out")"
head -1 gb1.conf | grep -Eq '^# Parallax agent gb1 \(country GB\), written by parallaxctl on .* UTC\.$' ||
    fail "bad header: $(head -1 gb1.conf)"
[ "$(conf_value gb1.conf name)" = gb1 ] || fail "name missing"
[ "$(conf_value gb1.conf coordinator)" = "$COORD_ENDPOINT" ] || fail "coordinator endpoint missing"
[ "$(conf_value gb1.conf coordinator_key)" = "$COORD_KEY" ] || fail "coordinator key missing"
[ "$(conf_value gb1.conf state_dir)" = /var/lib/parallax-agent ] || fail "state_dir missing"
secret=$(conf_value gb1.conf secret_key)
[ ${#secret} -eq 40 ] || fail "secret key is ${#secret} characters"
[ "$(sql "SELECT country || ' ' || asn || ' ' || enabled FROM parallax.agents WHERE name = 'gb1'")" = "GB 64500 true" ] ||
    fail "row for gb1 is wrong: $(sql "SELECT * FROM parallax.agents WHERE name = 'gb1'")"
[ "$(sql "SELECT public_key FROM parallax.agents WHERE name = 'gb1'")" = "$(python3 "$WORK/curve_public.py" "$secret")" ] ||
    fail "the stored public key is not the public half of the file's secret key"
only_files early.conf gb1.conf

log "options: --endpoint, --state-dir, -o, no --asn"
mkdir -p sub
ctl 0 agent add de1 --country DE --endpoint 'tcp://[2001:db8::7]:9000' --state-dir /srv/px-agent -o sub/de1.conf
[ "$(conf_value sub/de1.conf coordinator)" = 'tcp://[2001:db8::7]:9000' ] || fail "--endpoint ignored"
[ "$(conf_value sub/de1.conf state_dir)" = /srv/px-agent ] || fail "--state-dir ignored"
[ "$(stat -c %a sub/de1.conf)" = 600 ] || fail "sub/de1.conf has the wrong mode"
[ "$(sql "SELECT asn IS NULL FROM parallax.agents WHERE name = 'de1'")" = t ] || fail "asn should be NULL"
[ "$(ls -A sub)" = de1.conf ] || fail "temporary files left in sub/: $(ls -A sub)"

log "a duplicate name fails with one line and leaves no file and no row"
before=$(agents)
ctl 1 agent add gb1 --country FR -o dup.conf
one_line_error "parallaxctl: agent add: an agent named 'gb1' already exists"
[ ! -e dup.conf ] || fail "dup.conf written for a duplicate agent"
[ "$(agents)" = "$before" ] || fail "a row was added"
only_files early.conf gb1.conf sub

log "an existing file is not overwritten without --force"
cp gb1.conf gb1.copy
ctl 1 agent add gb2 --country GB -o gb1.conf
one_line_error "gb1.conf already exists"
cmp -s gb1.conf gb1.copy || fail "gb1.conf was changed"
[ "$(sql "SELECT count(*) FROM parallax.agents WHERE name = 'gb2'")" = 0 ] || fail "gb2 stored although its file was refused"
ctl 0 agent add gb2 --country GB -o gb1.conf --force
[ "$(conf_value gb1.conf name)" = gb2 ] || fail "--force did not overwrite"
[ "$(stat -c %a gb1.conf)" = 600 ] || fail "overwritten file has the wrong mode"
rm gb1.copy

log "a file that cannot be written rolls the row back"
ctl 1 agent add fr1 --country FR -o "$WORK/no/such/dir/fr1.conf"
one_line_error "fr1.conf"
[ "$(sql "SELECT count(*) FROM parallax.agents WHERE name = 'fr1'")" = 0 ] || fail "row kept although the file failed"

log "bad arguments are usage errors that store nothing"
before=$(agents)
for args in "bad/name --country GB" "-x --country GB" "x1 --country GBR" "x1 --country 12" \
            "x1 --country GB --asn 4294967296" "x1 --country GB --asn -5" "x1 --country GB --asn x" \
            "x1 --country GB --endpoint http://a:1" "x1 --country GB --endpoint tcp://a:0" \
            "x1 --country GB --coordinator-key abc" "x1 --country GB --state-dir rel" "x1" \
            "x1 --country GB --country DE" "x1 --country GB --frob"; do
    # shellcheck disable=SC2086 # split on purpose
    ctl 2 agent add $args
    [ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "agent add $args: expected one line, got: $(cat "$WORK/err")"
    grep -q '^parallaxctl: agent add: ' "$WORK/err" || fail "agent add $args: bad message: $(cat "$WORK/err")"
done
ctl 2 agent add x1 --country GBR
one_line_error "bad --country 'GBR'"
ctl 2 agent add x1 --country GB --asn 4294967296
one_line_error "bad --asn '4294967296'"
ctl 2 agent add 'bad/name' --country GB
one_line_error "bad agent name 'bad/name'"
[ "$(agents)" = "$before" ] || fail "a usage error stored a row"
[ ! -e x1.conf ] || fail "a usage error wrote a file"
ctl 0 agent add max --country gb --asn 4294967295 -o max.conf
[ "$(sql "SELECT asn FROM parallax.agents WHERE name = 'max'")" = 4294967295 ] || fail "largest ASN not stored"

log "agent list: with state, spool drops, skipped runs and clock offset"
ctl 0 agent list
head -1 "$WORK/out" | grep -q '^NAME  *COUNTRY  *ASN  *ENABLED  *STATE  *LAST_SEEN  *DROPS  *SKIPPED  *CLOCK_OFFSET_MS  *PUBLIC_KEY$' || fail "bad header: $(head -1 "$WORK/out")"
grep -Eq '^gb1 +GB +64500 +yes +offline +never +0 +0 +- +' "$WORK/out" || fail "gb1 missing from the table: $(cat "$WORK/out")"
[ "$(wc -l <"$WORK/out")" -eq $(( $(agents) + 1 )) ] || fail "table has the wrong number of lines"
sql "UPDATE parallax.agents SET last_seen = '2024-05-01 12:00:00+00' WHERE name = 'de1'"
sql "UPDATE parallax.agents SET clock_offset_ms = -250, last_seen = now() WHERE name = 'gb1'"
sql "INSERT INTO parallax.gaps (agent_id, ts_from, ts_to, dropped_count)
     SELECT id, '2024-05-01 10:00+00', '2024-05-01 10:05+00', n FROM parallax.agents, (VALUES (7), (35)) v(n) WHERE name = 'gb1'"
# Runs the agent could not start on time are gaps too, counted apart from spool drops.
sql "INSERT INTO parallax.gaps (agent_id, probe_id, ts_from, ts_to, dropped_count, reason)
     SELECT id, 1, '2024-05-01 10:06+00', '2024-05-01 10:06+00', 1, 'run_skipped' FROM parallax.agents, generate_series(1, 3) WHERE name = 'gb1'"
ctl 0 agent list
grep -Eq '^gb1 +GB +64500 +yes +online +[-0-9T:]+Z +42 +3 +-250 +' "$WORK/out" || fail "gb1's drops or offset are wrong: $(cat "$WORK/out")"
ctl 0 agent list --json
python3 - "$WORK/out" <<'PY' || fail "agent list --json is wrong: $(cat "$WORK/out")"
import json, sys
agents = {a["name"]: a for a in json.load(open(sys.argv[1]))}
gb1 = agents["gb1"]
assert gb1["country"] == "GB" and gb1["asn"] == 64500 and gb1["enabled"] is True, gb1
assert gb1["state"] == "online" and gb1["dropped"] == 42 and gb1["skipped"] == 3, gb1
assert gb1["clock_offset_ms"] == -250, gb1
assert len(gb1["public_key"]) == 40, gb1
assert agents["de1"]["asn"] is None, agents["de1"]
assert agents["de1"]["last_seen"] == "2024-05-01T12:00:00Z", agents["de1"]
assert agents["de1"]["state"] == "offline" and agents["de1"]["dropped"] == 0, agents["de1"]
assert agents["de1"]["skipped"] == 0, agents["de1"]
assert agents["de1"]["clock_offset_ms"] is None, agents["de1"]
assert agents["max"]["asn"] == 4294967295
assert gb1["refused"] is None and gb1["refused_at"] is None, gb1
assert set(gb1) == {"name", "country", "asn", "enabled", "state", "last_seen", "dropped",
                    "skipped", "clock_offset_ms", "public_key", "refused", "refused_at"}, gb1
PY
"$CTL" --db "$DB" agent list --json | python3 -c 'import json,sys; json.load(sys.stdin)' || fail "--json does not parse"

log "agent show"
ctl 0 agent show gb1
grep -Eq '^spool drops +42$' "$WORK/out" || fail "show lacks the drops: $(cat "$WORK/out")"
grep -Eq '^runs skipped +3$' "$WORK/out" || fail "show lacks the skipped runs: $(cat "$WORK/out")"
grep -Eq '^clock offset ms +-250$' "$WORK/out" || fail "show lacks the offset: $(cat "$WORK/out")"
grep -Eq '^state +online$' "$WORK/out" || fail "show lacks the state: $(cat "$WORK/out")"
ctl 0 agent show gb1 --json
python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); assert a["name"] == "gb1" and a["dropped"] == 42 and a["skipped"] == 3 and a["open_outages"] == [], a' "$WORK/out" ||
    fail "agent show --json is wrong: $(cat "$WORK/out")"
ctl 1 agent show nosuch
one_line_error "parallaxctl: agent show: no agent named 'nosuch'"
ctl 2 agent show
one_line_error "missing agent NAME"

log "agent rotate-key: a new key in the row and a new file, both or neither"
old_key=$(sql "SELECT public_key FROM parallax.agents WHERE name = 'de1'")
ctl 0 agent rotate-key de1 -o de1-new.conf
new_secret=$(conf_value de1-new.conf secret_key)
new_key=$(sql "SELECT public_key FROM parallax.agents WHERE name = 'de1'")
[ "$new_key" != "$old_key" ] || fail "the key did not change"
[ "$new_key" = "$(python3 "$WORK/curve_public.py" "$new_secret")" ] || fail "the new row key is not the new file's"
[ "$(stat -c %a de1-new.conf)" = 600 ] || fail "de1-new.conf has the wrong mode"
head -1 de1-new.conf | grep -q '^# Parallax agent de1 (country DE)' || fail "bad header: $(head -1 de1-new.conf)"
grep -qF 'sudo sh install-agent.sh de1-new.conf' "$WORK/out" || fail "no install command: $(cat "$WORK/out")"
ctl 1 agent rotate-key de1 -o de1-new.conf
one_line_error "de1-new.conf already exists"
[ "$(sql "SELECT public_key FROM parallax.agents WHERE name = 'de1'")" = "$new_key" ] || fail "a refused rotation changed the key"
ctl 1 agent rotate-key nosuch -o nosuch.conf
one_line_error "parallaxctl: agent rotate-key: no agent named 'nosuch'"
[ ! -e nosuch.conf ] || fail "a file was left for an unknown agent"
ctl 2 agent rotate-key de1 --country DE
one_line_error "unknown option '--country'"
rm de1-new.conf

log "agent disable / enable"
ctl 0 agent disable gb1
[ "$(sql "SELECT enabled FROM parallax.agents WHERE name = 'gb1'")" = f ] || fail "gb1 not disabled"
[ "$(sql "SELECT enabled FROM parallax.agents WHERE name = 'de1'")" = t ] || fail "disable touched de1"
ctl 0 agent list --json
python3 -c 'import json,sys; a={x["name"]:x for x in json.load(open(sys.argv[1]))}; assert a["gb1"]["enabled"] is False' "$WORK/out" ||
    fail "list does not show gb1 disabled"
ctl 0 agent enable gb1
[ "$(sql "SELECT enabled FROM parallax.agents WHERE name = 'gb1'")" = t ] || fail "gb1 not enabled"
ctl 1 agent disable nosuch
one_line_error "parallaxctl: agent disable: no agent named 'nosuch'"
ctl 1 agent enable nosuch
one_line_error "no agent named 'nosuch'"
ctl 2 agent enable 'no such'
one_line_error "bad agent name 'no such'"
ctl 2 agent disable gb1 de1
one_line_error "unexpected argument 'de1'"

log "agent remove: the row and its gaps go, results stay"
gb1_id=$(sql "SELECT id FROM parallax.agents WHERE name = 'gb1'")
sql "SELECT parallax.ensure_partition('2024-05-01')"
sql "INSERT INTO parallax.results (ts, agent_id, probe_id, status) VALUES ('2024-05-01 10:00+00', $gb1_id, 1, 'ok')"
ctl 0 agent remove gb1
grep -qF 'removed agent gb1' "$WORK/out" || fail "remove said: $(cat "$WORK/out")"
[ "$(sql "SELECT count(*) FROM parallax.agents WHERE name = 'gb1'")" = 0 ] || fail "gb1 still there"
[ "$(sql "SELECT count(*) FROM parallax.gaps WHERE agent_id = $gb1_id")" = 0 ] || fail "gb1's gaps left"
[ "$(sql "SELECT count(*) FROM parallax.results WHERE agent_id = $gb1_id")" = 1 ] || fail "gb1's results were removed"
ctl 1 agent remove gb1
one_line_error "parallaxctl: agent remove: no agent named 'gb1'"
ctl 2 agent remove
one_line_error "missing agent NAME"
log "ok"
