/* notify_send: delivers one delivery to its receiver by kind (webhook: signed JSON body;
 * Alertmanager: the alert, active or resolved; e-mail: one message), and re-sends a
 * receiver's open alerts to Alertmanager so they stay active while the outages last. */
#ifndef PX_NOTIFY_SEND_H
#define PX_NOTIFY_SEND_H

#include <stddef.h>
#include <stdint.h>

#include "notify_event.h"
#include "notify_http.h"

/* Delivers d at wall time now_us through h; fills *res. For Alertmanager, the alert of an
 * open outage ends at now + 4 x resend_interval_s (re-sent before then while it lasts), that
 * of a closed one at its end, a withdrawn one now; earlier (n_earlier strings: the outage's
 * stages before this event's) are resolved now too, since the stage is a label and a new
 * stage is a new alert. */
void notify_send_delivery(notify_http_t *h, const notify_delivery_t *d, int64_t now_us,
                          uint64_t resend_interval_s, char *const *earlier, size_t n_earlier,
                          notify_result_t *res);

/* POSTs the n open alerts (rows of notify_alerts()) to the Alertmanager receiver r, each
 * ending at now + 4 x resend_interval_s. Fills *res. */
void notify_send_alerts(notify_http_t *h, const notify_receiver_t *r, const notify_event_t *alerts,
                        size_t n, int64_t now_us, uint64_t resend_interval_s, notify_result_t *res);

#endif
