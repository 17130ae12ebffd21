/* ctl_discover: discover --zone (see ctl_discover.h). */
#include "ctl_discover.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldns/ldns.h>

#include "ctl_args.h"
#include "ctl_db.h"
#include "ctl_request.h"
#include "probespec.h"

/* Bounds of the lookups: each query waits LOOKUP_TIMEOUT_S seconds per try, LOOKUP_TRIES
 * tries; no query starts after LOOKUPS_DEADLINE_S seconds; NAMES_MAX NS and MX names each. */
#define LOOKUP_TIMEOUT_S 2
#define LOOKUP_TRIES 2
#define LOOKUPS_DEADLINE_S 30
#define NAMES_MAX 16
/* Traces older than this are not read: the paths into a zone change. */
#define TRACES_MAX_AGE "7 days"

/* ---- the pure parts ---- */

/* The first role in roles, in the order of the CTL_DISCOVER_* bits. */
static unsigned first_role(unsigned roles)
{
    return roles & -roles;
}

static const char *role_name(unsigned roles)
{
    switch (first_role(roles)) {
    case CTL_DISCOVER_DNS:
        return "dns";
    case CTL_DISCOVER_MAIL:
        return "mail";
    case CTL_DISCOVER_WEB:
        return "web";
    case CTL_DISCOVER_ROUTER:
        return "router";
    }
    return "host";
}

/* Whether name a is a better web name than b: www.* first, then byte order. */
static int better_web_name(const char *a, const char *b)
{
    int wa = strncmp(a, "www.", 4) == 0, wb = strncmp(b, "www.", 4) == 0;
    if (wa != wb)
        return wa;
    return strcmp(a, b) < 0;
}

int ctl_discover_add(ctl_discover_set_t *set, const char *dns_name, const char *address,
                     unsigned role, err_t *err)
{
    char canon[CTL_PARSE_ADDR_MAX];
    if (ctl_parse_address(dns_name, address, canon, err) < 0)
        return -1;
    if (strlen(dns_name) >= CTL_DISCOVER_DNAME_MAX) {
        err_set(err, "DNS name too long: %.64s...", dns_name);
        return -1;
    }
    ctl_discover_host_t *h = NULL;
    for (size_t i = 0; i < set->n && !h; i++)
        if (strcmp(set->hosts[i].address, canon) == 0)
            h = &set->hosts[i];
    if (!h) {
        if (set->n == CTL_DISCOVER_HOSTS_MAX) {
            err_set(err, "more than %d hosts found; %s (%s) left out", CTL_DISCOVER_HOSTS_MAX,
                    dns_name, canon);
            return -1;
        }
        h = &set->hosts[set->n++];
        memset(h, 0, sizeof *h);
        snprintf(h->address, sizeof h->address, "%s", canon);
    }
    unsigned before = first_role(h->roles);
    h->roles |= role;
    if (!before || role < before || (role == before && strcmp(dns_name, h->dns_name) < 0))
        snprintf(h->dns_name, sizeof h->dns_name, "%s", dns_name);
    if (role == CTL_DISCOVER_WEB && (!h->web_name[0] || better_web_name(dns_name, h->web_name)))
        snprintf(h->web_name, sizeof h->web_name, "%s", dns_name);
    return 0;
}

/* FNV-1a, 32 bits: short, stable across runs and machines. */
static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

void ctl_discover_name(const char *text, char out[CTL_DISCOVER_NAME_MAX])
{
    char clean[CTL_DISCOVER_DNAME_MAX + 64];
    size_t n = 0;
    for (const char *p = text; *p && n + 1 < sizeof clean; p++) {
        unsigned char c = (unsigned char)tolower((unsigned char)*p);
        if (n == 0 && !isalnum(c))
            continue;
        clean[n++] = isalnum(c) || c == '.' || c == '_' || c == '-' ? (char)c : '-';
    }
    clean[n] = '\0';
    if (n == 0)
        snprintf(clean, sizeof clean, "host");
    size_t len = strlen(clean);
    if (len < CTL_DISCOVER_NAME_MAX) {
        memcpy(out, clean, len + 1);
        return;
    }
    snprintf(out, CTL_DISCOVER_NAME_MAX, "%.54s-%08x", clean, (unsigned)fnv1a(clean));
}

/* Parses an address into family and bytes. Returns 0 or -1. */
static int addr_bytes(const char *text, int *family, unsigned char bytes[16])
{
    if (inet_pton(AF_INET, text, bytes) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, text, bytes) == 1) {
        *family = AF_INET6;
        return 0;
    }
    return -1;
}

int ctl_discover_cover(const char *address, char *out, size_t size)
{
    int family;
    unsigned char b[16] = {0};
    if (addr_bytes(address, &family, b) < 0)
        return -1;
    int len = family == AF_INET ? 24 : 48;
    memset(b + len / 8, 0, (family == AF_INET ? 4 : 16) - len / 8);
    char text[INET6_ADDRSTRLEN];
    if (!inet_ntop(family, b, text, sizeof text))
        return -1;
    int w = snprintf(out, size, "%s/%d", text, len);
    return w > 0 && (size_t)w < size ? 0 : -1;
}

