/* door: what the coordinator takes of a batch, judged by time alone. Results and gap records
 * stamped far from the moment they arrive come from a broken clock or a stolen key rewriting
 * history: each such item is refused on its own (the rest of the batch is stored), never the
 * batch as a whole and never "retry", so one bad item costs no one else anything. The window
 * also bounds how many daily partitions a batch can touch and how many bins a gap can mark.
 * Pure: unit-tested without a database or sockets. */
#ifndef PX_DOOR_H
#define PX_DOOR_H

#include <stdint.h>

#include "parallax.pb-c.h"

typedef struct door_window {
    int64_t past_us;  /* items stamped more than this before their receipt are refused */
    int64_t ahead_us; /* ... and those stamped more than this after it */
} door_window_t;

typedef struct door_report {
    uint32_t refused_results;
    uint32_t refused_gaps; /* wholly outside the window */
    uint32_t clamped_gaps; /* reaching past it: cut to the window, then stored */
    char reason[192];      /* the first refusal or clamp, for the logs and the agent's */
} door_report_t;

/* Lets in what of batch b lies in the window around recv_us (coordinator clock), read on the
 * agent's clock (offset_us: agent clock minus coordinator clock as measured, 0 when unknown;
 * believed only up to w->ahead_us either way, since the agent itself reports it). Moves the
 * admitted results and gaps to the front of their arrays (keeping their order) and clamps the
 * gaps that reach past the window; *admitted becomes a view of b holding only those (its
 * arrays point into b's: b still owns every item and must outlive it). Fills *report. */
void door_admit(Parallax__ResultBatch *b, int64_t recv_us, int64_t offset_us,
                const door_window_t *w, Parallax__ResultBatch *admitted, door_report_t *report);

#endif
