#!/usr/bin/env bash
# notify_delivery: parallax-notifier on its shipped defaults against real receivers on
# loopback: two webhook receivers (tests/tools/webhook_receiver.py, checking signature and
# timestamp), one that answers 400, a real prometheus-alertmanager and (as root) a real
# OpenSMTPD. Outage events come from the merge fixture (tests/data/merge). Checks: every event
# reaches every matching receiver once; a 4xx is dead and listed by `notify log --dead`;
# Alertmanager shows the group's alert active, then resolved; a receiver answering 503 for a
# minute gets everything after; the notifier killed (SIGKILL) while a receiver holds a
# request loses nothing and duplicates only with the same key; `notify test` reaches the
# receiver; the docs' signature recipe verifies a recorded request.
source "$(dirname "$0")/lib.sh"
source "$PX_SOURCE_DIR/tests/data/merge/merge_fx.sh"
command -v prometheus-alertmanager >/dev/null || fail "prometheus-alertmanager is missing: run scripts/deps.sh"
PY=/usr/bin/python3
RECEIVER=$PX_SOURCE_DIR/tests/tools/webhook_receiver.py
SECRET=test-secret-$$

fx_scenario "notifications from the fixture world"

# ---- receivers -----------------------------------------------------------------------------
# start_hook NAME MODE: a webhook receiver answering MODE; sets NAME's port in HOOK_PORT.
start_hook() {
    echo "$2" >"$WORK/$1.mode"
    start_bg "hook-$1" "$PY" "$RECEIVER" --port-file "$WORK/$1.port" --log "$WORK/$1.jsonl" \
        --arrivals "$WORK/$1.arrivals" --secret "$SECRET" --mode-file "$WORK/$1.mode"
    wait_until 10 "webhook receiver $1 listening" "test -s '$WORK/$1.port'"
    HOOK_PORT=$(cat "$WORK/$1.port")
}
start_hook good 200
GOOD_PORT=$HOOK_PORT
start_hook bad 400
BAD_PORT=$HOOK_PORT

AM_PORT=$(free_port)
printf 'route:\n  receiver: none\nreceivers:\n  - name: none\n' >"$WORK/am.yml"
start_bg alertmanager prometheus-alertmanager --config.file="$WORK/am.yml" \
    --storage.path="$WORK/am" --web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address=
AM="http://127.0.0.1:$AM_PORT"
wait_until 20 "alertmanager ready" 'curl -sf "$AM/-/ready"'
# am_alerts: "subject stage" of Alertmanager's active alerts (resolved ones are not listed).
am_alerts() {
    curl -sf "$AM/api/v2/alerts" |
        jq -r '.[] | select(.status.state == "active") | "\(.labels.subject) \(.labels.stage)"' | sort
}

# E-mail: OpenSMTPD keeps its queue and control socket at fixed paths, so it runs in a mount
# namespace of its own (as in tests/world/servers.sh); that needs root.
MAIL=0
if [ "$(id -u)" = 0 ] && command -v smtpd >/dev/null; then
    MAIL=1
    SMTP_PORT=$(free_port)
    # smtpd's delivery runs as nobody, who must reach the mailbox inside $WORK.
    chmod 0711 "$WORK"
    mkdir -m 0711 "$WORK/spool"
    mkdir -m 1777 "$WORK/box"
    cat >"$WORK/smtpd.conf" <<CONF
listen on 127.0.0.1 port $SMTP_PORT
action "save" mda "/bin/sh -c 'cat > $WORK/box/\$\$.eml'" user nobody
match from any for domain "px.test" action "save"
CONF
    chmod 600 "$WORK/smtpd.conf"
    start_bg smtpd unshare -m sh -c "mount -t tmpfs tmpfs /run && mount -t tmpfs -o mode=0755 tmpfs /var/spool && mkdir -m 0711 /var/spool/smtpd && mount --bind '$WORK/spool' /var/spool/smtpd && exec smtpd -d -f '$WORK/smtpd.conf'"
    wait_until 20 "smtpd listening" '(exec 3<>"/dev/tcp/127.0.0.1/$SMTP_PORT")'
