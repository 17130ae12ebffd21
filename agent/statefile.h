/* statefile: whole small files in state_dir that must be either the old or the new version
 * after a crash or a power cut, never a mixture: written to a temporary file, synced, renamed
 * over the old one, and the directory synced. */
#ifndef PX_STATEFILE_H
#define PX_STATEFILE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Replaces path with len bytes of buf (borrowed), atomically: readers see the old or the new
 * content, never a mixture. With durable set the data and the rename are synced, so the
 * new content also survives a power cut; without, a power cut may leave the old or an empty
 * file (for files that are rebuilt anyway, to spare the disk a sync). The temporary file is
 * path + ".tmp" in the same directory. Returns 0, or -1 (err names the file and the failed
 * step; no temporary file is left behind). */
int statefile_write(const char *path, const void *buf, size_t len, int durable, err_t *err);

/* Reads the whole of path, refusing files over max bytes. Returns 0 with *buf (caller owns,
 * free()) and *len set; 1 if path does not exist (*buf NULL); -1 (err set) on any other
 * failure. */
int statefile_read(const char *path, size_t max, uint8_t **buf, size_t *len, err_t *err);

/* fsyncs the directory holding path, so a file created or renamed there survives a power
 * cut. Returns 0 or -1 (err set). */
int statefile_sync_dir(const char *path, err_t *err);

#endif
