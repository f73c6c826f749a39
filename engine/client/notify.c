/*
 * notify.c - job notifications (docs/internals/client.md, "Notifications").
 *
 * Detection: notify_scan() runs on the jobs thread once per pass and compares each job's
 * state, modification time and completed files with what it saw last (fields notify_* of
 * struct job). A change becomes at most one notification, the most specific the job's
 * NotifyFlags allow: TRANSFERRED (0x1, on entering TRANSFERRED), ERROR (0x2, on entering
 * ERROR), FILE_TRANSFERRED (0x10, a file completed), MODIFICATION (0x8, any other change of
 * state or JobLastModificationTime). DISABLE (0x4) silences all.
 *
 * Delivery: a notification is queued as up to two items, the command (SetNotifyCmdLine)
 * and the POST of the job's JSON (NotifyUrl), each carrying its own copies, on one bounded
 * queue (notify-queue; when full the item is dropped and logged). The `notify` thread runs
 * them: commands through notify_spawn.c (notify-max-running at once, killed after
 * notify-timeout), POSTs through a libcurl multi handle (as many at once, notify-timeout
 * each, one attempt, no redirects, http/https only). Failures are logged, never fatal, and
 * nothing is retried (no storms). When ferryd runs as root the thread first becomes
 * notify-user (notify_spawn_drop_privileges); if that fails, commands are dropped (logged)
 * and POSTs still go out.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "ferry/log.h"
#include "client/client.h"
#include "client/job.h"
#include "client/notify.h"
#include "client/notify_json.h"
#include "client/notify_spawn.h"
#include "core/clock.h"

#define NOTIFY_MAX_RUNNING 64

enum notify_kind { NOTIFY_CMD, NOTIFY_URL };

/* One queued item; owns its strings. */
struct notify_item {
    struct notify_item *next;
    enum notify_kind kind;
    char job_id[FERRY_GUID_STRLEN];
    const char *event;      /* static string */
    const char *state;      /* static string */
    char *program;          /* NOTIFY_CMD */
    char **argv;
    size_t argc;
    char *url;              /* NOTIFY_URL */
    char *json;
};

/* A POST in flight; owns its item. */
struct notify_post {
    CURL *easy;
    struct curl_slist *headers;
    struct notify_item *item;
};

struct notify {
    pthread_mutex_t lock;       /* guards the queue and `stopping` */
    struct notify_item *head, *tail;
    size_t nqueued;
    uint64_t dropped;
    bool stopping;
    pthread_t thread;
    bool started;
    CURLM *multi;               /* created before the thread; curl_multi_wakeup is safe
                                   from any thread, everything else is the thread's */
    unsigned queue_max;
    unsigned timeout_ms;
    unsigned max_running;
    char *user;
    /* the thread's own */
    bool cmds_refused;          /* could not become notify-user: commands are dropped */
    struct notify_child *children[NOTIFY_MAX_RUNNING];
    size_t nchildren;
    struct notify_post *posts[NOTIFY_MAX_RUNNING];
    size_t nposts;
};

static struct notify_item *
notify_item_free(struct notify_item *it)
{
    if (!it)
        return NULL;
    free(it->program);
    ferry_cmdline_free(it->argv, it->argc);
    free(it->url);
    free(it->json);
    free(it);
    return NULL;
}

/* Queue an item (takes it); drop it, logged, when the queue is full. */
static void
notify_push(struct notify *n, struct notify_item *it)
{
    bool dropped = false;

    pthread_mutex_lock(&n->lock);
    if (n->nqueued >= n->queue_max || n->stopping) {
        n->dropped++;
        dropped = true;
    } else {
        if (n->tail)
            n->tail->next = it;
        else
            n->head = it;
        n->tail = it;
        n->nqueued++;
    }
    pthread_mutex_unlock(&n->lock);
    if (dropped) {
        ferry_log_warn("job %s: %s notification (%s) dropped: %u are waiting already "
                       "(notify-queue)",
                       it->job_id, it->event, it->kind == NOTIFY_CMD ? "command" : "URL",
                       n->queue_max);
        notify_item_free(it);
        return;
    }
    curl_multi_wakeup(n->multi);
}

