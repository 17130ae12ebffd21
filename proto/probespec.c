/* probespec: strict parsing of probe specs; everything not explicitly valid is refused. */
#include "probespec.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {
#define PX_KIND_NAME(name, text) text,
    PX_PROBE_KIND_LIST(PX_KIND_NAME)
#undef PX_KIND_NAME
};

static const char *const known_qtypes[] = {"A",   "AAAA", "NS",  "SOA", "MX",     "TXT", "CNAME",
                                           "PTR", "SRV",  "CAA", "DS",  "DNSKEY", "ANY", NULL};

#define SPEC_HELP                                                                                  \
    "expected icmp, tcp:PORT, http:URL, https:URL, dns:QNAME[:QTYPE], smtp[:PORT] or trace"

const char *probespec_kind_name(probe_kind_t kind)
{
    if ((int)kind < 0 || kind >= PROBE_KIND_COUNT)
        return NULL;
    return kind_names[kind];
}

int probespec_kind_from_name(const char *name)
{
    for (int i = 0; i < PROBE_KIND_COUNT; i++)
        if (strcmp(kind_names[i], name) == 0)
            return i;
    return -1;
}

/* Parses a decimal port 1..65535 that makes up the whole of s. */
static int parse_port(const char *s, uint16_t *out)
{
    if (!*s || strlen(s) > 5)
        return -1;
    unsigned long v = 0;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return -1;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

/* A DNS name: labels of 1..63 letters, digits, '-' or '_', 253 bytes at most, optional final dot.
 */
static int dns_name_valid(const char *s)
{
    size_t len = strlen(s);
    if (len == 1 && s[0] == '.')
        return 1;
    if (len == 0 || len > 254 || (len == 254 && s[253] != '.'))
        return 0;
    size_t label = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '.') {
            if (label == 0)
                return 0;
            label = 0;
        } else if (isalnum((unsigned char)*p) || *p == '-' || *p == '_') {
            if (++label > 63)
                return 0;
        } else {
            return 0;
        }
    }
    return 1;
}

static int qtype_valid(const char *s)
{
    for (const char *const *q = known_qtypes; *q; q++)
        if (strcmp(*q, s) == 0)
            return 1;
    /* RFC 3597 generic form TYPEnnn, nnn in 1..65535. */
    uint16_t n;
    return strncmp(s, "TYPE", 4) == 0 && parse_port(s + 4, &n) == 0;
}

static int parse_dns(const char *arg, probespec_t *out, err_t *err)
{
    char buf[PROBESPEC_MAX];
    snprintf(buf, sizeof buf, "%s", arg);
    char *colon = strchr(buf, ':');
    const char *qtype = "A";
    if (colon) {
        *colon = '\0';
        qtype = colon + 1;
    }
    if (!dns_name_valid(buf)) {
        err_set(err, "bad DNS name '%s' in dns spec", buf);
        return -1;
    }
    char upper[sizeof out->qtype];
    size_t n = strlen(qtype);
    if (n == 0 || n >= sizeof upper) {
        err_set(err, "bad query type '%s' in dns spec", qtype);
        return -1;
    }
    for (size_t i = 0; i <= n; i++)
        upper[i] = (char)toupper((unsigned char)qtype[i]);
    if (!qtype_valid(upper)) {
        err_set(err,
                "unknown query type '%s' in dns spec (A, AAAA, NS, SOA, MX, TXT, CNAME, "
                "PTR, SRV, CAA, DS, DNSKEY, ANY or TYPEnnn)",
                qtype);
        return -1;
    }
    /* dns_name_valid() bounds the name to 254 bytes, which fits host. */
    memcpy(out->host, buf, strlen(buf) + 1);
    memcpy(out->qtype, upper, n + 1);
    return 0;
}

