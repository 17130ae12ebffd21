/* ctl_timeline: the database places every bin in a column and picks each cell's worst
 * state; this file lays the rows out, draws letters and colours, the time axis and the
 * legend. */
#include "ctl_timeline.h"

#include "ctl_command.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_args.h"
#include "ctl_parse.h"
#include "json.h"

/* Row tiers, in the order they are drawn under one target. */
enum { TIER_GROUP, TIER_TARGET, TIER_VANTAGE, TIER_ROUTES, NTIERS };

/* How one state is drawn: a letter (also the whole story without colour) and its SGR
 * colour (black letters on a coloured background). */
typedef struct style {
    const char *state;
    char letter;
    const char *sgr;
    const char *meaning;
} style_t;

static const style_t group_styles[] = {
    {"normal", '.', "30;42", "normal"},
    {"degraded", '~', "30;43", "degraded"},
    {"servers_offline", 's', "30;45", "servers offline"},
    {"dns_down", 'd', "30;41", "dns down"},
    {"blackout", 'B', "97;40", "blackout"},
    {"unknown", '?', "30;47", "unknown"},
    {NULL, 0, NULL, NULL},
};

static const style_t target_styles[] = {
    {"up", '.', "30;42", "up"},           {"degraded", '~', "30;43", "degraded"},
    {"partial", 'p', "30;45", "partial"}, {"down", 'X', "30;41", "down"},
    {"unknown", '?', "30;47", "unknown"}, {NULL, 0, NULL, NULL},
};

static const style_t vantage_styles[] = {
    {"ok", '.', "30;42", "every run ok"},
    {"mixed", 'm', "30;43", "some runs failed"},
    {"failed", 'x', "30;41", "every run failed"},
    {"unhealthy", '!', "30;47", "vantage not healthy (left out)"},
    {NULL, 0, NULL, NULL},
};

/* What the route collectors saw of the group's prefixes (parallax.group_routes), drawn under
 * the group's row when there is BGP data. */
static const style_t routes_styles[] = {
    {"routed", '.', "30;42", "routed"},
    {"partly_routed", 'r', "30;43", "partly routed"},
    {"unroutable", 'U', "97;40", "withdrawn (unroutable)"},
    {NULL, 0, NULL, NULL},
};

static const style_t *const tier_styles[NTIERS] = {group_styles, target_styles, vantage_styles,
                                                   routes_styles};
static const char *const tier_names[NTIERS] = {"group", "target", "vantage", "routes"};

int ctl_timeline_parse(int argc, char **argv, ctl_timeline_opts_t *out, err_t *err)
{
    static const ctl_opt_t opts[] = {
        {"group", 0, 1, 0},    {"target", 0, 1, 0},  {"since", 0, 1, 0},
        {"until", 0, 1, 0},    {"columns", 0, 1, 0}, {"color", 0, 0, 0},
        {"no-color", 0, 0, 0}, {"json", 0, 0, 0},    {NULL, 0, 0, 0},
    };
    memset(out, 0, sizeof *out);
    ctl_args_t *args = ctl_args_parse(argc, argv, opts, 0, err);
    if (!args)
        return -1;
    int rc = -1;
    const char *since = ctl_args_value(args, "since", 0);
    const char *columns = ctl_args_value(args, "columns", 0);
    out->group = ctl_args_value(args, "group", 0);
    out->target = ctl_args_value(args, "target", 0);
    out->until = ctl_args_value(args, "until", 0);
    out->json = ctl_args_count(args, "json") > 0;
    out->since_s = CTL_TIMELINE_SINCE_S;
    out->columns = CTL_TIMELINE_COLUMNS;
    int color = ctl_args_count(args, "color") > 0, no_color = ctl_args_count(args, "no-color") > 0;
    out->color = no_color ? CTL_FMT_COLOR_NEVER : color ? CTL_FMT_COLOR_ALWAYS : CTL_FMT_COLOR_AUTO;
    if (!out->group == !out->target) {
        err_set(err, "give either --group G or --target T");
        goto done;
    }
    if (color && no_color) {
        err_set(err, "--color and --no-color contradict each other");
        goto done;
    }
    if (out->target && ctl_parse_name("--target", out->target, err) < 0)
        goto done;
    if (out->group && !*out->group) {
        err_set(err, "bad --group '': expected a group name");
        goto done;
    }
    if (since && ctl_parse_duration("--since", since, &out->since_s, err) < 0)
        goto done;
    if (columns && ctl_parse_uint("--columns", columns, 10, 1000, &out->columns, err) < 0)
        goto done;
    if (out->until && !*out->until) {
        err_set(err, "bad --until '': expected a time such as 2031-03-03T00:21:00Z");
        goto done;
    }
    rc = 0;
done:
    ctl_args_destroy(&args);
    return rc;
}

