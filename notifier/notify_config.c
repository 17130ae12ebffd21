/* notify_config: strict parsing of the notifier's config file; unknown keys are errors so a
 * typo never falls back to a default silently. */
#include "notify_config.h"

#include <string.h>

#include "config.h"
#include "conninfo.h"

static int load(config_t *cfg, const char *name, notify_config_t *out, err_t *err)
{
    static const char *const known[] = {
        "database", "sslmode",     "sslrootcert", "timeout_s", "resend_interval_s",
        "poll_s",   "retry_min_s", "retry_max_s", "give_up_s", NULL};
    if (!cfg)
        return -1;
    int rc = -1;
    if (config_check_known(cfg, known, err) < 0 ||
        conninfo_from_config(cfg, out->database, sizeof out->database, err) < 0 ||
        config_get_uint(cfg, "timeout_s", 1, 300, 10, &out->timeout_s, err) < 0 ||
        config_get_uint(cfg, "resend_interval_s", 10, 3600, 60, &out->resend_interval_s, err) < 0 ||
        config_get_uint(cfg, "poll_s", 1, 300, 5, &out->poll_s, err) < 0 ||
        config_get_uint(cfg, "retry_min_s", 1, 3600, 5, &out->retry_min_s, err) < 0 ||
        config_get_uint(cfg, "retry_max_s", 1, 86400, 300, &out->retry_max_s, err) < 0 ||
        config_get_uint(cfg, "give_up_s", 60, 30 * 86400, 86400, &out->give_up_s, err) < 0)
        goto out;
    if (out->retry_max_s < out->retry_min_s) {
        char where[NOTIFY_CONFIG_TEXT_MAX];
        err_set(err, "%s: 'retry_max_s' (%llu) is below 'retry_min_s' (%llu)",
                config_where(cfg, "retry_max_s", where, sizeof where),
                (unsigned long long)out->retry_max_s, (unsigned long long)out->retry_min_s);
        goto out;
    }
    rc = 0;
out:
    (void)name;
    config_destroy(&cfg);
    return rc;
}

int notify_config_load(const char *path, notify_config_t *out, err_t *err)
{
    memset(out, 0, sizeof *out);
    return load(config_read(path, err), path, out, err);
}

int notify_config_parse(const char *name, const char *text, notify_config_t *out, err_t *err)
{
    memset(out, 0, sizeof *out);
    return load(config_parse(name, text, err), name, out, err);
}
