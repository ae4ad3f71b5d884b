/* upload_slots.c: the per-user count of running uploads (see upload_slots.h). */
#include "upload_slots.h"

#include <stdio.h>
#include <string.h>

bool upload_slots_take(struct upload_slots *t, const char *user, int max)
{
    bool taken = false;
    int free_slot = -1, mine = -1;
    pthread_mutex_lock(&t->lock);
    for (int i = 0; i < SI_THREADS_MAX && mine < 0; i++) {
        if (t->entry[i].user[0] == '\0') {
            if (free_slot < 0)
                free_slot = i;
        } else if (strcmp(t->entry[i].user, user) == 0) {
            mine = i;
        }
    }
    if (mine < 0 && free_slot >= 0) {
        mine = free_slot;
        snprintf(t->entry[mine].user, sizeof t->entry[mine].user, "%s", user);
        t->entry[mine].running = 0;
    }
    if (mine >= 0 && t->entry[mine].running < max) {
        t->entry[mine].running++;
        taken = true;
    }
    pthread_mutex_unlock(&t->lock);
    return taken;
}

void upload_slots_give(struct upload_slots *t, const char *user)
{
    pthread_mutex_lock(&t->lock);
    for (int i = 0; i < SI_THREADS_MAX; i++) {
        if (t->entry[i].user[0] != '\0' && strcmp(t->entry[i].user, user) == 0) {
            if (--t->entry[i].running <= 0)
                t->entry[i].user[0] = '\0';
            break;
        }
    }
    pthread_mutex_unlock(&t->lock);
}
