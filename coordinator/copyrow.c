/* copyrow: COPY text escaping and the kind-specific details as a JSON document, whatever the
 * kind (result_detail walks them). */
#include "copyrow.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "result_detail.h"
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

/* The details of r as a JSON document (caller frees), or NULL if it has none or memory ran out
 * (the row is then stored without them). Which kinds exist and what their details hold is
 * the .proto's business: result_detail reads them from the descriptors. */
static char *detail_json(const Parallax__Result *r)
{
    if (!result_detail_present(r))
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
    result_detail_json(r, j);
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
