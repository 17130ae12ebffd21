/* spool_gap: entries kept sorted by probe id, found by binary search, so summing up a whole
 * dropped segment costs O(results x log probes). */
#include "spool_gap.h"

#include <stdlib.h>
#include <string.h>

typedef struct gap_entry {
    uint64_t probe_id;
    int64_t from_us;
    int64_t to_us;
    uint64_t count;
} gap_entry_t;

struct spool_gap {
    gap_entry_t *v;
    size_t n;
    size_t cap;
    uint64_t total;
};

spool_gap_t *spool_gap_new(void)
{
    return calloc(1, sizeof(spool_gap_t));
}

void spool_gap_destroy(spool_gap_t **g)
{
    if (!g || !*g)
        return;
    free((*g)->v);
    free(*g);
    *g = NULL;
}

/* Index of probe_id, or of where it would go. */
static size_t find(const spool_gap_t *g, uint64_t probe_id)
{
    size_t lo = 0, hi = g->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (g->v[mid].probe_id < probe_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int spool_gap_add(spool_gap_t *g, uint64_t probe_id, int64_t from_us, int64_t to_us, uint64_t count)
{
    if (count == 0)
        return 0;
    size_t i = find(g, probe_id);
    if (i < g->n && g->v[i].probe_id == probe_id) {
        gap_entry_t *e = &g->v[i];
        if (from_us < e->from_us)
            e->from_us = from_us;
        if (to_us > e->to_us)
            e->to_us = to_us;
        e->count += count;
        g->total += count;
        return 0;
    }
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 16;
        gap_entry_t *v = realloc(g->v, cap * sizeof *v);
        if (!v)
            return -1;
        g->v = v;
        g->cap = cap;
    }
    memmove(&g->v[i + 1], &g->v[i], (g->n - i) * sizeof *g->v);
    g->v[i] =
        (gap_entry_t){.probe_id = probe_id, .from_us = from_us, .to_us = to_us, .count = count};
    g->n++;
    g->total += count;
    return 0;
}

uint64_t spool_gap_total(const spool_gap_t *g)
{
    return g->total;
}

size_t spool_gap_take(spool_gap_t *g, Parallax__Gap *out, size_t n)
{
    if (g->n == 0 || n == 0)
        return 0;
    size_t written = 0;
    if (g->n <= SPOOL_GAP_MAX_PROBES && g->n <= n) {
        for (size_t i = 0; i < g->n; i++) {
            parallax__gap__init(&out[i]);
            out[i].probe_id = g->v[i].probe_id;
            out[i].from_us = g->v[i].from_us;
            out[i].to_us = g->v[i].to_us;
            out[i].count = g->v[i].count;
        }
        written = g->n;
    } else {
        parallax__gap__init(&out[0]);
        out[0].probe_id = 0;
        out[0].from_us = g->v[0].from_us;
        out[0].to_us = g->v[0].to_us;
        for (size_t i = 0; i < g->n; i++) {
            if (g->v[i].from_us < out[0].from_us)
                out[0].from_us = g->v[i].from_us;
            if (g->v[i].to_us > out[0].to_us)
                out[0].to_us = g->v[i].to_us;
            out[0].count += g->v[i].count;
        }
        written = 1;
    }
    g->n = 0;
    g->total = 0;
    return written;
}
