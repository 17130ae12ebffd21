/* pace: token bucket and FIFO of waiting runs. The queue is a doubly linked list so a
 * cancelled ticket (its probe removed from the schedule) leaves in O(1). */
#include "pace.h"

#include <event2/event.h>
#include <stdlib.h>

#include "log.h"
#include "timer.h"
#include "timeutil.h"

#define MICRO 1000000LL
/* Longer idle gaps than this cannot add more than a full bucket anyway; clamping keeps the
 * multiplication far from overflow. */
#define PACE_MAX_GAP_US (1000LL * MICRO)

void pace_bucket_init(pace_bucket_t *b, uint32_t rate, int64_t now_us)
{
    if (rate < 1)
        rate = 1;
    if (rate > PACE_MAX_PPS)
        rate = PACE_MAX_PPS;
    int64_t cap_tokens = 1 + rate / 1000;
    b->rate = rate;
    b->cap = cap_tokens * MICRO;
    /* cap + refill * 1 s - 1 <= rate: a window that starts on a full bucket and ends just
     * before the token that would exceed it. */
    b->refill = (int64_t)rate + 1 - cap_tokens;
    b->level = b->cap;
    b->last_us = now_us;
}

int64_t pace_bucket_take(pace_bucket_t *b, uint32_t cost, int64_t now_us)
{
    int64_t gap = now_us - b->last_us;
    if (gap > 0) {
        if (gap > PACE_MAX_GAP_US)
            gap = PACE_MAX_GAP_US;
        b->level += gap * b->refill;
        if (b->level > b->cap)
            b->level = b->cap;
        b->last_us = now_us;
    }
    int64_t want = (int64_t)cost * MICRO;
    int64_t need = want < b->cap ? want : b->cap;
    if (b->level >= need) {
        b->level -= want;
        return 0;
    }
    int64_t wait = (need - b->level + b->refill - 1) / b->refill;
    return wait > 0 ? wait : 1;
}

struct pace_ticket {
    pace_ticket_t *prev, *next;
    uint32_t cost;
    pace_fn fn;
    void *arg;
};

static void release_cb(evutil_socket_t fd, short what, void *arg);

struct pace {
    struct event_base *base;
    pace_bucket_t bucket;
    struct event *timer;
    pace_ticket_t *head, *tail;
    size_t queued;
};

pace_t *pace_new(struct event_base *base, uint32_t max_pps, err_t *err)
{
    pace_t *p = calloc(1, sizeof *p);
    if (!p || !(p->timer = evtimer_new(base, release_cb, p))) {
        free(p);
        err_set(err, "out of memory");
        return NULL;
    }
    p->base = base;
    pace_bucket_init(&p->bucket, max_pps, time_mono_us());
    return p;
}

static void unlink_ticket(pace_t *p, pace_ticket_t *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        p->head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        p->tail = t->prev;
    p->queued--;
}

void pace_destroy(pace_t **p)
{
    if (!p || !*p)
        return;
    pace_t *q = *p;
    event_free(q->timer);
    while (q->head) {
        pace_ticket_t *t = q->head;
        unlink_ticket(q, t);
        free(t);
    }
    free(q);
    *p = NULL;
}

void pace_set_rate(pace_t *p, uint32_t max_pps)
{
    pace_bucket_init(&p->bucket, max_pps, time_mono_us());
}

uint32_t pace_rate(const pace_t *p)
{
    return p->bucket.rate;
}

static void arm(pace_t *p, int64_t wait_us)
{
    if (timer_arm_us(p->timer, wait_us) < 0)
        log_error("pace: cannot arm the release timer: queued probe packets wait for the next");
}

/* Releases the head of the queue while the bucket allows, then sleeps until the next can go. */
static void release_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pace_t *p = arg;
    while (p->head) {
        int64_t wait = pace_bucket_take(&p->bucket, p->head->cost, time_mono_us());
        if (wait > 0) {
            arm(p, wait);
            return;
        }
        pace_ticket_t *t = p->head;
        unlink_ticket(p, t);
        pace_fn fn = t->fn;
        void *targ = t->arg;
        free(t);
        /* The callback may queue or cancel tickets; the loop re-reads the head each time. */
        fn(targ);
    }
}

int pace_try(pace_t *p, uint32_t cost)
{
    if (p->head)
        return 0;
    return pace_bucket_take(&p->bucket, cost, time_mono_us()) == 0;
}

pace_ticket_t *pace_wait(pace_t *p, uint32_t cost, pace_fn fn, void *arg)
{
    pace_ticket_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->cost = cost;
    t->fn = fn;
    t->arg = arg;
    t->prev = p->tail;
    if (p->tail)
        p->tail->next = t;
    else
        p->head = t;
    p->tail = t;
    p->queued++;
    if (!evtimer_pending(p->timer, NULL)) {
        int64_t wait = pace_bucket_take(&p->bucket, 0, time_mono_us());
        arm(p, wait > 0 ? wait : 0);
    }
    return t;
}

void pace_cancel(pace_t *p, pace_ticket_t **t)
{
    if (!t || !*t)
        return;
    unlink_ticket(p, *t);
    free(*t);
    *t = NULL;
    if (!p->head)
        evtimer_del(p->timer);
}

size_t pace_queued(const pace_t *p)
{
    return p->queued;
}
