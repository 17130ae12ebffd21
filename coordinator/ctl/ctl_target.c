/* ctl_target: target commands; probes are validated with the same parser the agent uses, so
 * what is stored is what agents can read. */
#include "ctl_target.h"

#include "ctl_command.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_args.h"
#include "ctl_csv.h"
#include "ctl_jsonrow.h"
#include "ctl_named.h"
#include "ctl_show.h"
#include "json.h"
#include "ctl_table.h"

/* Parses every --probe into out->probes, refusing bad specs and duplicates (two spellings of
 * the same probe, such as smtp and smtp:25, are the same probe). */
static int parse_probes(const ctl_args_t *args, ctl_target_add_opts_t *out, err_t *err)
{
    size_t n = ctl_args_count(args, "probe");
    if (n == 0) {
        err_set(err, "missing --probe SPEC (at least one is needed)");
        return -1;
    }
    out->probes = calloc(n, sizeof *out->probes);
    if (!out->probes) {
        err_set(err, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *text = ctl_args_value(args, "probe", i);
        probespec_t spec;
        err_t why = {{0}};
        ctl_target_probe_t *p = &out->probes[i];
        if (probespec_parse(text, &spec, &why) < 0) {
            err_set(err, "bad --probe '%s': %s", text, why.msg);
            return -1;
        }
        if (probespec_format(&spec, p->spec, sizeof p->spec) < 0) {
            err_set(err, "bad --probe '%s': too long", text);
            return -1;
        }
        p->kind = probespec_kind_name(spec.kind);
        for (size_t k = 0; k < i; k++)
            if (strcmp(out->probes[k].spec, p->spec) == 0) {
                const char *first = ctl_args_value(args, "probe", k);
                if (strcmp(first, text) == 0)
                    err_set(err, "--probe '%s' given twice", text);
                else
                    err_set(err, "bad --probe '%s': the same probe as --probe '%s'", text, first);
                return -1;
            }
        out->nprobes++;
    }
    return 0;
}

uint64_t ctl_target_timeout_default(uint64_t interval_s)
{
    uint64_t half = interval_s * 1000 / 2;
    return half < CTL_TARGET_TIMEOUT_DEFAULT ? half : CTL_TARGET_TIMEOUT_DEFAULT;
}

/* Sets out->timeout_ms from the --timeout text, or to the default for the interval. A run
 * still going when the next is due makes the agent skip that one, so a timeout that is not
 * shorter than the interval would leave every other run out: it is refused. */
static int parse_timeout(const char *text, ctl_target_add_opts_t *out, err_t *err)
{
    if (!text) {
        out->timeout_ms = ctl_target_timeout_default(out->interval_s);
        return 0;
    }
    if (ctl_parse_uint("--timeout", text, 1, 600000, &out->timeout_ms, err) < 0)
        return -1;
    if (out->timeout_ms >= out->interval_s * 1000) {
        err_set(err,
                "bad --timeout '%s': must be shorter than the interval (%llu s); without "
                "--timeout it is min(%d, interval x 500) ms",
                text, (unsigned long long)out->interval_s, CTL_TARGET_TIMEOUT_DEFAULT);
        return -1;
    }
    return 0;
}

int ctl_target_add_parse(int argc, char **argv, ctl_target_add_opts_t *out, err_t *err)
{
    static const ctl_opt_t opts[] = {
        {"address", 0, 1, 0}, {"group", 0, 1, 0},          {"role", 0, 1, 0},
        {"control", 0, 0, 0}, {"probe", 0, 1, 1},          {"interval", 0, 1, 0},
        {"timeout", 0, 1, 0}, {"allow-internal", 0, 0, 0}, {NULL, 0, 0, 0},
    };
    memset(out, 0, sizeof *out);
    ctl_args_t *args = ctl_args_parse(argc, argv, opts, 1, err);
    if (!args)
        return -1;
    const char *address = ctl_args_value(args, "address", 0);
    const char *interval = ctl_args_value(args, "interval", 0);
    const char *timeout = ctl_args_value(args, "timeout", 0);
    out->name = ctl_args_pos(args, 0);
    out->group = ctl_args_value(args, "group", 0);
    out->role = ctl_args_value(args, "role", 0);
    out->control = ctl_args_count(args, "control") > 0;
    out->allow_internal = ctl_args_count(args, "allow-internal") > 0;
    out->interval_s = CTL_TARGET_INTERVAL_DEFAULT;
    if (!out->role)
        out->role = "host";
    int rc = -1;
    if (ctl_named_check("target", out->name, err) < 0)
        goto done;
    if (!address) {
        err_set(err, "missing --address IP");
        goto done;
    }
    if (ctl_parse_address("--address", address, out->address, err) < 0)
        goto done;
    if (out->group && ctl_parse_line("--group", out->group, CTL_PARSE_GROUP_MAX, err) < 0)
        goto done;
    if (ctl_parse_role("--role", out->role, err) < 0)
        goto done;
    if (interval && ctl_parse_uint("--interval", interval, 1, 86400, &out->interval_s, err) < 0)
        goto done;
    if (parse_timeout(timeout, out, err) < 0)
        goto done;
    if (parse_probes(args, out, err) < 0)
        goto done;
    rc = 0;
done:
    if (rc < 0)
        ctl_target_add_opts_clear(out);
    ctl_args_destroy(&args);
    return rc;
}

void ctl_target_add_opts_clear(ctl_target_add_opts_t *opts)
{
    free(opts->probes);
    opts->probes = NULL;
    opts->nprobes = 0;
}

int ctl_target_list_parse(int argc, char **argv, int *json, err_t *err)
{
    return ctl_named_list_parse(argc, argv, json, err);
}

/* Stores the target and its probes inside the caller's transaction. Returns 0 or -1 (err
 * set; an existing name is reported as such). */
static int insert_target(ctl_db_t *db, const ctl_target_add_opts_t *opts, err_t *err)
{
    char interval[24], timeout[24];
    snprintf(interval, sizeof interval, "%llu", (unsigned long long)opts->interval_s);
    snprintf(timeout, sizeof timeout, "%llu", (unsigned long long)opts->timeout_ms);
    const char *tparams[] = {opts->name,
                             opts->address,
                             opts->group,
                             opts->role,
                             opts->control ? "true" : "false",
                             opts->allow_internal ? "true" : "false"};
    ctl_rows_t *rows = ctl_db_query(db,
                                    "INSERT INTO parallax.targets (name, address, group_name, "
                                    "role, control, allow_internal) VALUES ($1, $2::inet, $3, "
                                    "$4::parallax.target_role, $5::boolean, $6::boolean) "
                                    "RETURNING id::text",
                                    6, tparams, err);
    if (!rows) {
        if (strcmp(ctl_db_sqlstate(db), CTL_DB_UNIQUE_VIOLATION) == 0)
            err_set(err, "a target named '%s' already exists", opts->name);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < opts->nprobes; i++) {
        const char *pparams[] = {ctl_rows_get(rows, 0, 0), opts->probes[i].kind,
                                 opts->probes[i].spec, interval, timeout};
        if (ctl_db_exec(db,
                        "INSERT INTO parallax.probes (target_id, kind, spec, interval_s, "
                        "timeout_ms) VALUES ($1::integer, $2, $3, $4::integer, $5::integer)",
                        5, pparams, err) < 0) {
            err_prefix(err, "probe '%s'", opts->probes[i].spec);
            rc = -1;
        }
    }
    ctl_rows_destroy(&rows);
    return rc;
}

int ctl_target_add(ctl_db_t *db, const ctl_target_add_opts_t *opts, FILE *out, err_t *err)
{
    if (ctl_db_begin(db, err) < 0)
        return -1;
    if (insert_target(db, opts, err) < 0 || ctl_db_commit(db, err) < 0) {
        ctl_db_rollback(db, NULL);
        return -1;
    }
    fprintf(out, "added target %s (%s) with %zu probe%s every %llu s, timeout %llu ms\n",
            opts->name, opts->address, opts->nprobes, opts->nprobes == 1 ? "" : "s",
            (unsigned long long)opts->interval_s, (unsigned long long)opts->timeout_ms);
    return 0;
}

/* Columns of the list query; one row per probe (or one for a target without probes). */
enum {
    COL_NAME,
    COL_ADDRESS,
    COL_GROUP,
    COL_ROLE,
    COL_CONTROL,
    COL_KIND,
    COL_SPEC,
    COL_INTERVAL,
    COL_TIMEOUT
};

static const char list_sql[] =
    "SELECT t.name, host(t.address), t.group_name, t.role::text, t.control::text, p.kind, "
    "p.spec, p.interval_s::text, p.timeout_ms::text "
    "FROM parallax.targets t LEFT JOIN parallax.probes p ON p.target_id = t.id "
    "ORDER BY t.name, p.spec";

/* Index of the first row after the target that starts at row r. */
static size_t target_end(const ctl_rows_t *rows, size_t r)
{
    size_t e = r + 1;
    while (e < ctl_rows_count(rows) &&
           strcmp(ctl_rows_get(rows, e, COL_NAME), ctl_rows_get(rows, r, COL_NAME)) == 0)
        e++;
    return e;
}

static int is_true(const char *s)
{
    return s && strcmp(s, "true") == 0;
}

/* `target list --json`: one object per target with these members and its probes. */
static const ctl_jsonrow_field_t target_json_fields[] = {
    {"name", COL_NAME, CTL_JSONROW_STRING},
    {"address", COL_ADDRESS, CTL_JSONROW_STRING},
    {"group", COL_GROUP, CTL_JSONROW_STRING},
    {"role", COL_ROLE, CTL_JSONROW_STRING},
    {"control", COL_CONTROL, CTL_JSONROW_BOOL}};

static const ctl_jsonrow_field_t probe_json_fields[] = {
    {"kind", COL_KIND, CTL_JSONROW_STRING},
    {"spec", COL_SPEC, CTL_JSONROW_STRING},
    {"interval_s", COL_INTERVAL, CTL_JSONROW_NUMBER},
    {"timeout_ms", COL_TIMEOUT, CTL_JSONROW_NUMBER}};

static void list_json(const ctl_rows_t *rows, json_t *js)
{
    json_array_begin(js);
    for (size_t r = 0, e; r < ctl_rows_count(rows); r = e) {
        e = target_end(rows, r);
        json_object_begin(js);
        ctl_jsonrow_members(js, rows, r, target_json_fields,
                            sizeof target_json_fields / sizeof target_json_fields[0]);
        json_key(js, "probes");
        json_array_begin(js);
        /* A target without probes is one row whose probe columns are NULL. */
        for (size_t k = r; k < e; k++) {
            if (!ctl_rows_get(rows, k, COL_SPEC))
                continue;
            json_object_begin(js);
            ctl_jsonrow_members(js, rows, k, probe_json_fields,
                                sizeof probe_json_fields / sizeof probe_json_fields[0]);
            json_object_end(js);
        }
        json_array_end(js);
        json_object_end(js);
    }
    json_array_end(js);
}

/* The PROBES cell: "spec every Ns" joined by ", ". Returns a malloc'd string or NULL. */
static char *probes_cell(const ctl_rows_t *rows, size_t r, size_t e)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    int first = 1;
    for (size_t k = r; k < e; k++) {
        const char *spec = ctl_rows_get(rows, k, COL_SPEC);
        if (!spec)
            continue;
        fprintf(f, "%s%s every %ss", first ? "" : ", ", spec, ctl_rows_get(rows, k, COL_INTERVAL));
        first = 0;
    }
    if (first)
        fputs("-", f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int list_table(const ctl_rows_t *rows, FILE *out)
{
    static const char *const headers[] = {"NAME", "ADDRESS", "GROUP", "ROLE", "CONTROL", "PROBES"};
    ctl_table_t *table = ctl_table_new(6, headers);
    if (!table)
        return -1;
    int rc = 0;
    for (size_t r = 0, e; rc == 0 && r < ctl_rows_count(rows); r = e) {
        e = target_end(rows, r);
        char *probes = probes_cell(rows, r, e);
        const char *cells[] = {ctl_rows_get(rows, r, COL_NAME),
                               ctl_rows_get(rows, r, COL_ADDRESS),
                               ctl_rows_get(rows, r, COL_GROUP),
                               ctl_rows_get(rows, r, COL_ROLE),
                               is_true(ctl_rows_get(rows, r, COL_CONTROL)) ? "yes" : "no",
                               probes};
        rc = probes ? ctl_table_add(table, cells) : -1;
        free(probes);
    }
    if (rc == 0)
        rc = ctl_table_print(table, out);
    ctl_table_destroy(&table);
    return rc;
}

int ctl_target_list(ctl_db_t *db, int json, FILE *out, err_t *err)
{
    ctl_rows_t *rows = ctl_db_query(db, list_sql, 0, NULL, err);
    if (!rows)
        return -1;
    int rc = -1;
    if (json) {
        json_t *js = json_new(out);
        if (js) {
            list_json(rows, js);
            rc = json_error(js);
        }
        json_destroy(&js);
    } else {
        rc = list_table(rows, out);
    }
    if (rc < 0)
        err_set(err, "cannot write the list: %s", errno ? strerror(errno) : "out of memory");
    ctl_rows_destroy(&rows);
    return rc;
}

/* One row: the target, its probes in one cell, its latest merged state and open outages. */
static const char show_sql[] =
    "SELECT t.name, host(t.address), t.group_name, t.role::text, "
    "CASE WHEN t.control THEN 'yes' ELSE 'no' END, "
    "CASE WHEN t.allow_internal THEN 'yes' ELSE 'no' END, "
    "(SELECT string_agg(p.spec || ' every ' || p.interval_s || 's, timeout ' || p.timeout_ms "
    "  || 'ms', '; ' ORDER BY p.spec) FROM parallax.probes p WHERE p.target_id = t.id), "
    "to_char(t.created_at, 'YYYY-MM-DD HH24:MI:SS'), "
    "(SELECT b.state || ' (bin of ' || to_char(b.bin_start, 'YYYY-MM-DD HH24:MI:SS') || ' UTC)' "
    "  FROM parallax.bins b WHERE b.scope = 'target' AND b.subject_id = t.id "
    "  ORDER BY b.bin_start DESC LIMIT 1), "
    "(SELECT string_agg(o.id || ' (' || o.stage || ' since ' || "
    "  to_char(o.started_at, 'YYYY-MM-DD HH24:MI:SS') || ')', ', ' ORDER BY o.id) "
    "  FROM parallax.outages o WHERE o.scope = 'target' AND o.subject = t.name "
    "  AND o.ended_at IS NULL) "
    "FROM parallax.targets t WHERE t.name = $1";

static const char show_json_sql[] =
    "SELECT jsonb_build_object('name', t.name, 'address', host(t.address), "
    "'group', t.group_name, 'role', t.role, 'control', t.control, "
    "'allow_internal', t.allow_internal, 'created_at', t.created_at, "
    "'probes', (SELECT coalesce(jsonb_agg(jsonb_build_object('kind', p.kind, 'spec', p.spec, "
    "  'interval_s', p.interval_s, 'timeout_ms', p.timeout_ms) ORDER BY p.spec), '[]') "
    "  FROM parallax.probes p WHERE p.target_id = t.id), "
    "'latest', (SELECT jsonb_build_object('bin_start', b.bin_start, 'state', b.state, "
    "  'evidence', b.evidence) FROM parallax.bins b WHERE b.scope = 'target' "
    "  AND b.subject_id = t.id ORDER BY b.bin_start DESC LIMIT 1), "
    "'open_outages', (SELECT coalesce(jsonb_agg(o.id ORDER BY o.id), '[]') "
    "  FROM parallax.outages o WHERE o.scope = 'target' AND o.subject = t.name "
    "  AND o.ended_at IS NULL))::text "
    "FROM parallax.targets t WHERE t.name = $1";

/* `target show`: the fields in show_sql's column order. */
static const ctl_show_field_t show_fields[] = {
    {"name", CTL_SHOW_TEXT},        {"address", CTL_SHOW_TEXT}, {"group", CTL_SHOW_TEXT},
    {"role", CTL_SHOW_TEXT},        {"control", CTL_SHOW_TEXT}, {"allow internal", CTL_SHOW_TEXT},
    {"probes", CTL_SHOW_TEXT},      {"added", CTL_SHOW_UTC},    {"latest", CTL_SHOW_TEXT},
    {"open outages", CTL_SHOW_TEXT}};
static const ctl_show_spec_t show_spec = {"target", show_sql, show_json_sql, show_fields,
                                          sizeof show_fields / sizeof show_fields[0]};

int ctl_target_show(ctl_db_t *db, const char *name, int json, FILE *out, err_t *err)
{
    return ctl_show(db, &show_spec, name, json, out, err);
}

static const ctl_named_removal_t removal = {"target",
                                            "DELETE FROM parallax.targets WHERE name = $1",
                                            " and its probes (its results are kept)"};

int ctl_target_remove(ctl_db_t *db, const char *name, FILE *out, err_t *err)
{
    return ctl_named_remove(db, &removal, name, out, err);
}

int ctl_target_import_parse(int argc, char **argv, const char **path, err_t *err)
{
    static const ctl_opt_t opts[] = {{NULL, 0, 0, 0}};
    ctl_args_t *args = ctl_args_parse(argc, argv, opts, 1, err);
    if (!args)
        return -1;
    *path = ctl_args_pos(args, 0);
    int rc = 0;
    if (!*path) {
        err_set(err, "missing FILE (a CSV file, or - for standard input)");
        rc = -1;
    }
    ctl_args_destroy(&args);
    return rc;
}

/* The columns of an import file; the header decides their order. */
enum {
    K_NAME,
    K_ADDRESS,
    K_PROBES,
    K_GROUP,
    K_ROLE,
    K_CONTROL,
    K_INTERVAL,
    K_TIMEOUT,
    K_ALLOW_INTERNAL,
    NCOLUMNS
};
static const char *const column_names[NCOLUMNS] = {"name",     "address", "probes",
                                                   "group",    "role",    "control",
                                                   "interval", "timeout", "allow_internal"};

#define IMPORT_MAX_BYTES (16u << 20)
#define IMPORT_MAX_FIELDS 16
/* The longest argv one line turns into: name, 2 per option, 2 per probe. */
#define IMPORT_MAX_ARGS 256

/* Reads the whole file (at most IMPORT_MAX_BYTES) into a NUL-terminated buffer. */
static char *read_all(const char *path, err_t *err)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        err_set(err, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(IMPORT_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, IMPORT_MAX_BYTES + 1, f) : 0;
    int bad = !buf || ferror(f) || n > IMPORT_MAX_BYTES;
    if (!buf)
        err_set(err, "out of memory");
    else if (ferror(f))
        err_set(err, "cannot read %s: %s", path, strerror(errno));
    else if (n > IMPORT_MAX_BYTES)
        err_set(err, "%s is larger than %u bytes", path, IMPORT_MAX_BYTES);
    if (f != stdin)
        fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (memchr(buf, '\0', n)) {
        err_set(err, "%s is not a text file (it holds a NUL byte)", path);
        free(buf);
        return NULL;
    }
    return buf;
}

/* Maps the header's fields to columns: map[k] is the field index of column k, or -1. */
static int parse_header(char **fields, size_t n, int map[NCOLUMNS], err_t *err)
{
    for (int k = 0; k < NCOLUMNS; k++)
        map[k] = -1;
    for (size_t i = 0; i < n; i++) {
        int k = 0;
        while (k < NCOLUMNS && strcmp(column_names[k], fields[i]) != 0)
            k++;
        if (k == NCOLUMNS) {
            err_set(err,
                    "unknown column '%s' in the header (columns: name, address, probes, group, "
                    "role, control, interval, timeout)",
                    fields[i]);
            return -1;
        }
        if (map[k] >= 0) {
            err_set(err, "column '%s' appears twice in the header", fields[i]);
            return -1;
        }
        map[k] = (int)i;
    }
    for (int k = 0; k < 3; k++)
        if (map[k] < 0) {
            err_set(err, "the header lacks the '%s' column (needed: name, address, probes)",
                    column_names[k]);
            return -1;
        }
    return 0;
}

/* A yes/no column: adds option to argv for yes (true, 1), nothing for no (false, 0, empty).
 * Returns 0, or -1 (err set) for anything else. */
static int flag_argv(const char *column, const char *value, const char *option, char **argv,
                     int *argc, err_t *err)
{
    if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0 || strcmp(value, "1") == 0) {
        argv[(*argc)++] = (char *)option;
        return 0;
    }
    if (!*value || strcmp(value, "no") == 0 || strcmp(value, "false") == 0 ||
        strcmp(value, "0") == 0)
        return 0;
    err_set(err, "bad %s '%s': expected yes or no", column, value);
    return -1;
}

/* Turns one record into the argv of `target add`, so it is checked by the same parser.
 * Returns argc, or -1 (err set). */
static int record_argv(char **fields, size_t n, const int map[NCOLUMNS], char **argv, err_t *err)
{
    static const char *const options[NCOLUMNS] = {
        NULL, "--address", NULL, "--group", "--role", NULL, "--interval", "--timeout", NULL};
    const char *v[NCOLUMNS] = {0};
    for (int k = 0; k < NCOLUMNS; k++)
        v[k] = map[k] >= 0 && (size_t)map[k] < n ? fields[map[k]] : "";
    int argc = 0;
    argv[argc++] = (char *)v[K_NAME];
    for (int k = 0; k < NCOLUMNS; k++)
        if (options[k] && (*v[k] || k == K_ADDRESS)) {
            argv[argc++] = (char *)options[k];
            argv[argc++] = (char *)v[k];
        }
    if (flag_argv(column_names[K_CONTROL], v[K_CONTROL], "--control", argv, &argc, err) < 0 ||
        flag_argv(column_names[K_ALLOW_INTERNAL], v[K_ALLOW_INTERNAL], "--allow-internal", argv,
                  &argc, err) < 0)
        return -1;
    /* Probes are separated by spaces; the field is this line's own copy, so cut it up. */
    char *save = NULL;
    for (char *p = strtok_r(fields[map[K_PROBES]], " \t", &save); p;
         p = strtok_r(NULL, " \t", &save)) {
        if (argc + 2 >= IMPORT_MAX_ARGS) {
            err_set(err, "too many probes");
            return -1;
        }
        argv[argc++] = "--probe";
        argv[argc++] = p;
    }
    return argc;
}

/* The probes of opts as one text, to compare with what is stored: "spec interval timeout"
 * lines in byte order of their specs (the SQL below orders with COLLATE "C" alike). Returns a
 * malloc'd string or NULL. */
static char *probes_text(const ctl_target_add_opts_t *opts)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    int *done = calloc(opts->nprobes + 1, sizeof *done);
    for (size_t n = 0; done && n < opts->nprobes; n++) {
        size_t best = opts->nprobes;
        for (size_t i = 0; i < opts->nprobes; i++)
            if (!done[i] && (best == opts->nprobes ||
                             strcmp(opts->probes[i].spec, opts->probes[best].spec) < 0))
                best = i;
        done[best] = 1;
        fprintf(f, "%s%s %llu %llu", n ? "\n" : "", opts->probes[best].spec,
                (unsigned long long)opts->interval_s, (unsigned long long)opts->timeout_ms);
    }
    int ok = done != NULL;
    free(done);
    if (fclose(f) != 0 || !ok) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Whether a target named opts->name is stored already: 0 if not, 1 if it is, exactly as opts
 * would store it (so a file imported twice changes nothing), -1 (err set) if it is there
 * with another definition or the query fails. */
static int existing_target(ctl_db_t *db, const ctl_target_add_opts_t *opts, err_t *err)
{
    char *probes = probes_text(opts);
    if (!probes) {
        err_set(err, "out of memory");
        return -1;
    }
    const char *params[] = {opts->name,
                            opts->address,
                            opts->group,
                            opts->role,
                            opts->control ? "true" : "false",
                            opts->allow_internal ? "true" : "false",
                            probes};
    ctl_rows_t *rows = ctl_db_query(
        db,
        "SELECT (t.address = $2::inet AND t.group_name IS NOT DISTINCT FROM $3 "
        "AND t.role = $4::parallax.target_role AND t.control = $5::boolean "
        "AND t.allow_internal = $6::boolean AND coalesce((SELECT string_agg(p.spec || ' ' || "
        "p.interval_s || ' ' || p.timeout_ms, E'\\n' ORDER BY p.spec COLLATE \"C\") "
        "FROM parallax.probes p WHERE p.target_id = t.id), '') = $7)::text "
        "FROM parallax.targets t WHERE t.name = $1",
        7, params, err);
    free(probes);
    if (!rows)
        return -1;
    int rc = 0;
    if (ctl_rows_count(rows) > 0) {
        rc = is_true(ctl_rows_get(rows, 0, 0)) ? 1 : -1;
        if (rc < 0)
            err_set(err,
                    "a target named '%s' already exists with another definition (address, "
                    "group, role, flags or probes); remove it or rename the line",
                    opts->name);
    }
    ctl_rows_destroy(&rows);
    return rc;
}

int ctl_target_import(ctl_db_t *db, const char *path, FILE *out, err_t *err)
{
    char *buf = read_all(path, err);
    if (!buf)
        return -1;
    const char *shown = strcmp(path, "-") == 0 ? "<stdin>" : path;
    int map[NCOLUMNS];
    int have_header = 0;
    size_t lineno = 0, targets = 0, probes = 0, unchanged = 0;
    int rc = -1;
    if (ctl_db_begin(db, err) < 0) {
        free(buf);
        return -1;
    }
    char *next = buf;
    while (next && *next) {
        char *line = next;
        char *nl = strchr(line, '\n');
        next = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        lineno++;
        const char *first = line + strspn(line, " \t\r");
        if (*first == '\0' || *first == '#')
            continue;
        char *fields[IMPORT_MAX_FIELDS];
        size_t n;
        if (ctl_csv_split(line, fields, IMPORT_MAX_FIELDS, &n, err) < 0)
            goto line_fail;
        if (!have_header) {
            if (parse_header(fields, n, map, err) < 0)
                goto line_fail;
            have_header = 1;
            continue;
        }
        char *argv[IMPORT_MAX_ARGS];
        int argc = record_argv(fields, n, map, argv, err);
        if (argc < 0)
            goto line_fail;
        ctl_target_add_opts_t opts;
        if (ctl_target_add_parse(argc, argv, &opts, err) < 0)
            goto line_fail;
        int there = existing_target(db, &opts, err);
        int stored = there == 0 ? insert_target(db, &opts, err) : there;
        if (there == 0)
            probes += opts.nprobes;
        ctl_target_add_opts_clear(&opts);
        if (stored < 0)
            goto line_fail;
        if (there == 1)
            unchanged++;
        else
            targets++;
    }
    if (!have_header) {
        err_set(err, "%s: no header line (expected e.g. name,address,group,role,probes)", shown);
        goto fail;
    }
    if (ctl_db_commit(db, err) < 0)
        goto fail;
    fprintf(out, "imported %zu target%s with %zu probe%s from %s", targets, targets == 1 ? "" : "s",
            probes, probes == 1 ? "" : "s", shown);
    if (unchanged)
        fprintf(out, "; %zu already there as written, unchanged", unchanged);
    fputc('\n', out);
    rc = 0;
    goto done;
line_fail:
    if (err) {
        char why[ERR_MSG_MAX];
        memcpy(why, err->msg, sizeof why);
        err_set(err, "%s:%zu: %s (nothing was imported)", shown, lineno, why);
    }
fail:
    ctl_db_rollback(db, NULL);
done:
    free(buf);
    return rc;
}

/* ---- the commands: usage text, then parse and run ---- */

static const char usage_target[] = "usage: " CTL_PROG " target add|list|show|remove|import ...\n"
                                   "  (" CTL_PROG " target COMMAND --help for details)\n";

static const char usage_target_add[] =
    "usage: " CTL_PROG " [--db CONNINFO] target add NAME --address IP --probe SPEC [options]\n"
    "\n"
    "Adds target NAME and one probe per --probe, all or nothing.\n"
    "\n"
    "  NAME              letters, digits, '.', '_', '-' (at most 63)\n"
    "  --address IP      the target's IPv4 or IPv6 address\n"
    "  --probe SPEC      icmp, tcp:PORT, http:URL, https:URL, dns:QNAME[:QTYPE],\n"
    "                    smtp[:PORT] or trace; repeat for more probes\n"
    "  --group G         a group to roll the target up into (a country, an AS, ...)\n"
    "  --role ROLE       web, mail, dns, router or host (default host)\n"
    "  --control         a control target: a stable host that measures the vantages\n"
    "  --allow-internal  let the agents probe it though its address is on their\n"
    "                    deny-list (loopback, link-local, multicast, cloud metadata)\n"
    "  --interval S      seconds between probe runs, 1..86400 (default 60)\n"
    "  --timeout MS      probe timeout in milliseconds, shorter than the interval\n"
    "                    (default min(5000, interval x 500): 60 s -> 5000, 5 s -> 2500)\n"
    "\n"
    "A run still going when the next is due makes the agent skip the next one, so a\n"
    "timeout that is not shorter than the interval is refused.\n";

static const char usage_target_list[] =
    "usage: " CTL_PROG " [--db CONNINFO] target list [--json]\n"
    "\n"
    "Lists targets with their address, group, role, control flag and probes.\n"
    "  --json  a JSON array of objects instead of a table\n";

static const char usage_target_show[] =
    "usage: " CTL_PROG " [--db CONNINFO] target show NAME [--json]\n"
    "\n"
    "Shows target NAME: address, group, role, probes, its latest merged state and its\n"
    "outages going on.\n"
    "  --json  one JSON object\n";

static const char usage_target_remove[] =
    "usage: " CTL_PROG " [--db CONNINFO] target remove NAME\n"
    "\n"
    "Deletes target NAME and its probes; agents stop probing it with their next schedule.\n"
    "Its results are kept.\n";

static const char usage_target_import[] =
    "usage: " CTL_PROG " [--db CONNINFO] target import FILE\n"
    "\n"
    "Adds the targets in CSV file FILE (- for standard input) in one transaction: all of\n"
    "them or, if any line is wrong, none; the error names the line. A line whose target\n"
    "exists already exactly as written is left alone (importing a file twice changes\n"
    "nothing); one that exists with another definition is wrong. The first line names\n"
    "the columns, in any order: name, address, probes (required), group, role, control\n"
    "(yes/no), interval, timeout, allow_internal (yes/no); an empty field takes target\n"
    "add's default. A timeout\n"
    "must be shorter than the interval; without one it is min(5000, interval x 500) ms.\n"
    "Probes are separated by spaces. Blank lines and lines starting with # are skipped.\n"
    "Fields may be quoted (\"a,b\"; \"\" for a quote). Example:\n"
    "  name,address,group,role,probes,interval\n"
    "  gov-web,192.0.2.10,XX,web,icmp tcp:443 https:https://www.example/,60\n";

static int cmd_target_add(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    ctl_target_add_opts_t opts;
    if (ctl_target_add_parse(argc, argv, &opts, err) < 0)
        return CTL_EXIT_USAGE;
    ctl_db_t *db = ctl_session_db(s, err);
    int rc = db ? ctl_outcome(ctl_target_add(db, &opts, stdout, err)) : CTL_EXIT_FAIL;
    ctl_target_add_opts_clear(&opts);
    return rc;
}

static int cmd_target_list(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    return ctl_named_list_command(s, ctl_target_list, argc, argv, err);
}

static int cmd_target_show(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    return ctl_named_show_command(s, &show_spec, argc, argv, err);
}

static int cmd_target_remove(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    return ctl_named_remove_command(s, &removal, argc, argv, err);
}

static int cmd_target_import(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    const char *path;
    if (ctl_target_import_parse(argc, argv, &path, err) < 0)
        return CTL_EXIT_USAGE;
    ctl_db_t *db = ctl_session_db(s, err);
    return db ? ctl_outcome(ctl_target_import(db, path, stdout, err)) : CTL_EXIT_FAIL;
}

const ctl_command_t ctl_target_commands[] = {
    {"target", NULL, usage_target, NULL},
    {"target", "add", usage_target_add, cmd_target_add},
    {"target", "list", usage_target_list, cmd_target_list},
    {"target", "show", usage_target_show, cmd_target_show},
    {"target", "remove", usage_target_remove, cmd_target_remove},
    {"target", "import", usage_target_import, cmd_target_import},
};
const size_t ctl_target_command_count = sizeof ctl_target_commands / sizeof ctl_target_commands[0];
