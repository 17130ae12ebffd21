/* conninfo: builds the connection string; sslmode and sslrootcert are appended last, so they
 * win over the same keys in the operator's string. */
#include "conninfo.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define WHERE_MAX 1024

/* libpq's sslmode values, weakest first. */
static int sslmode_ok(const char *s)
{
    static const char *const modes[] = {"disable",   "allow",       "prefer", "require",
                                        "verify-ca", "verify-full", NULL};
    for (size_t i = 0; modes[i]; i++)
        if (strcmp(s, modes[i]) == 0)
            return 1;
    return 0;
}

/* Appends "key=value" to the conninfo in dst (of size len), in its own syntax: a URI gets a
 * query parameter, percent-encoded; a key/value string a quoted value. */
static int append(char *dst, size_t len, const char *key, const char *value)
{
    size_t used = strlen(dst);
    int uri = strncmp(dst, "postgresql://", 13) == 0 || strncmp(dst, "postgres://", 11) == 0;
    char enc[3 * WHERE_MAX + 1];
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)value; *p && n + 4 < sizeof enc; p++) {
        int plain = uri ? (isalnum(*p) || strchr("-._~/", *p)) : (*p != '\\' && *p != '\'');
        if (plain)
            enc[n++] = (char)*p;
        else if (uri)
            n += (size_t)snprintf(enc + n, 4, "%%%02X", *p);
        else {
            enc[n++] = '\\';
            enc[n++] = (char)*p;
        }
    }
    enc[n] = '\0';
    int w =
        uri ? snprintf(dst + used, len - used, "%c%s=%s", strchr(dst, '?') ? '&' : '?', key, enc)
            : snprintf(dst + used, len - used, "%s%s='%s'", used ? " " : "", key, enc);
    return w < 0 || (size_t)w >= len - used ? -1 : 0;
}

int conninfo_from_config(const config_t *cfg, char *dst, size_t len, err_t *err)
{
    char where[WHERE_MAX];
    const char *database = config_get(cfg, "database");
    const char *mode = config_get(cfg, "sslmode"), *root = config_get(cfg, "sslrootcert");
    if (!database)
        database = "";
    if (strlen(database) >= len) {
        err_set(err, "%s: value of 'database' is too long",
                config_where(cfg, "database", where, sizeof where));
        return -1;
    }
    memcpy(dst, database, strlen(database) + 1);
    if (mode && !sslmode_ok(mode)) {
        err_set(err,
                "%s: bad value '%s' for 'sslmode': expected disable, allow, prefer, require, "
                "verify-ca or verify-full",
                config_where(cfg, "sslmode", where, sizeof where), mode);
        return -1;
    }
    if (root && (!mode || strncmp(mode, "verify-", 7) != 0)) {
        err_set(err, "%s: 'sslrootcert' needs sslmode = verify-ca or verify-full",
                config_where(cfg, "sslrootcert", where, sizeof where));
        return -1;
    }
    if ((mode && append(dst, len, "sslmode", mode) < 0) ||
        (root && append(dst, len, "sslrootcert", root) < 0)) {
        err_set(err, "%s: 'database' with sslmode and sslrootcert is too long",
                config_where(cfg, "database", where, sizeof where));
        return -1;
    }
    return 0;
}
