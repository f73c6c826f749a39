/*
 * fetch_probe.c - the HEAD probes of a file's RemoteUrl and mirrors: size, ETag,
 * Last-Modified and the Metalink link; a changed remote resets the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry/log.h"
#include "client/fetcher-internal.h"
#include "client/client.h"
#include "client/job.h"
#include "client/store.h"

/* Send a HEAD probe to the RemoteUrl and each mirror. -ENOMEM (requests already added stay). */
int
xfer_start_probes(struct xfer *x)
{
    for (size_t i = 0; i < x->nmirrors; i++) {
        struct req *q;

        if (x->mirrors[i].peer)
            continue; /* peers are asked once the origin laid the file out (fetch_source.c) */
        q = req_new(x, REQ_PROBE, i, x->mirrors[i].url);
        if (!q || xfer_add_req(x, q) < 0) {
            req_free(x->jobs, q);
            return -ENOMEM;
        }
        x->probes_left++;
    }
    return 0;
}

/* The primary probe answered: size, validators, manifest link. */
void
xfer_probe_done(struct xfer *x, struct req *q)
{
    struct job *job = x->job;
    struct jfile *f = &job->files[x->fidx];
    struct mirror *m = &x->mirrors[q->mirror];
    curl_off_t cl = -1;

    curl_easy_getinfo(q->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    if (q->mirror == 0) {
        bool changed;

        if (cl < 0) {
            struct fetch_outcome o = {.reason = FETCH_MISSING_SIZE};
            xfer_fail(x, &o);
            return;
        }
        changed = (f->bytes_total != FERRY_SIZE_UNKNOWN && f->bytes_total != (uint64_t)cl) ||
                  (f->etag && q->etag && strcmp(f->etag, q->etag) != 0) ||
                  (f->last_modified && q->last_modified &&
                   strcmp(f->last_modified, q->last_modified) != 0);
        if (changed && (f->bytes_transferred || f->chunks)) {
            ferry_log_info("job %s: '%s' changed on the server since the last run; "
                           "restarting it from zero",
                           job->id, f->remote_url);
            job_file_reset(job, x->fidx);
            store_chunks_clear(x->jobs->store, job->id, x->fidx);
        }
        f->bytes_total = (uint64_t)cl;
        fetch_set(&f->etag, q->etag ? strdup(q->etag) : NULL);
        fetch_set(&f->last_modified, q->last_modified ? strdup(q->last_modified) : NULL);
        if (q->link && !x->manifest_url)
            x->manifest_url = xfer_manifest_link(f->remote_url, q->link);
    }
    fetch_set(&m->etag, q->etag ? strdup(q->etag) : NULL);
    fetch_set(&m->last_modified, q->last_modified ? strdup(q->last_modified) : NULL);
    m->ok = q->mirror == 0 || f->bytes_total == (uint64_t)cl;
    if (q->mirror != 0 && !m->ok)
        ferry_log_warn("job %s: mirror '%s' has a different size; not used", job->id, m->url);
    if (m->ok)
        xfer_uring_choose(x, q);
}

/* Every probe answered: fetch the manifest when linked, otherwise lay the file out. A
 * failure fails the transfer (may free x). */
void
xfer_after_probes(struct xfer *x)
{
    if (!x->mirrors[0].ok)
        return;
    store_job_put(x->jobs->store, x->job);
    if (x->manifest_url) {
        struct req *q = req_new(x, REQ_MANIFEST, 0, x->manifest_url);
        if (!q || xfer_add_req(x, q) < 0) {
            req_free(x->jobs, q);
            xfer_fail_local(x, ENOMEM);
            return;
        }
        x->phase = PH_MANIFEST;
        return;
    }
    {
        int r = xfer_layout(x);
        if (r < 0)
            xfer_fail_local(x, -r);
    }
}