else
    log "e-mail part left out: OpenSMTPD needs root here"
fi

# ---- routes --------------------------------------------------------------------------------
sql "INSERT INTO parallax.notify_receivers (name, kind, url, secret, scopes, with_group_targets) VALUES
       ('all', 'webhook', 'http://127.0.0.1:$GOOD_PORT/all', '$SECRET', NULL, true),
       ('groups', 'webhook', 'http://127.0.0.1:$GOOD_PORT/groups', '$SECRET', '{group}', false),
       ('bad', 'webhook', 'http://127.0.0.1:$BAD_PORT/bad', '$SECRET', '{group}', false),
       ('am', 'alertmanager', '$AM', NULL, '{group}', false)"
[ $MAIL = 0 ] || sql "INSERT INTO parallax.notify_receivers (name, kind, url, mail_from, mail_to, scopes)
                      VALUES ('mail', 'email', 'smtp://127.0.0.1:$SMTP_PORT', 'parallax@px.test', '{nobody@px.test}', '{group}')"

# The shipped defaults: the config names the database only.
printf 'database = %s\n' "$NOTIFY_DB" >"$WORK/notifier.conf"
"$NOTIFIER" --check -c "$WORK/notifier.conf" >/dev/null || fail "notifier.conf does not pass --check"
start_notifier() {
    start_bg notifier "$NOTIFIER" -c "$WORK/notifier.conf"
    NOTIFIER_PID=$LAST_PID
    wait_until 20 "notifier connected" 'grep -q "connected to the database" "$WORK/notifier.log"'
}
start_notifier
if [ -n "$LOGIN_ROLES_READY" ]; then
    expect_eq "the notifier's database user" "$(sql "SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'parallax-notifier'")" "$NOTIFY_USER"
fi

