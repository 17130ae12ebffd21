/* http_parse: byte-at-a-time for the head (status line, headers, chunk sizes, trailers), which
 * is small and capped, and block-at-a-time for body data, which is only counted and searched.
 * Strict where leniency could hide a broken or hostile server (folded headers, bare CR,
 * conflicting Content-Length), lenient where real servers differ harmlessly (bare LF, missing
 * reason phrase). */
#include "http_parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Content-Length values above this are refused: no real body is 4 EiB and the arithmetic on
 * body counters stays far from overflow. */
#define HTTP_PARSE_LENGTH_MAX (UINT64_C(1) << 62)

static const char *const state_names[] = {
#define HTTP_PARSE_STATE_NAME(name, text) text,
    HTTP_PARSE_STATE_LIST(HTTP_PARSE_STATE_NAME)
#undef HTTP_PARSE_STATE_NAME
};

const char *http_parse_state_name(http_parse_state_t state)
{
    if ((unsigned)state >= sizeof state_names / sizeof state_names[0])
        return "?";
    return state_names[state];
}

static void set_state(http_parse_t *p, http_parse_state_t state)
{
    p->state = state;
    p->line_len = 0;
    p->cr = 0;
}

static http_parse_rc_t fail(http_parse_t *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static http_parse_rc_t fail(http_parse_t *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->error, sizeof p->error, fmt, ap);
    va_end(ap);
    set_state(p, HTTP_PARSE_ERROR);
    return HTTP_PARSE_FAILED;
}

int http_parse_init(http_parse_t *p, const char *needle)
{
    size_t n = needle ? strlen(needle) : 0;
    memset(p, 0, offsetof(http_parse_t, line)); /* the line buffer needs no clearing */
    set_state(p, HTTP_PARSE_STATUS_LINE);
    if (n > HTTP_PARSE_NEEDLE_MAX)
        return -1;
    memcpy(p->needle, needle ? needle : "", n);
    p->needle_len = n;
    p->body_found = n == 0;
    /* KMP failure function: next[i] is the length of the longest proper prefix of
     * needle[0..i] that is also its suffix, so a mismatch never re-reads body bytes. */
    for (size_t i = 1, k = 0; i < n; i++) {
        while (k > 0 && p->needle[i] != p->needle[k])
            k = p->next[k - 1];
        if (p->needle[i] == p->needle[k])
            k++;
        p->next[i] = (uint8_t)k;
    }
    return 0;
}

static void scan_body(http_parse_t *p, const uint8_t *d, size_t n)
{
    p->body_bytes += n;
    for (size_t i = 0; i < n && !p->body_found; i++) {
        while (p->match > 0 && (uint8_t)p->needle[p->match] != d[i])
            p->match = p->next[p->match - 1];
        if ((uint8_t)p->needle[p->match] == d[i] && ++p->match == p->needle_len)
            p->body_found = 1;
    }
}

/* Adds one byte to the current line. Returns 1 when the line is complete (line_len excludes
 * the CR LF), 0 for more, -1 after fail(). */
