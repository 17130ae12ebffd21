/* json: JSON output with a fixed nesting stack; one flag per level says whether the next
 * element needs a comma. */
#include "json.h"

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>

#define DEPTH_MAX 32

struct json {
    FILE *out;
    int depth;
    int need_comma[DEPTH_MAX];
    char open[DEPTH_MAX]; /* '[' or '{' */
    int after_key;        /* a key was written: the next value follows it without a comma */
    int failed;
};

json_t *json_new(FILE *out)
{
    json_t *json = calloc(1, sizeof *json);
    if (json)
        json->out = out;
    return json;
}

void json_destroy(json_t **json)
{
    if (!json || !*json)
        return;
    free(*json);
    *json = NULL;
}

static void put(json_t *json, const char *s)
{
    if (fputs(s, json->out) == EOF)
        json->failed = 1;
}

/* Called before every value and key: writes the comma that separates it from the previous one. */
static void separate(json_t *json)
{
    if (json->after_key) {
        json->after_key = 0;
        return;
    }
    if (json->depth > 0) {
        if (json->need_comma[json->depth - 1])
            put(json, ",");
        json->need_comma[json->depth - 1] = 1;
    }
}

static void open_level(json_t *json, char c)
{
    assert(json->depth < DEPTH_MAX);
    if (json->depth >= DEPTH_MAX) {
        json->failed = 1;
        return;
    }
    separate(json);
    put(json, c == '[' ? "[" : "{");
    json->open[json->depth] = c;
    json->need_comma[json->depth] = 0;
    json->depth++;
}

static void close_level(json_t *json, char c)
{
    assert(json->depth > 0 && json->open[json->depth - 1] == c && !json->after_key);
    json->depth--;
    put(json, c == '[' ? "]" : "}");
    if (json->depth == 0)
        put(json, "\n");
}

void json_array_begin(json_t *json)
{
    open_level(json, '[');
}

void json_array_end(json_t *json)
{
    close_level(json, '[');
}

void json_object_begin(json_t *json)
{
    open_level(json, '{');
}

void json_object_end(json_t *json)
{
    close_level(json, '{');
}

void json_key(json_t *json, const char *key)
{
    assert(json->depth > 0 && json->open[json->depth - 1] == '{' && !json->after_key);
    separate(json);
    if (json_write_string(json->out, key) < 0)
        json->failed = 1;
    put(json, ":");
    json->after_key = 1;
}

void json_string(json_t *json, const char *s)
{
    separate(json);
    if (!s)
        put(json, "null");
    else if (json_write_string(json->out, s) < 0)
        json->failed = 1;
}

void json_raw_number(json_t *json, const char *number)
{
    separate(json);
    put(json, number ? number : "null");
}

void json_raw(json_t *json, const char *value)
{
    json_raw_number(json, value);
}

void json_int(json_t *json, int64_t v)
{
    separate(json);
    if (fprintf(json->out, "%" PRId64, v) < 0)
        json->failed = 1;
}

void json_bool(json_t *json, int v)
{
    separate(json);
    put(json, v ? "true" : "false");
}

void json_null(json_t *json)
{
    separate(json);
    put(json, "null");
}

int json_error(const json_t *json)
{
    return json->failed ? -1 : 0;
}

/* Length of the well-formed UTF-8 sequence at s (2..4), or 0 if s does not start one.
 * Overlong forms, surrogates and code points above U+10FFFF are not well-formed. */
static int utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];
    int n;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    for (int i = 1; i < n; i++) {
        /* A NUL terminator is not a continuation byte, so this never reads past the end. */
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

int json_write_string(FILE *out, const char *s)
{
    int rc = putc('"', out) == EOF ? -1 : 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned char c = *p;
        int n = 1;
        if (c == '"')
            rc |= fputs("\\\"", out) == EOF ? -1 : 0;
        else if (c == '\\')
            rc |= fputs("\\\\", out) == EOF ? -1 : 0;
        else if (c == '\n')
            rc |= fputs("\\n", out) == EOF ? -1 : 0;
        else if (c == '\r')
            rc |= fputs("\\r", out) == EOF ? -1 : 0;
        else if (c == '\t')
            rc |= fputs("\\t", out) == EOF ? -1 : 0;
        else if (c < 0x20 || c == 0x7f)
            rc |= fprintf(out, "\\u%04x", c) < 0 ? -1 : 0;
        else if (c < 0x80)
            rc |= putc(c, out) == EOF ? -1 : 0;
        else if ((n = utf8_len(p)) > 0)
            rc |= fwrite(p, 1, (size_t)n, out) != (size_t)n ? -1 : 0;
        else {
            /* Not UTF-8: replace the byte rather than emit a document parsers refuse. */
            rc |= fputs("\\ufffd", out) == EOF ? -1 : 0;
            n = 1;
        }
        p += n;
    }
    rc |= putc('"', out) == EOF ? -1 : 0;
    return rc;
}
