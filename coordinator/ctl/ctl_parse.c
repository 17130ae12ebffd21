/* ctl_parse: argument validators; everything not explicitly valid is refused. */
#include "ctl_parse.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *const roles[] = {"web", "mail", "dns", "router", "host", NULL};

int ctl_parse_name(const char *label, const char *s, err_t *err)
{
    /* isalnum() is locale-dependent; parallaxctl never calls setlocale, so it is ASCII. */
    size_t len = strlen(s);
    int ok = len >= 1 && len <= 63 && isalnum((unsigned char)s[0]);
    for (size_t i = 1; ok && i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        ok = isalnum(c) || c == '.' || c == '_' || c == '-';
    }
    if (!ok) {
        err_set(err,
                "bad %s '%s': expected 1 to 63 letters, digits, '.', '_' or '-', starting "
                "with a letter or digit",
                label, s);
        return -1;
    }
    return 0;
}

int ctl_parse_country(const char *label, const char *s, char out[3], err_t *err)
{
    if (strlen(s) != 2 || !isalpha((unsigned char)s[0]) || !isalpha((unsigned char)s[1])) {
        err_set(err, "bad %s '%s': expected a two-letter country code such as DE", label, s);
        return -1;
    }
    out[0] = (char)toupper((unsigned char)s[0]);
    out[1] = (char)toupper((unsigned char)s[1]);
    out[2] = '\0';
    return 0;
}

int ctl_parse_uint(const char *label, const char *s, uint64_t min, uint64_t max, uint64_t *out,
                   err_t *err)
{
    uint64_t v = 0;
    int ok = *s != '\0';
    for (const char *p = s; ok && *p; p++) {
        unsigned d = (unsigned)(*p - '0');
        /* Stop before the value can wrap: anything above max is refused anyway. */
        ok = isdigit((unsigned char)*p) && v <= (UINT64_MAX - d) / 10;
        if (ok)
            v = v * 10 + d;
        ok = ok && v <= max;
    }
    if (!ok || v < min) {
        err_set(err, "bad %s '%s': expected a whole number from %" PRIu64 " to %" PRIu64, label, s,
                min, max);
        return -1;
    }
    *out = v;
    return 0;
}

/* A DNS host name: labels of 1..63 letters, digits or '-', not starting or ending with '-',
 * at most 253 bytes. */
static int hostname_valid(const char *s, size_t len)
{
    if (len == 0 || len > 253)
        return 0;
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-')
                return 0;
            label = 0;
        } else if (isalnum((unsigned char)c) || (c == '-' && label > 0)) {
            if (++label > 63)
                return 0;
        } else {
            return 0;
        }
    }
    return label > 0 && s[len - 1] != '-';
}

int ctl_parse_endpoint(const char *label, const char *s, err_t *err)
{
    static const char scheme[] = "tcp://";
    const char *why = "expected tcp://HOST:PORT";
    const char *host = s + sizeof scheme - 1;
    const char *colon = strrchr(s, ':');
    if (strncmp(s, scheme, sizeof scheme - 1) != 0 || !colon || colon < host)
        goto bad;
    uint64_t port;
    if (ctl_parse_uint(label, colon + 1, 1, 65535, &port, NULL) < 0) {
        why = "expected tcp://HOST:PORT with PORT from 1 to 65535";
        goto bad;
    }
    size_t hlen = (size_t)(colon - host);
    char buf[256];
    if (hlen >= sizeof buf)
        goto bad_host;
    memcpy(buf, host, hlen);
    buf[hlen] = '\0';
    unsigned char raw[16];
    if (hlen > 2 && buf[0] == '[' && buf[hlen - 1] == ']') {
        buf[hlen - 1] = '\0';
        if (inet_pton(AF_INET6, buf + 1, raw) == 1)
            return 0;
        goto bad_host;
    }
    if (inet_pton(AF_INET, buf, raw) == 1 || hostname_valid(buf, hlen))
        return 0;
bad_host:
    why = "HOST must be a DNS name, an IPv4 address or an IPv6 address in brackets";
bad:
    err_set(err, "bad %s '%s': %s", label, s, why);
    return -1;
}

int ctl_parse_address(const char *label, const char *s, char out[CTL_PARSE_ADDR_MAX], err_t *err)
{
    unsigned char raw[16];
    int af = strchr(s, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(af, s, raw) != 1 || !inet_ntop(af, raw, out, CTL_PARSE_ADDR_MAX)) {
        err_set(err, "bad %s '%s': not an IPv4 or IPv6 address", label, s);
        return -1;
    }
    return 0;
}

int ctl_parse_role(const char *label, const char *s, err_t *err)
{
    for (const char *const *r = roles; *r; r++)
        if (strcmp(*r, s) == 0)
            return 0;
    err_set(err, "bad %s '%s': expected web, mail, dns, router or host", label, s);
    return -1;
}

int ctl_parse_abs_path(const char *label, const char *s, err_t *err)
{
    int ok = s[0] == '/';
    for (const char *p = s; ok && *p; p++)
        ok = !iscntrl((unsigned char)*p);
    if (!ok) {
        err_set(err, "bad %s '%s': expected an absolute path", label, s);
        return -1;
    }
    return 0;
}

/* The longest duration anyone means: ten years. */
#define DURATION_MAX (3650ull * 86400ull)

int ctl_parse_duration(const char *label, const char *s, uint64_t *seconds, err_t *err)
{
    uint64_t total = 0;
    const char *p = s;
    int ok = *p != '\0';
    while (ok && *p) {
        uint64_t n = 0;
        const char *digits = p;
        /* Stop before a number can wrap: anything this large is refused below anyway. */
        while (isdigit((unsigned char)*p) && n <= DURATION_MAX)
            n = n * 10 + (uint64_t)(*p++ - '0');
        uint64_t unit = 0;
        switch (*p) {
        case 's':
            unit = 1;
            break;
        case 'm':
            unit = 60;
            break;
        case 'h':
            unit = 3600;
            break;
        case 'd':
            unit = 86400;
            break;
        case 'w':
            unit = 7 * 86400;
            break;
        }
        ok = p > digits && unit != 0 && n <= DURATION_MAX;
        if (ok) {
            total += n * unit;
            ok = total <= DURATION_MAX;
            p++;
        }
    }
    if (!ok || total == 0) {
        err_set(err,
                "bad %s '%s': expected a duration such as 30m, 2h, 7d or 1h30m (units s, m, "
                "h, d, w; at most 3650d)",
                label, s);
        return -1;
    }
    *seconds = total;
    return 0;
}

int ctl_parse_id(const char *label, const char *s, uint64_t *id, err_t *err)
{
    if (ctl_parse_uint(label, s, 1, INT64_MAX, id, NULL) < 0) {
        err_set(err, "bad %s '%s': expected an outage number such as 12", label, s);
        return -1;
    }
    return 0;
}

int ctl_parse_line(const char *label, const char *s, size_t max, err_t *err)
{
    size_t len = strlen(s);
    int printable = 1;
    for (const char *p = s; printable && *p; p++)
        printable = !iscntrl((unsigned char)*p);
    if (!printable) {
        /* Not echoed: the message must stay one line. */
        err_set(err, "bad %s: expected 1 to %zu printable characters on one line", label, max);
        return -1;
    }
    if (len == 0 || len > max) {
        err_set(err, "bad %s '%s': expected 1 to %zu printable characters", label, s, max);
        return -1;
    }
    return 0;
}
