/*
 * engine/server/filesweep.h - the open-file sweeper: a thread that every couple of seconds
 * closes the descriptors of the registry's open-file cache (urlgroup_url_file) unused for a
 * few seconds, so a source deleted or replaced while nobody asks for it does not stay
 * pinned on disk. The same thread expires upload sessions (upload_sweep.h) when the server
 * accepts uploads.
 */
#ifndef FERRY_FILESWEEP_H
#define FERRY_FILESWEEP_H

#include <pthread.h>
#include <stdbool.h>

#include "urlgroup.h"

struct filesweep {
    struct urlgroup_registry *reg; /* borrowed */
    int upload_root_fd;            /* --upload-root (borrowed), -1: no upload sweep; set
                                      before filesweep_start */
    unsigned upload_timeout_s;     /* --upload-session-timeout */
    pthread_t thread;
    bool started, stop;
    pthread_mutex_t lock;
    pthread_cond_t cond;
};

/* Start sweeping reg. -errno when the thread cannot start. */
int filesweep_start(struct filesweep *fw, struct urlgroup_registry *reg);
/* Stop and join the thread; safe when it never started (zeroed struct). */
void filesweep_stop(struct filesweep *fw);

#endif
