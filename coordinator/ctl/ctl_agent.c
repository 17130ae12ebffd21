/* ctl_agent: agent commands. `add` orders its steps so that a failure anywhere leaves
 * nothing behind: temporary file, insert (in a transaction), rename, commit. */
#include "ctl_agent.h"

#include "ctl_command.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl_args.h"
#include "ctl_jsonrow.h"
#include "ctl_named.h"
#include "json.h"
#include "ctl_parse.h"
#include "ctl_show.h"
#include "ctl_table.h"
#include "keys.h"

#define NOT_REGISTERED                                                                             \
    "the coordinator has not registered its key yet: start parallax-coordinator once, or "         \
    "pass --coordinator-key KEY --endpoint tcp://HOST:PORT"

/* The config-file options add and rotate-key share, checked after NAME. */
static int parse_conf_options(const ctl_args_t *args, ctl_agent_add_opts_t *out, err_t *err)
{
    const char *output = ctl_args_value(args, "output", 0);
    out->endpoint = ctl_args_value(args, "endpoint", 0);
    out->coordinator_key = ctl_args_value(args, "coordinator-key", 0);
    out->state_dir = ctl_args_value(args, "state-dir", 0);
    out->force = ctl_args_count(args, "force") > 0;
    if (!out->state_dir)
        out->state_dir = CTL_AGENT_STATE_DIR;
    if (out->endpoint && ctl_parse_endpoint("--endpoint", out->endpoint, err) < 0)
        return -1;
    if (out->coordinator_key && !keys_valid(out->coordinator_key)) {
        err_set(err, "bad --coordinator-key '%s': expected a 40-character Z85 CURVE public key",
                out->coordinator_key);
        return -1;
    }
    if (ctl_parse_abs_path("--state-dir", out->state_dir, err) < 0)
        return -1;
    if (output) {
        size_t len = strlen(output);
        if (len == 0 || output[len - 1] == '/' || len >= sizeof out->output) {
            err_set(err, "bad -o '%s': expected a file name", output);
            return -1;
        }
        memcpy(out->output, output, len + 1);
    } else {
        /* The name is at most 63 bytes, so this always fits. */
        snprintf(out->output, sizeof out->output, "./%s.conf", out->name);
    }
    return 0;
}

int ctl_agent_add_parse(int argc, char **argv, ctl_agent_add_opts_t *out, err_t *err)
{
    static const ctl_opt_t opts[] = {
        {"country", 0, 1, 0},         {"asn", 0, 1, 0},       {"endpoint", 0, 1, 0},
        {"coordinator-key", 0, 1, 0}, {"state-dir", 0, 1, 0}, {"output", 'o', 1, 0},
        {"force", 0, 0, 0},           {NULL, 0, 0, 0},
    };
    memset(out, 0, sizeof *out);
    ctl_args_t *args = ctl_args_parse(argc, argv, opts, 1, err);
    if (!args)
        return -1;
    const char *country = ctl_args_value(args, "country", 0);
    const char *asn = ctl_args_value(args, "asn", 0);
    out->name = ctl_args_pos(args, 0);
    int rc = -1;
    if (ctl_named_check("agent", out->name, err) < 0)
        goto done;
    if (!country) {
        err_set(err, "missing --country CC");
        goto done;
    }
    if (ctl_parse_country("--country", country, out->country, err) < 0)
        goto done;
    if (asn) {
        if (ctl_parse_uint("--asn", asn, 0, 4294967295u, &out->asn, err) < 0)
            goto done;
        out->has_asn = 1;
    }
    if (parse_conf_options(args, out, err) < 0)
        goto done;
    rc = 0;
done:
    ctl_args_destroy(&args);
    return rc;
}

int ctl_agent_rotate_parse(int argc, char **argv, ctl_agent_add_opts_t *out, err_t *err)
{
    static const ctl_opt_t opts[] = {
        {"endpoint", 0, 1, 0}, {"coordinator-key", 0, 1, 0}, {"state-dir", 0, 1, 0},
        {"output", 'o', 1, 0}, {"force", 0, 0, 0},           {NULL, 0, 0, 0},
    };
    memset(out, 0, sizeof *out);
    out->rotate = 1;
    ctl_args_t *args = ctl_args_parse(argc, argv, opts, 1, err);
    if (!args)
        return -1;
    out->name = ctl_args_pos(args, 0);
    int rc = -1;
    if (ctl_named_check("agent", out->name, err) == 0 && parse_conf_options(args, out, err) == 0)
        rc = 0;
    ctl_args_destroy(&args);
    return rc;
}

