/*
 * tests/control/wsman/fake_engine.c - see fake_engine.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_engine.h"

#define FAKE_MAX_JOBS 20000
#define FAKE_MAX_FILES 8
#define FAKE_MAX_GROUPS 16
#define FAKE_MAX_URLS 8

struct fake_job {
    struct ferry_job_info info;
    struct ferry_file_info files[FAKE_MAX_FILES];
};

struct fake_url {
    char suffix[128];
    char source[256];
    char rule[128];
};

struct fake_group {
    char prefix[256];
    uint32_t conn_limit, bw_limit;
    bool negotiate, ntlm;
    struct fake_url urls[FAKE_MAX_URLS];
    size_t nurls;
};

struct fake_engine {
    struct fake_job *jobs;
    size_t njobs;
    struct fake_group groups[FAKE_MAX_GROUPS];
    size_t ngroups;
    char last[10][256];
};

enum { L_USER, L_PASS, L_PROXY, L_CERT, L_OPTION, L_SSL, L_CERTS, L_STATE, L_NOTIFY_CMD,
       L_NOTIFY_URL };

struct fake_engine *
fake_engine_new(void)
{
    struct fake_engine *fe = calloc(1, sizeof(*fe));

    if (fe)
        fe->jobs = calloc(FAKE_MAX_JOBS, sizeof(*fe->jobs));
    return fe;
}

void
fake_engine_free(struct fake_engine *fe)
{
    if (!fe)
        return;
    for (size_t i = 0; i < fe->njobs; i++) {
        free(fe->jobs[i].info.display_name);
        free(fe->jobs[i].info.description);
        free(fe->jobs[i].info.owner);
        for (size_t k = 0; k < fe->jobs[i].info.nfiles; k++) {
            free(fe->jobs[i].files[k].remote_url);
            free(fe->jobs[i].files[k].local_file);
        }
    }
    free(fe->jobs);
    free(fe);
}

struct ferry_jobs *
fake_engine_jobs(struct fake_engine *fe)
{
    return (struct ferry_jobs *)fe;
}

struct ferry_server *
fake_engine_server(struct fake_engine *fe)
{
    return (struct ferry_server *)fe;
}

struct ferry_users *
fake_engine_users(struct fake_engine *fe)
{
    return (struct ferry_users *)fe;
}

const char *
fake_engine_last(struct fake_engine *fe, const char *what)
{
    static const char *const names[] = {"user", "password", "proxy", "cert", "option", "ssl",
                                        "certs", "state", "notify_cmd", "notify_url"};

    for (size_t i = 0; i < 10; i++)
        if (strcmp(names[i], what) == 0)
            return fe->last[i];
    return "";
}

size_t
fake_engine_njobs(struct fake_engine *fe)
{
    return fe->njobs;
}

static struct fake_job *
job_find(struct fake_engine *fe, const char *id, struct ferry_status *st)
{
    for (size_t i = 0; i < fe->njobs; i++)
        if (strcasecmp(fe->jobs[i].info.job_id, id) == 0)
            return &fe->jobs[i];
    ferry_status_set(st, -ENOENT, FERRY_STATUS_NOT_FOUND, FERRY_BG_E_NOT_FOUND, "JobId",
                     "The job '%s' does not exist.", id);
    return NULL;
}

void
fake_engine_set_state(struct fake_engine *fe, const char *job_id, enum ferry_job_state s)
{
    struct ferry_status st;
    struct fake_job *j = job_find(fe, job_id, &st);

    if (j)
        j->info.state = s;
}

static int
file_add(struct fake_job *j, const char *url, const char *local, struct ferry_status *st)
{
    if (!local || local[0] != '/')
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER, FERRY_E_INVALIDARG,
                                "LocalFile", "LocalFile '%s' is not absolute.",
                                local ? local : "");
    if (!url || strncmp(url, "http", 4) != 0)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER, FERRY_E_INVALIDARG,
                                "RemoteUrl", "RemoteUrl is not an http(s) URL.");
    if (j->info.nfiles >= FAKE_MAX_FILES)
        return ferry_status_set(st, -E2BIG, FERRY_STATUS_RESULT,
                                FERRY_BG_E_TOO_MANY_FILES_IN_JOB,
                                NULL, "Too many files.");
    struct ferry_file_info *f = &j->files[j->info.nfiles++];
    f->remote_url = strdup(url);
    f->local_file = strdup(local);
    f->bytes_total = FERRY_SIZE_UNKNOWN;
    j->info.files_total = (uint32_t)j->info.nfiles;
    return 0;
}

static int
f_create(struct ferry_jobs *jobs, const struct ferry_job_create *req,
         char ret_job_id[FERRY_GUID_STRLEN], struct ferry_status *st)
{
    struct fake_engine *fe = (struct fake_engine *)jobs;
    struct fake_job *j;
    int r;

    if (fe->njobs >= FAKE_MAX_JOBS)
        return ferry_status_set(st, -ENOSPC, FERRY_STATUS_RESULT,
                                FERRY_BG_E_TOO_MANY_JOBS_PER_MACHINE,
                                NULL, "Too many jobs.");
    if (req->type != 0)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER, FERRY_E_INVALIDARG,
                                "Type", "Only download jobs are supported.");
    j = &fe->jobs[fe->njobs];
    memset(j, 0, sizeof(*j));
    j->info.files = j->files;
    r = file_add(j, req->remote_url, req->local_file, st);
    if (r < 0)
        return r;
    ferry_guid_new(j->info.job_id);
    j->info.display_name = strdup(req->display_name);
    j->info.description = strdup(req->description ? req->description : "");
    j->info.owner = strdup(req->owner ? req->owner : "");
    j->info.priority = FERRY_PRIORITY_NORMAL;
    j->info.state = req->suspend ? FERRY_JOB_SUSPENDED : FERRY_JOB_QUEUED;
    j->info.minimum_retry_delay = 600;
    j->info.no_progress_timeout = 1209600;
    j->info.creation_time = ferry_filetime_now();
    j->info.bytes_total = FERRY_SIZE_UNKNOWN;
    j->info.connections_per_file = 4;
    fe->njobs++;
    memcpy(ret_job_id, j->info.job_id, FERRY_GUID_STRLEN);
    return 0;
}

static int
f_add_file(struct ferry_jobs *jobs, const char *id, const char *url, const char *local,
           struct ferry_status *st)
{
    struct fake_job *j = job_find((struct fake_engine *)jobs, id, st);

    return j ? file_add(j, url, local, st) : -ENOENT;
}

static int
f_set_state(struct ferry_jobs *jobs, const char *id, enum ferry_job_action a,
            struct ferry_status *st)
{
    struct fake_engine *fe = (struct fake_engine *)jobs;
    struct fake_job *j = job_find(fe, id, st);

    if (!j)
        return -ENOENT;
    snprintf(fe->last[L_STATE], sizeof(fe->last[L_STATE]), "%d", (int)a);
    if (j->info.state == FERRY_JOB_CANCELLED || j->info.state == FERRY_JOB_ACKNOWLEDGED)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_RESULT, FERRY_BG_E_INVALID_STATE,
                                NULL, "The job is read-only.");
    switch (a) {
    case FERRY_JOB_ACTION_CANCEL:
        j->info.state = FERRY_JOB_CANCELLED;
        break;
    case FERRY_JOB_ACTION_COMPLETE:
        if (j->info.state != FERRY_JOB_TRANSFERRED)
            return ferry_status_set(st, -EINVAL, FERRY_STATUS_RESULT, FERRY_BG_E_INVALID_STATE,
                                    NULL, "The job is not transferred.");
        j->info.state = FERRY_JOB_ACKNOWLEDGED;
        break;
    case FERRY_JOB_ACTION_RESUME:
        j->info.state = FERRY_JOB_QUEUED;
        break;
    case FERRY_JOB_ACTION_SUSPEND:
        j->info.state = FERRY_JOB_SUSPENDED;
        break;
    }
    return 0;
}

static int
f_set_props(struct ferry_jobs *jobs, const char *id, const struct ferry_job_props *p,
            struct ferry_status *st)
{
    struct fake_job *j = job_find((struct fake_engine *)jobs, id, st);

    if (!j)
        return -ENOENT;
    if ((p->mask & FERRY_JOBPROP_MIN_RETRY_DELAY) && p->minimum_retry_delay < 5)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER, FERRY_E_INVALIDARG,
                                "MinimumRetryDelay", "MinimumRetryDelay must be at least 5.");
    if (p->mask & FERRY_JOBPROP_DISPLAY_NAME) {
        free(j->info.display_name);
        j->info.display_name = strdup(p->display_name);
    }
    if (p->mask & FERRY_JOBPROP_DESCRIPTION) {
        free(j->info.description);
        j->info.description = strdup(p->description);
    }
    if (p->mask & FERRY_JOBPROP_PRIORITY)
        j->info.priority = (enum ferry_job_priority)p->priority;
    if (p->mask & FERRY_JOBPROP_MIN_RETRY_DELAY)
        j->info.minimum_retry_delay = p->minimum_retry_delay;
    if (p->mask & FERRY_JOBPROP_NO_PROGRESS_TIMEOUT)
        j->info.no_progress_timeout = p->no_progress_timeout;
    if (p->mask & FERRY_JOBPROP_CONNECTIONS)
        j->info.connections_per_file = p->connections;
    if (p->mask & FERRY_JOBPROP_BANDWIDTH_LIMIT)
        j->info.bandwidth_limit = p->bandwidth_limit;
    if (p->mask & FERRY_JOBPROP_NOTIFY_FLAGS)
        j->info.notify_flags = p->notify_flags;
    if (p->mask & FERRY_JOBPROP_NOTIFY_URL)
        snprintf(((struct fake_engine *)jobs)->last[L_NOTIFY_URL], 256, "%s",
                 p->notify_url ? p->notify_url : "");
    j->info.modification_time = ferry_filetime_now();
    return 0;
}

static struct ferry_job_info *
info_dup(const struct fake_job *j)
{
    struct ferry_job_info *i = calloc(1, sizeof(*i));

    if (!i)
        return NULL;
    *i = j->info;
    i->display_name = strdup(j->info.display_name);
    i->description = strdup(j->info.description);
    i->owner = strdup(j->info.owner);
    i->files = calloc(j->info.nfiles + 1, sizeof(*i->files));
    for (size_t k = 0; k < j->info.nfiles; k++) {
        i->files[k] = j->files[k];
        i->files[k].remote_url = strdup(j->files[k].remote_url);
        i->files[k].local_file = strdup(j->files[k].local_file);
    }
    return i;
}

static struct ferry_job_info *
f_info_free(struct ferry_job_info *i)
{
    if (!i)
        return NULL;
    for (size_t k = 0; k < i->nfiles; k++) {
        free(i->files[k].remote_url);
        free(i->files[k].local_file);
    }
    free(i->files);
    free(i->display_name);
    free(i->description);
    free(i->owner);
    free(i);
    return NULL;
}

static void
f_info_list_free(struct ferry_job_info **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        f_info_free(v[i]);
    free(v);
}

static int
f_get(struct ferry_jobs *jobs, const char *id, struct ferry_job_info **ret,
      struct ferry_status *st)
{
    struct fake_job *j = job_find((struct fake_engine *)jobs, id, st);

    if (!j)
        return -ENOENT;
    *ret = info_dup(j);
    return *ret ? 0 : -ENOMEM;
}

static int
f_list(struct ferry_jobs *jobs, struct ferry_job_info ***ret_v, size_t *ret_n)
{
    struct fake_engine *fe = (struct fake_engine *)jobs;
    struct ferry_job_info **v = calloc(fe->njobs + 1, sizeof(*v));
    size_t n = 0;

    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < fe->njobs; i++) {
        enum ferry_job_state s = fe->jobs[i].info.state;

        if (s == FERRY_JOB_ACKNOWLEDGED || s == FERRY_JOB_CANCELLED)
            continue;
        v[n++] = info_dup(&fe->jobs[i]);
    }
    *ret_v = v;
    *ret_n = n;
    return 0;
}

static int
f_get_error(struct ferry_jobs *jobs, const char *id, struct ferry_job_error *err,
            struct ferry_status *st)
{
    struct fake_job *j = job_find((struct fake_engine *)jobs, id, st);

    if (!j)
        return -ENOENT;
    if (j->info.state != FERRY_JOB_ERROR && j->info.state != FERRY_JOB_TRANSIENT_ERROR)
        return ferry_status_set(st, -ENOENT, FERRY_STATUS_RESULT, FERRY_BG_E_INVALID_STATE,
                                NULL, "The job has no error.");
    err->context = FERRY_ERRCTX_REMOTE_FILE;
    err->code = FERRY_BG_E_HTTP_ERROR(404);
    err->context_text = strdup("The error occurred while the remote file was being processed.");
    err->text = strdup("HTTP status 404: the requested URL does not exist on the server.");
    err->file = strdup(j->files[0].remote_url);
    return 0;
}

static void
f_error_done(struct ferry_job_error *err)
{
    free(err->context_text);
    free(err->text);
    free(err->file);
    memset(err, 0, sizeof(*err));
}

static int
f_set_cred(struct ferry_jobs *jobs, const char *id, unsigned target, unsigned scheme,
           const char *user, const char *pass, struct ferry_status *st)
{
    struct fake_engine *fe = (struct fake_engine *)jobs;
    struct fake_job *j = job_find(fe, id, st);

    if (!j)
        return -ENOENT;
    if (target > 1 || scheme > 4)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER, FERRY_E_INVALIDARG,
                                target > 1 ? "Target" : "Scheme", "Out of range.");
    snprintf(fe->last[L_USER], 256, "%s", user ? user : "");
    snprintf(fe->last[L_PASS], 256, "%s", pass ? pass : "");
    j->info.has_credentials = true;
    return 0;
}

static int
f_remove_cred(struct ferry_jobs *jobs, const char *id, unsigned target, unsigned scheme,
              struct ferry_status *st)
{
    struct fake_job *j = job_find((struct fake_engine *)jobs, id, st);

    if (!j)
        return -ENOENT;
    j->info.has_credentials = false;
    return 0;
}

static int
f_set_proxy(struct ferry_jobs *jobs, const char *id, unsigned usage, const char *list,
            const char *bypass, struct ferry_status *st)
{
    struct fake_engine *fe = (struct fake_engine *)jobs;

    if (!job_find(fe, id, st))
        return -ENOENT;
    if (usage > 3)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER, FERRY_E_INVALIDARG,
                                "ProxyUsage", "Out of range.");
    snprintf(fe->last[L_PROXY], 256, "%u|%s|%s", usage, list ? list : "",
             bypass ? bypass : "");
    return 0;
}

static int
f_set_cert(struct ferry_jobs *jobs, const char *id, unsigned loc, const char *store,
           const uint8_t *hash, size_t len, struct ferry_status *st)
{
    struct fake_engine *fe = (struct fake_engine *)jobs;

    if (!job_find(fe, id, st))
        return -ENOENT;
    int o = snprintf(fe->last[L_CERT], 256, "%u|%s|", loc, store);
    for (size_t i = 0; i < len && o < 250; i++)
        o += snprintf(fe->last[L_CERT] + o, 256 - (size_t)o, "%02x", hash[i]);
    return 0;
}

static int
f_set_cert_by_name(struct ferry_jobs *jobs, const char *id, unsigned loc, const char *store,
                   const char *subject, struct ferry_status *st)
{
    struct fake_engine *fe = (struct fake_engine *)jobs;

    if (!job_find(fe, id, st))
        return -ENOENT;
    snprintf(fe->last[L_CERT], 256, "%u|%s|subject=%s", loc, store, subject);
    return 0;
}

static int
f_remove_cert(struct ferry_jobs *jobs, const char *id, struct ferry_status *st)
{
    return job_find((struct fake_engine *)jobs, id, st) ? 0 : -ENOENT;
}

static int
f_set_notify_cmdline(struct ferry_jobs *jobs, const char *id, const char *program,
                     const char *params, struct ferry_status *st)
{
    struct fake_engine *fe = (struct fake_engine *)jobs;

    if (!job_find(fe, id, st))
        return -ENOENT;
    snprintf(fe->last[L_NOTIFY_CMD], 256, "%s|%s", program ? program : "",
             params ? params : "");
    return 0;
}

static int
f_set_option(struct ferry_jobs *jobs, const char *id, const char *name, const char *value,
             struct ferry_status *st)
{
    struct fake_engine *fe = (struct fake_engine *)jobs;

    if (!job_find(fe, id, st))
        return -ENOENT;
    if (strcmp(name, "Mirror") != 0 && strcmp(name, "ExpectedDigest") != 0 &&
        strcmp(name, "CustomHeader") != 0)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER, FERRY_E_INVALIDARG,
                                "Name", "Unknown option '%s'.", name);
    snprintf(fe->last[L_OPTION], 256, "%s=%s", name, value);
    return 0;
}

static void
f_jobs_stats(struct ferry_jobs *jobs, struct ferry_jobs_stats *ret)
{
    struct fake_engine *fe = (struct fake_engine *)jobs;

    memset(ret, 0, sizeof(*ret));
    for (size_t i = 0; i < fe->njobs; i++)
        ret->jobs_by_state[fe->jobs[i].info.state]++;
    ret->bytes_fetched = 12345;
    ret->bytes_refetched = 7;
    ret->chunk_verify_failures = 1;
}

/* ---- server ---- */