/* URL: scheme://host[:port][/path]; host a DNS name, an IPv4 literal or [IPv6]. */
static int parse_url(const char *url, probespec_t *out, err_t *err)
{
    const char *scheme = out->kind == PROBE_KIND_HTTPS ? "https://" : "http://";
    size_t sl = strlen(scheme);
    if (strncmp(url, scheme, sl) != 0) {
        err_set(err, "URL '%s' must start with %s", url, scheme);
        return -1;
    }
    const char *h = url + sl;
    const char *path = strchr(h, '/');
    size_t hostport_len = path ? (size_t)(path - h) : strlen(h);
    char hostport[PROBESPEC_HOST_MAX + 8];
    if (hostport_len == 0 || hostport_len >= sizeof hostport) {
        err_set(err, "URL '%s' has no valid host", url);
        return -1;
    }
    memcpy(hostport, h, hostport_len);
    hostport[hostport_len] = '\0';
    out->port = out->kind == PROBE_KIND_HTTPS ? 443 : 80;
    char *host = hostport;
    char *port = NULL;
    if (host[0] == '[') {
        char *close = strchr(host, ']');
        if (!close || close == host + 1) {
            err_set(err, "URL '%s' has a malformed IPv6 host", url);
            return -1;
        }
        *close = '\0';
        host++;
        /* Only a real IPv6 literal may stand in brackets: anything else ("[.]", "[1.2.3.4]")
         * would be formatted without brackets into a spec that no longer parses. */
        unsigned char addr[16];
        if (inet_pton(AF_INET6, host, addr) != 1) {
            err_set(err, "URL '%s' has a malformed IPv6 host", url);
            return -1;
        }
        if (close[1] == ':')
            port = close + 2;
        else if (close[1] != '\0') {
            err_set(err, "URL '%s' has junk after the IPv6 host", url);
            return -1;
        }
    } else {
        port = strchr(host, ':');
        if (port)
            *port++ = '\0';
        if (!dns_name_valid(host) || strcmp(host, ".") == 0) {
            err_set(err, "URL '%s' has an invalid host '%s'", url, host);
            return -1;
        }
    }
    if (port && parse_port(port, &out->port) < 0) {
        err_set(err, "URL '%s' has an invalid port '%s'", url, port);
        return -1;
    }
    const char *p = path ? path : "/";
    for (const char *c = p; *c; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f || *c == '#') {
            err_set(err,
                    "URL '%s' has a character not allowed in a path (space, control, "
                    "non-ASCII or '#')",
                    url);
            return -1;
        }
    size_t hlen = strlen(host);
    if (hlen >= sizeof out->host) {
        err_set(err, "URL '%s' has a host longer than %zu bytes", url, sizeof out->host - 1);
        return -1;
    }
    memcpy(out->host, host, hlen + 1);
    /* The whole spec is shorter than PROBESPEC_MAX, so the path fits. */
    memcpy(out->path, p, strlen(p) + 1);
    return 0;
}

/* "expect=NNN" and "body=TEXT" options, '|'-separated, each at most once. */
static int parse_http_options(char *opts, probespec_t *out, err_t *err)
{
    char *save = NULL;
    for (char *o = strtok_r(opts, "|", &save); o; o = strtok_r(NULL, "|", &save)) {
        if (strncmp(o, "expect=", 7) == 0 && !out->expect_status) {
            uint16_t v;
            if (parse_port(o + 7, &v) < 0 || v < 100 || v > 599) {
                err_set(err, "bad option '%s': expect= takes an HTTP status from 100 to 599", o);
                return -1;
            }
            out->expect_status = v;
        } else if (strncmp(o, "body=", 5) == 0 && !out->expect_body[0]) {
            const char *b = o + 5;
            size_t n = strlen(b);
            if (n == 0 || n >= sizeof out->expect_body) {
                err_set(err, "bad option 'body=': 1 to %zu characters",
                        sizeof out->expect_body - 1);
                return -1;
            }
            for (const char *c = b; *c; c++)
                if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f) {
                    err_set(err, "bad option 'body=': printable ASCII only");
                    return -1;
                }
            memcpy(out->expect_body, b, n + 1);
        } else {
            err_set(err, "bad option '%s': expected expect=STATUS or body=TEXT, each once", o);
            return -1;
        }
    }
    if (!out->expect_status && !out->expect_body[0]) {
        err_set(err, "empty option after '|'");
        return -1;
    }
    return 0;
}

