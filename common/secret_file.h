/* secret_file: the check every file holding a secret passes before it is read (the agent's
 * config with its secret key, the coordinator's key file): private to this process's user. */
#ifndef PX_SECRET_FILE_H
#define PX_SECRET_FILE_H

#include "err.h"

/* Refuses path when group or others have any permission on it (a secret readable, or
 * replaceable, by someone else) or when another user owns it (its owner could read or swap
 * it); what names the file in the message ("config file", "key file"). Returns 0, or -1 with
 * "PATH: ..." in err saying what to run to fix it. */
int secret_file_check(const char *path, const char *what, err_t *err);

#endif
