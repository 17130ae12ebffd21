/* test_coord_copyrow: a result becomes one COPY text line whose twelve columns PostgreSQL
 * reads back as exactly what the agent sent: each column formatted as the table expects,
 * special characters in message and detail escaped (decoded here by COPY's own rules), absent
 * optional fields as \N, -1 for a buffer too small, and the longest result the wire accepts
 * fitting COPYROW_LINE_MAX with its details kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copyrow.h"
#include "wire.h"

#define NCOLS 12
enum {
    C_TS,
    C_AGENT,
    C_PROBE,
    C_STATUS,
    C_RTT,
    C_APP,
    C_ITYPE,
    C_ICODE,
    C_FROM,
    C_MSG,
    C_CONTROL,
    C_DETAIL
};

/* One line split and decoded the way COPY FROM (text format) does. */
typedef struct row {
    int ncols;
    int null[NCOLS];
    char *col[NCOLS]; /* decoded; NULL when null */
} row_t;

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes one raw field (between unescaped tabs) by the rules of PostgreSQL's COPY text
 * format: \N alone is NULL; \b \f \n \r \t \v, \\, octal \d[d[d]], hex \xh[h]; any other
 * backslashed character stands for itself; every other byte is taken as it is. */
static char *copy_decode(const char *s, size_t len, int *is_null)
{
    *is_null = len == 2 && s[0] == '\\' && s[1] == 'N';
    if (*is_null)
        return NULL;
    char *out = malloc(len + 1);
    assert_non_null(out);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '\\') {
            out[n++] = s[i];
            continue;
        }
        assert_true(i + 1 < len); /* a lone trailing backslash would swallow the delimiter */
        char c = s[++i];
        switch (c) {
        case 'b':
            out[n++] = '\b';
            break;
        case 'f':
            out[n++] = '\f';
            break;
        case 'n':
            out[n++] = '\n';
            break;
        case 'r':
            out[n++] = '\r';
            break;
        case 't':
            out[n++] = '\t';
            break;
        case 'v':
            out[n++] = '\v';
            break;
        case 'x':
            if (i + 1 < len && hexval(s[i + 1]) >= 0) {
                int v = hexval(s[++i]);
                if (i + 1 < len && hexval(s[i + 1]) >= 0)
                    v = v * 16 + hexval(s[++i]);
                out[n++] = (char)v;
            } else {
                out[n++] = 'x';
            }
            break;
        default:
            if (c >= '0' && c <= '7') {
                int v = c - '0';
                for (int k = 0; k < 2 && i + 1 < len && s[i + 1] >= '0' && s[i + 1] <= '7'; k++)
                    v = v * 8 + (s[++i] - '0');
                out[n++] = (char)v;
            } else {
                out[n++] = c;
            }
        }
    }
    out[n] = '\0';
    return out;
}

/* Splits a line as COPY does: one row ending in the only newline, columns at raw tabs. */
static void parse_line(const char *line, int len, row_t *row)
{
    memset(row, 0, sizeof *row);
    assert_true(len > 0);
    assert_int_equal((size_t)len, strlen(line));
    assert_int_equal(line[len - 1], '\n');
    /* A raw newline or carriage return anywhere else would end the row early. */
    assert_null(memchr(line, '\n', (size_t)len - 1));
    assert_null(memchr(line, '\r', (size_t)len));
    const char *p = line, *end = line + len - 1;
    while (row->ncols < NCOLS) {
        const char *tab = memchr(p, '\t', (size_t)(end - p));
        const char *stop = tab ? tab : end;
        row->col[row->ncols] = copy_decode(p, (size_t)(stop - p), &row->null[row->ncols]);
        row->ncols++;
        if (!tab)
            break;
        p = tab + 1;
    }
    assert_int_equal(row->ncols, NCOLS);
    assert_true(p <= end);
    assert_null(memchr(p, '\t', (size_t)(end - p))); /* no thirteenth column */
}