static struct fake_group *
group_find(struct fake_engine *fe, const char *prefix)
{
    for (size_t i = 0; i < fe->ngroups; i++)
        if (strcmp(fe->groups[i].prefix, prefix) == 0)
            return &fe->groups[i];
    return NULL;
}

static int
prefix_check(const char *prefix, struct ferry_status *st)
{
    const char *p;

    if (strncmp(prefix, "http://", 7) != 0 && strncmp(prefix, "https://", 8) != 0)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER, FERRY_E_INVALIDARG,
                                "UrlGroup", "The scheme must be http or https.");
    p = strchr(prefix + 8, '/');
    if (!p || !p[1] || strchr(p + 1, '/'))
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER, FERRY_E_INVALIDARG,
                                "UrlGroup", "The prefix needs exactly one path segment.");
    return 0;
}

static int
f_group_create(struct ferry_server *srv, const char *prefix, struct ferry_status *st)
{
    struct fake_engine *fe = (struct fake_engine *)srv;
    int r = prefix_check(prefix, st);

    if (r < 0)
        return r;
    if (group_find(fe, prefix))
        return 0;
    if (fe->ngroups >= FAKE_MAX_GROUPS)
        return ferry_status_set(st, -ENOSPC, FERRY_STATUS_RESULT, FERRY_E_FAIL, NULL, "Full.");
    memset(&fe->groups[fe->ngroups], 0, sizeof(fe->groups[0]));
    snprintf(fe->groups[fe->ngroups].prefix, 256, "%s", prefix);
    fe->ngroups++;
    return 0;
}

