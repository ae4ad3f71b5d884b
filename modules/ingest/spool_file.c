/* spool_file.c: unlinked temporary files in the spool directory (see
 * spool_file.h). */
#include "spool_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int storage_full(int e)
{
    return e == ENOSPC || e == EDQUOT || e == EFBIG;
}

static int set_storage_full(struct si_error *err)
{
    return si_error_set(err, 507, "storage_full", "the server's temporary storage is full; try again later");
}

int spool_file_write_error(struct si_error *err, const char *what)
{
    if (storage_full(errno))
        return set_storage_full(err);
    return si_error_set(err, 500, "internal", "%s", what);
}

FILE *spool_file_open(const char *dir, struct si_error *err)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 && !storage_full(errno)) {   /* a file system without O_TMPFILE */
        char path[4096];
        int n = snprintf(path, sizeof path, "%s/smartimport-spool-XXXXXX", dir);
        if (n > 0 && (size_t)n < sizeof path && (fd = mkostemp(path, O_CLOEXEC)) >= 0 && unlink(path) != 0) {
            close(fd);
            fd = -1;
        }
    }
    if (fd < 0) {
        if (storage_full(errno))
            set_storage_full(err);
        else
            si_error_set(err, 500, "internal", "cannot create a temporary file for the upload");
        return NULL;
    }
    FILE *f = fdopen(fd, "w+");
    if (f == NULL) {
        close(fd);
        si_error_set(err, 500, "internal", "cannot create a temporary file for the upload");
    }
    return f;
}
