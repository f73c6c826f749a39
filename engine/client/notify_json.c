/*
 * notify_json.c - the JSON document of a job for notify URLs (docs/internals/client.md,
 * "Notifications"). Values are strings, as `ferryctl --json job show` prints them (it
 * renders the WS-Man instance, whose values are text); never credentials.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/job.h"
#include "client/notify_json.h"

/* A growing buffer; `oom` sticks once an allocation failed. */
struct njbuf {
    char *p;
    size_t len, cap;
    bool oom;
    bool first;
};

static void
nj_put(struct njbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        char *np;

        while (b->len + n + 1 > cap)
            cap *= 2;
        np = realloc(b->p, cap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
nj_lit(struct njbuf *b, const char *s)
{
    nj_put(b, s, strlen(s));
}

/* A JSON string: quotes, backslash and control bytes escaped; other bytes as they are. */
static void
nj_str(struct njbuf *b, const char *s)
{
    nj_lit(b, "\"");
    for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++) {
        char esc[8];

        if (*c == '"' || *c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*c;
            nj_put(b, esc, 2);
        } else if (*c < 0x20 || *c == 0x7f) {
            snprintf(esc, sizeof(esc), "\\u%04x", *c);
            nj_lit(b, esc);
        } else {
            nj_put(b, (const char *)c, 1);
        }
    }
    nj_lit(b, "\"");
}

static void
nj_key(struct njbuf *b, const char *key)
{
    if (!b->first)
        nj_lit(b, ",");
    b->first = false;
    nj_str(b, key);
    nj_lit(b, ":");
}

static void
nj_kv(struct njbuf *b, const char *key, const char *value)
{
    nj_key(b, key);
    nj_str(b, value);
}

static void FERRY_PRINTF(3, 4)
nj_kvf(struct njbuf *b, const char *key, const char *fmt, ...)
{
    char v[64];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(v, sizeof(v), fmt, ap);
    va_end(ap);
    nj_kv(b, key, v);
}

/* Build the document (see notify_json.h). */
char *
notify_json_job(const struct job *job, const struct ferry_job_info *j, const char *event)
{
    struct njbuf b = {.first = true};

    nj_lit(&b, "{");
    nj_kv(&b, "Event", event);
    nj_kv(&b, "JobId", j->job_id);
    nj_kv(&b, "DisplayName", j->display_name);
    nj_kv(&b, "Description", j->description);
    nj_kvf(&b, "Priority", "%u", (unsigned)j->priority);
    nj_kvf(&b, "JobCreationTime", "%llu", (unsigned long long)j->creation_time);
    nj_kvf(&b, "JobLastModificationTime", "%llu", (unsigned long long)j->modification_time);
    nj_kvf(&b, "JobCompletionTime", "%llu", (unsigned long long)j->completion_time);
    nj_kvf(&b, "BytesTotal", "%llu", (unsigned long long)j->bytes_total);
    nj_kvf(&b, "BytesTransferred", "%llu", (unsigned long long)j->bytes_transferred);
    nj_kvf(&b, "FilesTotal", "%u", (unsigned)j->files_total);
    nj_kvf(&b, "FilesTransferred", "%u", (unsigned)j->files_transferred);
    nj_kvf(&b, "TransientErrorCount", "%u", (unsigned)j->transient_error_count);
    nj_kvf(&b, "State", "%u", (unsigned)j->state);
    nj_kv(&b, "StateName", ferry_job_state_name(j->state));
    nj_kv(&b, "Owner", j->owner);
    nj_kvf(&b, "Type", "%u", j->type);
    nj_kvf(&b, "NotifyFlags", "%u", (unsigned)j->notify_flags);
    if (job->err.set) {
        nj_kvf(&b, "ErrorContext", "%u", (unsigned)job->err.context);
        nj_kvf(&b, "ErrorCode", "%u", (unsigned)job->err.code);
        nj_kv(&b, "ErrorDescription", job->err.text);
        if (job->err.file)
            nj_kv(&b, "ErrorFile", job->err.file);
    }
    nj_key(&b, "Files");
    nj_lit(&b, "[");
    for (size_t i = 0; i < j->nfiles; i++) {
        const struct ferry_file_info *f = &j->files[i];

        nj_lit(&b, i ? ",{" : "{");
        b.first = true;
        nj_kv(&b, "RemoteUrl", f->remote_url);
        nj_kv(&b, "LocalFile", f->local_file);
        nj_kvf(&b, "BytesTotal", "%llu", (unsigned long long)f->bytes_total);
        nj_kvf(&b, "BytesTransferred", "%llu", (unsigned long long)f->bytes_transferred);
        nj_kv(&b, "Completed", f->completed ? "true" : "false");
        nj_lit(&b, "}");
    }
    nj_lit(&b, "]}");
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