static int
f_group_delete(struct ferry_server *srv, const char *prefix, struct ferry_status *st)
{
    struct fake_engine *fe = (struct fake_engine *)srv;
    struct fake_group *g = group_find(fe, prefix);

    if (!g)
        return ferry_status_set(st, -ENOENT, FERRY_STATUS_NOT_FOUND, FERRY_BG_E_NOT_FOUND,
                                "UrlGroup", "No such group.");
    *g = fe->groups[--fe->ngroups];
    return 0;
}

static int
f_url_create(struct ferry_server *srv, const char *prefix, const char *suffix,
             const char *source, const char *rule, const char *const *certs, size_t ncert,
             struct ferry_status *st)
{
    struct fake_engine *fe = (struct fake_engine *)srv;
    struct fake_group *g;
    int r;

    if (strchr(suffix, '/'))
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER, FERRY_E_INVALIDARG,
                                "UrlSuffix", "No '/' in a suffix.");
    if (rule && strcmp(rule, "D:(A;;GA;;;WD)") != 0 && strcmp(rule, "D:(A;;GA;;;AU)") != 0)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER, FERRY_E_INVALIDARG,
                                "SDDLAuth", "Unsupported rule.");
    r = f_group_create(srv, prefix, st);
    if (r < 0)
        return r;
    g = group_find(fe, prefix);
    if (g->nurls >= FAKE_MAX_URLS)
        return ferry_status_set(st, -ENOSPC, FERRY_STATUS_RESULT, FERRY_E_FAIL, NULL, "Full.");
    snprintf(g->urls[g->nurls].suffix, 128, "%s", suffix);
    snprintf(g->urls[g->nurls].source, 256, "%s", source);
    snprintf(g->urls[g->nurls].rule, 128, "%s", rule ? rule : "");
    g->nurls++;
    fe->last[L_CERTS][0] = '\0';
    for (size_t i = 0; i < ncert; i++) {
        size_t l = strlen(fe->last[L_CERTS]);
        snprintf(fe->last[L_CERTS] + l, 256 - l, "%s%s", i ? "," : "", certs[i]);
    }
    return 0;
}

