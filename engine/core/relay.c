/*
 * relay.c - the chunks a host still fetching a file can serve (relay.h): written by the
 * fetcher of the client role, read by the server role's workers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relay.h"

struct relay *
relay_new(const char *path)
{
    struct relay *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    r->path = strdup(path);
    if (!r->path) {
        free(r);
        return NULL;
    }
    atomic_init(&r->refcnt, 1);
    pthread_mutex_init(&r->lock, NULL);
    r->fd = -1;
    return r;
}

struct relay *
relay_ref(struct relay *r)
{
    if (r)
        atomic_fetch_add(&r->refcnt, 1);
    return r;
}

/* Forget what was served (the lock is held or the relay is dying). */
static void
relay_clear_locked(struct relay *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    free(r->have);
    free(r->etag);
    free(r->last_modified);
    free(r->meta4);
    r->have = NULL;
    r->etag = r->last_modified = r->meta4 = NULL;
    r->meta4_len = 0;
    r->ready = r->complete = false;
    r->nhave = r->nchunks = 0;
}

struct relay *
relay_unref(struct relay *r)
{
    if (!r || atomic_fetch_sub(&r->refcnt, 1) != 1)
        return NULL;
    relay_clear_locked(r);
    pthread_mutex_destroy(&r->lock);
    free(r->path);
    free(r);
    return NULL;
}

int
relay_setup(struct relay *r, const struct relay_info *info)
{
    uint8_t *have = calloc(info->nchunks ? info->nchunks : 1, 1);
    char *etag = info->etag ? strdup(info->etag) : NULL;
    char *lm = info->last_modified ? strdup(info->last_modified) : NULL;
    char *meta4 = malloc(info->meta4_len + 1);
    int fd = fcntl(info->fd, F_DUPFD_CLOEXEC, 0);
    int err = fd < 0 ? errno : ENOMEM;

    if (fd < 0 || !have || !meta4 || (info->etag && !etag) || (info->last_modified && !lm)) {
        if (fd >= 0)
            close(fd);
        free(have);
        free(etag);
        free(lm);
        free(meta4);
        return -err;
    }
    memcpy(meta4, info->meta4, info->meta4_len);
    meta4[info->meta4_len] = '\0';
    pthread_mutex_lock(&r->lock);
    relay_clear_locked(r);
    r->fd = fd;
    r->have = have;
    r->etag = etag;
    r->last_modified = lm;
    r->meta4 = meta4;
    r->meta4_len = info->meta4_len;
    r->size = info->size;
    r->chunk_size = info->chunk_size;
    r->nchunks = info->nchunks;
    r->gone = false;
    r->ready = true;
    r->complete = info->nchunks == 0;
    pthread_mutex_unlock(&r->lock);
    return 0;
}

void
relay_mark(struct relay *r, uint64_t i)
{
    pthread_mutex_lock(&r->lock);
    if (r->ready && i < r->nchunks && !r->have[i]) {
        r->have[i] = 1;
        r->nhave++;
        r->complete = r->nhave == r->nchunks;
    }
    pthread_mutex_unlock(&r->lock);
}

void
relay_complete(struct relay *r)
{
    pthread_mutex_lock(&r->lock);
    if (r->ready) {
        memset(r->have, 1, r->nchunks);
        r->nhave = r->nchunks;
        r->complete = true;
    }
    pthread_mutex_unlock(&r->lock);
}

void
relay_withdraw(struct relay *r)
{
    pthread_mutex_lock(&r->lock);
    r->gone = true;
    if (r->ready) {
        /* a response in flight sends from its own descriptor (fileserve_relay.c) */
        memset(r->have, 0, r->nchunks);
        r->nhave = 0;
        r->complete = false;
    }
    pthread_mutex_unlock(&r->lock);
}

bool
relay_covers_locked(const struct relay *r, uint64_t start, uint64_t len)
{
    if (!r->ready || r->gone || r->chunk_size == 0)
        return false;
    if (r->complete)
        return true;
    if (len == 0)
        return true;
    for (uint64_t i = start / r->chunk_size; i <= (start + len - 1) / r->chunk_size; i++)
        if (i >= r->nchunks || !r->have[i])
            return false;
    return true;
}
