/* gen_corpus: writes the wire fuzz target's seed corpus: one valid packed envelope of every
 * body type (and a few at the validation limits) into the directory given as argument.
 * Run once by hand (see README.md); its output is checked in under tests/data/fuzz/wire/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

#define TS0 1700000000000000LL

static int write_env(const char *dir, const char *name, const Parallax__Envelope *env)
{
    err_t err = {{0}};
    uint8_t *buf = NULL;
    size_t len = 0;
    if (wire_pack(env, &buf, &len, &err) < 0) {
        fprintf(stderr, "gen_corpus: %s: %s\n", name, err.msg);
        return -1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(buf, 1, len, f) == len;
    if (f && fclose(f) != 0)
        ok = 0;
    free(buf);
    if (!ok)
        fprintf(stderr, "gen_corpus: cannot write %s\n", path);
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    int rc = 0;

    Parallax__Envelope env = PARALLAX__ENVELOPE__INIT;
    env.version = PX_PROTOCOL_VERSION;

    Parallax__Hello hello = PARALLAX__HELLO__INIT;
    char *kinds[] = {"icmp", "tcp", "http", "https", "dns", "smtp", "trace"};
    hello.agent_version = "0.1.0";
    hello.name = "vantage-ams-1";
    hello.schedule_version = 42;
    hello.n_kinds = 7;
    hello.kinds = kinds;
    hello.sent_us = TS0;
    env.body_case = PARALLAX__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    rc |= write_env(dir, "hello", &env);

    Parallax__Probe probes[4];
    Parallax__Probe *pp[4];
    static const char *specs[] = {"icmp", "tcp:443", "https:https://example.org:443/health",
                                  "dns:example.org:AAAA"};
    static const char *addrs[] = {"192.0.2.1", "2001:db8::1", "198.51.100.7", "::1"};
    for (int i = 0; i < 4; i++) {
        parallax__probe__init(&probes[i]);
        probes[i].probe_id = (uint64_t)i + 1;
        probes[i].target = "web-1";
        probes[i].address = (char *)addrs[i];
        probes[i].spec = (char *)specs[i];
        probes[i].interval_s = 60;
        probes[i].phase_ms = 1500u * (unsigned)i;
        probes[i].timeout_ms = 5000;
        probes[i].control = i == 3;
        pp[i] = &probes[i];
    }
    Parallax__Schedule sched = PARALLAX__SCHEDULE__INIT;
    sched.version = 7;
    sched.n_probes = 4;
    sched.probes = pp;
    env.body_case = PARALLAX__ENVELOPE__BODY_SCHEDULE;
    env.schedule = &sched;
    rc |= write_env(dir, "schedule", &env);
    sched.n_probes = 0;
    rc |= write_env(dir, "schedule-empty", &env);

    Parallax__Result res[3];
    Parallax__Result *rp[3];
    for (int i = 0; i < 3; i++) {
        parallax__result__init(&res[i]);
        res[i].probe_id = (uint64_t)i + 1;
        res[i].ts_us = TS0 + i;
        rp[i] = &res[i];
    }
    res[0].status = PARALLAX__STATUS__STATUS_OK;
    res[0].rtt_us = 12345;
    res[1].status = PARALLAX__STATUS__STATUS_UNREACHABLE;
    res[1].message = "réseau injoignable — 不可达";
    res[1].icmp_type = 3;
    res[1].icmp_code = 13;
    res[1].icmp_from = "2001:db8::fe";
    res[2].status = PARALLAX__STATUS__STATUS_APP_ERROR;
    res[2].app_code = 503;
    res[2].message = "HTTP 503\tService Unavailable";
    res[2].control = 1;
    Parallax__ResultBatch batch = PARALLAX__RESULT_BATCH__INIT;
    batch.stream = 0x7fffffffffffffffULL;
    batch.seq = 1;
    batch.n_results = 3;
    batch.results = rp;
    env.body_case = PARALLAX__ENVELOPE__BODY_BATCH;
    env.batch = &batch;
    rc |= write_env(dir, "batch", &env);

    /* Every kind of detail, with text COPY and JSON both have to escape. */
    Parallax__HttpTiming http = PARALLAX__HTTP_TIMING__INIT;
    http.connect_us = 1200;
    http.tls_us = 5300;
    http.first_byte_us = 9100;
    http.total_us = 9800;
    Parallax__TlsInfo tls = PARALLAX__TLS_INFO__INIT;
    tls.days_left = -3;
    tls.verify_error = "certificate \"xx\" has expired \\ C:\\ca\\n\ttab";
    res[0].status = PARALLAX__STATUS__STATUS_APP_ERROR;
    res[0].app_code = 495;
    res[0].message = "TLS: \\N is not NULL; \\t is not a tab";
    res[0].http = &http;
    res[0].tls = &tls;
    Parallax__DnsInfo dns = PARALLAX__DNS_INFO__INIT;
    dns.rcode = 2;
    dns.has_soa = 1;
    dns.soa_serial = 2026112301;
    dns.over_tcp = 1;
    Parallax__DnsRecord rec[3];
    Parallax__DnsRecord *recp[3];
    const char *rec_type[3] = {"A", "NS", "MX"};
    const char *rec_address[3] = {"192.0.2.10", "", ""};
    const char *rec_host[3] = {"", "ns\\\"1\\\\.parallax.test.", "mail.parallax.test."};
    for (int i = 0; i < 3; i++) {
        parallax__dns_record__init(&rec[i]);
        rec[i].type = (char *)rec_type[i];
        rec[i].name = "parallax.test.";
        rec[i].address = (char *)rec_address[i];
        rec[i].host = (char *)rec_host[i];
        rec[i].preference = i == 2 ? 10 : 0;
        recp[i] = &rec[i];
    }
    dns.n_records = 3;
    dns.records = recp;
    res[1].status = PARALLAX__STATUS__STATUS_APP_ERROR;
    res[1].app_code = 2;
    res[1].message = "SERVFAIL";
    res[1].icmp_type = 0;
    res[1].icmp_code = 0;
    res[1].icmp_from = NULL;
    res[1].dns = &dns;
    Parallax__TraceHop hop[3];
    Parallax__TraceHop *hp[3];
    const char *hop_addr[3] = {"192.0.2.1", "", "2001:db8::7"};
    for (int i = 0; i < 3; i++) {
        parallax__trace_hop__init(&hop[i]);
        hop[i].ttl = (uint32_t)i + 1;
        hop[i].address = (char *)hop_addr[i];
        hop[i].rtt_us = *hop_addr[i] ? 1000u * ((uint32_t)i + 1) : 0;
        hp[i] = &hop[i];
    }
    Parallax__TraceInfo trace = PARALLAX__TRACE_INFO__INIT;
    trace.n_hops = 3;
    trace.hops = hp;
    trace.last_responsive_ttl = 3;
    trace.reached = 1;
    res[2].status = PARALLAX__STATUS__STATUS_OK;
    res[2].app_code = 0;
    res[2].rtt_us = 3000;
    res[2].message = NULL;
    res[2].control = 0;
    res[2].trace = &trace;
    rc |= write_env(dir, "batch-details", &env);

    Parallax__Ack ack = PARALLAX__ACK__INIT;
    ack.stream = 99;
    ack.seq = 3;
    ack.code = PARALLAX__ACK_CODE__ACK_STORED;
    env.body_case = PARALLAX__ENVELOPE__BODY_ACK;
    env.ack = &ack;
    rc |= write_env(dir, "ack-stored", &env);
    ack.code = PARALLAX__ACK_CODE__ACK_REJECTED;
    ack.reason = "result 0 has unknown status 0";
    rc |= write_env(dir, "ack-rejected", &env);

    Parallax__Heartbeat hb = PARALLAX__HEARTBEAT__INIT;
    hb.agent_sent_us = TS0;
    hb.coord_recv_us = TS0 + 100;
    hb.coord_sent_us = TS0 + 200;
    env.body_case = PARALLAX__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    rc |= write_env(dir, "heartbeat", &env);

    /* A one-off trace (the coordinator's request) and its answer carrying the request id. */
    Parallax__Probe trace_probe = PARALLAX__PROBE__INIT;
    trace_probe.probe_id = 9001;
    trace_probe.target = "web-1";
    trace_probe.address = "203.0.113.80";
    trace_probe.spec = "trace";
    trace_probe.interval_s = 1;
    trace_probe.timeout_ms = 10000;
    Parallax__ProbeRequest req = PARALLAX__PROBE_REQUEST__INIT;
    req.request_id = 77;
    req.probe = &trace_probe;
    env.body_case = PARALLAX__ENVELOPE__BODY_REQUEST;
    env.request = &req;
    rc |= write_env(dir, "request", &env);
    res[2].probe_id = 9001;
    res[2].request_id = 77;
    batch.n_results = 1;
    batch.results = &rp[2];
    env.body_case = PARALLAX__ENVELOPE__BODY_BATCH;
    env.batch = &batch;
    rc |= write_env(dir, "batch-request", &env);
    return rc ? 1 : 0;
}