static int line_byte(http_parse_t *p, uint8_t c)
{
    if (c == '\n') {
        p->cr = 0;
        return 1;
    }
    if (p->cr) {
        fail(p, "bare CR in the %s", http_parse_state_name(p->state));
        return -1;
    }
    if (c == '\r') {
        p->cr = 1;
        return 0;
    }
    if (p->line_len >= sizeof p->line) {
        fail(p, "%s line longer than %d bytes", http_parse_state_name(p->state),
             HTTP_PARSE_LINE_MAX);
        return -1;
    }
    p->line[p->line_len++] = (char)c;
    return 0;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Field values and reason phrases: HTAB, SP, visible ASCII and obs-text; no other controls. */
static int is_text(uint8_t c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static http_parse_rc_t parse_status_line(http_parse_t *p)
{
    const char *l = p->line;
    size_t n = p->line_len;
    if (n < 12 || !is_digit(l[5]) || l[6] != '.' || !is_digit(l[7]) || l[8] != ' ')
        return fail(p, "malformed status line");
    if (l[5] != '1')
        return fail(p, "unsupported version HTTP/%c.%c", l[5], l[7]);
    if (!is_digit(l[9]) || !is_digit(l[10]) || !is_digit(l[11]) || (n > 12 && l[12] != ' '))
        return fail(p, "status code is not three digits");
    int status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    if (status < 100 || status > 599)
        return fail(p, "status code %d out of range", status);
    size_t rlen = n > 13 ? n - 13 : 0;
    for (size_t i = 0; i < rlen; i++)
        if (!is_text((uint8_t)l[13 + i]))
            return fail(p, "control character in the reason phrase");
    if (rlen >= sizeof p->reason)
        rlen = sizeof p->reason - 1;
    memcpy(p->reason, l + 13, rlen);
    p->reason[rlen] = '\0';
    p->version_minor = l[7] - '0';
    p->status = status;
    p->saw_length = p->saw_te = p->te_chunked = 0;
    set_state(p, HTTP_PARSE_HEADERS);
    return HTTP_PARSE_MORE;
}

static int name_is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

static const char *trim(const char *s, const char *end, const char **out_end)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *out_end = end;
    return s;
}

/* Content-Length: a comma-separated list of equal decimal values (what a proxy makes of
 * duplicated headers); anything else is refused, as a framing ambiguity could hide a
 * response inside another. */
static http_parse_rc_t parse_length(http_parse_t *p, const char *v, const char *end)
{
    while (v <= end) {
        const char *comma = memchr(v, ',', (size_t)(end - v));
        const char *e = comma ? comma : end;
        const char *te;
        const char *s = trim(v, e, &te);
        if (s == te)
            return fail(p, "invalid Content-Length");
        uint64_t n = 0;
        for (; s < te; s++) {
            if (!is_digit(*s))
                return fail(p, "invalid Content-Length");
            n = n * 10 + (uint64_t)(*s - '0');
            if (n > HTTP_PARSE_LENGTH_MAX)
                return fail(p, "Content-Length too large");
        }
        if (p->saw_length && n != p->content_length)
            return fail(p, "conflicting Content-Length values");
        p->saw_length = 1;
        p->content_length = n;
        if (!comma)
            break;
        v = comma + 1;
    }
    return HTTP_PARSE_MORE;
}

/* Transfer-Encoding: only whether the last coding is chunked matters; without chunked last,
 * the body runs until the connection closes (RFC 9112 section 6.3). */
static void parse_te(http_parse_t *p, const char *v, const char *end)
{
    const char *last = v;
    for (const char *c = v; c < end; c++)
        if (*c == ',')
            last = c + 1;
    const char *te;
    const char *s = trim(last, end, &te);
    p->saw_te = 1;
    p->te_chunked = name_is(s, (size_t)(te - s), "chunked");
}

static http_parse_rc_t headers_end(http_parse_t *p)
{
    if (p->status < 200 && p->status != 101) {
        /* An interim response (100 Continue, 103 Early Hints): the real one follows. */
        set_state(p, HTTP_PARSE_STATUS_LINE);
        return HTTP_PARSE_MORE;
    }
    p->headers_complete = 1;
    if (p->status == 101 || p->status == 204 || p->status == 304) {
        p->framing = HTTP_FRAMING_NONE;
        set_state(p, HTTP_PARSE_DONE);
    } else if (p->saw_te) {
        p->framing = p->te_chunked ? HTTP_FRAMING_CHUNKED : HTTP_FRAMING_CLOSE;
        set_state(p, p->te_chunked ? HTTP_PARSE_CHUNK_SIZE : HTTP_PARSE_BODY_CLOSE);
    } else if (p->saw_length) {
        p->framing = HTTP_FRAMING_LENGTH;
        p->remaining = p->content_length;
        set_state(p, p->remaining ? HTTP_PARSE_BODY_LENGTH : HTTP_PARSE_DONE);
    } else {
        p->framing = HTTP_FRAMING_CLOSE;
        set_state(p, HTTP_PARSE_BODY_CLOSE);
    }
    return p->state == HTTP_PARSE_DONE ? HTTP_PARSE_COMPLETE : HTTP_PARSE_MORE;
}

/* One header or trailer line (trailers are checked the same way, then ignored). */
static http_parse_rc_t parse_field(http_parse_t *p, int trailer)
{
    const char *l = p->line;
    size_t n = p->line_len;
    if (l[0] == ' ' || l[0] == '\t')
        return fail(p, "obsolete line folding in the %s", trailer ? "trailers" : "headers");
    size_t colon = 0;
    while (colon < n && is_tchar(l[colon]))
        colon++;
    if (colon == 0 || colon == n || l[colon] != ':')
        return fail(p, "malformed %s line", trailer ? "trailer" : "header");
    for (size_t i = colon + 1; i < n; i++)
        if (!is_text((uint8_t)l[i]))
            return fail(p, "control character in header %.*s", (int)(colon > 32 ? 32 : colon), l);
    if (trailer)
        return HTTP_PARSE_MORE;
    const char *end;
    const char *v = trim(l + colon + 1, l + n, &end);
    if (name_is(l, colon, "content-length"))
        return parse_length(p, v, end);
    if (name_is(l, colon, "transfer-encoding"))
        parse_te(p, v, end);
    return HTTP_PARSE_MORE;
}

static http_parse_rc_t parse_chunk_size(http_parse_t *p)
{
    const char *l = p->line;
    size_t n = p->line_len, i = 0;
    uint64_t size = 0;
    for (; i < n; i++) {
        char c = l[i];
        int d = is_digit(c)              ? c - '0'
                : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                         : -1;
        if (d < 0)
            break;
        if (size > HTTP_PARSE_LENGTH_MAX >> 4)
            return fail(p, "chunk size too large");
        size = size << 4 | (uint64_t)d;
    }
    if (i == 0)
        return fail(p, "bad chunk size");
    while (i < n && (l[i] == ' ' || l[i] == '\t'))
        i++;
    if (i < n && l[i] != ';')
        return fail(p, "bad chunk size");
    for (; i < n; i++)
        if (!is_text((uint8_t)l[i]))
            return fail(p, "control character in a chunk extension");
    if (size == 0) {
        set_state(p, HTTP_PARSE_TRAILERS);
    } else {
        p->remaining = size;
        set_state(p, HTTP_PARSE_CHUNK_DATA);
    }
    return HTTP_PARSE_MORE;
}

/* Consumes head bytes (status line, headers, trailers, chunk size lines) one at a time. */
static http_parse_rc_t head_byte(http_parse_t *p, uint8_t c)
{
    http_parse_state_t s = p->state;
    if (s != HTTP_PARSE_CHUNK_SIZE && ++p->head_bytes > HTTP_PARSE_HEAD_MAX)
        return fail(p, "header section larger than %d bytes", HTTP_PARSE_HEAD_MAX);
    /* Checking the "HTTP/" prefix byte by byte refuses a non-HTTP service at its first byte
     * instead of waiting for a line end it may never send. */
    if (s == HTTP_PARSE_STATUS_LINE && p->line_len < 5 && c != "HTTP/"[p->line_len])
        return fail(p, "not an HTTP response");
    int r = line_byte(p, c);
    if (r < 0)
        return HTTP_PARSE_FAILED;
    if (r == 0)
        return HTTP_PARSE_MORE;
    http_parse_rc_t rc;
    switch (s) {
    case HTTP_PARSE_STATUS_LINE:
        return parse_status_line(p);
    case HTTP_PARSE_HEADERS:
        if (p->line_len == 0)
            return headers_end(p);
        rc = parse_field(p, 0);
        p->line_len = 0;
        return rc;
    case HTTP_PARSE_TRAILERS:
        if (p->line_len == 0) {
            set_state(p, HTTP_PARSE_DONE);
            return HTTP_PARSE_COMPLETE;
        }
        rc = parse_field(p, 1);
        p->line_len = 0;
        return rc;
    case HTTP_PARSE_CHUNK_SIZE:
        return parse_chunk_size(p);
    default:
        return fail(p, "internal: head byte in state %s", http_parse_state_name(s));
    }
}

http_parse_rc_t http_parse_feed(http_parse_t *p, const void *data, size_t len, size_t *used)
{
    const uint8_t *d = data;
    size_t i = 0;
    while (i < len && p->state != HTTP_PARSE_DONE && p->state != HTTP_PARSE_ERROR) {
        size_t n;
        switch (p->state) {
        case HTTP_PARSE_BODY_LENGTH:
        case HTTP_PARSE_CHUNK_DATA:
            n = len - i < p->remaining ? len - i : (size_t)p->remaining;
            scan_body(p, d + i, n);
            i += n;
            p->remaining -= n;
            if (p->remaining == 0)
                set_state(p, p->state == HTTP_PARSE_BODY_LENGTH ? HTTP_PARSE_DONE
                                                                : HTTP_PARSE_CHUNK_END);
            break;
        case HTTP_PARSE_BODY_CLOSE:
            scan_body(p, d + i, len - i);
            i = len;
            break;
        case HTTP_PARSE_CHUNK_END:
            /* Chunk data is followed by exactly CR LF (or a bare LF). */
            if (d[i] == '\r' && !p->cr) {
                p->cr = 1;
            } else if (d[i] == '\n') {
                set_state(p, HTTP_PARSE_CHUNK_SIZE);
            } else {
                fail(p, "chunk data not followed by CRLF");
                break;
            }
            i++;
            break;
        default:
            head_byte(p, d[i]);
            i++;
            break;
        }
    }
    if (used)
        *used = i;
    if (p->state == HTTP_PARSE_DONE)
        return HTTP_PARSE_COMPLETE;
    return p->state == HTTP_PARSE_ERROR ? HTTP_PARSE_FAILED : HTTP_PARSE_MORE;
}

http_parse_rc_t http_parse_eof(http_parse_t *p)
{
    switch (p->state) {
    case HTTP_PARSE_DONE:
        return HTTP_PARSE_COMPLETE;
    case HTTP_PARSE_ERROR:
        return HTTP_PARSE_FAILED;
    case HTTP_PARSE_BODY_CLOSE:
        set_state(p, HTTP_PARSE_DONE);
        return HTTP_PARSE_COMPLETE;
    case HTTP_PARSE_STATUS_LINE:
        if (p->head_bytes == 0)
            return fail(p, "connection closed without a response");
        if (p->line_len == 0 && !p->cr)
            return fail(p, "connection closed after an interim %d response", p->status);
        return fail(p, "connection closed inside the status line");
    case HTTP_PARSE_HEADERS:
        return fail(p, "connection closed inside the headers");
    case HTTP_PARSE_BODY_LENGTH:
        return fail(p, "connection closed after %llu of %llu body bytes",
                    (unsigned long long)p->body_bytes, (unsigned long long)p->content_length);
    default:
        return fail(p, "connection closed inside the chunked body (%s)",
                    http_parse_state_name(p->state));
    }
}
