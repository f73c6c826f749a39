/*
 * filesweep.c - the open-file sweeper (filesweep.h).
 */
#include <errno.h>
#include <time.h>

#include "ferry/log.h"
#include "filesweep.h"
#include "upload_sweep.h"

/* Descriptors unused this long are closed; the sweep runs this often. */
#define FILESWEEP_IDLE_NS (5ull * 1000000000ull)
#define FILESWEEP_PERIOD_S 2

static void *
filesweep_main(void *arg)
{
    struct filesweep *fw = arg;
    unsigned upload_period = upload_sweep_period(fw->upload_timeout_s);
    time_t upload_last = 0;

    ferry_log_set_thread_name("filesweep");
    pthread_mutex_lock(&fw->lock);
    while (!fw->stop) {
        struct timespec until;

        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += FILESWEEP_PERIOD_S;
        pthread_cond_timedwait(&fw->cond, &fw->lock, &until);
        if (fw->stop)
            break;
        pthread_mutex_unlock(&fw->lock);
        urlgroup_registry_sweep_files(fw->reg, FILESWEEP_IDLE_NS);
        if (fw->upload_root_fd >= 0) {
            /* wall-clock time: a session's files keep their mtimes across restarts */
            time_t now = time(NULL);

            if (now - upload_last >= (time_t)upload_period) {
                upload_sweep_root(fw->upload_root_fd, fw->upload_timeout_s, now);
                upload_last = now;
            }
        }
        pthread_mutex_lock(&fw->lock);
    }
    pthread_mutex_unlock(&fw->lock);
    return NULL;
}

/*
 * Start the thread; its condition variable waits on CLOCK_MONOTONIC.
 */
int
filesweep_start(struct filesweep *fw, struct urlgroup_registry *reg)
{
    pthread_condattr_t ca;
    int r;

    fw->reg = reg;
    fw->stop = false;
    pthread_mutex_init(&fw->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&fw->cond, &ca);
    pthread_condattr_destroy(&ca);
    r = -pthread_create(&fw->thread, NULL, filesweep_main, fw);
    if (r == 0) {
        fw->started = true;
        return 0;
    }
    pthread_cond_destroy(&fw->cond);
    pthread_mutex_destroy(&fw->lock);
    return r;
}

/*
 * Wake the thread to stop, join it, release the lock and condition variable.
 */
void
filesweep_stop(struct filesweep *fw)
{
    if (!fw->started)
        return;
    pthread_mutex_lock(&fw->lock);
    fw->stop = true;
    pthread_cond_signal(&fw->cond);
    pthread_mutex_unlock(&fw->lock);
    pthread_join(fw->thread, NULL);
    fw->started = false;
    pthread_cond_destroy(&fw->cond);
    pthread_mutex_destroy(&fw->lock);
}