int ctl_discover_in_net(const char *network, const char *address)
{
    char base[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(network, '/');
    size_t blen = slash ? (size_t)(slash - network) : strlen(network);
    if (blen >= sizeof base)
        return -1;
    memcpy(base, network, blen);
    base[blen] = '\0';
    int nf, af;
    unsigned char nb[16] = {0}, ab[16] = {0};
    if (addr_bytes(base, &nf, nb) < 0 || addr_bytes(address, &af, ab) < 0)
        return -1;
    int max = nf == AF_INET ? 32 : 128;
    char *end = NULL;
    long len = slash ? strtol(slash + 1, &end, 10) : max;
    if (slash && (end == slash + 1 || *end || len < 0 || len > max))
        return -1;
    if (nf != af)
        return 0;
    for (long bit = 0; bit < len; bit++) {
        unsigned mask = 0x80u >> (bit % 8);
        if ((nb[bit / 8] & mask) != (ab[bit / 8] & mask))
            return 0;
    }
    return 1;
}

/* An entry hop and the agents whose traces enter there. */
typedef struct entry {
    const char *address;
    const char *agents[CTL_DISCOVER_HOSTS_MAX];
    size_t nagents;
} entry_t;

/* The entry hop of the trace hops[0..n) (same agent and dest), or NULL. -1 on a bad net. */
static int trace_entry(const ctl_discover_hop_t *hops, size_t n, const char *const *nets,
                       size_t nnets, const char **entry)
{
    *entry = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(hops[i].address, hops[i].dest) == 0) {
            *entry = i > 0 ? hops[i - 1].address : NULL;
            return 0;
        }
        for (size_t k = 0; k < nnets; k++) {
            int in = ctl_discover_in_net(nets[k], hops[i].address);
            if (in < 0)
                return -1;
            if (in) {
                *entry = hops[i].address;
                return 0;
            }
        }
    }
    return 0;
}

static int is_server(const ctl_discover_set_t *set, const char *address)
{
    char canon[CTL_PARSE_ADDR_MAX];
    if (ctl_parse_address("hop", address, canon, NULL) < 0)
        return 0;
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->hosts[i].address, canon) == 0)
            return 1;
    return 0;
}

int ctl_discover_borders(const ctl_discover_hop_t *hops, size_t nhops, const char *const *nets,
                         size_t nnets, ctl_discover_set_t *set, size_t *found, err_t *err)
{
    *found = 0;
    entry_t *entries = calloc(CTL_DISCOVER_HOSTS_MAX, sizeof *entries);
    if (!entries) {
        err_set(err, "out of memory");
        return -1;
    }
    size_t nentries = 0;
    int rc = 0;
    for (size_t i = 0, e; rc == 0 && i < nhops; i = e) {
        e = i + 1;
        while (e < nhops && strcmp(hops[e].agent, hops[i].agent) == 0 &&
               strcmp(hops[e].dest, hops[i].dest) == 0)
            e++;
        const char *at;
        if (trace_entry(hops + i, e - i, nets, nnets, &at) < 0) {
            err_set(err, "unreadable network among the zone's networks");
            rc = -1;
            break;
        }
        if (!at)
            continue;
        entry_t *en = NULL;
        for (size_t k = 0; k < nentries && !en; k++)
            if (strcmp(entries[k].address, at) == 0)
                en = &entries[k];
        if (!en && nentries < CTL_DISCOVER_HOSTS_MAX) {
            en = &entries[nentries++];
            en->address = at;
        }
        if (!en)
            continue;
        size_t a = 0;
        while (a < en->nagents && strcmp(en->agents[a], hops[i].agent) != 0)
            a++;
        if (a == en->nagents && a < CTL_DISCOVER_HOSTS_MAX)
            en->agents[en->nagents++] = hops[i].agent;
    }
    for (size_t k = 0; rc == 0 && k < nentries; k++) {
        if (entries[k].nagents < 2 || is_server(set, entries[k].address))
            continue;
        char name[CTL_DISCOVER_DNAME_MAX];
        snprintf(name, sizeof name, "router %s", entries[k].address);
        if (ctl_discover_add(set, name, entries[k].address, CTL_DISCOVER_ROUTER, err) < 0) {
            rc = -1;
            break;
        }
        for (size_t h = 0; h < set->n; h++)
            if (strcmp(set->hosts[h].dns_name, name) == 0)
                set->hosts[h].agents = entries[k].nagents;
        (*found)++;
    }
    free(entries);
    return rc;
}

/* Writes one CSV field, quoted when it holds a comma, a quote or surrounding spaces. */
static void csv_field(FILE *out, const char *s, int last)
{
    size_t n = strlen(s);
    if (strpbrk(s, ",\"") || (n && (s[0] == ' ' || s[n - 1] == ' '))) {
        fputc('"', out);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', out);
            fputc(*s, out);
        }
        fputc('"', out);
    } else {
        fputs(s, out);
    }
    fputc(last ? '\n' : ',', out);
}

/* How many hosts are named after dns_name (a name with several addresses). */
static size_t name_uses(const ctl_discover_set_t *set, const char *dns_name)
{
    size_t n = 0;
    for (size_t i = 0; i < set->n; i++)
        n += strcmp(set->hosts[i].dns_name, dns_name) == 0;
    return n;
}

/* Letters, digits, '-' and '.' only: a name that fits in a URL as it is. */
static int hostname_ok(const char *name)
{
    return name[0] && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-.") == strlen(name);
}

typedef struct row {
    char name[CTL_DISCOVER_NAME_MAX];
    const ctl_discover_host_t *host;
} row_t;

static int row_cmp(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->host->address, y->host->address);
}

/* The target name host h of set is proposed under. */
static void host_name(const ctl_discover_set_t *set, const ctl_discover_host_t *h, const char *zone,
                      char out[CTL_DISCOVER_NAME_MAX])
{
    char text[CTL_DISCOVER_DNAME_MAX + CTL_PARSE_ADDR_MAX + 16];
    /* A name with several addresses, and every router, carry the address: each target
     * needs its own name, and the same address gets the same one on every run. */
    if (h->roles & CTL_DISCOVER_ROUTER)
        snprintf(text, sizeof text, "%s-router-%s", zone, h->address);
    else if (name_uses(set, h->dns_name) > 1)
        snprintf(text, sizeof text, "%s-%s", h->dns_name, h->address);
    else
        snprintf(text, sizeof text, "%s", h->dns_name);
    ctl_discover_name(text, out);
}

