/* upload_slots.h: how many uploads each user has in progress in this
 * process, so that one user cannot hold every worker thread of
 * ingest-statement (SMARTIMPORT_UPLOADS_PER_USER, ingest_config.h).
 *
 * One table per responder (in its struct ingest_config), guarded by its mutex; an entry exists only while
 * its user has uploads running, and there are never more users with uploads
 * running than worker threads (SI_THREADS_MAX), which is the table's size. */
#ifndef UPLOAD_SLOTS_H
#define UPLOAD_SLOTS_H

#include <pthread.h>
#include <stdbool.h>

#include "si_limits.h"
#include "si_uuid.h"

struct upload_slots {
    pthread_mutex_t lock;
    struct {
        char user[SI_UUID_LEN + 1];   /* "" = free */
        int running;
    } entry[SI_THREADS_MAX];
};

#define UPLOAD_SLOTS_INIT { .lock = PTHREAD_MUTEX_INITIALIZER }

/* Counts one more upload of user unless it already has max running:
 * true when taken (give it back with upload_slots_give), false at the cap. */
bool upload_slots_take(struct upload_slots *t, const char *user, int max);
void upload_slots_give(struct upload_slots *t, const char *user);

#endif
