/*
 * server_manifest.c - the server role's manifests (server_manifest.h): manifest jobs on the
 * manifest thread, their results hung on the URL, the cache files of versions no URL
 * describes removed.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ferry/log.h"
#include "server_manifest.h"

/*
 * Start the manifest thread with its cache under STATE_DIR/manifests.
 */
int
server_manifests_init(struct server_manifests *sm, struct urlgroup_registry *reg,
                      const char *state_dir, uint64_t chunk_size, bool sha256)
{
    int r;

    sm->reg = reg;
    sm->chunk_size = chunk_size;
    sm->sha256 = sha256;
    if (asprintf(&sm->dir, "%s/manifests", state_dir) < 0) {
        sm->dir = NULL;
        return -ENOMEM;
    }
    r = manifest_worker_new(sm->dir, chunk_size, sha256, &sm->worker);
    if (r < 0)
        ferry_log_error("the manifest thread could not start (cache '%s'): %s", sm->dir,
                        strerror(-r));
    return r;
}

/*
 * Stop the manifest thread and free the cache path.
 */
void
server_manifests_done(struct server_manifests *sm)
{
    sm->worker = manifest_worker_free(sm->worker);
    free(sm->dir);
    sm->dir = NULL;
}

/* One manifest job: the manifests (for the registry's publish roots) and a URL reference. */
struct server_job {
    struct server_manifests *sm;
    struct urlgroup_url *url;
};

static int
server_job_open_reg(void *ud)
{
    struct server_job *j = ud;
    struct stat st;

    if (atomic_load(&j->url->deleted))
        return -ECANCELED;
    return urlgroup_url_open(j->sm->reg, j->url, &st);
}

/* true when a published URL's last manifest has this identity (its cache file is live). */
static bool
server_identity_in_use(struct server_manifests *sm, const struct manifest_identity *id)
{
    bool used = false;

    pthread_rwlock_rdlock(&sm->reg->lock);
    for (size_t i = 0; i < sm->reg->ngroups && !used; i++) {
        struct urlgroup *g = sm->reg->groups[i];
        for (size_t k = 0; k < g->nurls && !used; k++) {
            struct urlgroup_url *u = g->urls[k];
            pthread_mutex_lock(&u->mlock);
            used = u->has_cached_id && manifest_identity_eq(&u->cached_id, id);
            pthread_mutex_unlock(&u->mlock);
        }
    }
    pthread_rwlock_unlock(&sm->reg->lock);
    return used;
}

/* Forget the cache file of a file version no URL describes any more. */
static void
server_cache_forget(struct server_manifests *sm, const struct manifest_identity *id)
{
    if (server_identity_in_use(sm, id))
        return;
    manifest_cache_remove(sm->dir, id, sm->chunk_size, sm->sha256);
}

static void
server_job_done(void *ud, struct manifest *m, int error)
{
    struct server_job *j = ud;
    struct urlgroup_url *u = j->url;
    struct manifest_identity old;
    bool forget = false;

    pthread_mutex_lock(&u->mlock);
    if (m) {
        manifest_unref(u->manifest);
        u->manifest = manifest_ref(m);
        if (u->has_cached_id && !manifest_identity_eq(&u->cached_id, &m->id)) {
            old = u->cached_id;
            forget = true;
        }
        u->cached_id = m->id;
        u->has_cached_id = true;
    }
    u->manifest_pending = false;
    pthread_mutex_unlock(&u->mlock);
    if (forget)
        server_cache_forget(j->sm, &old);
    if (m)
        ferry_log_debug("manifest of '%s' ready (%" PRIu64 " chunks)", u->source, m->nchunks);
    else if (error != -ECANCELED && error != -ESTALE)
        ferry_log_warn("manifest of '%s' could not be computed: %s", u->source,
                       strerror(-error));
}

static void
server_job_release(void *ud)
{
    struct server_job *j = ud;

    urlgroup_url_unref(j->url);
    free(j);
}

static const struct manifest_job_ops server_job_ops_reg = {
    .open = server_job_open_reg,
    .done = server_job_done,
    .release = server_job_release,
};

/* fileserve's manifest_wanted, also used at publish: url->manifest_pending is set. */
void
server_manifests_wanted(struct server_manifests *sm, struct urlgroup_url *url)
{
    struct server_job *j = calloc(1, sizeof(*j));

    if (j) {
        j->sm = sm;
        j->url = urlgroup_url_ref(url);
        if (manifest_worker_submit(sm->worker, &server_job_ops_reg, j) == 0)
            return;
        urlgroup_url_unref(j->url);
        free(j);
    }
    pthread_mutex_lock(&url->mlock);
    url->manifest_pending = false;
    pthread_mutex_unlock(&url->mlock);
}

/* Queue url unless its computation is pending already. */
void
server_manifests_queue(struct server_manifests *sm, struct urlgroup_url *url)
{
    bool want = false;

    pthread_mutex_lock(&url->mlock);
    /* a relay URL serves the origin's manifest; nothing to compute */
    if (!url->manifest_pending && !url->relay) {
        url->manifest_pending = true;
        want = true;
    }
    pthread_mutex_unlock(&url->mlock);
    if (want)
        server_manifests_wanted(sm, url);
}

/* A URL left the registry: its cache file goes unless another URL publishes that file. */
void
server_manifests_forget(struct server_manifests *sm, struct urlgroup_url *u)
{
    struct manifest_identity id;
    bool has;

    pthread_mutex_lock(&u->mlock);
    has = u->has_cached_id;
    id = u->cached_id;
    pthread_mutex_unlock(&u->mlock);
    if (has)
        server_cache_forget(sm, &id);
}