static struct fake_url *
url_find(struct fake_group *g, const char *suffix)
{
    for (size_t i = 0; g && i < g->nurls; i++)
        if (strcmp(g->urls[i].suffix, suffix) == 0)
            return &g->urls[i];
    return NULL;
}

static int
f_url_delete(struct ferry_server *srv, const char *prefix, const char *suffix,
             struct ferry_status *st)
{
    struct fake_group *g = group_find((struct fake_engine *)srv, prefix);
    struct fake_url *u = url_find(g, suffix);

    if (!u)
        return ferry_status_set(st, -ENOENT, FERRY_STATUS_NOT_FOUND, FERRY_BG_E_NOT_FOUND,
                                "UrlSuffix", "No such URL.");
    *u = g->urls[--g->nurls];
    return 0;
}

static int
f_url_check(struct ferry_server *srv, const char *prefix, const char *suffix, bool *ret,
            struct ferry_status *st)
{
    struct fake_group *g = group_find((struct fake_engine *)srv, prefix);

    if (!g)
        return ferry_status_set(st, -ENOENT, FERRY_STATUS_NOT_FOUND, FERRY_BG_E_NOT_FOUND,
                                "UrlGroup", "No such group.");
    *ret = url_find(g, suffix) != NULL;
    return 0;
}

