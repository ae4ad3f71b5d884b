/* sv_state.c: what the supervisor publishes: the state file /health reads
 * and one pid file per process (RUN_DIR/NAME.pid), which scripts/down and
 * the tests use.  Both are replaced atomically (write, then rename). */
#include "supervise.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "si_clock.h"
#include "si_log.h"

const char *sv_state_name(enum sv_state s)
{
    switch (s) {
    case SV_UP: return "up";
    case SV_BACKOFF: return "restarting";
    case SV_STOPPING: return "stopping";
    case SV_STOPPED: return "stopped";
    }
    return "unknown";
}

static int replace_file(const char *path, const char *data, size_t len)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -1;
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    bool ok = fwrite(data, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int sv_state_write(const struct sv_spec *spec, const char *path, pid_t supervisor_pid)
{
    char now[SI_UTC_TIMESTAMP_SIZE];
    si_utc_timestamp(now, sizeof now);
    json_t *procs = json_object();
    json_t *root = json_pack("{s:i, s:s, s:o}", "supervisor_pid", (int)supervisor_pid, "updated_at", now,
                             "processes", procs);
    if (root == NULL)
        return -1;
    for (int i = 0; i < spec->n; i++) {
        const struct sv_proc *p = &spec->procs[i];
        json_t *o = json_pack("{s:s, s:i, s:i, s:b}", "state", sv_state_name(p->state), "pid",
                              p->state == SV_UP || p->state == SV_STOPPING ? (int)p->pid : 0, "restarts",
                              p->restarts, "fastcgi", p->socket_path != NULL);
        if (o == NULL)
            continue;
        if (p->last_exit[0] != '\0') {
            json_object_set_new(o, "last_exit", json_string(p->last_exit));
            json_object_set_new(o, "last_exit_at", json_string(p->last_exit_at));
        }
        if (p->state == SV_UP)
            json_object_set_new(o, "up_since", json_string(p->up_since));
        json_object_set_new(procs, p->name, o);
    }
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (text == NULL)
        return -1;
    int rc = replace_file(path, text, strlen(text));
    free(text);
    return rc;
}

static int pidfile_path(char *out, size_t n, const char *run_dir, const struct sv_proc *p)
{
    return snprintf(out, n, "%s/%s.pid", run_dir, p->name) >= (int)n ? -1 : 0;
}

void sv_pidfile_write(const char *run_dir, const struct sv_proc *p)
{
    char path[4096], text[32];
    int len = snprintf(text, sizeof text, "%d\n", (int)p->pid);
    if (pidfile_path(path, sizeof path, run_dir, p) != 0 || replace_file(path, text, (size_t)len) != 0)
        si_log(SI_LOG_WARN, "cannot write a pid file", json_pack("{s:s}", "process", p->name));
}

void sv_pidfile_remove(const char *run_dir, const struct sv_proc *p)
{
    char path[4096];
    if (pidfile_path(path, sizeof path, run_dir, p) == 0)
        unlink(path);
}