static struct notify_item *
notify_item_new(enum notify_kind kind, const struct job *job, const char *event)
{
    struct notify_item *it = calloc(1, sizeof(*it));

    if (!it)
        return NULL;
    it->kind = kind;
    memcpy(it->job_id, job->id, sizeof(it->job_id));
    it->event = event;
    it->state = ferry_job_state_name(job->state);
    return it;
}

/* Build the items of one notification from the job as it is now. Role's lock held. */
static void
notify_queue(struct ferry_jobs *jobs, struct job *job, const char *event)
{
    struct notify *n = jobs->notify;
    struct notify_item *it;

    if (job->notify_program) {
        it = notify_item_new(NOTIFY_CMD, job, event);
        if (it) {
            it->program = strdup(job->notify_program);
            it->argv = calloc(job->notify_argc ? job->notify_argc : 1, sizeof(*it->argv));
        }
        for (size_t i = 0; it && it->argv && it->program && i < job->notify_argc; i++) {
            it->argv[i] = strdup(job->notify_argv[i]);
            if (!it->argv[i])
                break;
            it->argc++;
        }
        if (it && it->program && it->argv && it->argc == job->notify_argc)
            notify_push(n, it);
        else {
            ferry_log_warn("job %s: %s notification command dropped: out of memory", job->id,
                           event);
            notify_item_free(it);
        }
    }
    if (job->notify_url) {
        struct ferry_job_info *info = NULL;

        it = notify_item_new(NOTIFY_URL, job, event);
        if (it && job_info(job, jobs->cfg, 0, &info) >= 0) {
            it->url = strdup(job->notify_url);
            it->json = notify_json_job(job, info, event);
        }
        ferry_job_info_free(info);
        if (it && it->url && it->json)
            notify_push(n, it);
        else {
            ferry_log_warn("job %s: %s notification POST dropped: out of memory", job->id,
                           event);
            notify_item_free(it);
        }
    }
}

static uint32_t
notify_files_done(const struct job *job)
{
    uint32_t k = 0;

    for (size_t i = 0; i < job->nfiles; i++)
        if (job->files[i].completed)
            k++;
    return k;
}

/* Record the job as seen now. */
static void
notify_mark(struct job *job)
{
    job->notify_seen = true;
    job->notify_state = job->state;
    job->notify_mtime = job->mtime;
    job->notify_files = (job->notify_flags & FERRY_NOTIFY_FILE_TRANSFERRED)
                            ? notify_files_done(job)
                            : UINT32_MAX;
}

/* See notify.h. */
void
notify_scan(struct ferry_jobs *jobs)
{
    if (!jobs->notify)
        return;
    for (size_t i = 0; i < jobs->n; i++) {
        struct job *job = jobs->v[i];
        uint32_t flags = job->notify_flags, files = UINT32_MAX;
        const char *event = NULL;
        bool entered;

        if (!job->notify_seen) {
            /* a new job: only reaching TRANSFERRED or ERROR before its first scan counts */
            if (job->state != FERRY_JOB_TRANSFERRED && job->state != FERRY_JOB_ERROR) {
                notify_mark(job);
                continue;
            }
            job->notify_seen = true;
            job->notify_state = FERRY_JOB_QUEUED;
            job->notify_mtime = job->mtime;
            job->notify_files = UINT32_MAX;
        }
        if (flags & FERRY_NOTIFY_FILE_TRANSFERRED)
            files = notify_files_done(job);
        if (job->state == job->notify_state && job->mtime == job->notify_mtime &&
            files == job->notify_files)
            continue;
        entered = job->state != job->notify_state;
        if (flags & FERRY_NOTIFY_DISABLE)
            event = NULL;
        else if (entered && job->state == FERRY_JOB_TRANSFERRED &&
                 (flags & FERRY_NOTIFY_JOB_TRANSFERRED))
            event = "TRANSFERRED";
        else if (entered && job->state == FERRY_JOB_ERROR && (flags & FERRY_NOTIFY_JOB_ERROR))
            event = "ERROR";
        else if ((flags & FERRY_NOTIFY_FILE_TRANSFERRED) && job->notify_files != UINT32_MAX &&
                 files > job->notify_files)
            event = "FILE_TRANSFERRED";
        else if (flags & FERRY_NOTIFY_JOB_MODIFICATION)
            event = "MODIFICATION";
        notify_mark(job);
        if (event && (job->notify_program || job->notify_url))
            notify_queue(jobs, job, event);
    }
}

