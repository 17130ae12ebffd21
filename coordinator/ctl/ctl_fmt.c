/* ctl_fmt: durations for people and the colour decision. */
#include "ctl_fmt.h"

#include <stdlib.h>
#include <unistd.h>

char *ctl_fmt_duration(uint64_t seconds, char *buf, size_t len)
{
    static const struct {
        uint64_t size;
        char name;
    } units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
    for (size_t i = 0; i < 4; i++) {
        if (seconds < units[i].size && i < 3)
            continue;
        uint64_t big = seconds / units[i].size;
        if (i == 3) {
            snprintf(buf, len, "%llus", (unsigned long long)big);
        } else {
            uint64_t small = (seconds % units[i].size) / units[i + 1].size;
            if (small == 0)
                snprintf(buf, len, "%llu%c", (unsigned long long)big, units[i].name);
            else
                snprintf(buf, len, "%llu%c%02llu%c", (unsigned long long)big, units[i].name,
                         (unsigned long long)small, units[i + 1].name);
        }
        return buf;
    }
    return buf;
}

char *ctl_fmt_duration_text(const char *seconds, char *buf, size_t len)
{
    char *end = NULL;
    double v = seconds ? strtod(seconds, &end) : -1;
    /* Written as "not in range" so that NaN (which PostgreSQL can return, and strtod reads)
     * is refused too: every comparison with NaN is false, and converting it to an integer
     * is undefined. */
    if (!seconds || end == seconds || !(v >= 0 && v <= 1e15)) {
        snprintf(buf, len, "-");
        return buf;
    }
    return ctl_fmt_duration((uint64_t)v, buf, len);
}

int ctl_fmt_use_color(ctl_fmt_color_t choice, FILE *out)
{
    if (choice != CTL_FMT_COLOR_AUTO)
        return choice == CTL_FMT_COLOR_ALWAYS;
    const char *no = getenv("NO_COLOR");
    if (no && *no)
        return 0;
    return isatty(fileno(out));
}
