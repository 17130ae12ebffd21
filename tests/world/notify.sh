# notify.sh: receivers for the world's notification scenarios (sourced by
# tests/integration/world_notify*.sh after lib.sh and scenario.sh, with PXW_NOTIFIER=1 so the
# notifier runs): a webhook receiver (tests/tools/webhook_receiver.py) and a real
# prometheus-alertmanager, both in the coordinator's namespace on its loopback, and helpers
# to read what they got.
command -v prometheus-alertmanager >/dev/null || fail "prometheus-alertmanager is missing: run scripts/deps.sh"
[ -n "${PXW_NOTIFIER_PID:-}" ] || fail "the notifier is not running (set PXW_NOTIFIER=1 before scenario.sh)"
NS="${WORLD}c"
NOTIFY_SECRET=world-secret-$$
start_bg hook ip netns exec "$NS" /usr/bin/python3 "$PX_SOURCE_DIR/tests/tools/webhook_receiver.py" \
    --port-file "$WORK/hook.port" --log "$WORK/hook.jsonl" --secret "$NOTIFY_SECRET"
wait_until 10 "the webhook receiver" 'test -s "$WORK/hook.port"'
HOOK="http://127.0.0.1:$(cat "$WORK/hook.port")"
printf 'route:\n  receiver: none\nreceivers:\n  - name: none\n' >"$WORK/am.yml"
start_bg alertmanager ip netns exec "$NS" prometheus-alertmanager --config.file="$WORK/am.yml" \
    --storage.path="$WORK/am" --web.listen-address=127.0.0.1:9093 --cluster.listen-address=
wait_until 30 "alertmanager ready" 'ip netns exec "$NS" curl -sf http://127.0.0.1:9093/-/ready'
: >"$WORK/hook.jsonl"

# notify_route NAME SCOPE [GROUP [WITH_GROUP_TARGETS]]: a webhook route at $HOOK/NAME.
notify_route() {
    local group=NULL
    [ -z "${3:-}" ] || group="'$3'"
    pxw_sql "INSERT INTO parallax.notify_receivers (name, kind, url, secret, scopes, group_name, with_group_targets)
             VALUES ('$1', 'webhook', '$HOOK/$1', '$NOTIFY_SECRET', '{$2}', $group, ${4:-false})" >/dev/null
}
# am_route NAME SCOPE: an Alertmanager route.
am_route() {
    pxw_sql "INSERT INTO parallax.notify_receivers (name, kind, url, scopes) VALUES ('$1', 'alertmanager', 'http://127.0.0.1:9093', '{$2}')" >/dev/null
}
# got ROUTE: what ROUTE's receiver accepted, "event subject stage" a line, in arrival order.
got() {
    jq -r "select(.path == \"/$1\" and .status == 200) | \"\(.body.event) \(.body.outage.subject) \(.body.outage.stage)\"" "$WORK/hook.jsonl"
}
# got_count ROUTE EVENT SUBJECT [STAGE]: how many such notifications ROUTE's receiver accepted.
got_count() { got "$1" | grep -c "^$2 $3 ${4:-}" || true; }
# wait_got SECONDS ROUTE EVENT SUBJECT [STAGE]: waits until ROUTE got one such notification.
wait_got() {
    local limit=$1; shift
    pxw_wait "$limit" "$1: $2 $3 ${4:-}" '[ "$(got_count '"$1 $2 $3 ${4:-}"')" -ge 1 ]' ||
        fail "$1 never got '$2 $3 ${4:-}'; it got: $(got "$1" | tr '\n' ',')"
}
# am_active: "subject stage" of Alertmanager's active alerts.
am_active() {
    ip netns exec "$NS" curl -sf http://127.0.0.1:9093/api/v2/alerts |
        jq -r '.[] | select(.status.state == "active") | "\(.labels.subject) \(.labels.stage)"' | sort
}
# hooks_verified: every request's signature and timestamp verified.
hooks_verified() {
    [ "$(jq -r 'select(.sig_ok != true or .ts_ok != true) | .key' "$WORK/hook.jsonl" | wc -l)" = 0 ] ||
        fail "requests that did not verify: $(jq -c 'select(.sig_ok != true or .ts_ok != true)' "$WORK/hook.jsonl" | head -3)"
}
# no_duplicates: no key accepted twice at one route.
no_duplicates() {
    local d
    d=$(jq -r 'select(.status == 200) | "\(.path) \(.key)"' "$WORK/hook.jsonl" | sort | uniq -d)
    [ -z "$d" ] || fail "notifications accepted twice: $d"
}