/* The frame: bin width, first bin, end, number of bins, bins per column, columns, and a
 * readable span. The end is --until (or now) rounded up to a bin boundary. Parameters: $1
 * target (NULL for a group), $2 since seconds, $3 until (NULL: now), $4 columns. */
enum { F_BIN_S, F_START, F_END, F_NBINS, F_PER, F_NCOLS, F_START_TEXT, F_END_TEXT, F_LONG };

static const char frame_sql[] =
    "WITH w AS (SELECT coalesce(CASE WHEN $1::text IS NOT NULL THEN "
    "  (SELECT parallax.target_bin_s(t.id) FROM parallax.targets t WHERE t.name = $1) "
    "  ELSE (SELECT group_bin_s FROM parallax.merge_settings_now()) END, 60) AS b), "
    "e AS (SELECT w.b, parallax.bin_floor(coalesce($3::timestamptz, now()) - interval "
    "  '1 microsecond', w.b) + w.b * interval '1 second' AS e FROM w), "
    "s AS (SELECT e.*, parallax.bin_floor(e.e - $2::bigint * interval '1 second', e.b) AS s "
    "  FROM e), "
    "n AS (SELECT s.*, (extract(epoch FROM s.e - s.s) / s.b)::integer AS nbins FROM s), "
    "p AS (SELECT n.*, greatest(1, ceil(n.nbins::numeric / $4::integer))::integer AS per FROM n) "
    "SELECT p.b::text, p.s::text, p.e::text, p.nbins::text, p.per::text, "
    "ceil(p.nbins::numeric / p.per)::integer::text, "
    "to_char(p.s, 'YYYY-MM-DD HH24:MI'), to_char(p.e, 'YYYY-MM-DD HH24:MI'), "
    "(p.e - p.s > interval '1 day')::text FROM p";

/* Every row and its cells: (tier, target, role, agent, column, state), rows in drawing
 * order, a row's cells by column; a NULL column is a row without any cell. Parameters: $1
 * group, $2 target, $3 start, $4 end, $5 bin seconds, $6 bins per column. */
enum { C_TIER, C_TARGET, C_ROLE, C_AGENT, C_COL, C_STATE };