# play K_FROM K_TO: plays the fixture's bins, then routes what they made as of a time after
# them (the fixture's clock is in 2031: target events wait for their group's verdict until
# then). The notifier routes and delivers on its own after the NOTIFY.
play() {
    fx "SELECT fx.play($1, $2)"
    fx "SELECT parallax.notify_route(fx.bin($2 + 10))"
}
# settled: no delivery is pending.
settled() { [ "$(sql "SELECT count(*) FROM parallax.notify_deliveries WHERE state = 'pending'")" = 0 ]; }
# once_each RECEIVER: each event sent to RECEIVER was answered 200 exactly once at its path,
# and nothing else was; prints the number of events.
once_each() {
    local want got
    want=$(sql "SELECT e.key FROM parallax.notify_deliveries d JOIN parallax.notify_events e ON e.id = d.event_id
                JOIN parallax.notify_receivers r ON r.id = d.receiver_id WHERE r.name = '$1' AND d.state = 'sent' ORDER BY 1")
    got=$(jq -r "select(.path == \"/$1\" and .status == 200) | .key" "$WORK/good.jsonl" | sort)
    [ "$got" = "$want" ] || fail "$(printf 'receiver %s: accepted requests differ from the deliveries sent\n--- got\n%s\n--- want\n%s' "$1" "$got" "$want")"
    wc -l <<<"$want"
}

log "a server down: the group's outage opens"
fx "SELECT fx.rule(0, 80)"
fx "SELECT fx.rule(10, 24, target => 'ir-web2', status => 'refused')"
play 0 16
wait_until 60 "the opening events delivered" 'settled && [ "$(sql "SELECT count(*) FROM parallax.notify_deliveries")" -ge 4 ]'
expect_eq "Alertmanager's active alerts" "$(am_alerts)" "IR servers_offline"
expect_eq "events routed to 'groups'" \
    "$(sql "SELECT string_agg(e.scope || ' ' || e.event || ' ' || e.stage, ',' ORDER BY e.id) FROM parallax.notify_deliveries d
            JOIN parallax.notify_events e ON e.id = d.event_id JOIN parallax.notify_receivers r ON r.id = d.receiver_id
            WHERE r.name = 'groups'")" "group opened servers_offline"
expect_eq "the 400 receiver's deliveries" "$(sql "SELECT string_agg(d.state || ' ' || d.reason, ',') FROM parallax.notify_deliveries d
            JOIN parallax.notify_receivers r ON r.id = d.receiver_id WHERE r.name = 'bad'")" "dead HTTP 400"

log "recovery: the outages close; Alertmanager resolves the alert"
play 17 35
wait_until 60 "the closing events delivered" 'settled && [ "$(sql "SELECT count(*) FROM parallax.notify_events WHERE event = '"'"'closed'"'"'")" -ge 2 ]'
wait_until 30 "Alertmanager resolved the alert" '[ -z "$(am_alerts)" ]'

log "the receiver answers 503 for a minute, then 200: everything arrives"
echo 503 >"$WORK/good.mode"
fx "SELECT fx.rule(40, 49, target => 'ir-web1', status => 'refused')"
play 36 55
wait_until 30 "a 503 answered" '[ -n "$(jq -c "select(.status == 503)" "$WORK/good.jsonl")" ]'
sleep 60 # the outage of the receiver under test: a fixed minute by definition
[ "$(sql "SELECT count(*) FROM parallax.notify_deliveries WHERE state = 'pending'")" -gt 0 ] ||
    fail "nothing pending after a minute of 503"
echo 200 >"$WORK/good.mode"
# After a minute of failures the next try is at most 2 x 40 s away (retry_min_s 5, doubling).
wait_until 150 "everything delivered after the 503s" 'settled'
tries=$(jq -r 'select(.status == 503) | .key' "$WORK/good.jsonl" | wc -l)
log "$tries requests answered 503 before the receiver came back"

log "the notifier killed (SIGKILL) while the receiver holds a request"
echo hold >"$WORK/good.mode"
arrived=$(wc -l <"$WORK/good.arrivals")
fx "SELECT fx.rule(60, 69, target => 'ir-mail', status => 'refused')"
play 56 75
wait_until 30 "a request held by the receiver" '[ "$(wc -l <"$WORK/good.arrivals")" -gt "$arrived" ]'
held=$(tail -n +$((arrived + 1)) "$WORK/good.arrivals" | sort -u)
kill -KILL "$NOTIFIER_PID"
wait "$NOTIFIER_PID" 2>/dev/null || true
# The receiver answers the held request now (the notifier is gone): it has the event, the
# database does not know.
echo 200 >"$WORK/good.mode"
wait_until 10 "the held request recorded" '[ "$(jq -r "select(.status == 200) | .key" "$WORK/good.jsonl" | grep -cxF "$held")" -ge 1 ]'
start_notifier
wait_until 60 "everything delivered after the restart" 'settled'

log "counting"
[ "$(jq -r 'select(.sig_ok != true or .ts_ok != true) | .key' "$WORK/good.jsonl" "$WORK/bad.jsonl" | wc -l)" = 0 ] ||
    fail "requests whose signature or timestamp did not verify: $(jq -c 'select(.sig_ok != true or .ts_ok != true)' "$WORK/good.jsonl" | head -3)"
# Duplicates: a key accepted more than once at one path. Only the request held at the kill
# may be one, and it carries the same key.
dups=$(jq -r 'select(.status == 200) | "\(.path) \(.key)"' "$WORK/good.jsonl" | sort | uniq -d)
[ -z "$dups" ] || [ "$(cut -d' ' -f2 <<<"$dups" | sort -u)" = "$held" ] ||
    fail "duplicates other than the request held at the kill ($held): $dups"
log "duplicates after the kill: $(grep -c . <<<"$dups" || true) (key $held)"
# Nothing lost: every event reached every matching receiver; once each, but for the above.
for r in all groups; do
    jq -c "select(.path == \"/$r\" and .status == 200)" "$WORK/good.jsonl" |
        jq -s -c 'unique_by(.key) | .[]' >"$WORK/$r.unique"
    want=$(sql "SELECT e.key FROM parallax.notify_deliveries d JOIN parallax.notify_events e ON e.id = d.event_id
                JOIN parallax.notify_receivers r ON r.id = d.receiver_id WHERE r.name = '$r' ORDER BY 1")
    got=$(jq -r .key "$WORK/$r.unique" | sort)
    [ "$got" = "$want" ] || fail "$(printf '%s: events received differ from those routed\n--- got\n%s\n--- want\n%s' "$r" "$got" "$want")"
    [ "$(sql "SELECT count(*) FROM parallax.notify_deliveries d JOIN parallax.notify_receivers r ON r.id = d.receiver_id
              WHERE r.name = '$r' AND d.state <> 'sent'")" = 0 ] || fail "$r: deliveries not sent"
    log "$r: $(wc -l <<<"$want") events, each received"
done
expect_eq "'all' (every scope, group targets too) has every event" \
    "$(sql "SELECT count(*) FROM parallax.notify_deliveries d JOIN parallax.notify_receivers r ON r.id = d.receiver_id WHERE r.name = 'all'")" \
    "$(sql "SELECT count(*) FROM parallax.notify_events")"


log "the docs' signature recipe verifies a recorded request"
recipe=$("$PY" "$PX_SOURCE_DIR/tests/tools/docs_blocks.py" get "$PX_SOURCE_DIR/docs/notifications.md" webhook-verify)
rec=$(jq -s -c '[.[] | select(.path == "/groups")][0]' "$WORK/good.jsonl")
got=$(BODY=$(jq -r .raw <<<"$rec") TS=$(jq -r .timestamp <<<"$rec") SECRET=$SECRET bash -c "$recipe")
expect_eq "the recipe's signature" "$got" "$(jq -r .signature <<<"$rec")"

if [ $MAIL = 1 ]; then
    log "e-mail: one message per delivery, Message-ID from the key"
    sent=$(sql "SELECT count(*) FROM parallax.notify_deliveries d JOIN parallax.notify_receivers r ON r.id = d.receiver_id WHERE r.name = 'mail' AND d.state = 'sent'")
    [ "$sent" -ge 4 ] || fail "only $sent e-mails sent"
    wait_until 30 "$sent messages in the mailbox" '[ "$(ls "$WORK/box" | wc -l)" -ge "$sent" ]'
    want=$(sql "SELECT '<' || translate(e.key, ':', '..') || '@parallax>' FROM parallax.notify_deliveries d JOIN parallax.notify_events e ON e.id = d.event_id
                JOIN parallax.notify_receivers r ON r.id = d.receiver_id WHERE r.name = 'mail' ORDER BY 1")
    got=$(cat "$WORK"/box/*.eml | tr -d '\r' | sed -n 's/^Message-ID: //p' | sort)
    expect_eq "the messages' Message-IDs" "$got" "$want"
    grep -qh '^Subject: \[parallax\] group IR servers_offline opened' "$WORK"/box/*.eml || fail "no message with the expected subject"
fi
log "a 4xx is dead, and visible"
dead=$(sql "SELECT count(*) FROM parallax.notify_deliveries d JOIN parallax.notify_receivers r ON r.id = d.receiver_id WHERE r.name = 'bad' AND d.state = 'dead'")
[ "$dead" -ge 2 ] || fail "the 400 receiver has $dead dead deliveries"
ctl 0 notify log --dead
[ "$(grep -c 'bad' "$WORK/out")" -ge "$dead" ] || fail "notify log --dead does not list the $dead dead deliveries: $(cat "$WORK/out")"
grep -q "HTTP 400" "$WORK/out" || fail "notify log --dead does not give the answer: $(cat "$WORK/out")"

log "a test notification"
ctl 0 notify test all
wait_until 30 "the test event received" '[ -n "$(jq -c "select(.body.event == \"test\" and .status == 200)" "$WORK/good.jsonl")" ]'
wait_until 30 "the test delivery marked sent" 'settled'
[ "$(jq -r 'select(.body.event == "test") | .sig_ok' "$WORK/good.jsonl" | sort -u)" = true ] || fail "the test event's signature did not verify"

log "ok"