static void row_free(row_t *row)
{
    for (int i = 0; i < NCOLS; i++)
        free(row->col[i]);
}

static void assert_col(const row_t *row, int c, const char *want)
{
    if (!want) {
        assert_true(row->null[c]);
        return;
    }
    assert_false(row->null[c]);
    assert_string_equal(row->col[c], want);
}

static int format(const Parallax__Result *r, int agent_id, char **line, row_t *row)
{
    *line = malloc(COPYROW_LINE_MAX);
    assert_non_null(*line);
    int n = copyrow_result(*line, COPYROW_LINE_MAX, agent_id, r);
    assert_true(n > 0);
    parse_line(*line, n, row);
    return n;
}

/* 2026-03-01 12:34:56.789012 UTC. */
#define TS_US 1772368496789012LL

static void test_columns_of_a_plain_result(void **state)
{
    (void)state;
    Parallax__Result r = PARALLAX__RESULT__INIT;
    r.probe_id = 7;
    r.ts_us = TS_US;
    r.status = PARALLAX__STATUS__STATUS_OK;
    r.rtt_us = 12345;
    char *line;
    row_t row;
    format(&r, 42, &line, &row);
    assert_col(&row, C_TS, "2026-03-01 12:34:56.789012+00");
    assert_col(&row, C_AGENT, "42");
    assert_col(&row, C_PROBE, "7");
    assert_col(&row, C_STATUS, "ok");
    assert_col(&row, C_RTT, "12.345");
    assert_col(&row, C_APP, NULL);
    assert_col(&row, C_ITYPE, NULL);
    assert_col(&row, C_ICODE, NULL);
    assert_col(&row, C_FROM, NULL);
    assert_col(&row, C_MSG, NULL);
    assert_col(&row, C_CONTROL, "f");
    assert_col(&row, C_DETAIL, NULL);
    row_free(&row);
    free(line);
}

