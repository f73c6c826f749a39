/*
 * syncer.c - the `jobs-sync` thread: runs fdatasync() for checkpoints so that the `jobs`
 * thread keeps draining its sockets while the disk catches up, and re-hashes verified chunks
 * of a resumed file (which may be a whole disk image) without holding the role's lock. Without it every checkpoint
 * stalls all transfers for the length of a sync, the peer keeps sending into the socket
 * buffers, and whatever sits there when the process dies is fetched twice.
 *
 * A request (struct sync_req) is owned by its submitter; the syncer only fills `result`
 * and sets `finished` under its lock, then calls the wake callback given to syncer_new (the
 * scheduler's interrupts the jobs thread's poll). The submitter reads `finished` through
 * syncer_done() and frees the request afterwards.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "ferry/log.h"
#include "core/clock.h"
#include "client/syncer.h"
#include "client/verify.h"

struct syncer {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    struct sync_req *head, *tail;
    bool stopping;
    syncer_wake_fn wake;     /* called after each finished request */
    void *wake_data;
};

static void *
syncer_main(void *arg)
{
    struct syncer *s = arg;

    ferry_log_set_thread_name("jobs-sync");
    pthread_mutex_lock(&s->lock);
    for (;;) {
        struct sync_req *q;
        int r;

        while (!s->head && !s->stopping)
            pthread_cond_wait(&s->cond, &s->lock);
        if (!s->head)
            break;
        q = s->head;
        s->head = q->next;
        if (!s->head)
            s->tail = NULL;
        pthread_mutex_unlock(&s->lock);
        if (q->kind == SYNC_DIGEST) {
            r = verify_whole_file(q->fd, q->size, q->spec);
        } else if (q->kind == SYNC_REHASH) {
            r = 0;
            for (size_t i = 0; i < q->n; i++)
                q->items[i].bad = !verify_chunk_ok(q->fd, q->items[i].off, q->items[i].len,
                                                   q->items[i].digest);
        } else {
            int64_t t0 = ferry_clock_ms();
            r = fdatasync(q->fd) < 0 ? -errno : 0;
            ferry_log_debug("fdatasync of %zu chunk(s) took %lld ms", q->n,
                            (long long)(ferry_clock_ms() - t0));
        }
        pthread_mutex_lock(&s->lock);
        q->result = r;
        q->finished = true;
        pthread_cond_broadcast(&s->cond);
        s->wake(s->wake_data);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* Start the thread. */
int
syncer_new(syncer_wake_fn wake, void *userdata, struct syncer **ret)
{
    struct syncer *s = calloc(1, sizeof(*s));
    int r;

    if (!s)
        return -ENOMEM;
    s->wake = wake;
    s->wake_data = userdata;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    r = pthread_create(&s->thread, NULL, syncer_main, s);
    if (r != 0) {
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return -r;
    }
    *ret = s;
    return 0;
}

/* Finish queued syncs, stop the thread. NULL-safe; returns NULL. */
struct syncer *
syncer_free(struct syncer *s)
{
    if (!s)
        return NULL;
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
    return NULL;
}

/* Queue q (q->fd must stay open until it finished). */
void
syncer_submit(struct syncer *s, struct sync_req *q)
{
    q->next = NULL;
    q->finished = false;
    pthread_mutex_lock(&s->lock);
    if (s->tail)
        s->tail->next = q;
    else
        s->head = q;
    s->tail = q;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

/* Has q finished? */
bool
syncer_done(struct syncer *s, struct sync_req *q)
{
    bool done;

    pthread_mutex_lock(&s->lock);
    done = q->finished;
    pthread_mutex_unlock(&s->lock);
    return done;
}

/* Block until q finished. */
void
syncer_wait(struct syncer *s, struct sync_req *q)
{
    pthread_mutex_lock(&s->lock);
    while (!q->finished)
        pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
}