int ctl_discover_csv(const ctl_discover_set_t *set, const char *zone, const char *group, FILE *out,
                     err_t *err)
{
    row_t rows[CTL_DISCOVER_HOSTS_MAX];
    for (size_t i = 0; i < set->n; i++) {
        const ctl_discover_host_t *h = &set->hosts[i];
        host_name(set, h, zone, rows[i].name);
        rows[i].host = h;
    }
    qsort(rows, set->n, sizeof rows[0], row_cmp);
    fputs("name,address,group,role,probes\n", out);
    for (size_t i = 0; i < set->n; i++) {
        const ctl_discover_host_t *h = rows[i].host;
        char probes[3 * CTL_DISCOVER_DNAME_MAX];
        unsigned r = h->roles;
        /* A name with bytes no URL host has (DNS allows them, escaped) gets no http probe:
         * the line must stay one target import takes. */
        int web = (r & CTL_DISCOVER_WEB) && hostname_ok(h->web_name);
        snprintf(probes, sizeof probes, "icmp%s%s%s%s%s%s%s", r & CTL_DISCOVER_DNS ? " dns:" : "",
                 r & CTL_DISCOVER_DNS ? zone : "", r & CTL_DISCOVER_DNS ? ":SOA" : "",
                 r & CTL_DISCOVER_MAIL ? " smtp" : "", web ? " http:http://" : "",
                 web ? h->web_name : "", web ? "/" : "");
        csv_field(out, rows[i].name, 0);
        csv_field(out, h->address, 0);
        csv_field(out, group, 0);
        csv_field(out, role_name(h->roles), 0);
        csv_field(out, probes, 1);
    }
    if (fflush(out) != 0 || ferror(out)) {
        err_set(err, "cannot write the CSV");
        return -1;
    }
    return 0;
}

/* ---- arguments ---- */

/* A zone: letters, digits, '-', '_' and dots between non-empty labels; a trailing dot is
 * dropped, upper case lowered. */
static int parse_zone(const char *s, char out[CTL_DISCOVER_DNAME_MAX], err_t *err)
{
    size_t n = strlen(s);
    if (n && s[n - 1] == '.')
        n--;
    if (n == 0 || n > 253) {
        err_set(err, "bad --zone '%.64s': expected a DNS name such as example.org", s);
        return -1;
    }
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.' ? label == 0 : !(isalnum(c) || c == '-' || c == '_') || ++label > 63) {
            err_set(err, "bad --zone '%.64s': expected a DNS name such as example.org", s);
            return -1;
        }
        if (c == '.')
            label = 0;
        out[i] = (char)tolower(c);
    }
    out[n] = '\0';
    if (out[n - 1] == '.') {
        err_set(err, "bad --zone '%.64s': expected a DNS name such as example.org", s);
        return -1;
    }
    return 0;
}

/* --server ADDR[:PORT]: IPv4, IPv4:PORT, IPv6, [IPv6] or [IPv6]:PORT. */
static int parse_server(const char *s, ctl_discover_opts_t *out, err_t *err)
{
    char host[CTL_PARSE_ADDR_MAX + 2];
    const char *port = NULL;
    const char *colon = strchr(s, ':');
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || (close[1] && close[1] != ':') || (size_t)(close - s - 1) >= sizeof host)
            goto bad;
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
        port = close[1] ? close + 2 : NULL;
    } else if (colon && !strchr(colon + 1, ':')) {
        if ((size_t)(colon - s) >= sizeof host)
            goto bad;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
        port = colon + 1;
    } else {
        snprintf(host, sizeof host, "%s", s);
    }
    if (ctl_parse_address("--server", host, out->server, err) < 0)
        return -1;
    out->port = 53;
    if (port) {
        uint64_t p;
        if (ctl_parse_uint("--server port", port, 1, 65535, &p, err) < 0)
            return -1;
        out->port = (unsigned)p;
    }
    return 0;
bad:
    err_set(err, "bad --server '%.64s': expected ADDR, ADDR:PORT or [IPv6]:PORT", s);
    return -1;
}

int ctl_discover_parse(int argc, char **argv, ctl_discover_opts_t *out, err_t *err)
{
    static const ctl_opt_t opts[] = {{"zone", 0, 1, 0},
                                     {"server", 0, 1, 0},
                                     {"group", 0, 1, 0},
                                     {"via", 0, 1, 0},
                                     {NULL, 0, 0, 0}};
    memset(out, 0, sizeof *out);
    out->port = 53;
    ctl_args_t *args = ctl_args_parse(argc, argv, opts, 0, err);
    if (!args)
        return -1;
    const char *zone = ctl_args_value(args, "zone", 0);
    const char *server = ctl_args_value(args, "server", 0);
    const char *group = ctl_args_value(args, "group", 0);
    int rc = -1;
    const char *via = ctl_args_value(args, "via", 0);
    if (!zone) {
        err_set(err, "missing --zone ZONE");
        goto done;
    }
    if (parse_zone(zone, out->zone, err) < 0)
        goto done;
    if (server && parse_server(server, out, err) < 0)
        goto done;
    if (via) {
        if (ctl_parse_name("--via", via, err) < 0)
            goto done;
        /* The agent's dns probe asks the address it is given, port 53, with no recursion
         * desired: it has no resolver of its own to fall back on. */
        if (!server) {
            err_set(err, "--via AGENT needs --server ADDR: the zone's name server the agent asks "
                         "(its queries ask for no recursion)");
            goto done;
        }
        if (out->port != 53) {
            err_set(err, "--via AGENT asks port 53 only (--server %s)", server);
            goto done;
        }
        snprintf(out->via, sizeof out->via, "%s", via);
    }
    if (group) {
        if (ctl_parse_line("--group", group, CTL_PARSE_GROUP_MAX, err) < 0)
            goto done;
        snprintf(out->group, sizeof out->group, "%s", group);
    } else {
        size_t i = 0;
        for (; out->zone[i] && out->zone[i] != '.' && i < CTL_PARSE_GROUP_MAX; i++)
            out->group[i] = (char)toupper((unsigned char)out->zone[i]);
        out->group[i] = '\0';
    }
    rc = 0;
done:
    ctl_args_destroy(&args);
    return rc;
}