static void test_timestamps(void **state)
{
    (void)state;
    static const struct {
        int64_t ts_us;
        const char *want;
    } cases[] = {
        {PX_WIRE_MIN_TS_US, "2020-01-01 00:00:00.000000+00"},
        {PX_WIRE_MIN_TS_US + 1, "2020-01-01 00:00:00.000001+00"},
        {1709164800000000LL + 999999, "2024-02-29 00:00:00.999999+00"}, /* leap day */
        {PX_WIRE_MAX_TS_US, "2100-01-01 00:00:00.000000+00"},
        {PX_WIRE_MAX_TS_US - 1, "2099-12-31 23:59:59.999999+00"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Parallax__Result r = PARALLAX__RESULT__INIT;
        r.probe_id = 1;
        r.ts_us = cases[i].ts_us;
        r.status = PARALLAX__STATUS__STATUS_TIMEOUT;
        char *line;
        row_t row;
        format(&r, 1, &line, &row);
        assert_col(&row, C_TS, cases[i].want);
        row_free(&row);
        free(line);
    }
}

static void test_every_status_by_its_sql_name(void **state)
{
    (void)state;
    static const struct {
        Parallax__Status status;
        const char *name;
    } cases[] = {
        {PARALLAX__STATUS__STATUS_OK, "ok"},
        {PARALLAX__STATUS__STATUS_TIMEOUT, "timeout"},
        {PARALLAX__STATUS__STATUS_REFUSED, "refused"},
        {PARALLAX__STATUS__STATUS_UNREACHABLE, "unreachable"},
        {PARALLAX__STATUS__STATUS_LOCAL_ERROR, "local_error"},
        {PARALLAX__STATUS__STATUS_PROTOCOL_ERROR, "protocol_error"},
        {PARALLAX__STATUS__STATUS_APP_ERROR, "app_error"},
        {PARALLAX__STATUS__STATUS_TLS_ERROR, "tls_error"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Parallax__Result r = PARALLAX__RESULT__INIT;
        r.probe_id = 1;
        r.ts_us = TS_US;
        r.status = cases[i].status;
        char *line;
        row_t row;
        format(&r, 1, &line, &row);
        assert_col(&row, C_STATUS, cases[i].name);
        row_free(&row);
        free(line);
    }
}

static void test_rtt(void **state)
{
    (void)state;
    static const struct {
        Parallax__Status status;
        uint32_t rtt_us;
        const char *want;
    } cases[] = {
        /* An answer that took under a microsecond is still a measurement... */
        {PARALLAX__STATUS__STATUS_OK, 0, "0.000"},
        {PARALLAX__STATUS__STATUS_OK, 1, "0.001"},
        {PARALLAX__STATUS__STATUS_OK, 999999, "999.999"},
        {PARALLAX__STATUS__STATUS_OK, UINT32_MAX, "4294967.295"},
        /* ... a failure without one has none, and one with a time keeps it (a refusal's). */
        {PARALLAX__STATUS__STATUS_TIMEOUT, 0, NULL},
        {PARALLAX__STATUS__STATUS_REFUSED, 2500, "2.500"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Parallax__Result r = PARALLAX__RESULT__INIT;
        r.probe_id = 1;
        r.ts_us = TS_US;
        r.status = cases[i].status;
        r.rtt_us = cases[i].rtt_us;
        char *line;
        row_t row;
        format(&r, 1, &line, &row);
        assert_col(&row, C_RTT, cases[i].want);
        row_free(&row);
        free(line);
    }
}

static void test_app_code_and_ids(void **state)
{
    (void)state;
    static const struct {
        int32_t app_code;
        const char *want;
    } cases[] = {
        {0, NULL}, {200, "200"}, {-1, "-1"}, {INT32_MAX, "2147483647"}, {INT32_MIN, "-2147483648"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Parallax__Result r = PARALLAX__RESULT__INIT;
        r.probe_id = (uint64_t)INT64_MAX; /* the largest id a bigserial hands out */
        r.ts_us = TS_US;
        r.status = PARALLAX__STATUS__STATUS_APP_ERROR;
        r.app_code = cases[i].app_code;
        char *line;
        row_t row;
        format(&r, INT32_MAX, &line, &row);
        assert_col(&row, C_APP, cases[i].want);
        assert_col(&row, C_AGENT, "2147483647");
        assert_col(&row, C_PROBE, "9223372036854775807");
        row_free(&row);
        free(line);
    }
}

static void test_icmp_columns(void **state)
{
    (void)state;
    static const struct {
        Parallax__Status status;
        uint32_t type, code;
        const char *from;
        const char *want_type, *want_code, *want_from;
    } cases[] = {
        {PARALLAX__STATUS__STATUS_UNREACHABLE, 3, 1, "192.0.2.254", "3", "1", "192.0.2.254"},
        /* Code 0 is a code (network unreachable), not an absence. */
        {PARALLAX__STATUS__STATUS_UNREACHABLE, 3, 0, "2001:db8::1", "3", "0", "2001:db8::1"},
        {PARALLAX__STATUS__STATUS_UNREACHABLE, 255, 255, "", "255", "255", NULL},
        /* Unreachable, but no ICMP error seen (e.g. no route): nothing to report. */
        {PARALLAX__STATUS__STATUS_UNREACHABLE, 0, 0, NULL, NULL, NULL, NULL},
        /* Type and code belong to "unreachable" results only. */
        {PARALLAX__STATUS__STATUS_TIMEOUT, 11, 0, NULL, NULL, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Parallax__Result r = PARALLAX__RESULT__INIT;
        r.probe_id = 1;
        r.ts_us = TS_US;
        r.status = cases[i].status;
        r.icmp_type = cases[i].type;
        r.icmp_code = cases[i].code;
        r.icmp_from = (char *)cases[i].from;
        char *line;
        row_t row;
        format(&r, 1, &line, &row);
        assert_col(&row, C_ITYPE, cases[i].want_type);
        assert_col(&row, C_ICODE, cases[i].want_code);
        assert_col(&row, C_FROM, cases[i].want_from);
        row_free(&row);
        free(line);
    }
}

static void test_control_flag(void **state)
{
    (void)state;
    Parallax__Result r = PARALLAX__RESULT__INIT;
    r.probe_id = 1;
    r.ts_us = TS_US;
    r.status = PARALLAX__STATUS__STATUS_OK;
    r.control = 1;
    char *line;
    row_t row;
    format(&r, 1, &line, &row);
    assert_col(&row, C_CONTROL, "t");
    row_free(&row);
    free(line);
}

static void test_message_escaping(void **state)
{
    (void)state;
    /* Everything COPY treats specially, and control characters the wire would refuse (the
     * formatting must not depend on that): each must come back as it went in. */
    static const char *const messages[] = {
        "connection refused",
        "back\\slash",
        "\\N", /* the NULL marker, as text */
        "\\.", /* COPY's end-of-data marker, as text */
        "\\",  /* a lone backslash would escape the column delimiter */
        "tab\there",
        "line\nbreak",
        "carriage\rreturn",
        "crlf\r\n",
        "\b\f\v\x01\x1b[31m\x7f",
        "\t\n\r\\",
        "tr\xc3\xa8s \xe2\x80\x94 \xf0\x9f\x98\x80", /* UTF-8 passes unchanged */
    };
    for (size_t i = 0; i < sizeof messages / sizeof messages[0]; i++) {
        Parallax__Result r = PARALLAX__RESULT__INIT;
        r.probe_id = 1;
        r.ts_us = TS_US;
        r.status = PARALLAX__STATUS__STATUS_LOCAL_ERROR;
        r.message = (char *)messages[i];
        char *line;
        row_t row;
        format(&r, 1, &line, &row);
        assert_col(&row, C_MSG, messages[i]);
        assert_col(&row, C_CONTROL, "f"); /* the columns after it are where they belong */
        assert_col(&row, C_DETAIL, NULL);
        row_free(&row);
        free(line);
    }
}

static void test_absent_message_is_null(void **state)
{
    (void)state;
    static const char *const absent[] = {NULL, ""};
    for (size_t i = 0; i < 2; i++) {
        Parallax__Result r = PARALLAX__RESULT__INIT;
        r.probe_id = 1;
        r.ts_us = TS_US;
        r.status = PARALLAX__STATUS__STATUS_TIMEOUT;
        r.message = (char *)absent[i];
        r.icmp_from = (char *)absent[i];
        char *line;
        row_t row;
        format(&r, 1, &line, &row);
        assert_col(&row, C_MSG, NULL);
        assert_col(&row, C_FROM, NULL);
        row_free(&row);
        free(line);
    }
}

/* The detail column holds a JSON document with the keys schema/migrations/001_stable.sql lists
 * (results.detail). Keys come in the .proto's field order (trace: hops first); jsonb keeps no
 * key order, so the stored documents do not depend on it. */
static void test_detail_documents(void **state)
{
    (void)state;
    Parallax__HttpTiming http = PARALLAX__HTTP_TIMING__INIT;
    http.connect_us = 1500;
    http.tls_us = 0;
    http.first_byte_us = 20001;
    http.total_us = UINT32_MAX;
    Parallax__TlsInfo tls = PARALLAX__TLS_INFO__INIT;
    tls.verified = 0;
    tls.days_left = -3;
    tls.verify_error = "certificate has expired";
    Parallax__DnsInfo dns = PARALLAX__DNS_INFO__INIT;
    dns.rcode = 3;
    dns.aa = 1;
    dns.answers = 0;
    dns.has_soa = 1;
    dns.soa_serial = 2026030101;
    Parallax__DnsInfo dns_no_soa = PARALLAX__DNS_INFO__INIT;
    dns_no_soa.soa_serial = 99; /* ignored without has_soa */
    dns_no_soa.over_tcp = 1;
    Parallax__TraceHop h1 = PARALLAX__TRACE_HOP__INIT, h2 = PARALLAX__TRACE_HOP__INIT,
                       h3 = PARALLAX__TRACE_HOP__INIT;
    h1.ttl = 1;
    h1.address = "192.0.2.1";
    h1.rtt_us = 800;
    h2.ttl = 2; /* nobody answered: address and time are null, not "" and 0 */
    h3.ttl = 3;
    h3.address = "2001:db8::3";
    h3.rtt_us = 0;
    Parallax__TraceHop *hops[] = {&h1, &h2, &h3};
    Parallax__TraceInfo trace = PARALLAX__TRACE_INFO__INIT;
    trace.n_hops = 3;
    trace.hops = hops;
    trace.reached = 1;
    trace.last_responsive_ttl = 3;
    Parallax__TraceInfo empty_trace = PARALLAX__TRACE_INFO__INIT;

    static const char *const want[] = {
        "{\"http\":{\"connect_ms\":1.500,\"tls_ms\":0.000,\"first_byte_ms\":20.001,"
        "\"total_ms\":4294967.295},\"tls\":{\"verified\":false,\"days_left\":-3,"
        "\"verify_error\":\"certificate has expired\"}}",
        "{\"dns\":{\"rcode\":3,\"aa\":true,\"answers\":0,\"soa_serial\":2026030101,"
        "\"over_tcp\":false,\"records\":[]}}",
        "{\"dns\":{\"rcode\":0,\"aa\":false,\"answers\":0,\"soa_serial\":null,"
        "\"over_tcp\":true,\"records\":[]}}",
        "{\"trace\":{\"hops\":["
        "{\"ttl\":1,\"address\":\"192.0.2.1\",\"rtt_ms\":0.800},"
        "{\"ttl\":2,\"address\":null,\"rtt_ms\":null},"
        "{\"ttl\":3,\"address\":\"2001:db8::3\",\"rtt_ms\":0.000}],"
        "\"reached\":true,\"last_responsive_ttl\":3}}",
        "{\"trace\":{\"hops\":[],\"reached\":false,\"last_responsive_ttl\":0}}",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        Parallax__Result r = PARALLAX__RESULT__INIT;
        r.probe_id = 1;
        r.ts_us = TS_US;
        r.status = PARALLAX__STATUS__STATUS_OK;
        switch (i) {
        case 0:
            r.http = &http;
            r.tls = &tls;
            break;
        case 1:
            r.dns = &dns;
            break;
        case 2:
            r.dns = &dns_no_soa;
            break;
        case 3:
            r.trace = &trace;
            break;
        case 4:
            r.trace = &empty_trace;
            break;
        }
        char *line;
        row_t row;
        format(&r, 1, &line, &row);
        assert_false(row.null[C_DETAIL]);
        /* Whitespace after the document means nothing to jsonb. */
        size_t len = strlen(row.col[C_DETAIL]);
        while (len && strchr(" \n\t\r", row.col[C_DETAIL][len - 1]))
            row.col[C_DETAIL][--len] = '\0';
        assert_string_equal(row.col[C_DETAIL], want[i]);
        row_free(&row);
        free(line);
    }
}

static void test_detail_escaping(void **state)
{
    (void)state;
    /* JSON escapes first, COPY escapes on top: after COPY decodes the column, the JSON text
     * must be exactly the JSON encoding of the original string. */
    Parallax__TlsInfo tls = PARALLAX__TLS_INFO__INIT;
    tls.verify_error = "a\\b\tc\"d\ne\rf\x01g/h";
    Parallax__Result r = PARALLAX__RESULT__INIT;
    r.probe_id = 1;
    r.ts_us = TS_US;
    r.status = PARALLAX__STATUS__STATUS_TLS_ERROR;
    r.tls = &tls;
    r.message = "verify\tfailed";
    char *line;
    row_t row;
    format(&r, 1, &line, &row);
    assert_col(&row, C_MSG, "verify\tfailed");
    assert_false(row.null[C_DETAIL]);
    assert_non_null(
        strstr(row.col[C_DETAIL], "\"verify_error\":\"a\\\\b\\tc\\\"d\\ne\\rf\\u0001g/h\""));
    row_free(&row);
    free(line);
}

static void test_too_small_a_buffer(void **state)
{
    (void)state;
    Parallax__Result r = PARALLAX__RESULT__INIT;
    r.probe_id = 1;
    r.ts_us = TS_US;
    r.status = PARALLAX__STATUS__STATUS_UNREACHABLE;
    r.message = "no\troute";
    r.icmp_type = 3;
    r.icmp_code = 1;
    r.icmp_from = "192.0.2.1";
    char full[COPYROW_LINE_MAX];
    int n = copyrow_result(full, sizeof full, 5, &r);
    assert_true(n > 0);
    /* The line and its terminating NUL: one byte less never passes for a whole line. */
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    for (size_t cap = 0; cap <= (size_t)n; cap++) {
        memset(buf, 'x', (size_t)n + 1);
        assert_int_equal(copyrow_result(buf, cap, 5, &r), -1);
    }
    assert_int_equal(copyrow_result(buf, (size_t)n + 1, 5, &r), n);
    assert_memory_equal(buf, full, (size_t)n + 1);
    free(buf);
}

/* The worst case the wire allows in every field at once, chosen for what escaping grows most
 * (a backslash: two bytes in COPY, four once JSON escaped it first). */
static void test_longest_legal_result_fits(void **state)
{
    (void)state;
    static const char longest_ip[] = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255";
    char text[PX_WIRE_MAX_TEXT + 1];
    memset(text, '\\', PX_WIRE_MAX_TEXT);
    text[PX_WIRE_MAX_TEXT] = '\0';

    Parallax__HttpTiming http = PARALLAX__HTTP_TIMING__INIT;
    http.connect_us = http.tls_us = http.first_byte_us = http.total_us = UINT32_MAX;
    Parallax__TlsInfo tls = PARALLAX__TLS_INFO__INIT;
    tls.days_left = INT32_MIN;
    tls.verify_error = text;
    Parallax__DnsInfo dns = PARALLAX__DNS_INFO__INIT;
    dns.rcode = 4095;
    dns.aa = dns.has_soa = dns.over_tcp = 1;
    dns.answers = dns.soa_serial = UINT32_MAX;
    /* 16 records sharing the text the wire allows, every byte of it escaped twice over. */
    enum { REC_TEXT = PX_WIRE_MAX_DNS_TEXT / PX_WIRE_MAX_DNS_RECORDS };
    char dns_type[PX_WIRE_MAX_DNS_TYPE + 1], dns_name[PX_WIRE_MAX_DNS_NAME + 1];
    size_t name_len = (REC_TEXT - PX_WIRE_MAX_DNS_TYPE - (sizeof longest_ip - 1)) / 2;
    memset(dns_type, '\\', PX_WIRE_MAX_DNS_TYPE);
    dns_type[PX_WIRE_MAX_DNS_TYPE] = '\0';
    memset(dns_name, '\\', name_len);
    dns_name[name_len] = '\0';
    Parallax__DnsRecord rec[PX_WIRE_MAX_DNS_RECORDS];
    Parallax__DnsRecord *recs[PX_WIRE_MAX_DNS_RECORDS];
    for (int i = 0; i < PX_WIRE_MAX_DNS_RECORDS; i++) {
        parallax__dns_record__init(&rec[i]);
        rec[i].type = dns_type;
        rec[i].name = rec[i].host = dns_name;
        rec[i].address = (char *)longest_ip;
        rec[i].preference = UINT32_MAX;
        recs[i] = &rec[i];
    }
    dns.n_records = PX_WIRE_MAX_DNS_RECORDS;
    dns.records = recs;
    Parallax__TraceHop hop[PX_WIRE_MAX_HOPS];
    Parallax__TraceHop *hops[PX_WIRE_MAX_HOPS];
    for (int i = 0; i < PX_WIRE_MAX_HOPS; i++) {
        parallax__trace_hop__init(&hop[i]);
        hop[i].ttl = 255;
        hop[i].address = (char *)longest_ip;
        hop[i].rtt_us = UINT32_MAX;
        hops[i] = &hop[i];
    }
    Parallax__TraceInfo trace = PARALLAX__TRACE_INFO__INIT;
    trace.n_hops = PX_WIRE_MAX_HOPS;
    trace.hops = hops;
    trace.reached = 1;
    trace.last_responsive_ttl = 255;

    Parallax__Result r = PARALLAX__RESULT__INIT;
    r.probe_id = (uint64_t)INT64_MAX;
    r.ts_us = PX_WIRE_MAX_TS_US;
    r.status = PARALLAX__STATUS__STATUS_UNREACHABLE;
    r.rtt_us = UINT32_MAX;
    r.message = text;
    r.icmp_type = r.icmp_code = 255;
    r.icmp_from = (char *)longest_ip;
    r.app_code = INT32_MIN;
    r.control = 1;
    r.http = &http;
    r.tls = &tls;
    r.dns = &dns;
    r.trace = &trace;

    /* Legal: the wire module would let it through. */
    err_t err = {{0}};
    err_clear(&err);
    if (wire_validate_result(&r, &err) != 0)
        fail_msg("not a legal result: %s", err.msg);

    char *line;
    row_t row;
    int n = format(&r, INT32_MIN, &line, &row);
    print_message("the longest legal line: %d bytes of %d\n", n, COPYROW_LINE_MAX);
    assert_true(n < COPYROW_LINE_MAX);
    assert_col(&row, C_MSG, text);
    assert_col(&row, C_FROM, longest_ip);
    assert_col(&row, C_AGENT, "-2147483648");
    /* The details are all there, not dropped for want of room. */
    assert_false(row.null[C_DETAIL]);
    assert_non_null(strstr(row.col[C_DETAIL], "\"http\":{"));
    assert_non_null(strstr(row.col[C_DETAIL], "\"dns\":{"));
    const char *last = row.col[C_DETAIL];
    int hops_seen = 0;
    while ((last = strstr(last, "{\"ttl\":255,"))) {
        hops_seen++;
        last++;
    }
    assert_int_equal(hops_seen, PX_WIRE_MAX_HOPS);
    int records_seen = 0;
    for (last = row.col[C_DETAIL]; (last = strstr(last, "\"preference\":4294967295")); last++)
        records_seen++;
    assert_int_equal(records_seen, PX_WIRE_MAX_DNS_RECORDS);
    /* Each backslash once JSON escaped it, and COPY's escaping undone. */
    char want_error[2 * PX_WIRE_MAX_TEXT + 64] = "\"verify_error\":\"";
    size_t at = strlen(want_error);
    memset(want_error + at, '\\', 2 * PX_WIRE_MAX_TEXT);
    memcpy(want_error + at + 2 * PX_WIRE_MAX_TEXT, "\"", 2);
    assert_non_null(strstr(row.col[C_DETAIL], want_error));
    row_free(&row);
    free(line);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_columns_of_a_plain_result),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_every_status_by_its_sql_name),
        cmocka_unit_test(test_rtt),
        cmocka_unit_test(test_app_code_and_ids),
        cmocka_unit_test(test_icmp_columns),
        cmocka_unit_test(test_control_flag),
        cmocka_unit_test(test_message_escaping),
        cmocka_unit_test(test_absent_message_is_null),
        cmocka_unit_test(test_detail_documents),
        cmocka_unit_test(test_detail_escaping),
        cmocka_unit_test(test_too_small_a_buffer),
        cmocka_unit_test(test_longest_legal_result_fits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