static const char cells_sql[] =
    "WITH tg AS (SELECT t.name, t.role::text AS role FROM parallax.targets t "
    "  WHERE NOT t.control AND (t.group_name = $1 OR t.name = $2)), "
    "colw AS (SELECT $5::integer * $6::integer AS s), "
    "cells AS ("
    " SELECT 0 AS tier, ''::text AS target, ''::text AS agent, "
    "  floor(extract(epoch FROM g.bin_start - $3::timestamptz) / colw.s)::integer AS col, "
    "  max(g.stage)::text AS state "
    " FROM parallax.group_bins g, colw WHERE g.group_name = $1 "
    "  AND g.bin_start >= $3::timestamptz AND g.bin_start < $4::timestamptz GROUP BY 4 "
    " UNION ALL "
    " SELECT 1, b.target, '', floor(extract(epoch FROM b.bin_start - $3::timestamptz) / "
    "colw.s)::integer, "
    "  max(b.state)::text "
    " FROM parallax.target_bins b JOIN tg ON tg.name = b.target, colw "
    " WHERE b.bin_start >= $3::timestamptz AND b.bin_start < $4::timestamptz GROUP BY 2, 4 "
    " UNION ALL "
    " SELECT 2, v.target, v.agent, floor(extract(epoch FROM v.bin_start - $3::timestamptz) / "
    "colw.s)::integer, "
    "  (ARRAY['ok', 'mixed', 'failed', 'unhealthy'])[max(CASE "
    "    WHEN v.health IN ('impaired', 'offline', 'maintenance') THEN 4 WHEN v.seen = 'failed' "
    "THEN 3 "
    "    WHEN v.seen = 'mixed' THEN 2 ELSE 1 END)] "
    " FROM parallax.vantage_target_bins($3::timestamptz, $4::timestamptz) v "
    " JOIN tg ON tg.name = v.target, colw GROUP BY 2, 3, 4 "
    " UNION ALL "
    " SELECT 3, '', '', floor(extract(epoch FROM g.bin_start - $3::timestamptz) / "
    "colw.s)::integer, "
    "  (ARRAY['routed', 'partly_routed', 'unroutable'])[max(CASE x.r->>'state' "
    "   WHEN 'routed' THEN 1 WHEN 'partly_routed' THEN 2 WHEN 'unroutable' THEN 3 END)] "
    " FROM parallax.group_bins g "
    " CROSS JOIN LATERAL (SELECT parallax.group_routes($1, g.bin_end) AS r) x, colw "
    " WHERE g.group_name = $1 AND g.bin_start >= $3::timestamptz "
    "  AND g.bin_start < $4::timestamptz AND EXISTS (SELECT 1 FROM parallax.route_peers) "
    " GROUP BY 4 "
    " UNION ALL SELECT 0, '', '', NULL, NULL WHERE $1::text IS NOT NULL "
    " UNION ALL SELECT 3, '', '', NULL, NULL WHERE $1::text IS NOT NULL "
    "  AND EXISTS (SELECT 1 FROM parallax.route_peers) "
    " UNION ALL SELECT 1, tg.name, '', NULL, NULL FROM tg"
    ") "
    "SELECT c.tier::text, c.target, tg.role, c.agent, c.col::text, c.state FROM cells c "
    "LEFT JOIN tg ON tg.name = c.target "
    "ORDER BY c.tier <> 0, c.target, c.tier, c.agent, c.col NULLS FIRST";

/* Ticks: the start of every tenth column, labelled. */
static const char ticks_sql[] =
    "SELECT c::text, to_char($1::timestamptz + c * $2::integer * interval '1 second', "
    "CASE WHEN $4::boolean THEN 'MM-DD' ELSE 'HH24:MI' END) "
    "FROM generate_series(0, $3::integer - 1, 10) c";

typedef struct row {
    int tier;
    const char *target; /* owned by the rows result */
    const char *role;
    const char *agent;
    char *label;           /* owned */
    const style_t **cells; /* ncols entries, NULL: no bin */
} row_t;

typedef struct grid {
    row_t *rows;
    size_t nrows;
    size_t ncols;
    size_t label_w;
} grid_t;

static void grid_clear(grid_t *g)
{
    for (size_t i = 0; i < g->nrows; i++) {
        free(g->rows[i].label);
        free(g->rows[i].cells);
    }
    free(g->rows);
    memset(g, 0, sizeof *g);
}

static const style_t *find_style(int tier, const char *state)
{
    for (const style_t *s = tier_styles[tier]; state && s->state; s++)
        if (strcmp(s->state, state) == 0)
            return s;
    return NULL;
}