/* ---- the lookups ---- */

typedef struct lookups {
    ldns_resolver *res;
    time_t deadline;
    size_t answered; /* queries that got an answer (NOERROR) */
    size_t failed;
    int late; /* the deadline passed; said once */
} lookups_t;

/* Presentation form of a name rdf, lower case, without the trailing dot, into out. */
static int dname_text(const ldns_rdf *rdf, char out[CTL_DISCOVER_DNAME_MAX])
{
    char *s = ldns_rdf2str(rdf);
    if (!s)
        return -1;
    size_t n = strlen(s);
    if (n > 1 && s[n - 1] == '.')
        s[--n] = '\0';
    int rc = n < CTL_DISCOVER_DNAME_MAX ? 0 : -1;
    for (size_t i = 0; rc == 0 && i <= n; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    LDNS_FREE(s);
    return rc;
}

/* Asks for name's records of type; returns the answer's records of that type (caller frees
 * with ldns_rr_list_deep_free) or NULL: none (said on stderr unless the name merely has no
 * such records). */
static ldns_rr_list *lookup(lookups_t *lk, const char *name, ldns_rr_type type)
{
    char *tname = ldns_rr_type2str(type);
    const char *tn = tname ? tname : "?";
    ldns_rr_list *list = NULL;
    ldns_rdf *dname = NULL;
    ldns_pkt *pkt = NULL;
    if (time(NULL) >= lk->deadline) {
        if (!lk->late)
            fprintf(stderr,
                    CTL_PROG ": discover: lookups stopped after %d s; the rest is left out\n",
                    LOOKUPS_DEADLINE_S);
        lk->late = 1;
        lk->failed++;
        goto done;
    }
    dname = ldns_dname_new_frm_str(name);
    if (!dname) {
        fprintf(stderr, CTL_PROG ": discover: %s %s: not a DNS name\n", name, tn);
        lk->failed++;
        goto done;
    }
    /* ldns marks a server that failed once as unusable for good; every name deserves its
     * own tries. */
    for (size_t i = 0; i < ldns_resolver_nameserver_count(lk->res); i++)
        ldns_resolver_set_nameserver_rtt(lk->res, i, LDNS_RESOLV_RTT_MIN);
    ldns_status st =
        ldns_resolver_query_status(&pkt, lk->res, dname, type, LDNS_RR_CLASS_IN, LDNS_RD);
    if (st != LDNS_STATUS_OK || !pkt) {
        fprintf(stderr, CTL_PROG ": discover: %s %s: no answer (%s)\n", name, tn,
                ldns_get_errorstr_by_id(st) ? ldns_get_errorstr_by_id(st) : "error");
        lk->failed++;
        goto done;
    }
    ldns_pkt_rcode rcode = ldns_pkt_get_rcode(pkt);
    if (rcode != LDNS_RCODE_NOERROR) {
        ldns_lookup_table *lt = ldns_lookup_by_id(ldns_rcodes, (int)rcode);
        fprintf(stderr, CTL_PROG ": discover: %s %s: %s\n", name, tn, lt ? lt->name : "error");
        lk->failed++;
        goto done;
    }
    lk->answered++;
    list = ldns_pkt_rr_list_by_type(pkt, type, LDNS_SECTION_ANSWER);
done:
    ldns_pkt_free(pkt);
    ldns_rdf_deep_free(dname);
    free(tname);
    return list;
}

/* One question of a discovery and what answered it: the names (NS, MX) or the addresses
 * (A, AAAA) in the answer's records of the type asked. */
typedef struct question {
    char name[CTL_DISCOVER_DNAME_MAX];
    const char *type; /* "NS", "MX", "A" or "AAAA" */
    unsigned role;    /* for A and AAAA: the role its addresses are proposed with */
    size_t n;
    char answers[NAMES_MAX][CTL_DISCOVER_DNAME_MAX];
} question_t;

/* Asks each question from this host; a failure is said on stderr and counted in lk. */
static void ask_here(lookups_t *lk, question_t *qs, size_t n)
{
    for (size_t q = 0; q < n; q++) {
        ldns_rr_type type = ldns_get_rr_type_by_name(qs[q].type);
        /* The name in an MX record is its second field, after the preference. */
        size_t field = type == LDNS_RR_TYPE_MX ? 1 : 0;
        int names = type == LDNS_RR_TYPE_NS || type == LDNS_RR_TYPE_MX;
        ldns_rr_list *list = lookup(lk, qs[q].name, type);
        for (size_t i = 0; list && i < ldns_rr_list_rr_count(list) && qs[q].n < NAMES_MAX; i++) {
            const ldns_rdf *rdf = ldns_rr_rdf(ldns_rr_list_rr(list, i), field);
            char *out = qs[q].answers[qs[q].n];
            if (!rdf)
                continue;
            if (names) {
                if (dname_text(rdf, out) == 0 && strcmp(out, ".") != 0)
                    qs[q].n++;
                continue;
            }
            char *text = ldns_rdf2str(rdf);
            if (text && strlen(text) < CTL_DISCOVER_DNAME_MAX) {
                memcpy(out, text, strlen(text) + 1);
                qs[q].n++;
            }
            LDNS_FREE(text);
        }
        ldns_rr_list_deep_free(list);
    }
}

static ldns_resolver *resolver_new(const ctl_discover_opts_t *o, err_t *err)
{
    ldns_resolver *res = NULL;
    if (!o->server[0]) {
        ldns_status st = ldns_resolver_new_frm_file(&res, NULL);
        if (st != LDNS_STATUS_OK) {
            err_set(err, "cannot read the system's resolver (/etc/resolv.conf): %s",
                    ldns_get_errorstr_by_id(st) ? ldns_get_errorstr_by_id(st) : "error");
            return NULL;
        }
    } else {
        res = ldns_resolver_new();
        ldns_rdf *ns =
            res ? ldns_rdf_new_frm_str(
                      strchr(o->server, ':') ? LDNS_RDF_TYPE_AAAA : LDNS_RDF_TYPE_A, o->server)
                : NULL;
        if (!ns || ldns_resolver_push_nameserver(res, ns) != LDNS_STATUS_OK) {
            err_set(err, "cannot set up a resolver for %s", o->server);
            ldns_rdf_deep_free(ns);
            ldns_resolver_deep_free(res);
            return NULL;
        }
        ldns_rdf_deep_free(ns);
        ldns_resolver_set_port(res, (uint16_t)o->port);
    }
    ldns_resolver_set_timeout(res, (struct timeval){LOOKUP_TIMEOUT_S, 0});
    ldns_resolver_set_retry(res, LOOKUP_TRIES);
    ldns_resolver_set_recursive(res, true);
    ldns_resolver_set_dnsrch(res, false);
    ldns_resolver_set_defnames(res, false);
    return res;
}

/* ---- the lookups from an agent (--via) ---- */

/* Each one-off dns run's timeout, and how long a round of them is waited for. */
#define VIA_RUN_TIMEOUT_MS 5000
#define VIA_WAIT_S 30

/* The records of the answers to reqs (stored results' detail.dns.records): per row the
 * request id, the result's status, DNS rcode, message, and one record's type, host and
 * address (NULL for a result without records). */
static const char via_answers_sql[] =
    "SELECT r.request_id::text, r.status::text, coalesce(r.app_code, 0)::text, "
    "coalesce(r.message, ''), rec->>'type', lower(rec->>'host'), rec->>'address' "
    "FROM parallax.probe_request_results r "
    "LEFT JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(r.detail->'dns'->'records') "
    "= 'array' THEN r.detail->'dns'->'records' ELSE '[]'::jsonb END) "
    "WITH ORDINALITY AS x(rec, k) ON true "
    "WHERE r.request_id = ANY ($1::bigint[]) ORDER BY r.request_id, x.k";

/* Fills question q from the rows of its request (id): the records of the type asked. Returns
 * 1 if the agent's answer was NOERROR, 0 if not (said on stderr). */
static int via_fill(const ctl_discover_opts_t *o, question_t *q, const char *id,
                    const ctl_rows_t *rows)
{
    int found = 0;
    for (size_t r = 0; r < ctl_rows_count(rows); r++) {
        if (strcmp(ctl_rows_get(rows, r, 0), id) != 0)
            continue;
        if (!found++ && (strcmp(ctl_rows_get(rows, r, 1), "ok") != 0 ||
                         strcmp(ctl_rows_get(rows, r, 2), "0") != 0)) {
            fprintf(stderr, CTL_PROG ": discover: %s %s: %s (from agent %s)\n", q->name, q->type,
                    ctl_rows_get(rows, r, 3), o->via);
            return 0;
        }
        const char *type = ctl_rows_get(rows, r, 4);
        const char *text =
            ctl_rows_get(rows, r, strcmp(q->type, "NS") == 0 || strcmp(q->type, "MX") == 0 ? 5 : 6);
        if (!type || strcmp(type, q->type) != 0 || !text || q->n == NAMES_MAX)
            continue;
        size_t len = strlen(text);
        if (len > 1 && text[len - 1] == '.')
            len--; /* names are kept without the final dot, as dname_text() does */
        if (len == 0 || len >= CTL_DISCOVER_DNAME_MAX || (len == 1 && text[0] == '.'))
            continue;
        memcpy(q->answers[q->n], text, len);
        q->answers[q->n++][len] = '\0';
    }
    return 1;
}

/* Asks each question through agent o->via: one-off dns runs against o->server, waited for
 * together. A question not answered is said on stderr. Returns 0, or -1 (err set) when the
 * requests could not be made or read at all. */
static int ask_via(ctl_db_t *db, const ctl_discover_opts_t *o, question_t *qs, size_t n,
                   size_t *answered, size_t *failed, err_t *err)
{
    if (n == 0)
        return 0;
    ctl_request_t *reqs = calloc(n, sizeof *reqs);
    char(*specs)[PROBESPEC_MAX] = calloc(n, sizeof *specs);
    char *ids = NULL;
    ctl_rows_t *rows = NULL;
    int rc = -1;
    if (!reqs || !specs) {
        err_set(err, "out of memory");
        goto done;
    }
    for (size_t q = 0; q < n; q++) {
        snprintf(specs[q], sizeof specs[q], "dns:%s:%s", qs[q].name, qs[q].type);
        reqs[q].spec = specs[q];
    }
    if (ctl_request_ask(db, o->via, o->server, VIA_RUN_TIMEOUT_MS, "discover", reqs, n, err) < 0 ||
        ctl_request_wait(db, reqs, n, VIA_WAIT_S, err) < 0)
        goto done;
    ids = ctl_request_ids(reqs, n);
    if (!ids) {
        err_set(err, "out of memory");
        goto done;
    }
    const char *params[] = {ids};
    rows = ctl_db_query(db, via_answers_sql, 1, params, err);
    if (!rows)
        goto done;
    for (size_t q = 0; q < n; q++) {
        char id[24];
        snprintf(id, sizeof id, "%" PRId64, reqs[q].id);
        if (reqs[q].state != CTL_REQUEST_ANSWERED) {
            fprintf(stderr, CTL_PROG ": discover: %s %s: %s (agent %s)\n", qs[q].name, qs[q].type,
                    ctl_request_state_why(reqs[q].state), o->via);
            (*failed)++;
        } else if (via_fill(o, &qs[q], id, rows)) {
            (*answered)++;
        } else {
            (*failed)++;
        }
    }
    rc = 0;
done:
    free(ids);
    ctl_rows_destroy(&rows);
    free(specs);
    free(reqs);
    return rc;
}

/* ---- the discovery ---- */

/* Who asks the questions: this host (lk) or an agent (db, o->via). */
typedef struct asker {
    const ctl_discover_opts_t *o;
    lookups_t lk;
    ctl_db_t *db;
} asker_t;

static int ask(asker_t *a, question_t *qs, size_t n, err_t *err)
{
    if (!a->o->via[0]) {
        ask_here(&a->lk, qs, n);
        return 0;
    }
    return ask_via(a->db, a->o, qs, n, &a->lk.answered, &a->lk.failed, err);
}

static void question_set(question_t *q, const char *name, const char *type, unsigned role)
{
    snprintf(q->name, sizeof q->name, "%s", name);
    q->type = type;
    q->role = role;
    q->n = 0;
}

/* Adds the addresses of the answered A and AAAA questions qs[0..n) to set. */
static void add_answers(ctl_discover_set_t *set, const question_t *qs, size_t n)
{
    for (size_t q = 0; q < n; q++)
        for (size_t i = 0; qs[q].role && i < qs[q].n; i++) {
            err_t why = {{0}};
            if (ctl_discover_add(set, qs[q].name, qs[q].answers[i], qs[q].role, &why) < 0)
                fprintf(stderr, CTL_PROG ": discover: %s: %s\n", qs[q].name, why.msg);
        }
}

/* Fills set from DNS, asked by a (from this host or an agent) in two rounds: the zone's NS
 * and MX names with the web names' addresses, then the addresses of those names. The order
 * in which hosts are added is that of the roles: name servers, mail exchangers, web. Returns
 * 0, or -1 (err set) when nothing answered at all. */
static int discover_dns(asker_t *a, ctl_discover_set_t *set, err_t *err)
{
    const char *zone = a->o->zone;
    /* Round one: NS, MX, then A and AAAA of www.ZONE and ZONE. */
    question_t *one = calloc(6, sizeof *one);
    /* Round two: A and AAAA of each NS name, then of each MX name. */
    question_t *two = calloc(4 * NAMES_MAX, sizeof *two);
    int rc = -1;
    if (!one || !two) {
        err_set(err, "out of memory");
        goto done;
    }
    char www[CTL_DISCOVER_DNAME_MAX + 4];
    snprintf(www, sizeof www, "www.%s", zone);
    size_t n1 = 0, n2 = 0;
    question_set(&one[n1++], zone, "NS", 0);
    question_set(&one[n1++], zone, "MX", 0);
    if (strlen(www) < CTL_DISCOVER_DNAME_MAX) {
        question_set(&one[n1++], www, "A", CTL_DISCOVER_WEB);
        question_set(&one[n1++], www, "AAAA", CTL_DISCOVER_WEB);
    }
    question_set(&one[n1++], zone, "A", CTL_DISCOVER_WEB);
    question_set(&one[n1++], zone, "AAAA", CTL_DISCOVER_WEB);
    if (ask(a, one, n1, err) < 0)
        goto done;
    for (size_t q = 0; q < 2; q++)
        for (size_t i = 0; i < one[q].n; i++) {
            unsigned role = q == 0 ? CTL_DISCOVER_DNS : CTL_DISCOVER_MAIL;
            question_set(&two[n2++], one[q].answers[i], "A", role);
            question_set(&two[n2++], one[q].answers[i], "AAAA", role);
        }
    if (ask(a, two, n2, err) < 0)
        goto done;
    add_answers(set, two, n2);
    add_answers(set, one, n1);
    if (set->n == 0) {
        err_set(err, "no addresses found for %s (%zu lookups answered, %zu failed)", zone,
                a->lk.answered, a->lk.failed);
        goto done;
    }
    rc = 0;
done:
    free(one);
    free(two);
    return rc;
}

/* ---- the database: the zone's networks and the stored traces ---- */

/* The hosts' addresses as a PostgreSQL array literal (canonical addresses need no quoting).
 * Returns a malloc'd string, or NULL (err set). */
static char *address_array(const ctl_discover_set_t *set, err_t *err)
{
    char *list = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&list, &size);
    if (!f) {
        err_set(err, "out of memory");
        return NULL;
    }
    fputc('{', f);
    for (size_t i = 0; i < set->n; i++)
        fprintf(f, "%s%s", i ? "," : "", set->hosts[i].address);
    fputc('}', f);
    if (fclose(f) != 0) {
        free(list);
        err_set(err, "out of memory");
        return NULL;
    }
    return list;
}