static int
f_set_auth(struct ferry_server *srv, const char *prefix, unsigned scheme, bool enable,
           struct ferry_status *st)
{
    struct fake_group *g = group_find((struct fake_engine *)srv, prefix);

    if (!g)
        return ferry_status_set(st, -ENOENT, FERRY_STATUS_NOT_FOUND, FERRY_BG_E_NOT_FOUND,
                                "UrlGroup", "No such group.");
    if (scheme > 1)
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER, FERRY_E_INVALIDARG,
                                "Scheme", "Scheme must be 0 or 1.");
    if (scheme == 0)
        g->negotiate = enable;
    else
        g->ntlm = enable;
    return 0;
}

static int
f_get_auth(struct ferry_server *srv, const char *prefix, unsigned scheme, bool *ret,
           struct ferry_status *st)
{
    struct fake_group *g = group_find((struct fake_engine *)srv, prefix);

    if (!g)
        return ferry_status_set(st, -ENOENT, FERRY_STATUS_NOT_FOUND, FERRY_BG_E_NOT_FOUND,
                                "UrlGroup", "No such group.");
    *ret = scheme == 0 ? g->negotiate : g->ntlm;
    return 0;
}

static int
f_set_prop(struct ferry_server *srv, const char *prefix, const char *name, uint32_t v,
           struct ferry_status *st)
{
    struct fake_group *g = group_find((struct fake_engine *)srv, prefix);