/* Builds the rows from the cells query. Returns 0 or -1 (out of memory). */
static int grid_build(grid_t *g, const ctl_rows_t *rows, const char *group, size_t ncols)
{
    size_t n = ctl_rows_count(rows);
    g->ncols = ncols;
    if (!(g->rows = calloc(n ? n : 1, sizeof *g->rows)))
        return -1;
    for (size_t r = 0; r < n; r++) {
        int tier = atoi(ctl_rows_get(rows, r, C_TIER));
        const char *target = ctl_rows_get(rows, r, C_TARGET);
        const char *agent = ctl_rows_get(rows, r, C_AGENT);
        row_t *last = g->nrows ? &g->rows[g->nrows - 1] : NULL;
        if (!last || last->tier != tier || strcmp(last->target, target) != 0 ||
            strcmp(last->agent, agent) != 0) {
            last = &g->rows[g->nrows++];
            last->tier = tier;
            last->target = target;
            last->agent = agent;
            last->role = ctl_rows_get(rows, r, C_ROLE);
            if (!(last->cells = calloc(ncols ? ncols : 1, sizeof *last->cells)))
                return -1;
            /* Vantage rows are indented under their target, targets under the group. */
            int indent = (tier == TIER_VANTAGE ? 2 : 0) + (group && tier != TIER_GROUP ? 2 : 0);
            int len = tier == TIER_GROUP    ? asprintf(&last->label, "group %s", group)
                      : tier == TIER_ROUTES ? asprintf(&last->label, "  routes (BGP)")
                      : tier == TIER_TARGET ? asprintf(&last->label, "%*s%s (%s)", indent, "",
                                                       target, last->role ? last->role : "?")
                                            : asprintf(&last->label, "%*s%s", indent, "", agent);
            if (len < 0) {
                last->label = NULL;
                return -1;
            }
            if ((size_t)len > g->label_w)
                g->label_w = (size_t)len;
        }
        const char *col = ctl_rows_get(rows, r, C_COL);
        if (col) {
            long c = atol(col);
            if (c >= 0 && (size_t)c < ncols)
                last->cells[c] = find_style(tier, ctl_rows_get(rows, r, C_STATE));
        }
    }
    return 0;
}

static void put_cell(const style_t *s, int color, FILE *out)
{
    if (!s)
        fputc(' ', out);
    else if (color)
        fprintf(out, "\033[%sm%c\033[0m", s->sgr, s->letter);
    else
        fputc(s->letter, out);
}

static void draw(const grid_t *g, const ctl_rows_t *frame, const ctl_rows_t *ticks,
                 const char *what, int color, FILE *out)
{
    char span[24], col_span[24];
    uint64_t bin_s = strtoull(ctl_rows_get(frame, 0, F_BIN_S), NULL, 10);
    uint64_t per = strtoull(ctl_rows_get(frame, 0, F_PER), NULL, 10);
    ctl_fmt_duration(bin_s, span, sizeof span);
    ctl_fmt_duration(bin_s * per, col_span, sizeof col_span);
    fprintf(out, "timeline of %s, %s to %s UTC, one column = %s (bins of %s)\n", what,
            ctl_rows_get(frame, 0, F_START_TEXT), ctl_rows_get(frame, 0, F_END_TEXT), col_span,
            span);
    /* The axis: labels over ticks, a label only where it fits before the next. */
    size_t w = g->label_w + 2;
    char *labels = malloc(w + g->ncols + 16);
    char *marks = malloc(w + g->ncols + 16);
    if (labels && marks) {
        memset(labels, ' ', w + g->ncols + 15);
        memset(marks, ' ', w + g->ncols + 15);
        size_t end = 0;
        for (size_t r = 0; r < ctl_rows_count(ticks); r++) {
            size_t c = strtoull(ctl_rows_get(ticks, r, 0), NULL, 10);
            const char *text = ctl_rows_get(ticks, r, 1);
            size_t len = strlen(text);
            marks[w + c] = '|';
            if (w + c >= end && w + c + len <= w + g->ncols + 15) {
                memcpy(labels + w + c, text, len);
                end = w + c + len + 1;
            }
            if (w + c + len > end)
                end = w + c + len;
        }
        /* No trailing blanks. */
        size_t ll = w + g->ncols + 15, ml = w + g->ncols;
        while (ll > 0 && labels[ll - 1] == ' ')
            ll--;
        while (ml > 0 && marks[ml - 1] == ' ')
            ml--;
        fprintf(out, "%.*s\n%.*s\n", (int)ll, labels, (int)ml, marks);
    }
    free(labels);
    free(marks);
    for (size_t r = 0; r < g->nrows; r++) {
        const row_t *row = &g->rows[r];
        size_t used = g->ncols;
        /* Trailing empty cells are not drawn, so lines carry no trailing blanks. */
        while (used > 0 && !row->cells[used - 1])
            used--;
        if (used == 0) {
            fprintf(out, "%s\n", row->label);
            continue;
        }
        fprintf(out, "%-*s  ", (int)g->label_w, row->label);
        for (size_t c = 0; c < used; c++)
            put_cell(row->cells[c], color, out);
        fputc('\n', out);
    }
    fprintf(out, "\nlegend (blank: no data):\n");
    int routes = 0;
    for (size_t r = 0; r < g->nrows; r++)
        routes |= g->rows[r].tier == TIER_ROUTES;
    for (int t = 0; t < NTIERS; t++) {
        if ((t == TIER_GROUP && strncmp(what, "group", 5) != 0) || (t == TIER_ROUTES && !routes))
            continue;
        fprintf(out, "  %-8s", tier_names[t]);
        for (const style_t *s = tier_styles[t]; s->state; s++) {
            fputs(" ", out);
            put_cell(s, color, out);
            fprintf(out, " %s%s", s->meaning, s[1].state ? "," : "\n");
        }
    }
}