/* The group's configured prefixes, else the servers' covering networks, into nets (strings
 * owned by *rows or by store). Returns the count, or -1 (err set). */
static int zone_networks(ctl_db_t *db, const char *group, const ctl_discover_set_t *set,
                         ctl_rows_t **rows, char store[][64], const char **nets, err_t *err)
{
    const char *params[] = {group};
    *rows = ctl_db_query(db,
                         "SELECT prefix::text FROM parallax.group_prefixes WHERE group_name = $1 "
                         "ORDER BY prefix",
                         1, params, err);
    if (!*rows)
        return -1;
    size_t n = 0;
    for (size_t r = 0; r < ctl_rows_count(*rows) && n < CTL_DISCOVER_HOSTS_MAX; r++)
        nets[n++] = ctl_rows_get(*rows, r, 0);
    if (n > 0)
        return (int)n;
    for (size_t i = 0; i < set->n; i++) {
        if (ctl_discover_cover(set->hosts[i].address, store[n], 64) < 0)
            continue;
        size_t k = 0;
        while (k < n && strcmp(store[k], store[n]) != 0)
            k++;
        if (k == n) {
            nets[n] = store[n];
            n++;
        }
    }
    return (int)n;
}

/* The responsive hops of the latest trace of each agent to each server that reached it, in
 * agent, destination and TTL order: per agent and trace probe, the newest reached result by
 * the results' primary key (agent_id, probe_id, ts), read backwards. Trace probes are the
 * scheduled ones and, where the schema has them (migration 012), those run on request
 * (TRACES_REQUESTED is put in at the mark). */
