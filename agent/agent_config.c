/* agent_config: validation of the agent's config file on top of the shared strict reader. */
#include "agent_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "pace.h"
#include "privdrop.h"
#include "secret_file.h"
#include "wire.h"

static const char *const known_keys[] = {"name",
                                         "coordinator",
                                         "coordinator_key",
                                         "secret_key",
                                         "state_dir",
                                         "batch_max",
                                         "batch_interval_ms",
                                         "heartbeat_s",
                                         "max_pending",
                                         "resend_ms",
                                         "max_pps",
                                         "user",
                                         "spool_max_bytes",
                                         "deny_own_networks",
                                         NULL};

/* Copies the required string key into dst; fails if missing, empty or too long. */
static int get_str(const config_t *cfg, const char *key, char *dst, size_t size, err_t *err)
{
    const char *v = config_require(cfg, key, err);
    if (!v)
        return -1;
    if (strlen(v) >= size) {
        char where[PATH_MAX + 32];
        err_set(err, "%s: value of '%s' is longer than %zu bytes",
                config_where(cfg, key, where, sizeof where), key, size - 1);
        return -1;
    }
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static int get_u32(const config_t *cfg, const char *key, uint32_t min, uint32_t max, uint32_t dflt,
                   uint32_t *out, err_t *err)
{
    uint64_t v;
    if (config_get_uint(cfg, key, min, max, dflt, &v, err) < 0)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* Makes sure the state directory exists and that files can be created in it, by creating
 * one: access(2) would say yes to root even on a read-only file system. */
static int prepare_state_dir(const char *where, const char *dir, err_t *err)
{
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        err_set(err, "%s: cannot create state_dir '%s': %s", where, dir, strerror(errno));
        return -1;
    }
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        err_set(err, "%s: state_dir '%s' is not a directory", where, dir);
        return -1;
    }
    char probe[PATH_MAX + 32];
    if (snprintf(probe, sizeof probe, "%s/.write-test-XXXXXX", dir) >= (int)sizeof probe) {
        err_set(err, "%s: state_dir '%s' is too long", where, dir);
        return -1;
    }
    int fd = mkstemp(probe);
    if (fd < 0) {
        err_set(err, "%s: state_dir '%s' is not writable: %s", where, dir, strerror(errno));
        return -1;
    }
    close(fd);
    unlink(probe);
    return 0;
}

static int validate(const config_t *cfg, agent_config_t *out, err_t *err)
{
    char where[PATH_MAX + 32];
    memset(out, 0, sizeof *out);
    if (config_check_known(cfg, known_keys, err) < 0)
        return -1;
    if (get_str(cfg, "name", out->name, sizeof out->name, err) < 0 ||
        get_str(cfg, "coordinator", out->coordinator, sizeof out->coordinator, err) < 0 ||
        get_str(cfg, "coordinator_key", out->coordinator_key, sizeof out->coordinator_key, err) <
            0 ||
        get_str(cfg, "secret_key", out->secret_key, sizeof out->secret_key, err) < 0 ||
        get_str(cfg, "state_dir", out->state_dir, sizeof out->state_dir, err) < 0)
        goto fail;
    if (!wire_text_valid(out->name)) {
        err_set(err, "%s: name must be printable UTF-8 text",
                config_where(cfg, "name", where, sizeof where));
        goto fail;
    }
    if (strncmp(out->coordinator, "tcp://", 6) != 0 &&
        strncmp(out->coordinator, "ipc://", 6) != 0) {
        err_set(err, "%s: coordinator '%s' is not a ZeroMQ endpoint like tcp://HOST:PORT",
                config_where(cfg, "coordinator", where, sizeof where), out->coordinator);
        goto fail;
    }
    if (!keys_valid(out->coordinator_key)) {
        err_set(err, "%s: coordinator_key is not a 40-character Z85 CURVE public key",
                config_where(cfg, "coordinator_key", where, sizeof where));
        goto fail;
    }
    err_t kerr = {{0}};
    if (!keys_valid(out->secret_key) ||
        keys_public_from_secret(out->secret_key, out->public_key, &kerr) < 0) {
        err_set(err, "%s: secret_key is not a 40-character Z85 CURVE secret key",
                config_where(cfg, "secret_key", where, sizeof where));
        goto fail;
    }
    if (get_u32(cfg, "batch_max", 1, PX_WIRE_MAX_RESULTS, 100, &out->batch_max, err) < 0 ||
        get_u32(cfg, "batch_interval_ms", 10, 60000, 1000, &out->batch_interval_ms, err) < 0 ||
        get_u32(cfg, "heartbeat_s", 1, 3600, 10, &out->heartbeat_s, err) < 0 ||
        config_get_uint(cfg, "max_pending", 100, 10000000, 100000, &out->max_pending, err) < 0 ||
        get_u32(cfg, "resend_ms", 100, 600000, 5000, &out->resend_ms, err) < 0 ||
        get_u32(cfg, "max_pps", 1, PACE_MAX_PPS, PACE_DEFAULT_PPS, &out->max_pps, err) < 0 ||
        config_get_uint(cfg, "spool_max_bytes", AGENT_CONFIG_SPOOL_MIN, AGENT_CONFIG_SPOOL_MAX,
                        AGENT_CONFIG_SPOOL_DEFAULT, &out->spool_max_bytes, err) < 0 ||
        config_get_bool(cfg, "deny_own_networks", 0, &out->deny_own_networks, err) < 0)
        goto fail;
    out->max_pending_given = config_get(cfg, "max_pending") != NULL;
    const char *user = config_get(cfg, "user");
    if (user) {
        /* Checked now, not at the switch: a typo must fail the start, with file and line. */
        uid_t uid;
        gid_t gid;
        err_t uerr = {{0}};
        config_where(cfg, "user", where, sizeof where);
        if (strlen(user) > AGENT_CONFIG_USER_MAX || privdrop_lookup(user, &uid, &gid, &uerr) < 0) {
            err_set(err, "%s: %s", where, uerr.msg[0] ? uerr.msg : "user name too long");
            goto fail;
        }
        if (uid == 0) {
            err_set(err, "%s: user '%s' has uid 0; name an unprivileged user", where, user);
            goto fail;
        }
        memcpy(out->user, user, strlen(user) + 1);
    }
    if (prepare_state_dir(config_where(cfg, "state_dir", where, sizeof where), out->state_dir,
                          err) < 0)
        goto fail;
    return 0;
fail:
    /* The secret key must not linger in a struct the caller considers garbage. */
    explicit_bzero(out->secret_key, sizeof out->secret_key);
    return -1;
}

int agent_config_parse(const char *name, const char *text, agent_config_t *out, err_t *err)
{
    config_t *cfg = config_parse(name, text, err);
    if (!cfg)
        return -1;
    int rc = validate(cfg, out, err);
    config_destroy(&cfg);
    return rc;
}

int agent_config_load(const char *path, agent_config_t *out, err_t *err)
{
    /* The file holds the agent's secret key: nobody else may read or replace it. */
    if (secret_file_check(path, "config file", err) < 0)
        return -1;
    config_t *cfg = config_read(path, err);
    if (!cfg)
        return -1;
    int rc = validate(cfg, out, err);
    config_destroy(&cfg);
    return rc;
}
