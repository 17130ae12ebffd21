/* schedule_file: the last schedule the coordinator sent, kept in state_dir so that an agent
 * restarted while the coordinator is away goes on measuring. One spool record (type
 * SPOOL_REC_SCHEDULE, seq = the schedule's version) holding the packed Envelope; replaced
 * atomically (temp file, fsync, rename), so it is always the old or the new schedule. */
#ifndef PX_SCHEDULE_FILE_H
#define PX_SCHEDULE_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "parallax.pb-c.h"

/* Saves s (borrowed) to path. Returns 0, or -1 (err set). */
int schedule_file_save(const char *path, const Parallax__Schedule *s, err_t *err);

/* Loads the schedule saved in path. Returns 0 with *env (caller owns; wire_free()) whose
 * body is the schedule, checked like any message from the coordinator; 1 if there is no
 * file; -1 (err names the file and what is wrong with it) if it cannot be read, is damaged
 * (torn, CRC mismatch, trailing bytes) or holds no valid schedule. */
int schedule_file_load(const char *path, Parallax__Envelope **env, err_t *err);

/* The file's bytes for s (borrowed): *buf (caller owns, free()) of *len bytes. Returns 0, or
 * -1 (err set) if s would not pass the wire's checks. */
int schedule_file_encode(const Parallax__Schedule *s, uint8_t **buf, size_t *len, err_t *err);

/* What schedule_file_load() makes of the file's len bytes in buf (borrowed), named name in
 * errors. Returns 0 with *env as there, or -1 (err set). */
int schedule_file_parse(const uint8_t *buf, size_t len, const char *name, Parallax__Envelope **env,
                        err_t *err);

#endif