    if (!g)
        return ferry_status_set(st, -ENOENT, FERRY_STATUS_NOT_FOUND, FERRY_BG_E_NOT_FOUND,
                                "UrlGroup", "No such group.");
    if (strcmp(name, FERRY_PROP_CONNECTION_LIMIT) == 0)
        g->conn_limit = v;
    else if (strcmp(name, FERRY_PROP_BANDWIDTH_LIMIT) == 0 && (v == 0 || v >= 1024))
        g->bw_limit = v;
    else
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER, FERRY_E_INVALIDARG,
                                "Property", "Unknown property or bad value.");
    return 0;
}

static int
f_get_prop(struct ferry_server *srv, const char *prefix, const char *name, uint32_t *ret,
           struct ferry_status *st)
{
    struct fake_group *g = group_find((struct fake_engine *)srv, prefix);

    if (!g)
        return ferry_status_set(st, -ENOENT, FERRY_STATUS_NOT_FOUND, FERRY_BG_E_NOT_FOUND,
                                "UrlGroup", "No such group.");
    if (strcmp(name, FERRY_PROP_CONNECTION_LIMIT) == 0)
        *ret = g->conn_limit;
    else if (strcmp(name, FERRY_PROP_BANDWIDTH_LIMIT) == 0)
        *ret = g->bw_limit;
    else
        return ferry_status_set(st, -EINVAL, FERRY_STATUS_INVALID_PARAMETER, FERRY_E_INVALIDARG,
                                "Property", "Unknown property.");
    return 0;
}

