/* ctl_command: the session parallaxctl's commands share. */
#include "ctl_command.h"

ctl_db_t *ctl_session_db(ctl_session_t *s, err_t *err)
{
    if (!s->db)
        s->db = ctl_db_connect(s->conninfo, err);
    return s->db;
}

int ctl_outcome(int work_rc)
{
    return work_rc < 0 ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}