int ctl_agent_list_parse(int argc, char **argv, int *json, err_t *err)
{
    return ctl_named_list_parse(argc, argv, json, err);
}

int ctl_agent_name_parse(int argc, char **argv, const char **name, err_t *err)
{
    return ctl_named_parse("agent", argc, argv, name, NULL, err);
}

int ctl_agent_conf_format(const ctl_agent_conf_t *conf, time_t now, char *buf, size_t len)
{
    struct tm tm;
    char stamp[32];
    if (!gmtime_r(&now, &tm) || strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        snprintf(stamp, sizeof stamp, "an unknown time");
    int n = snprintf(buf, len,
                     "# Parallax agent %s (country %s), written by parallaxctl on %s.\n"
                     "# Keep this file secret: it holds the agent's private key.\n"
                     "name = %s\n"
                     "coordinator = %s\n"
                     "coordinator_key = %s\n"
                     "secret_key = %s\n"
                     "state_dir = %s\n",
                     conf->name, conf->country, stamp, conf->name, conf->endpoint,
                     conf->coordinator_key, conf->secret_key, conf->state_dir);
    return n < 0 || (size_t)n >= len ? -1 : n;
}

/* Splits path into its directory (or ".") and writes a temporary name next to it, hidden
 * and unique, into tmp. Returns 0 or -1 if it does not fit. */
static int temp_name(const char *path, char *tmp, size_t len)
{
    const char *slash = strrchr(path, '/');
    int n = slash ? snprintf(tmp, len, "%.*s/.%s.XXXXXX", (int)(slash - path), path, slash + 1)
                  : snprintf(tmp, len, ".%s.XXXXXX", path);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Writes text to a new temporary file next to path with mode 0600, flushed to disk. Its name
 * is left in tmp (empty if nothing was created). Returns 0 or -1 (err set, no file left). */
static int write_temp(const char *path, const char *text, char *tmp, size_t len, err_t *err)
{
    if (temp_name(path, tmp, len) < 0) {
        tmp[0] = '\0';
        err_set(err, "%s: path too long", path);
        return -1;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        err_set(err, "cannot create a file next to %s: %s", path, strerror(errno));
        tmp[0] = '\0';
        return -1;
    }
    size_t n = strlen(text);
    size_t done = 0;
    /* mkstemp makes the file 0600 already; fchmod makes it exactly that whatever the umask. */
    int rc = fchmod(fd, 0600);
    while (rc == 0 && done < n) {
        ssize_t w = write(fd, text + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            rc = -1;
        else
            done += (size_t)w;
    }
    if (rc == 0)
        rc = fsync(fd);
    if (close(fd) != 0)
        rc = -1;
    if (rc != 0) {
        err_set(err, "cannot write %s: %s", tmp, strerror(errno));
        unlink(tmp);
        tmp[0] = '\0';
        return -1;
    }
    return 0;
}

/* Moves tmp to path. Without force an existing path is never replaced, even one created since
 * the early check: link() fails on an existing name where rename() would overwrite it. */
static int place(const char *tmp, const char *path, int force, err_t *err)
{
    if (force) {
        if (rename(tmp, path) != 0) {
            err_set(err, "cannot write %s: %s", path, strerror(errno));
            return -1;
        }
        return 0;
    }
    if (link(tmp, path) != 0) {
        if (errno == EEXIST)
            err_set(err, "%s already exists: pass --force to overwrite it", path);
        else
            err_set(err, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    unlink(tmp);
    return 0;
}

/* Flushes the directory holding path so the new name survives a crash. Best effort: the
 * file is complete either way, so a failure here is not worth failing the command for. */
static void sync_dir(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + 1 : 1, slash ? path : ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Chooses the coordinator key and endpoint: the options, else the registered row. */
static int coordinator_of(const ctl_agent_add_opts_t *opts, const ctl_rows_t *rows,
                          const char **key, const char **endpoint, err_t *err)
{
    *key = opts->coordinator_key ? opts->coordinator_key : ctl_rows_get(rows, 0, 0);
    *endpoint = opts->endpoint ? opts->endpoint : ctl_rows_get(rows, 0, 1);
    if (!*key || !*endpoint) {
        err_set(err, NOT_REGISTERED);
        return -1;
    }
    /* The row is written by the coordinator, not typed here, but it goes into a file an agent
     * must be able to use, so it is checked like an option. */
    if (!keys_valid(*key)) {
        err_set(err,
                "the coordinator's registered key '%s' is not a CURVE public key: pass "
                "--coordinator-key KEY",
                *key);
        return -1;
    }
    if (ctl_parse_endpoint("registered coordinator endpoint", *endpoint, err) < 0) {
        err_prefix(err, "pass --endpoint tcp://HOST:PORT");
        return -1;
    }
    return 0;
}

int ctl_agent_add(ctl_db_t *db, const ctl_agent_add_opts_t *opts, FILE *out, err_t *err)
{
    struct stat st;
    if (!opts->force && lstat(opts->output, &st) == 0) {
        err_set(err, "%s already exists: pass --force to overwrite it", opts->output);
        return -1;
    }
    keypair_t kp;
    if (keys_generate(&kp, err) < 0)
        return -1;
    char tmp[PATH_MAX + 16] = "";
    char text[2048];
    char asn[24];
    snprintf(asn, sizeof asn, "%llu", (unsigned long long)opts->asn);
    const char *params[] = {opts->name, opts->country, opts->has_asn ? asn : NULL, kp.public_z85};
    const char *key, *endpoint;
    const char *country = opts->country;
    ctl_rows_t *rows = NULL, *rotated = NULL;
    int placed = 0;
    if (ctl_db_begin(db, err) < 0)
        return -1;
    rows = ctl_db_query(db, "SELECT public_key, endpoint FROM parallax.coordinator", 0, NULL, err);
    if (!rows || coordinator_of(opts, rows, &key, &endpoint, err) < 0)
        goto fail;
    if (opts->rotate) {
        /* The UPDATE fires the coordinator's allow-list NOTIFY: the old key stops working
         * as soon as this commits. */
        const char *rparams[] = {opts->name, kp.public_z85};
        rotated = ctl_db_query(db,
                               "UPDATE parallax.agents SET public_key = $2 WHERE name = $1 "
                               "RETURNING country",
                               2, rparams, err);
        if (!rotated)
            goto fail;
        if (ctl_rows_count(rotated) == 0) {
            err_set(err, "no agent named '%s'", opts->name);
            goto fail;
        }
        country = ctl_rows_get(rotated, 0, 0);
    } else if (ctl_db_exec(db,
                           "INSERT INTO parallax.agents (name, country, asn, public_key, enabled) "
                           "VALUES ($1, $2, $3::bigint, $4, true)",
                           4, params, err) < 0) {
        if (strcmp(ctl_db_sqlstate(db), CTL_DB_UNIQUE_VIOLATION) == 0 &&
            strcmp(ctl_db_constraint(db), "agents_public_key_key") != 0)
            err_set(err, "an agent named '%s' already exists", opts->name);
        goto fail;
    }
    ctl_agent_conf_t conf = {opts->name, country, endpoint, key, kp.secret_z85, opts->state_dir};
    if (ctl_agent_conf_format(&conf, time(NULL), text, sizeof text) < 0) {
        err_set(err, "agent config too long");
        goto fail;
    }
    if (write_temp(opts->output, text, tmp, sizeof tmp, err) < 0)
        goto fail;
    if (place(tmp, opts->output, opts->force, err) < 0)
        goto fail;
    placed = 1;
    sync_dir(opts->output);
    if (ctl_db_commit(db, err) < 0)
        goto fail;
    const char *base = strrchr(opts->output, '/');
    base = base ? base + 1 : opts->output;
    fprintf(out,
            "wrote %s (agent %s, %s public key %s)\n"
            "copy it, scripts/install-agent.sh and the parallax-agent .deb to the VPS (the file "
            "holds the agent's secret key: keep it 0600), then run there:\n"
            "  sudo sh install-agent.sh %s\n"
            "(which installs the package, puts the file at /etc/parallax/agent.conf and starts "
            "the agent; without systemd: parallax-agent -c /etc/parallax/agent.conf)\n",
            opts->output, opts->name, opts->rotate ? "new" : "", kp.public_z85, base);
    ctl_rows_destroy(&rows);
    ctl_rows_destroy(&rotated);
    explicit_bzero(text, sizeof text);
    explicit_bzero(&kp, sizeof kp);
    return 0;
fail:
    /* Undo in reverse order; with --force a replaced file cannot come back, but the new one
     * must not stay without its row. */
    if (placed)
        unlink(opts->output);
    else if (tmp[0])
        unlink(tmp);
    ctl_rows_destroy(&rows);
    ctl_rows_destroy(&rotated);
    ctl_db_rollback(db, NULL);
    explicit_bzero(text, sizeof text);
    explicit_bzero(&kp, sizeof kp);
    return -1;
}

/* Columns of the list query. */
enum {
    L_NAME,
    L_COUNTRY,
    L_ASN,
    L_ENABLED,
    L_STATE,
    L_LAST_SEEN,
    L_DROPPED,
    L_SKIPPED,
    L_OFFSET,
    L_KEY,
    L_REFUSED,
    L_REFUSED_AT
};

/* `agent list --json`: one object per agent with these members. */
static const ctl_jsonrow_field_t list_json_fields[] = {
    {"name", L_NAME, CTL_JSONROW_STRING},
    {"country", L_COUNTRY, CTL_JSONROW_STRING},
    {"asn", L_ASN, CTL_JSONROW_NUMBER},
    {"enabled", L_ENABLED, CTL_JSONROW_BOOL},
    {"state", L_STATE, CTL_JSONROW_STRING},
    {"last_seen", L_LAST_SEEN, CTL_JSONROW_STRING},
    {"dropped", L_DROPPED, CTL_JSONROW_NUMBER},
    {"skipped", L_SKIPPED, CTL_JSONROW_NUMBER},
    {"clock_offset_ms", L_OFFSET, CTL_JSONROW_NUMBER},
    {"public_key", L_KEY, CTL_JSONROW_STRING},
    {"refused", L_REFUSED, CTL_JSONROW_STRING},
    {"refused_at", L_REFUSED_AT, CTL_JSONROW_STRING}};

int ctl_agent_print_refusals(const ctl_rows_t *rows, size_t name_col, size_t refused_col, FILE *out)
{
    int first = 1;
    for (size_t r = 0; r < ctl_rows_count(rows); r++) {
        const char *why = ctl_rows_get(rows, r, refused_col);
        if (!why)
            continue;
        if ((first && fputc('\n', out) == EOF) ||
            fprintf(out, "agent %s is refused: %s\n", ctl_rows_get(rows, r, name_col), why) < 0)
            return -1;
        first = 0;
    }
    return 0;
}

int ctl_agent_list(ctl_db_t *db, int json, FILE *out, err_t *err)
{
    static const char *const headers[] = {
        "NAME",      "COUNTRY", "ASN",     "ENABLED",         "STATE",
        "LAST_SEEN", "DROPS",   "SKIPPED", "CLOCK_OFFSET_MS", "PUBLIC_KEY"};
    ctl_rows_t *rows = ctl_db_query(
        db,
        "SELECT agent, country, asn::text, enabled::text, state, "
        "to_char(last_seen, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), dropped::text, skipped::text, "
        "clock_offset_ms::text, public_key, refused, "
        "to_char(refused_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
        "FROM parallax.agent_status() ORDER BY agent",
        0, NULL, err);
    if (!rows)
        return -1;
    int rc = -1;
    json_t *js = NULL;
    ctl_table_t *table = NULL;
    size_t n = ctl_rows_count(rows);
    if (json) {
        if (!(js = json_new(out)))
            goto oom;
        json_array_begin(js);
        for (size_t r = 0; r < n; r++) {
            json_object_begin(js);
            ctl_jsonrow_members(js, rows, r, list_json_fields,
                                sizeof list_json_fields / sizeof list_json_fields[0]);
            json_object_end(js);
        }
        json_array_end(js);
        rc = json_error(js);
    } else {
        if (!(table = ctl_table_new(10, headers)))
            goto oom;
        for (size_t r = 0; r < n; r++) {
            const char *enabled =
                strcmp(ctl_rows_get(rows, r, L_ENABLED), "true") == 0 ? "yes" : "no";
            const char *last = ctl_rows_get(rows, r, L_LAST_SEEN);
            const char *cells[] = {
                ctl_rows_get(rows, r, L_NAME),    ctl_rows_get(rows, r, L_COUNTRY),
                ctl_rows_get(rows, r, L_ASN),     enabled,
                ctl_rows_get(rows, r, L_STATE),   last ? last : "never",
                ctl_rows_get(rows, r, L_DROPPED), ctl_rows_get(rows, r, L_SKIPPED),
                ctl_rows_get(rows, r, L_OFFSET),  ctl_rows_get(rows, r, L_KEY)};
            if (ctl_table_add(table, cells) < 0)
                goto oom;
        }
        rc = ctl_table_print(table, out);
        if (rc == 0)
            rc = ctl_agent_print_refusals(rows, L_NAME, L_REFUSED, out);
    }
    if (rc < 0)
        err_set(err, "cannot write the list: %s", strerror(errno));
    goto done;
oom:
    err_set(err, "out of memory");
done:
    json_destroy(&js);
    ctl_table_destroy(&table);
    ctl_rows_destroy(&rows);
    return rc;
}

int ctl_agent_set_enabled(ctl_db_t *db, const char *name, int enabled, err_t *err)
{
    const char *params[] = {name, enabled ? "true" : "false"};
    return ctl_named_exec(db, "agent",
                          "UPDATE parallax.agents SET enabled = $2::boolean WHERE name = $1", 2,
                          params, err);
}

/* Everything `agent show` prints, one row: the status columns, when the agent was added,
 * and its vantage outages going on now. */
static const char show_sql[] =
    "SELECT s.agent, s.country, s.asn::text, s.enabled::text, s.state, "
    "to_char(s.last_seen, 'YYYY-MM-DD HH24:MI:SS'), s.health, "
    "to_char(s.health_at, 'YYYY-MM-DD HH24:MI:SS'), s.dropped::text, s.skipped::text, "
    "s.clock_offset_ms::text, "
    "s.refused, to_char(s.refused_at, 'YYYY-MM-DD HH24:MI:SS'), "
    "s.agent_version, s.public_key, to_char(a.created_at, 'YYYY-MM-DD HH24:MI:SS'), "
    "(SELECT string_agg(o.id || ' (' || o.stage || ' since ' || "
    "  to_char(o.started_at, 'YYYY-MM-DD HH24:MI:SS') || ')', ', ' ORDER BY o.id) "
    "  FROM parallax.outages o WHERE o.scope = 'vantage' AND o.subject = s.agent "
    "  AND o.ended_at IS NULL), "
    "(SELECT string_agg(j.kind || ' ' || j.count, ', ' ORDER BY j.kind) || ' (latest: ' || "
    "  (array_agg(j.reason ORDER BY j.last_at DESC))[1] || ')' "
    "  FROM parallax.rejections j WHERE j.agent_id = a.id) "
    "FROM parallax.agent_status() s JOIN parallax.agents a ON a.name = s.agent "
    "WHERE s.agent = $1";

static const char show_json_sql[] =
    "SELECT jsonb_build_object('name', s.agent, 'country', s.country, 'asn', s.asn, "
    "'enabled', s.enabled, 'state', s.state, 'last_seen', s.last_seen, 'health', s.health, "
    "'health_at', s.health_at, 'dropped', s.dropped, 'skipped', s.skipped, "
    "'clock_offset_ms', s.clock_offset_ms, 'refused', s.refused, 'refused_at', s.refused_at, "
    "'agent_version', s.agent_version, 'public_key', s.public_key, "
    "'created_at', a.created_at, "
    "'open_outages', (SELECT coalesce(jsonb_agg(o.id ORDER BY o.id), '[]') "
    "  FROM parallax.outages o WHERE o.scope = 'vantage' AND o.subject = s.agent "
    "  AND o.ended_at IS NULL), "
    "'rejected', (SELECT coalesce(jsonb_object_agg(j.kind, jsonb_build_object('count', j.count, "
    "  'first_at', j.first_at, 'last_at', j.last_at, 'reason', j.reason)), '{}') "
    "  FROM parallax.rejections j WHERE j.agent_id = a.id))::text "
    "FROM parallax.agent_status() s JOIN parallax.agents a ON a.name = s.agent "
    "WHERE s.agent = $1";

/* `agent show`: the fields in show_sql's column order. */
static const ctl_show_field_t show_fields[] = {{"name", CTL_SHOW_TEXT},
                                               {"country", CTL_SHOW_TEXT},
                                               {"asn", CTL_SHOW_TEXT},
                                               {"enabled", CTL_SHOW_YESNO},
                                               {"state", CTL_SHOW_TEXT},
                                               {"last seen", CTL_SHOW_UTC},
                                               {"health", CTL_SHOW_TEXT},
                                               {"health at", CTL_SHOW_UTC},
                                               {"spool drops", CTL_SHOW_TEXT},
                                               {"runs skipped", CTL_SHOW_TEXT},
                                               {"clock offset ms", CTL_SHOW_TEXT},
                                               {"refused", CTL_SHOW_TEXT},
                                               {"refused at", CTL_SHOW_UTC},
                                               {"version", CTL_SHOW_TEXT},
                                               {"public key", CTL_SHOW_TEXT},
                                               {"added", CTL_SHOW_UTC},
                                               {"open outages", CTL_SHOW_TEXT},
                                               {"rejected", CTL_SHOW_TEXT}};
static const ctl_show_spec_t show_spec = {"agent", show_sql, show_json_sql, show_fields,
                                          sizeof show_fields / sizeof show_fields[0]};

int ctl_agent_show(ctl_db_t *db, const char *name, int json, FILE *out, err_t *err)
{
    return ctl_show(db, &show_spec, name, json, out, err);
}

static const ctl_named_removal_t removal = {"agent", "DELETE FROM parallax.agents WHERE name = $1",
                                            " (its key no longer works; its results are kept)"};

int ctl_agent_remove(ctl_db_t *db, const char *name, FILE *out, err_t *err)
{
    return ctl_named_remove(db, &removal, name, out, err);
}

/* ---- the commands: usage text, then parse and run ---- */

static const char usage_agent[] =
    "usage: " CTL_PROG " agent add|list|show|enable|disable|remove|rotate-key ...\n"
    "  (" CTL_PROG " agent COMMAND --help for details)\n";

static const char usage_agent_add[] =
    "usage: " CTL_PROG " [--db CONNINFO] agent add NAME --country CC [options]\n"
    "\n"
    "Registers agent NAME with a new CURVE key pair and writes its config file (mode 0600,\n"
    "holding the agent's secret key): everything the agent's VPS needs. Both happen or\n"
    "neither does. Prints the one command to run on the VPS.\n"
    "\n"
    "  NAME                     letters, digits, '.', '_', '-' (at most 63)\n"
    "  --country CC             two-letter country code of the vantage\n"
    "  --asn N                  autonomous system number of the vantage's network\n"
    "  --endpoint tcp://HOST:PORT\n"
    "                           where the agent connects (default: the coordinator's)\n"
    "  --coordinator-key KEY    the coordinator's public key (default: the registered one)\n"
    "  --state-dir DIR          the agent's state directory (default " CTL_AGENT_STATE_DIR ")\n"
    "  -o, --output FILE        config file to write (default ./NAME.conf)\n"
    "  --force                  overwrite FILE if it exists\n";

static const char usage_agent_list[] =
    "usage: " CTL_PROG " [--db CONNINFO] agent list [--json]\n"
    "\n"
    "Lists agents: name, country, ASN, enabled, state (online, impaired, offline, refused,\n"
    "disabled; see 'status'), last seen, spool drops, skipped runs, clock offset (ms, agent\n"
    "minus coordinator) and public key; then, for each refused agent, why: the protocol\n"
    "version it speaks and the coordinator's.\n"
    "  --json  a JSON array of objects instead of a table (refused: why, or null)\n";

static const char usage_agent_show[] =
    "usage: " CTL_PROG " [--db CONNINFO] agent show NAME [--json]\n"
    "\n"
    "Shows everything about agent NAME: status, why the coordinator refuses it if it does\n"
    "(another protocol version: both are named) and when it last did, latest vantage health,\n"
    "spool drops, skipped runs, clock offset, version, key and its vantage outages going on.\n"
    "  --json  one JSON object\n";

static const char usage_agent_enable[] = "usage: " CTL_PROG " [--db CONNINFO] agent enable NAME\n"
                                         "\n"
                                         "Allows agent NAME to connect to the coordinator again.\n";

static const char usage_agent_disable[] =
    "usage: " CTL_PROG " [--db CONNINFO] agent disable NAME\n"
    "\n"
    "Stops the coordinator from accepting agent NAME; its key and results are kept.\n";

static const char usage_agent_remove[] =
    "usage: " CTL_PROG " [--db CONNINFO] agent remove NAME\n"
    "\n"
    "Deletes agent NAME with its heartbeats, spool gaps and batch records; the coordinator\n"
    "stops accepting its key at once. Its results are kept (they are evidence).\n";

static const char usage_agent_rotate[] =
    "usage: " CTL_PROG " [--db CONNINFO] agent rotate-key NAME [options]\n"
    "\n"
    "Gives agent NAME a new CURVE key pair and writes a new config file (mode 0600); the\n"
    "old key stops working as soon as this commits. Both happen or neither does.\n"
    "  --endpoint, --coordinator-key, --state-dir, -o FILE, --force   as for 'agent add'\n";

/* `agent add` and `agent rotate-key` differ only in what they parse: ctl_agent_add does both. */
static int add_or_rotate(ctl_session_t *s,
                         int (*parse)(int, char **, ctl_agent_add_opts_t *, err_t *), int argc,
                         char **argv, err_t *err)
{
    ctl_agent_add_opts_t opts;
    if (parse(argc, argv, &opts, err) < 0)
        return CTL_EXIT_USAGE;
    ctl_db_t *db = ctl_session_db(s, err);
    return db ? ctl_outcome(ctl_agent_add(db, &opts, stdout, err)) : CTL_EXIT_FAIL;
}

static int cmd_agent_add(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    return add_or_rotate(s, ctl_agent_add_parse, argc, argv, err);
}

static int cmd_agent_list(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    return ctl_named_list_command(s, ctl_agent_list, argc, argv, err);
}

static int set_enabled(ctl_session_t *s, int argc, char **argv, int enabled, err_t *err)
{
    const char *name;
    if (ctl_agent_name_parse(argc, argv, &name, err) < 0)
        return CTL_EXIT_USAGE;
    ctl_db_t *db = ctl_session_db(s, err);
    int rc = db ? ctl_outcome(ctl_agent_set_enabled(db, name, enabled, err)) : CTL_EXIT_FAIL;
    if (rc == CTL_EXIT_OK)
        printf("agent %s %s\n", name, enabled ? "enabled" : "disabled");
    return rc;
}

static int cmd_agent_enable(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    return set_enabled(s, argc, argv, 1, err);
}

static int cmd_agent_disable(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    return set_enabled(s, argc, argv, 0, err);
}

static int cmd_agent_show(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    return ctl_named_show_command(s, &show_spec, argc, argv, err);
}

static int cmd_agent_remove(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    return ctl_named_remove_command(s, &removal, argc, argv, err);
}

static int cmd_agent_rotate(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    return add_or_rotate(s, ctl_agent_rotate_parse, argc, argv, err);
}

const ctl_command_t ctl_agent_commands[] = {
    {"agent", NULL, usage_agent, NULL},
    {"agent", "add", usage_agent_add, cmd_agent_add},
    {"agent", "list", usage_agent_list, cmd_agent_list},
    {"agent", "show", usage_agent_show, cmd_agent_show},
    {"agent", "enable", usage_agent_enable, cmd_agent_enable},
    {"agent", "disable", usage_agent_disable, cmd_agent_disable},
    {"agent", "remove", usage_agent_remove, cmd_agent_remove},
    {"agent", "rotate-key", usage_agent_rotate, cmd_agent_rotate},
};
const size_t ctl_agent_command_count = sizeof ctl_agent_commands / sizeof ctl_agent_commands[0];
