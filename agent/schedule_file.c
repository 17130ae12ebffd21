/* schedule_file: framing and checking of the saved schedule; statefile does the atomic write. */
#include "schedule_file.h"

#include <stdlib.h>

#include "spool_record.h"
#include "statefile.h"
#include "wire.h"

int schedule_file_encode(const Parallax__Schedule *s, uint8_t **buf, size_t *len, err_t *err)
{
    *buf = NULL;
    *len = 0;
    Parallax__Envelope env = PARALLAX__ENVELOPE__INIT;
    env.version = PX_PROTOCOL_VERSION;
    env.body_case = PARALLAX__ENVELOPE__BODY_SCHEDULE;
    env.schedule = (Parallax__Schedule *)s;
    uint8_t *packed = NULL;
    size_t plen = 0;
    if (wire_pack(&env, &packed, &plen, err) < 0)
        return -1;
    uint8_t *rec = malloc(spool_record_size(plen));
    if (!rec) {
        free(packed);
        err_set(err, "out of memory");
        return -1;
    }
    spool_record_encode(rec, SPOOL_REC_SCHEDULE, 0, s->version, packed, plen);
    free(packed);
    *buf = rec;
    *len = spool_record_size(plen);
    return 0;
}

int schedule_file_save(const char *path, const Parallax__Schedule *s, err_t *err)
{
    uint8_t *rec = NULL;
    size_t len = 0;
    if (schedule_file_encode(s, &rec, &len, err) < 0)
        return -1;
    int rc = statefile_write(path, rec, len, 1, err);
    free(rec);
    return rc;
}

int schedule_file_parse(const uint8_t *buf, size_t len, const char *name, Parallax__Envelope **env,
                        err_t *err)
{
    *env = NULL;
    spool_record_t rec;
    size_t used = 0;
    spool_record_status_t st = spool_record_decode(buf, len, PX_WIRE_MAX_TO_AGENT, &rec, &used);
    if (st != SPOOL_RECORD_OK || used != len || rec.type != SPOOL_REC_SCHEDULE) {
        err_set(err, "%s is damaged (%s)", name,
                st == SPOOL_RECORD_SHORT ? "truncated"
                : st == SPOOL_RECORD_BAD ? "checksum or framing mismatch"
                : used != len            ? "trailing bytes"
                                         : "not a schedule record");
        return -1;
    }
    err_t werr = {{0}};
    Parallax__Envelope *e = wire_unpack(rec.payload, rec.len, PX_WIRE_MAX_TO_AGENT, &werr);
    if (!e) {
        err_set(err, "%s holds no valid schedule: %s", name, werr.msg);
        return -1;
    }
    if (e->body_case != PARALLAX__ENVELOPE__BODY_SCHEDULE || e->schedule->version != rec.seq) {
        err_set(err, "%s holds a %s, not the schedule it claims to", name, wire_body_name(e));
        wire_free(&e);
        return -1;
    }
    *env = e;
    return 0;
}

int schedule_file_load(const char *path, Parallax__Envelope **env, err_t *err)
{
    *env = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = statefile_read(path, spool_record_size(PX_WIRE_MAX_TO_AGENT), &buf, &len, err);
    if (rc != 0)
        return rc;
    rc = schedule_file_parse(buf, len, path, env, err);
    free(buf);
    return rc;
}