#define TRACES_SQL(requested)                                                                      \
    "WITH tp AS (SELECT p.id, p.target_id FROM parallax.probes p WHERE p.kind = "                  \
    "'trace' " requested "), "                                                                     \
    "cand AS (SELECT a.id AS agent_id, a.name, t.address, tp.id AS probe_id FROM tp "              \
    "  JOIN parallax.targets t ON t.id = tp.target_id CROSS JOIN parallax.agents a "               \
    "  WHERE t.address = ANY ($1::inet[])), "                                                      \
    "latest AS (SELECT DISTINCT ON (c.agent_id, c.address) c.name, host(c.address) AS dest, "      \
    "  l.hops FROM cand c CROSS JOIN LATERAL (SELECT r.ts, r.detail->'trace'->'hops' AS hops "     \
    "    FROM parallax.results r WHERE r.agent_id = c.agent_id AND r.probe_id = c.probe_id "       \
    "    AND r.ts > now() - interval '" TRACES_MAX_AGE "' "                                        \
    "    AND coalesce((r.detail->'trace'->>'reached')::boolean, false) "                           \
    "    ORDER BY r.ts DESC LIMIT 1) l "                                                           \
    "  ORDER BY c.agent_id, c.address, l.ts DESC) "                                                \
    "SELECT l.name, l.dest, host((h->>'address')::inet) "                                          \
    "FROM latest l, jsonb_array_elements(coalesce(l.hops, '[]')) h "                               \
    "WHERE coalesce(h->>'address', '') <> '' "                                                     \
    "ORDER BY l.name, l.dest, (h->>'ttl')::integer"

