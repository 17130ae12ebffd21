/* timer: checked arming of libevent timers. */
#include "timer.h"

int timer_arm_us(struct event *ev, int64_t us)
{
    if (us < 0)
        us = 0;
    struct timeval tv = {.tv_sec = us / 1000000, .tv_usec = us % 1000000};
    return evtimer_add(ev, &tv) < 0 ? -1 : 0;
}

int timer_arm_ms(struct event *ev, int64_t ms)
{
    return timer_arm_us(ev, ms * 1000);
}