static void write_json(const grid_t *g, const ctl_rows_t *frame, const ctl_timeline_opts_t *opts,
                       json_t *js)
{
    json_object_begin(js);
    json_key(js, opts->group ? "group" : "target");
    json_string(js, opts->group ? opts->group : opts->target);
    json_key(js, "from");
    json_string(js, ctl_rows_get(frame, 0, F_START));
    json_key(js, "to");
    json_string(js, ctl_rows_get(frame, 0, F_END));
    json_key(js, "bin_s");
    json_raw_number(js, ctl_rows_get(frame, 0, F_BIN_S));
    json_key(js, "bins_per_column");
    json_raw_number(js, ctl_rows_get(frame, 0, F_PER));
    json_key(js, "rows");
    json_array_begin(js);
    for (size_t r = 0; r < g->nrows; r++) {
        const row_t *row = &g->rows[r];
        json_object_begin(js);
        json_key(js, "kind");
        json_string(js, tier_names[row->tier]);
        if (row->tier == TIER_TARGET || row->tier == TIER_VANTAGE) {
            json_key(js, "target");
            json_string(js, row->target);
        }
        if (row->tier == TIER_VANTAGE) {
            json_key(js, "agent");
            json_string(js, row->agent);
        }
        json_key(js, "cells");
        json_array_begin(js);
        for (size_t c = 0; c < g->ncols; c++)
            json_string(js, row->cells[c] ? row->cells[c]->state : NULL);
        json_array_end(js);
        json_object_end(js);
    }
    json_array_end(js);
    json_object_end(js);
}

/* Checks that the group or target exists, so a typo is an error, not an empty picture. */
static int check_subject(ctl_db_t *db, const ctl_timeline_opts_t *opts, err_t *err)
{
    const char *params[] = {opts->group ? opts->group : opts->target};
    char *found = ctl_db_query_text(
        db,
        opts->group ? "SELECT EXISTS (SELECT 1 FROM parallax.targets WHERE group_name = $1)::text"
                    : "SELECT EXISTS (SELECT 1 FROM parallax.targets WHERE name = $1)::text",
        1, params, err);
    if (!found)
        return -1;
    int ok = strcmp(found, "true") == 0;
    free(found);
    if (!ok) {
        if (opts->group)
            err_set(err, "no group '%s' (no target has it: see 'parallaxctl target list')",
                    opts->group);
        else
            err_set(err, "no target named '%s'", opts->target);
        return -1;
    }
    return 0;
}

