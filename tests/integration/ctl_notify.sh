#!/usr/bin/env bash
# ctl_notify: `parallaxctl notify` as an operator uses it: receivers added (secrets read from
# a private file, never printed), listed, refused with one clear line for bad input; `notify
# test` through a real parallax-notifier to a real webhook receiver (signature checked), and
# to one answering 400 (dead, with its answer) or with no sender running (said so);
# `notify log --dead` shows the dead-letter and `notify retry` queues it again; `status`
# counts what waits and what failed; `remove` takes a receiver's deliveries with it.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
NOTIFIER="$PX_BUILD_DIR/notifier/parallax-notifier"
new_db
sql "INSERT INTO parallax.targets (name, address, group_name, role) VALUES ('xx-web', '192.0.2.80', 'XX', 'web')" >/dev/null

SECRET="k-$$-$RANDOM"
printf '%s\n' "$SECRET" >"$WORK/hook.secret"
chmod 600 "$WORK/hook.secret"
echo 200 >"$WORK/good.mode"
echo 400 >"$WORK/bad.mode"
for h in good bad; do
    start_bg "hook-$h" "$PY" "$PX_SOURCE_DIR/tests/tools/webhook_receiver.py" --port-file "$WORK/$h.port" \
        --log "$WORK/$h.jsonl" --secret "$SECRET" --mode-file "$WORK/$h.mode"
done
wait_until 10 "webhook receivers listening" 'test -s "$WORK/good.port" && test -s "$WORK/bad.port"'

log "add, list; secrets stay secret"
ctl 0 notify add good --kind webhook --url "http://127.0.0.1:$(cat "$WORK/good.port")/hook" --secret-file "$WORK/hook.secret" --scope group
grep -q "^added receiver good (webhook http://127.0.0.1:" "$WORK/out" || fail "add: $(cat "$WORK/out")"
ctl 0 notify add bad --kind webhook --url "http://127.0.0.1:$(cat "$WORK/bad.port")/hook" --secret-file "$WORK/hook.secret"
ctl 0 notify add am --kind alertmanager --url http://127.0.0.1:9 --group XX --min-stage dns_down --disabled
ctl 0 notify add mail --kind email --url smtp://127.0.0.1:9 --from px@example.net --to a@example.net,b@example.net --scope target --with-group-targets
[ "$(sql "SELECT secret FROM parallax.notify_receivers WHERE name = 'good'")" = "$SECRET" ] || fail "the secret was not stored as the file says"
[ "$(sql "SELECT array_to_string(mail_to, ' ') FROM parallax.notify_receivers WHERE name = 'mail'")" = "a@example.net b@example.net" ] ||
    fail "mail_to: $(sql "SELECT mail_to FROM parallax.notify_receivers WHERE name = 'mail'")"
ctl 0 notify list
grep -Eq "^am +alertmanager +http://127.0.0.1:9 +all +XX +dns_down +no +no +0 +0 +0 +0$" "$WORK/out" || fail "list: $(cat "$WORK/out")"
grep -Eq "^mail +email .* target +all +any +yes +yes " "$WORK/out" || fail "list: $(cat "$WORK/out")"
ctl 0 notify list --json
/usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert [r['name'] for r in d] == ['am', 'bad', 'good', 'mail'], d" "$WORK/out" ||
    fail "list --json: $(cat "$WORK/out")"
if grep -q "$SECRET" "$WORK/out" "$WORK/err"; then fail "a secret was printed"; fi

log "bad input: one line each, nothing stored"
ctl 1 notify add good --kind alertmanager --url http://127.0.0.1:9
one_line_error "a receiver named 'good' exists"
ctl 1 notify add yy --kind alertmanager --url http://127.0.0.1:9 --group YY
one_line_error "no target has group 'YY'"
ctl 2 notify add zz --kind webhook --url http://127.0.0.1:9
one_line_error "--kind webhook needs --secret-file FILE"
ctl 2 notify add zz --kind email --url http://127.0.0.1:9 --from a@b.c --to d@e.f
one_line_error "bad --url for email"
ctl 2 notify add zz --kind alertmanager --url http://127.0.0.1:9 --scope target --min-stage blackout
one_line_error "--min-stage blackout is a stage of group events"
chmod 644 "$WORK/hook.secret"
ctl 1 notify add zz --kind webhook --url http://127.0.0.1:9 --secret-file "$WORK/hook.secret"
one_line_error "hook.secret"
if grep -q "$SECRET" "$WORK/err"; then fail "the secret was echoed"; fi
chmod 600 "$WORK/hook.secret"
ctl 1 notify remove nobody
one_line_error "no receiver named 'nobody'"
ctl 2 notify retry
one_line_error "missing receiver NAME or --all"
[ "$(sql "SELECT count(*) FROM parallax.notify_receivers")" = 4 ] || fail "a refused add stored something"

log "notify test with no sender running: said so"
ctl 1 notify test good --wait 2
one_line_error "was not tried within 2 s: is parallax-notifier running"

log "notify test through the real sender"
printf 'database = %s\n' "$NOTIFY_DB" >"$WORK/notifier.conf"
start_bg notifier "$NOTIFIER" -c "$WORK/notifier.conf"
ctl 0 notify test good --wait 30
grep -q "^good accepted the test message test:good:[0-9]* after " "$WORK/out" || fail "test: $(cat "$WORK/out")"
key=$(grep -o "test:good:[0-9]*" "$WORK/out")
/usr/bin/python3 - "$WORK/good.jsonl" "$key" <<'PY' || fail "the receiver's record: $(cat "$WORK/good.jsonl")"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
mine = [r for r in recs if sys.argv[2] in json.dumps(r)]
assert len(mine) >= 1, recs
assert all(r.get("sig_ok") and r.get("ts_ok") for r in mine), mine
PY
ctl 1 notify test bad --wait 30
one_line_error "bad refused the test message"
grep -q "400" "$WORK/err" || fail "the receiver's answer is not named: $(cat "$WORK/err")"

log "the dead-letter: log --dead, retry, status"
ctl 0 notify log bad --dead
grep -Eq "^[0-9-]+ [0-9:]+ +bad +test:bad:[0-9]+ +dead +1 +.*400" "$WORK/out" || fail "log --dead: $(cat "$WORK/out")"
ctl 0 notify log --json
/usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert {r['state'] for r in d} == {'sent', 'dead'}, d" "$WORK/out" ||
    fail "log --json: $(cat "$WORK/out")"
ctl 0 status
grep -q "^notifications: 0 pending, 1 failed for good in the last day" "$WORK/out" || fail "status: $(cat "$WORK/out")"
echo 200 >"$WORK/bad.mode"
ctl 0 notify retry bad
grep -q "^1 dead deliveries queued again" "$WORK/out" || fail "retry: $(cat "$WORK/out")"
wait_until 30 "the retried delivery sent" \
    'test "$(sql "SELECT state FROM parallax.notify_deliveries d JOIN parallax.notify_receivers r ON r.id = d.receiver_id WHERE r.name = '"'"'bad'"'"'")" = sent'
ctl 0 notify log bad --dead
[ "$(grep -c "test:bad" "$WORK/out")" = 0 ] || fail "still dead: $(cat "$WORK/out")"

log "remove takes the deliveries along"
ctl 0 notify remove bad
[ "$(sql "SELECT count(*) FROM parallax.notify_deliveries d LEFT JOIN parallax.notify_receivers r ON r.id = d.receiver_id WHERE r.id IS NULL")" = 0 ] ||
    fail "deliveries of a removed receiver left"
ctl 1 notify log bad
one_line_error "no receiver named 'bad'"
log "ok"
