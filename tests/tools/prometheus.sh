# prometheus.sh: a real prometheus (Debian's) for integration tests, sourced after lib.sh. It
# scrapes one target every second, with its config and data directory in $WORK, and is
# stopped with the test's other processes. PROM_NS, if set, names a world namespace
# (tests/world/world.sh) that it, its target and its queries are in.
#   prom_scrape_check URL        fetches URL into $WORK/scrape.txt; fails the test unless
#                                `promtool check metrics` finds it clean
#   prom_start LISTEN TARGET     starts it on LISTEN (HOST:PORT), scraping TARGET (HOST:PORT),
#                                and waits until it has scraped TARGET successfully
#   prom_query QUERY             the value of QUERY's first series now ("" if none)

# prom_run CMD...: CMD in PROM_NS, if set.
prom_run() {
    if [ -n "${PROM_NS:-}" ]; then ip netns exec "${WORLD}$PROM_NS" "$@"; else "$@"; fi
}

prom_scrape_check() {
    prom_run curl -sf -o "$WORK/scrape.txt" "$1" || fail "no answer from $1"
    promtool check metrics <"$WORK/scrape.txt" >"$WORK/promtool.txt" 2>&1 ||
        fail "promtool check metrics: $(cat "$WORK/promtool.txt")"
}

prom_query() {
    prom_run curl -sf "http://$PROM_LISTEN/api/v1/query" --data-urlencode "query=$1" |
        /usr/bin/python3 -c 'import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "")'
}

prom_start() {
    PROM_LISTEN=$1
    cat >"$WORK/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: parallax
    static_configs:
      - targets: ['$2']
YML
    promtool check config "$WORK/prometheus.yml" >/dev/null || fail "generated prometheus config invalid"
    local pre=()
    [ -z "${PROM_NS:-}" ] || pre=(ip netns exec "${WORLD}$PROM_NS")
    start_bg prometheus "${pre[@]}" prometheus --config.file="$WORK/prometheus.yml" \
        --storage.tsdb.path="$WORK/prometheus-data" --web.listen-address="$PROM_LISTEN"
    wait_until 60 "prometheus scraped $2" '[ "$(prom_query "up{job=\"parallax\"}")" = 1 ]'
}