static int
f_set_ssl(struct ferry_server *srv, uint16_t port, const char *store, const uint8_t *hash,
          size_t len, struct ferry_status *st)
{
    struct fake_engine *fe = (struct fake_engine *)srv;

    snprintf(fe->last[L_SSL], 256, "%u|%s|%zu", (unsigned)port, store, len);
    return 0;
}

/* The port of the last SetSslCertificate is bound to store "MY", thumbprint 0..19. */
static int
f_get_ssl(struct ferry_server *srv, uint16_t port, char **ret_store, uint8_t ret_hash[20],
          struct ferry_status *st)
{
    struct fake_engine *fe = (struct fake_engine *)srv;
    char want[16];

    snprintf(want, sizeof(want), "%u|", (unsigned)port);
    if (strncmp(fe->last[L_SSL], want, strlen(want)) != 0)
        return ferry_status_set(st, -ENOENT, FERRY_STATUS_RESULT, FERRY_E_NOT_FOUND, NULL,
                                "no certificate is bound to port %u", port);
    for (int i = 0; i < 20; i++)
        ret_hash[i] = (uint8_t)i;
    *ret_store = strdup("MY");
    return *ret_store ? 0 : -ENOMEM;
}

static int
f_remove_ssl(struct ferry_server *srv, uint16_t port, struct ferry_status *st)
{
    struct fake_engine *fe = (struct fake_engine *)srv;
    char want[16];

    snprintf(want, sizeof(want), "%u|", (unsigned)port);
    if (strncmp(fe->last[L_SSL], want, strlen(want)) != 0)
        return ferry_status_set(st, -ENOENT, FERRY_STATUS_RESULT, FERRY_E_NOT_FOUND, NULL,
                                "no certificate is bound to port %u", port);
    fe->last[L_SSL][0] = '\0';
    return 0;
}

static struct ferry_group_info *
group_dup(const struct fake_group *g)
{
    struct ferry_group_info *i = calloc(1, sizeof(*i));

    if (!i)
        return NULL;
    i->prefix = strdup(g->prefix);
    i->connection_limit = g->conn_limit;
    i->bandwidth_limit = g->bw_limit;
    i->auth_negotiate = g->negotiate;
    i->auth_ntlm = g->ntlm;
    i->requests = 3;
    i->bytes_sent = 4096;
    i->urls = calloc(g->nurls + 1, sizeof(*i->urls));
    i->nurls = g->nurls;
    for (size_t k = 0; k < g->nurls; k++) {
        if (asprintf(&i->urls[k].url, "%s/%s", g->prefix, g->urls[k].suffix) < 0)
            i->urls[k].url = NULL;
        i->urls[k].suffix = strdup(g->urls[k].suffix);
        i->urls[k].source = strdup(g->urls[k].source);
        i->urls[k].rule = strdup(g->urls[k].rule);
    }
    return i;
}