static size_t
notify_discard(char *p, size_t size, size_t nmemb, void *ud)
{
    (void)p;
    (void)ud;
    return size * nmemb;
}

/* Start one POST (takes the item). */
static void
notify_post_start(struct notify *n, struct notify_item *it)
{
    struct notify_post *p = calloc(1, sizeof(*p));
    CURL *e = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");

    if (!p || !e || !h) {
        ferry_log_warn("job %s: %s notification POST dropped: out of memory", it->job_id,
                       it->event);
        free(p);
        curl_easy_cleanup(e);
        curl_slist_free_all(h);
        notify_item_free(it);
        return;
    }
    curl_easy_setopt(e, CURLOPT_URL, it->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)n->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)n->timeout_ms);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "ferry/" FERRY_VERSION);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, it->json);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(it->json));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, notify_discard);
    curl_easy_setopt(e, CURLOPT_PRIVATE, p);
    p->easy = e;
    p->headers = h;
    p->item = it;
    if (curl_multi_add_handle(n->multi, e) != CURLM_OK) {
        ferry_log_warn("job %s: %s notification POST could not start", it->job_id, it->event);
        curl_easy_cleanup(e);
        curl_slist_free_all(h);
        notify_item_free(it);
        free(p);
        return;
    }
    n->posts[n->nposts++] = p;
}

static void
notify_post_free(struct notify *n, struct notify_post *p)
{
    for (size_t i = 0; i < n->nposts; i++) {
        if (n->posts[i] == p) {
            n->posts[i] = n->posts[--n->nposts];
            break;
        }
    }
    curl_multi_remove_handle(n->multi, p->easy);
    curl_easy_cleanup(p->easy);
    curl_slist_free_all(p->headers);
    notify_item_free(p->item);
    free(p);
}

/* Log and free the POSTs that finished. */
static void
notify_posts_done(struct notify *n)
{
    CURLMsg *m;
    int left;

    for (m = curl_multi_info_read(n->multi, &left); m;
         m = curl_multi_info_read(n->multi, &left)) {
        struct notify_post *p = NULL;
        long status = 0;
        char ebuf[256];

        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&p);
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        ferry_log_escape(p->item->url, ebuf, sizeof(ebuf));
        if (m->data.result != CURLE_OK)
            ferry_log_warn("job %s: %s notification POST to '%s' failed: %s", p->item->job_id,
                           p->item->event, ebuf, curl_easy_strerror(m->data.result));
        else if (status < 200 || status > 299)
            ferry_log_warn("job %s: %s notification POST to '%s' answered %ld",
                           p->item->job_id, p->item->event, ebuf, status);
        else
            ferry_log_info("job %s: %s notification POST to '%s' answered %ld",
                           p->item->job_id, p->item->event, ebuf, status);
        notify_post_free(n, p);
    }
}

/* Start the command (takes the item). */
static void
notify_cmd_start(struct notify *n, struct notify_item *it)
{
    struct notify_child *c = NULL;

    if (n->cmds_refused) {
        ferry_log_warn("job %s: %s notification command not run: no unprivileged "
                       "notify-user",
                       it->job_id, it->event);
    } else if (notify_spawn_start(it->job_id, it->state, it->event, it->program, it->argv,
                                  it->argc, ferry_clock_ms(), n->timeout_ms, &c) >= 0) {
        n->children[n->nchildren++] = c;
    }
    notify_item_free(it);
}

/* Take from the queue what may start now (FIFO per kind). Lock held. */
static struct notify_item *
notify_take(struct notify *n, size_t ncmd_free, size_t npost_free)
{
    struct notify_item *out = NULL, **outp = &out, **pp = &n->head, *last = NULL;

    while (*pp) {
        struct notify_item *it = *pp;
        size_t *room = it->kind == NOTIFY_CMD ? &ncmd_free : &npost_free;

        if (*room == 0) {
            last = it;
            pp = &it->next;
            continue;
        }
        (*room)--;
        *pp = it->next;
        it->next = NULL;
        *outp = it;
        outp = &it->next;
        n->nqueued--;
    }
    n->tail = last;
    return out;
}