int ctl_timeline_show(ctl_db_t *db, const ctl_timeline_opts_t *opts, FILE *out, err_t *err)
{
    if (check_subject(db, opts, err) < 0)
        return -1;
    char since[24], columns[24];
    snprintf(since, sizeof since, "%llu", (unsigned long long)opts->since_s);
    snprintf(columns, sizeof columns, "%llu", (unsigned long long)opts->columns);
    const char *fparams[] = {opts->target, since, opts->until, columns};
    ctl_rows_t *frame = NULL, *cells = NULL, *ticks = NULL;
    grid_t grid = {0};
    json_t *js = NULL;
    int rc = -1;
    frame = ctl_db_query(db, frame_sql, 4, fparams, err);
    if (!frame) {
        /* Class 22 is "data exception": the server could not read --until as a time. */
        if (opts->until && strncmp(ctl_db_sqlstate(db), "22", 2) == 0)
            err_set(err, "bad --until '%s': expected a time such as 2031-03-03T00:21:00Z",
                    opts->until);
        goto done;
    }
    const char *cparams[] = {opts->group,
                             opts->target,
                             ctl_rows_get(frame, 0, F_START),
                             ctl_rows_get(frame, 0, F_END),
                             ctl_rows_get(frame, 0, F_BIN_S),
                             ctl_rows_get(frame, 0, F_PER)};
    const char *tparams[] = {ctl_rows_get(frame, 0, F_START), cparams[4],
                             ctl_rows_get(frame, 0, F_NCOLS), ctl_rows_get(frame, 0, F_LONG)};
    char bins_per_col[24];
    snprintf(bins_per_col, sizeof bins_per_col, "%llu",
             strtoull(cparams[4], NULL, 10) * strtoull(cparams[5], NULL, 10));
    tparams[1] = bins_per_col;
    if (!(cells = ctl_db_query(db, cells_sql, 6, cparams, err)) ||
        !(ticks = ctl_db_query(db, ticks_sql, 4, tparams, err)))
        goto done;
    if (grid_build(&grid, cells, opts->group, strtoull(ctl_rows_get(frame, 0, F_NCOLS), NULL, 10)) <
        0) {
        err_set(err, "out of memory");
        goto done;
    }
    if (opts->json) {
        if (!(js = json_new(out))) {
            err_set(err, "out of memory");
            goto done;
        }
        write_json(&grid, frame, opts, js);
        rc = json_error(js);
    } else {
        char what[160];
        snprintf(what, sizeof what, "%s %s", opts->group ? "group" : "target",
                 opts->group ? opts->group : opts->target);
        draw(&grid, frame, ticks, what, ctl_fmt_use_color(opts->color, out), out);
        rc = ferror(out) ? -1 : 0;
    }
    if (rc < 0)
        err_set(err, "cannot write the timeline: %s", strerror(errno));
done:
    json_destroy(&js);
    grid_clear(&grid);
    ctl_rows_destroy(&frame);
    ctl_rows_destroy(&cells);
    ctl_rows_destroy(&ticks);
    return rc;
}

/* ---- the commands: usage text, then parse and run ---- */

static const char usage_timeline[] =
    "usage: " CTL_PROG " [--db CONNINFO] timeline --group G | --target T [options]\n"
    "\n"
    "Draws a heatmap: one row for the group's stage (and, with BGP data, one for whether its\n"
    "prefixes were routed), one per target for its merged state, and under each target one\n"
    "row per vantage for what it saw; one column per bin (or\n"
    "per several bins on long spans, showing the worst). Every cell is a letter (see the\n"
    "legend it prints), coloured when the output is a terminal.\n"
    "  --group G        the targets of group G\n"
    "  --target T       target T alone\n"
    "  --since DURATION how far back (default 1h)\n"
    "  --until TIME     end of the picture (default now), e.g. 2031-03-03T00:21:00Z\n"
    "  --columns N      at most N columns, 10..1000 (default 60)\n"
    "  --color          colour even when the output is not a terminal\n"
    "  --no-color       never colour (NO_COLOR in the environment does the same)\n"
    "  --json           the grid as JSON: rows with a state (or null) per column\n"
    "SQL: parallax.group_bins, parallax.target_bins, parallax.vantage_target_bins(from, to)\n";

static int cmd_timeline(ctl_session_t *s, int argc, char **argv, err_t *err)
{
    ctl_timeline_opts_t opts;
    if (ctl_timeline_parse(argc, argv, &opts, err) < 0)
        return CTL_EXIT_USAGE;
    ctl_db_t *db = ctl_session_db(s, err);
    return db ? ctl_outcome(ctl_timeline_show(db, &opts, stdout, err)) : CTL_EXIT_FAIL;
}

const ctl_command_t ctl_timeline_commands[] = {
    {"timeline", NULL, usage_timeline, cmd_timeline},
};
const size_t ctl_timeline_command_count =
    sizeof ctl_timeline_commands / sizeof ctl_timeline_commands[0];
