/* timer: arms libevent timers from a delay in micro- or milliseconds, and says when that
 * failed. A timer libevent did not arm never fires — a probe run would never end, its probe
 * never run again, a retry never happen — so every caller handles a failure. */
#ifndef PX_AGENT_TIMER_H
#define PX_AGENT_TIMER_H

#include <event2/event.h>
#include <stdint.h>

/* (Re)arms ev (an evtimer) to fire once after us microseconds (negative: 0). Returns 0, or -1
 * when libevent refused. */
int timer_arm_us(struct event *ev, int64_t us);

/* The same, after ms milliseconds. */
int timer_arm_ms(struct event *ev, int64_t ms);

#endif