static void *
notify_main(void *arg)
{
    struct notify *n = arg;

    ferry_log_set_thread_name("notify");
    if (notify_spawn_drop_privileges(n->user) < 0)
        n->cmds_refused = true;
    pthread_mutex_lock(&n->lock);
    while (!n->stopping) {
        struct notify_item *batch = notify_take(n, n->max_running - n->nchildren,
                                                n->max_running - n->nposts);
        struct curl_waitfd fds[NOTIFY_MAX_RUNNING];
        unsigned nfds = 0;
        int64_t now, timeout = 1000;
        int running;

        pthread_mutex_unlock(&n->lock);
        while (batch) {
            struct notify_item *it = batch;

            batch = it->next;
            it->next = NULL;
            if (it->kind == NOTIFY_CMD)
                notify_cmd_start(n, it);
            else
                notify_post_start(n, it);
        }
        curl_multi_perform(n->multi, &running);
        notify_posts_done(n);
        now = ferry_clock_ms();
        for (size_t i = 0; i < n->nchildren;) {
            struct notify_child *c = n->children[i];

            if (notify_spawn_step(c, now)) {
                notify_spawn_free(c);
                n->children[i] = n->children[--n->nchildren];
                continue;
            }
            if (notify_spawn_fd(c) >= 0) {
                fds[nfds].fd = notify_spawn_fd(c);
                fds[nfds].events = CURL_WAIT_POLLIN;
                fds[nfds].revents = 0;
                nfds++;
            }
            /* reap promptly: exits are seen within 50 ms, deadlines to the ms */
            if (timeout > 50)
                timeout = 50;
            if (notify_spawn_due(c, now) < timeout)
                timeout = notify_spawn_due(c, now);
            i++;
        }
        curl_multi_poll(n->multi, fds, nfds, (int)timeout, NULL);
        pthread_mutex_lock(&n->lock);
    }
    pthread_mutex_unlock(&n->lock);
    for (size_t i = 0; i < n->nchildren; i++) {
        notify_spawn_abort(n->children[i]);
        notify_spawn_free(n->children[i]);
    }
    n->nchildren = 0;
    while (n->nposts)
        notify_post_free(n, n->posts[0]);
    return NULL;
}

/* See notify.h. */
int
notify_new(struct ferry_jobs *jobs, struct notify **ret)
{
    const struct ferry_config *cfg = jobs->cfg;
    struct notify *n = calloc(1, sizeof(*n));
    int r;

    if (!n)
        return -ENOMEM;
    pthread_mutex_init(&n->lock, NULL);
    n->queue_max = cfg->notify_queue ? cfg->notify_queue : 64;
    n->timeout_ms = (cfg->notify_timeout ? cfg->notify_timeout : 30) * 1000u;
    n->max_running = cfg->notify_max_running ? cfg->notify_max_running : 4;
    if (n->max_running > NOTIFY_MAX_RUNNING)
        n->max_running = NOTIFY_MAX_RUNNING;
    n->user = strdup(cfg->notify_user ? cfg->notify_user : "ferry");
    n->multi = curl_multi_init();
    if (!n->user || !n->multi) {
        notify_free(n);
        return -ENOMEM;
    }
    for (size_t i = 0; i < jobs->n; i++)
        notify_mark(jobs->v[i]);
    r = pthread_create(&n->thread, NULL, notify_main, n);
    if (r != 0) {
        notify_free(n);
        return -r;
    }
    n->started = true;
    *ret = n;
    return 0;
}

/* See notify.h. */
struct notify *
notify_free(struct notify *n)
{
    if (!n)
        return NULL;
    if (n->started) {
        pthread_mutex_lock(&n->lock);
        n->stopping = true;
        pthread_mutex_unlock(&n->lock);
        curl_multi_wakeup(n->multi);
        pthread_join(n->thread, NULL);
    }
    if (n->nqueued)
        ferry_log_info("%zu job notifications were not run: ferryd stops", n->nqueued);
    while (n->head) {
        struct notify_item *it = n->head;
        n->head = it->next;
        notify_item_free(it);
    }
    if (n->multi)
        curl_multi_cleanup(n->multi);
    free(n->user);
    pthread_mutex_destroy(&n->lock);
    free(n);
    return NULL;
}
