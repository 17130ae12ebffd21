/* notify_event: freeing what the outbox allocated. */
#include "notify_event.h"

#include <stdlib.h>
#include <string.h>

int notify_event_kind(const char *name, notify_kind_t *out)
{
    static const struct {
        const char *name;
        notify_kind_t kind;
    } kinds[] = {{"alertmanager", NOTIFY_KIND_ALERTMANAGER},
                 {"webhook", NOTIFY_KIND_WEBHOOK},
                 {"email", NOTIFY_KIND_EMAIL}};
    for (size_t i = 0; name && i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(name, kinds[i].name) == 0) {
            *out = kinds[i].kind;
            return 0;
        }
    return -1;
}

void notify_event_clear(notify_event_t *ev)
{
    if (!ev)
        return;
    char **s[] = {&ev->key,  &ev->event, &ev->scope,      &ev->subject,  &ev->group,
                  &ev->role, &ev->stage, &ev->started_at, &ev->ended_at, &ev->detail};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
        free(*s[i]);
    memset(ev, 0, sizeof *ev);
}

void notify_event_receiver_clear(notify_receiver_t *r)
{
    if (!r)
        return;
    free(r->name);
    free(r->url);
    free(r->secret);
    free(r->mail_from);
    free(r->mail_to);
    memset(r, 0, sizeof *r);
}

void notify_event_delivery_destroy(notify_delivery_t **d)
{
    if (!d || !*d)
        return;
    notify_event_clear(&(*d)->event);
    notify_event_receiver_clear(&(*d)->receiver);
    free(*d);
    *d = NULL;
}