static struct ferry_group_info *
f_group_info_free(struct ferry_group_info *g)
{
    if (!g)
        return NULL;
    for (size_t k = 0; k < g->nurls; k++) {
        free(g->urls[k].url);
        free(g->urls[k].suffix);
        free(g->urls[k].source);
        free(g->urls[k].rule);
    }
    free(g->urls);
    free(g->prefix);
    free(g);
    return NULL;
}

static void
f_group_info_list_free(struct ferry_group_info **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        f_group_info_free(v[i]);
    free(v);
}

static int
f_group_get(struct ferry_server *srv, const char *prefix, struct ferry_group_info **ret)
{
    struct fake_group *g = group_find((struct fake_engine *)srv, prefix);

    if (!g)
        return -ENOENT;
    *ret = group_dup(g);
    return *ret ? 0 : -ENOMEM;
}

static int
f_group_list(struct ferry_server *srv, struct ferry_group_info ***ret_v, size_t *ret_n)
{
    struct fake_engine *fe = (struct fake_engine *)srv;
    struct ferry_group_info **v = calloc(fe->ngroups + 1, sizeof(*v));

    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < fe->ngroups; i++)
        v[i] = group_dup(&fe->groups[i]);
    *ret_v = v;
    *ret_n = fe->ngroups;
    return 0;
}

static void
f_server_stats(struct ferry_server *srv, struct ferry_server_stats *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->requests = 42;
    ret->bytes_sent = 999;
}

/* ---- users ---- */

static unsigned verify_calls;

unsigned
fake_engine_verify_calls(void)
{
    return verify_calls;
}

static int
f_verify(struct ferry_users *users, const char *name, const char *pass, enum ferry_role *ret)
{
    verify_calls++;
    if (strcmp(name, "admin") == 0 && strcmp(pass, "admin-pw") == 0) {
        *ret = FERRY_ROLE_ADMIN;
        return 0;
    }
    if (strcmp(name, "bob") == 0 && strcmp(pass, "bob-pw") == 0) {
        *ret = FERRY_ROLE_USER;
        return 0;
    }
    return -EACCES;
}

static int
f_role(struct ferry_users *users, const char *name, enum ferry_role *ret)
{
    if (strcmp(name, "admin") == 0) {
        *ret = FERRY_ROLE_ADMIN;
        return 0;
    }
    if (strcmp(name, "bob") == 0) {
        *ret = FERRY_ROLE_USER;
        return 0;
    }
    return -ENOENT;
}

const struct wsman_engine_ops fake_engine_ops = {
    .jobs_create = f_create,
    .jobs_add_file = f_add_file,
    .jobs_set_state = f_set_state,
    .jobs_set_props = f_set_props,
    .jobs_get = f_get,
    .jobs_list = f_list,
    .job_info_free = f_info_free,
    .job_info_list_free = f_info_list_free,
    .jobs_get_error = f_get_error,
    .job_error_done = f_error_done,
    .jobs_set_credentials = f_set_cred,
    .jobs_remove_credentials = f_remove_cred,
    .jobs_set_proxy = f_set_proxy,
    .jobs_set_client_cert = f_set_cert,
    .jobs_remove_client_cert = f_remove_cert,
    .jobs_set_client_cert_by_name = f_set_cert_by_name,
    .jobs_set_option = f_set_option,
    .jobs_set_notify_cmdline = f_set_notify_cmdline,
    .jobs_stats = f_jobs_stats,
    .group_create = f_group_create,
    .group_delete = f_group_delete,
    .url_create = f_url_create,
    .url_delete = f_url_delete,
    .url_check = f_url_check,
    .group_set_auth = f_set_auth,
    .group_get_auth = f_get_auth,
    .group_set_property = f_set_prop,
    .group_get_property = f_get_prop,
    .set_ssl_cert = f_set_ssl,
    .get_ssl_cert = f_get_ssl,
    .remove_ssl_cert = f_remove_ssl,
    .group_get = f_group_get,
    .group_list = f_group_list,
    .group_info_free = f_group_info_free,
    .group_info_list_free = f_group_info_list_free,
    .server_stats = f_server_stats,
    .users_verify = f_verify,
    .users_role = f_role,
};