int probespec_parse(const char *text, probespec_t *out, err_t *err)
{
    memset(out, 0, sizeof *out);
    if (!text || !*text) {
        err_set(err, "empty probe spec: " SPEC_HELP);
        return -1;
    }
    if (strlen(text) >= PROBESPEC_MAX) {
        err_set(err, "probe spec longer than %d bytes", PROBESPEC_MAX - 1);
        return -1;
    }
    const char *colon = strchr(text, ':');
    size_t nlen = colon ? (size_t)(colon - text) : strlen(text);
    char name[16];
    if (nlen >= sizeof name) {
        err_set(err, "unknown probe kind in '%s': " SPEC_HELP, text);
        return -1;
    }
    memcpy(name, text, nlen);
    name[nlen] = '\0';
    int kind = probespec_kind_from_name(name);
    if (kind < 0) {
        err_set(err, "unknown probe kind '%s': " SPEC_HELP, name);
        return -1;
    }
    out->kind = (probe_kind_t)kind;
    const char *arg = colon ? colon + 1 : NULL;
    switch (out->kind) {
    case PROBE_KIND_ICMP:
    case PROBE_KIND_TRACE:
        if (arg) {
            err_set(err, "probe kind '%s' takes no argument (got '%s')", name, text);
            return -1;
        }
        return 0;
    case PROBE_KIND_TCP:
        if (!arg || parse_port(arg, &out->port) < 0) {
            err_set(err, "bad tcp spec '%s': expected tcp:PORT with PORT from 1 to 65535", text);
            return -1;
        }
        return 0;
    case PROBE_KIND_SMTP:
        out->port = 25;
        if (arg && parse_port(arg, &out->port) < 0) {
            err_set(err, "bad smtp spec '%s': expected smtp or smtp:PORT (1 to 65535)", text);
            return -1;
        }
        return 0;
    case PROBE_KIND_HTTP:
    case PROBE_KIND_HTTPS: {
        if (!arg) {
            err_set(err, "probe kind '%s' needs a URL: %s:%s://HOST[:PORT]/PATH", name, name, name);
            return -1;
        }
        char url[PROBESPEC_MAX];
        snprintf(url, sizeof url, "%s", arg);
        char *opts = strchr(url, '|');
        if (opts)
            *opts++ = '\0';
        if (parse_url(url, out, err) < 0 || (opts && parse_http_options(opts, out, err) < 0))
            return -1;
        /* The canonical form spells out the port, so it can be longer than the text; it must
         * still fit PROBESPEC_MAX or the spec could never be stored or parsed again. */
        char canon[PROBESPEC_MAX];
        if (probespec_format(out, canon, sizeof canon) < 0) {
            err_set(err, "probe spec longer than %d bytes once the port is spelled out",
                    PROBESPEC_MAX - 1);
            return -1;
        }
        return 0;
    }
    case PROBE_KIND_DNS:
        if (!arg) {
            err_set(err, "probe kind 'dns' needs a query name: dns:QNAME[:QTYPE]");
            return -1;
        }
        return parse_dns(arg, out, err);
    case PROBE_KIND_COUNT:
        break;
    }
    err_set(err, "unknown probe kind '%s'", name);
    return -1;
}

int probespec_format(const probespec_t *spec, char *buf, size_t len)
{
    int n = -1;
    const char *kind = probespec_kind_name(spec->kind);
    if (!kind)
        return -1;
    switch (spec->kind) {
    case PROBE_KIND_ICMP:
    case PROBE_KIND_TRACE:
        n = snprintf(buf, len, "%s", kind);
        break;
    case PROBE_KIND_TCP:
    case PROBE_KIND_SMTP:
        n = snprintf(buf, len, "%s:%u", kind, (unsigned)spec->port);
        break;
    case PROBE_KIND_HTTP:
    case PROBE_KIND_HTTPS: {
        int v6 = strchr(spec->host, ':') != NULL;
        char expect[16] = "";
        if (spec->expect_status)
            snprintf(expect, sizeof expect, "|expect=%u", (unsigned)spec->expect_status);
        n = snprintf(buf, len, "%s:%s://%s%s%s:%u%s%s%s%s", kind, kind, v6 ? "[" : "", spec->host,
                     v6 ? "]" : "", (unsigned)spec->port, spec->path, expect,
                     spec->expect_body[0] ? "|body=" : "", spec->expect_body);
        break;
    }
    case PROBE_KIND_DNS:
        n = snprintf(buf, len, "dns:%s:%s", spec->host, spec->qtype);
        break;
    case PROBE_KIND_COUNT:
        return -1;
    }
    if (n < 0 || (size_t)n >= len)
        return -1;
    return n;
}