static const char traces_sql[] = TRACES_SQL("");
static const char traces_requested_sql[] =
    TRACES_SQL("UNION ALL SELECT q.id, q.target_id FROM parallax.request_probes q "
               "WHERE q.spec = 'trace'");

/* The traces query for this schema: with on-demand traces if it has them. NULL (err set) if
 * the database cannot say. */
static const char *traces_query(ctl_db_t *db, err_t *err)
{
    ctl_rows_t *rows = ctl_db_query(
        db, "SELECT (to_regclass('parallax.request_probes') IS NOT NULL)::text", 0, NULL, err);
    if (!rows)
        return NULL;
    const char *sql =
        strcmp(ctl_rows_get(rows, 0, 0), "true") == 0 ? traces_requested_sql : traces_sql;
    ctl_rows_destroy(&rows);
    return sql;
}

/* Adds border candidates from the stored traces; says on stderr what it found or why none.
 * Returns 0 or -1 (err set). */
static int discover_borders(ctl_db_t *db, const ctl_discover_opts_t *o, ctl_discover_set_t *set,
                            err_t *err)
{
    char store[CTL_DISCOVER_HOSTS_MAX][64];
    const char *nets[CTL_DISCOVER_HOSTS_MAX];
    ctl_rows_t *prefixes = NULL, *rows = NULL;
    ctl_discover_hop_t *hops = NULL;
    char *servers = NULL;
    int rc = -1;
    int nnets = zone_networks(db, o->group, set, &prefixes, store, nets, err);
    if (nnets < 0)
        goto done;
    servers = address_array(set, err);
    if (!servers)
        goto done;
    const char *params[] = {servers};
    const char *sql = traces_query(db, err);
    rows = sql ? ctl_db_query(db, sql, 1, params, err) : NULL;
    if (!rows)
        goto done;
    size_t n = ctl_rows_count(rows);
    hops = calloc(n + 1, sizeof *hops);
    if (!hops) {
        err_set(err, "out of memory");
        goto done;
    }
    size_t agents = 0;
    for (size_t r = 0; r < n; r++) {
        hops[r] = (ctl_discover_hop_t){ctl_rows_get(rows, r, 0), ctl_rows_get(rows, r, 1),
                                       ctl_rows_get(rows, r, 2)};
        agents += r == 0 || strcmp(hops[r].agent, hops[r - 1].agent) != 0;
    }
    size_t found;
    if (ctl_discover_borders(hops, n, nets, (size_t)nnets, set, &found, err) < 0)
        goto done;
    if (found == 0)
        fprintf(stderr,
                CTL_PROG ": discover: no border router candidate: the traces of %zu agent%s to "
                         "these servers share no entry hop (a trace probe on them gives some)\n",
                agents, agents == 1 ? "" : "s");
    rc = 0;
done:
    free(hops);
    free(servers);
    ctl_rows_destroy(&rows);
    ctl_rows_destroy(&prefixes);
    return rc;
}

