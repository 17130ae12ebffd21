/* status: names and look-ups for the shared status list. */
#include "status.h"

#include <string.h>

static const struct {
    int value;
    const char *name;
} statuses[] = {
#define PX_STATUS_ROW(cname, value, text) {value, text},
    PX_STATUS_LIST(PX_STATUS_ROW)
#undef PX_STATUS_ROW
};

unsigned status_count(void)
{
    return sizeof statuses / sizeof statuses[0];
}

const char *status_name(int value)
{
    for (unsigned i = 0; i < status_count(); i++)
        if (statuses[i].value == value)
            return statuses[i].name;
    return NULL;
}

int status_from_name(const char *name)
{
    for (unsigned i = 0; i < status_count(); i++)
        if (strcmp(statuses[i].name, name) == 0)
            return statuses[i].value;
    return -1;
}

px_status_t status_at(unsigned i)
{
    return (px_status_t)statuses[i].value;
}
