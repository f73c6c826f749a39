/*
 * engine/server/server_manifest.h - the server role's manifests: one thread computes the
 * chunk digests of published files (manifest.c) and caches them in STATE/manifests keyed by
 * the file's identity; this module queues a URL's file for it, hangs the result on the URL,
 * and removes cache files no published URL describes any more.
 */
#ifndef FERRY_SERVER_MANIFESTS_H
#define FERRY_SERVER_MANIFESTS_H

#include <stdbool.h>
#include <stdint.h>

#include "manifest.h"
#include "urlgroup.h"

struct server_manifests {
    struct urlgroup_registry *reg; /* borrowed: the URLs whose manifests these are */
    struct manifest_worker *worker;
    char *dir;                     /* STATE/manifests */
    uint64_t chunk_size;
    bool sha256;                   /* SHA-256 pieces too (--manifest-sha256) */
};

/* Start the manifest thread with its cache in STATE_DIR/manifests. Logs and returns -errno
 * on failure (then server_manifests_done is still safe). */
int server_manifests_init(struct server_manifests *sm, struct urlgroup_registry *reg,
                          const char *state_dir, uint64_t chunk_size, bool sha256);
/* Stop the thread (queued jobs are released) and free the state. Safe on a zeroed struct. */
void server_manifests_done(struct server_manifests *sm);

/* Queue url's file unless a computation is already pending for it. */
void server_manifests_queue(struct server_manifests *sm, struct urlgroup_url *url);
/* Submit url (whose manifest_pending the caller has set: fileserve's manifest_wanted). */
void server_manifests_wanted(struct server_manifests *sm, struct urlgroup_url *url);
/* A URL left the registry: its cache file goes unless another URL publishes that file. */
void server_manifests_forget(struct server_manifests *sm, struct urlgroup_url *u);

#endif
