/* copyrow: COPY text escaping and the kind-specific details as a JSON document. */
#include "copyrow.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "status.h"

#define COPYROW_DETAIL_MAX (32 * 1024)

/* Appends src to the COPY text buffer, escaping what the text format treats specially. */
static size_t copy_escape(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    for (const char *p = src; *p && n + 2 < cap; p++) {
        switch (*p) {
        case '\\':
            dst[n++] = '\\';
            dst[n++] = '\\';
            break;
        case '\t':
            dst[n++] = '\\';
            dst[n++] = 't';
            break;
        case '\n':
            dst[n++] = '\\';
            dst[n++] = 'n';
            break;
        case '\r':
            dst[n++] = '\\';
            dst[n++] = 'r';
            break;
        default:
            dst[n++] = *p;
        }
    }
    dst[n] = '\0';
    return n;
}

static void json_ms(json_t *j, const char *key, uint32_t us)
{
    char num[32];
    snprintf(num, sizeof num, "%.3f", us / 1000.0);
    if (key)
        json_key(j, key);
    json_raw_number(j, num);
}

/* The kind-specific details of r as a JSON document (caller frees), or NULL if it has none
 * or memory ran out (the row is then stored without them). */
static char *detail_json(const Parallax__Result *r)
{
    if (!r->http && !r->tls && !r->dns && !r->trace)
        return NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    json_t *j = json_new(f);
    if (!j) {
        fclose(f);
        free(text);
        return NULL;
    }
    json_object_begin(j);
    if (r->http) {
        json_key(j, "http");
        json_object_begin(j);
        json_ms(j, "connect_ms", r->http->connect_us);
        json_ms(j, "tls_ms", r->http->tls_us);
        json_ms(j, "first_byte_ms", r->http->first_byte_us);
        json_ms(j, "total_ms", r->http->total_us);
        json_object_end(j);
    }
    if (r->tls) {
        json_key(j, "tls");
        json_object_begin(j);
        json_key(j, "verified");
        json_bool(j, r->tls->verified);
        json_key(j, "days_left");
        json_int(j, r->tls->days_left);
        json_key(j, "verify_error");
        json_string(j, r->tls->verify_error);
        json_object_end(j);
    }
    if (r->dns) {
        json_key(j, "dns");
        json_object_begin(j);
        json_key(j, "rcode");
        json_int(j, r->dns->rcode);
        json_key(j, "aa");
        json_bool(j, r->dns->aa);
        json_key(j, "answers");
        json_int(j, r->dns->answers);
        json_key(j, "soa_serial");
        if (r->dns->has_soa)
            json_int(j, r->dns->soa_serial);
        else
            json_null(j);
        json_key(j, "over_tcp");
        json_bool(j, r->dns->over_tcp);
        json_object_end(j);
    }
    if (r->trace) {
        json_key(j, "trace");
        json_object_begin(j);
        json_key(j, "reached");
        json_bool(j, r->trace->reached);
        json_key(j, "last_responsive_ttl");
        json_int(j, r->trace->last_responsive_ttl);
        json_key(j, "hops");
        json_array_begin(j);
        for (size_t i = 0; i < r->trace->n_hops; i++) {
            const Parallax__TraceHop *h = r->trace->hops[i];
            json_object_begin(j);
            json_key(j, "ttl");
            json_int(j, h->ttl);
            json_key(j, "address");
            json_string(j, h->address && *h->address ? h->address : NULL);
            json_key(j, "rtt_ms");
            if (h->address && *h->address)
                json_ms(j, NULL, h->rtt_us);
            else
                json_null(j);
            json_object_end(j);
        }
        json_array_end(j);
        json_object_end(j);
    }
    json_object_end(j);
    int failed = json_error(j) < 0;
    json_destroy(&j);
    if (fclose(f) != 0 || failed) {
        free(text);
        return NULL;
    }
    return text;
}

int copyrow_result(char *buf, size_t cap, int agent_id, const Parallax__Result *r)
{
    char msg[2 * 512 + 8];
    copy_escape(msg, sizeof msg, r->message ? r->message : "");
    /* Details are bounded by the wire limits (64 hops), so twice their size fits the line. */
    char *detail = detail_json(r);
    char detail_esc[COPYROW_DETAIL_MAX];
    if (detail && strlen(detail) * 2 + 1 > sizeof detail_esc) {
        free(detail);
        detail = NULL;
    }
    int has_detail = detail != NULL;
    if (has_detail)
        copy_escape(detail_esc, sizeof detail_esc, detail);
    free(detail);
    time_t secs = (time_t)(r->ts_us / 1000000);
    long usec = (long)(r->ts_us % 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char rtt[32] = "\\N", app[16] = "\\N", itype[8] = "\\N", icode[8] = "\\N";
    if (r->rtt_us || r->status == PARALLAX__STATUS__STATUS_OK)
        snprintf(rtt, sizeof rtt, "%.3f", r->rtt_us / 1000.0);
    if (r->app_code)
        snprintf(app, sizeof app, "%d", (int)r->app_code);
    if (r->status == PARALLAX__STATUS__STATUS_UNREACHABLE && (r->icmp_type || r->icmp_code)) {
        snprintf(itype, sizeof itype, "%u", (unsigned)r->icmp_type);
        snprintf(icode, sizeof icode, "%u", (unsigned)r->icmp_code);
    }
    const char *from = r->icmp_from && *r->icmp_from ? r->icmp_from : "\\N";
    int n = snprintf(buf, cap,
                     "%04d-%02d-%02d %02d:%02d:%02d.%06ld+00\t%d\t%" PRIu64
                     "\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     usec, agent_id, r->probe_id, status_name(r->status), rtt, app, itype, icode,
                     from, r->message && *r->message ? msg : "\\N", r->control ? "t" : "f",
                     has_detail ? detail_esc : "\\N");
    return n < 0 || (size_t)n >= cap ? -1 : n;
}
