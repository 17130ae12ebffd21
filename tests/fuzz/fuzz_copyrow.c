/* fuzz_copyrow: what the coordinator writes to PostgreSQL for whatever an agent sends. Every
 * result of an unpacked batch that passes wire_validate_result() becomes one line of COPY
 * text, and that line must be exactly one row: it fits COPYROW_LINE_MAX, ends with its only
 * line break, has 12 fields, uses no escape COPY does not know, is valid UTF-8 without control
 * characters (PostgreSQL would refuse the whole batch otherwise), and gives back the agent id,
 * probe id, message and ICMP source it was made from. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copyrow.h"
#include "wire.h"

#define FIELDS 12
#define FIELD_ICMP_FROM 8
#define FIELD_MESSAGE 9

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_fail(const char *what, const char *line)
{
    fprintf(stderr, "fuzz_copyrow: %s: %s\n", what, line ? line : "");
    abort();
}

/* Undoes COPY text escaping of field (len bytes) into out (cap bytes, NUL-terminated).
 * Returns 1 for \N (NULL), 0 otherwise; an escape COPY would not read as we meant fails. */
static int unescape(const char *field, size_t len, char *out, size_t cap, const char *line)
{
    if (len == 2 && field[0] == '\\' && field[1] == 'N')
        return 1;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = field[i];
        if (c == '\\') {
            if (++i == len)
                fuzz_fail("a field ends in a lone backslash", line);
            switch (field[i]) {
            case '\\':
                c = '\\';
                break;
            case 't':
                c = '\t';
                break;
            case 'n':
                c = '\n';
                break;
            case 'r':
                c = '\r';
                break;
            default:
                fuzz_fail("an escape COPY would read otherwise", line);
            }
        }
        if (n + 1 >= cap)
            fuzz_fail("a field longer than the line", line);
        out[n++] = c;
    }
    out[n] = '\0';
    return 0;
}

/* A field must give back what was sent: NULL for nothing (NULL or ""), else the same text. */
static void expect_field(int is_null, const char *got, const char *sent, const char *what,
                         const char *line)
{
    int has = sent && *sent;
    if (is_null == has || (has && strcmp(got, sent) != 0)) {
        char why[96];
        snprintf(why, sizeof why, "%s does not come back as sent", what);
        fuzz_fail(why, line);
    }
}

static void check_line(const char *line, int len, int agent_id, const Parallax__Result *r)
{
    if (len <= 0 || line[len - 1] != '\n')
        fuzz_fail("the line does not end with a line break", line);
    char body[COPYROW_LINE_MAX];
    memcpy(body, line, (size_t)len - 1);
    body[len - 1] = '\0';
    if (strlen(body) != (size_t)len - 1)
        fuzz_fail("a NUL inside the line", body);
    /* Valid UTF-8, and tab the only control character: no raw line break splits the row. */
    if (!wire_text_valid(body))
        fuzz_fail("not valid UTF-8 text without control characters", body);
    const char *start[FIELDS];
    size_t flen[FIELDS];
    size_t nf = 0;
    const char *p = body;
    for (;;) {
        const char *tab = strchr(p, '\t');
        if (nf == FIELDS)
            fuzz_fail("more than 12 fields", body);
        start[nf] = p;
        flen[nf] = tab ? (size_t)(tab - p) : strlen(p);
        nf++;
        if (!tab)
            break;
        p = tab + 1;
    }
    if (nf != FIELDS)
        fuzz_fail("fewer than 12 fields", body);
    static char text[FIELDS][COPYROW_LINE_MAX];
    int null[FIELDS];
    for (size_t i = 0; i < FIELDS; i++)
        null[i] = unescape(start[i], flen[i], text[i], sizeof text[i], body);

    char want[32];
    snprintf(want, sizeof want, "%d", agent_id);
    expect_field(null[1], text[1], want, "the agent id", body);
    snprintf(want, sizeof want, "%" PRIu64, r->probe_id);
    expect_field(null[2], text[2], want, "the probe id", body);
    expect_field(null[FIELD_MESSAGE], text[FIELD_MESSAGE], r->message, "the message", body);
    expect_field(null[FIELD_ICMP_FROM], text[FIELD_ICMP_FROM], r->icmp_from, "icmp_from", body);
    /* The details are JSON made by our writer, which ends the document with a line break
     * (whitespace to jsonb): before it, valid UTF-8 without raw control characters. */
    if (!null[FIELDS - 1]) {
        char *detail = text[FIELDS - 1];
        size_t dlen = strlen(detail);
        if (dlen && detail[dlen - 1] == '\n')
            detail[dlen - 1] = '\0';
        if (detail[0] != '{' || !wire_text_valid(detail))
            fuzz_fail("details are not one JSON object of valid UTF-8 text", body);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    err_t err = {{0}};
    Parallax__Envelope *env = wire_unpack(data, size, PX_WIRE_MAX_TO_COORD, &err);
    if (!env)
        return 0;
    if (env->body_case == PARALLAX__ENVELOPE__BODY_BATCH) {
        static char line[COPYROW_LINE_MAX];
        for (size_t i = 0; i < env->batch->n_results; i++) {
            const Parallax__Result *r = env->batch->results[i];
            if (wire_validate_result(r, &err) < 0)
                continue;
            int agent_id = (int)(i % 100000) + 1;
            int n = copyrow_result(line, sizeof line, agent_id, r);
            if (n < 0)
                fuzz_fail("a valid result does not fit COPYROW_LINE_MAX", NULL);
            check_line(line, n, agent_id, r);
        }
    }
    wire_free(&env);
    return 0;
}