/* Says on stderr which proposed addresses are targets already under other names: importing
 * the file would probe them twice. Returns 0 or -1 (err set). */
static int note_known(ctl_db_t *db, const ctl_discover_opts_t *o, const ctl_discover_set_t *set,
                      err_t *err)
{
    char *list = address_array(set, err);
    if (!list)
        return -1;
    const char *params[] = {list};
    ctl_rows_t *rows = ctl_db_query(db,
                                    "SELECT host(address), name FROM parallax.targets "
                                    "WHERE address = ANY ($1::inet[]) ORDER BY name",
                                    1, params, err);
    free(list);
    if (!rows)
        return -1;
    for (size_t i = 0; i < set->n; i++) {
        char name[CTL_DISCOVER_NAME_MAX];
        host_name(set, &set->hosts[i], o->zone, name);
        int same = 0;
        for (size_t r = 0; r < ctl_rows_count(rows); r++)
            same |= strcmp(ctl_rows_get(rows, r, 0), set->hosts[i].address) == 0 &&
                    strcmp(ctl_rows_get(rows, r, 1), name) == 0;
        for (size_t r = 0; !same && r < ctl_rows_count(rows); r++)
            if (strcmp(ctl_rows_get(rows, r, 0), set->hosts[i].address) == 0)
                fprintf(stderr, CTL_PROG ": discover: note: %s (%s) is target %s already\n",
                        set->hosts[i].address, name, ctl_rows_get(rows, r, 1));
    }
    ctl_rows_destroy(&rows);
    return 0;
}

/* ---- the command ---- */

static const char usage_discover[] =
    "usage: " CTL_PROG " [--db CONNINFO] discover --zone ZONE [--server ADDR[:PORT]]\n"
    "                   [--group NAME] [--via AGENT]\n"
    "\n"
    "Finds a zone's servers in DNS and prints them as CSV for 'target import': the\n"
    "name servers (role dns), mail exchangers (mail), www.ZONE and ZONE's own addresses\n"
    "(web), and border router candidates (router): the hop where the stored traces\n"
    "(latest of each agent, last 7 days) enter the group's networks, shared by at least\n"
    "two agents. Names come from the DNS names, so a rerun prints the same file and\n"
    "importing it again changes nothing.\n"
    "\n"
    "  --zone ZONE           the DNS zone, e.g. example.org\n"
    "  --server ADDR[:PORT]  ask this DNS server (default: the system's, /etc/resolv.conf)\n"
    "  --group NAME          the targets' group (default: ZONE's first label in upper\n"
    "                        case); its prefixes (group set) are the zone's networks, else\n"
    "                        the servers' /24 (IPv4) and /48 (IPv6)\n"
    "  --via AGENT           make the lookups from this agent's vantage instead: it asks\n"
    "                        --server (the zone's name server, port 53, no recursion) in\n"
    "                        one-off dns runs the coordinator sends it; the agent must be\n"
    "                        connected\n"
    "\n"
    "A failed lookup is said on stderr and the rest goes on; no address found at all is\n"
    "an error (exit 1). Addresses that are targets already under other names are\n"
    "noted on stderr.\n";

static int cmd_discover(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    ctl_discover_opts_t opts;
    if (ctl_discover_parse(argc, argv, &opts, err) < 0)
        return CTL_EXIT_USAGE;
    ctl_discover_set_t *set = calloc(1, sizeof *set);
    if (!set) {
        err_set(err, "out of memory");
        return CTL_EXIT_FAIL;
    }
    int rc = CTL_EXIT_FAIL;
    asker_t asker = {.o = &opts, .lk.deadline = time(NULL) + LOOKUPS_DEADLINE_S};
    if (opts.via[0]) {
        asker.db = ctl_session_db(s, err);
        if (!asker.db)
            goto done;
    } else {
        asker.lk.res = resolver_new(&opts, err);
        if (!asker.lk.res)
            goto done;
    }
    if (discover_dns(&asker, set, err) < 0)
        goto done;
    err_t why = {{0}};
    ctl_db_t *db = ctl_session_db(s, &why);
    if (!db || discover_borders(db, &opts, set, &why) < 0)
        fprintf(stderr, CTL_PROG ": discover: no border router candidates: %s\n", why.msg);
    else if (note_known(db, &opts, set, &why) < 0)
        fprintf(stderr, CTL_PROG ": discover: cannot tell which are targets already: %s\n",
                why.msg);
    if (ctl_discover_csv(set, opts.zone, opts.group, stdout, err) < 0)
        goto done;
    rc = CTL_EXIT_OK;
done:
    if (asker.lk.res)
        ldns_resolver_deep_free(asker.lk.res);
    free(set);
    return rc;
}

const ctl_command_t ctl_discover_commands[] = {
    {"discover", NULL, usage_discover, cmd_discover},
};
const size_t ctl_discover_command_count =
    sizeof ctl_discover_commands / sizeof ctl_discover_commands[0];
