/*
 * wsman_res_file.c - the BitsClientFile class (docs/DESIGN.md §4): read-only. Each
 * instance is one file of a job, keyed by the selectors JobId and LocalFile. Get and
 * Enumerate only (an Enumerate with a JobId selector lists that job's files).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wsman.h"

static int
file_check_key(size_t i, const char *value)
{
    if (i == 0)
        return ferry_guid_check(value);
    return value[0] == '/' ? 0 : -EINVAL;
}

static int
file_write(struct wsman_ctx *ctx, const char *const *keys, struct wsman_response *resp,
           xmlNodePtr parent, struct ferry_status *st)
{
    struct ferry_job_info *info = NULL;
    const struct ferry_file_info *fi = NULL;
    xmlNodePtr n;
    int r = ctx->ops->jobs_get(ctx->jobs, keys[0], &info, st);

    if (r < 0)
        return r;
    for (size_t i = 0; i < info->nfiles; i++) {
        if (info->files[i].local_file && strcmp(info->files[i].local_file, keys[1]) == 0) {
            fi = &info->files[i];
            break;
        }
    }
    if (!fi) {
        ctx->ops->job_info_free(info);
        return ferry_status_set(st, -ENOENT, FERRY_STATUS_NOT_FOUND, FERRY_BG_E_NOT_FOUND,
                                "LocalFile", "The job has no file '%.200s'.", keys[1]);
    }
    n = xmlNewChild(parent, resp->ns_p, (const xmlChar *)"BitsClientFile", NULL);
    if (n) {
        wsman_prop(resp, n, "JobId", "%s", info->job_id);
        wsman_prop(resp, n, "RemoteUrl", "%s", fi->remote_url ? fi->remote_url : "");
        wsman_prop(resp, n, "LocalFile", "%s", fi->local_file);
        wsman_prop(resp, n, "BytesTotal", "%llu", (unsigned long long)fi->bytes_total);
        wsman_prop(resp, n, "BytesTransferred", "%llu",
                   (unsigned long long)fi->bytes_transferred);
        wsman_prop(resp, n, "Completed", "%s", fi->completed ? "true" : "false");
    }
    ctx->ops->job_info_free(info);
    if (!n)
        return ferry_status_oom(st, -ENOMEM);
    return 0;
}

static int
keys_append(char ***keys, size_t *n, size_t *cap, const char *a, const char *b)
{
    if (*n + 2 > *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        char **nk = realloc(*keys, ncap * sizeof(*nk));

        if (!nk)
            return -ENOMEM;
        *keys = nk;
        *cap = ncap;
    }
    (*keys)[*n] = strdup(a);
    (*keys)[*n + 1] = strdup(b ? b : "");
    *n += 2;
    if (!(*keys)[*n - 2] || !(*keys)[*n - 1])
        return -ENOMEM;
    return 0;
}

static int
file_list(struct wsman_ctx *ctx, const char *const *filter, char ***ret_keys, size_t *ret_n)
{
    struct ferry_job_info **v = NULL, *one = NULL;
    size_t nv = 0, n = 0, cap = 0;
    char **keys = NULL;
    int r = 0;

    if (filter[0]) {
        struct ferry_status st;

        if (ctx->ops->jobs_get(ctx->jobs, filter[0], &one, &st) < 0)
            one = NULL;   /* no such job: an empty enumeration */
        v = one ? &one : NULL;
        nv = one ? 1 : 0;
    } else {
        r = ctx->ops->jobs_list(ctx->jobs, &v, &nv);
        if (r < 0)
            return r;
    }
    for (size_t j = 0; j < nv && r == 0; j++)
        for (size_t i = 0; i < v[j]->nfiles && r == 0; i++)
            if (!filter[1] || (v[j]->files[i].local_file &&
                               strcmp(filter[1], v[j]->files[i].local_file) == 0))
                r = keys_append(&keys, &n, &cap, v[j]->job_id, v[j]->files[i].local_file);
    if (one)
        ctx->ops->job_info_free(one);
    else
        ctx->ops->job_info_list_free(v, nv);
    if (r < 0) {
        for (size_t i = 0; i < n; i++)
            free(keys[i]);
        free(keys);
        return r;
    }
    if (!keys)
        keys = calloc(1, sizeof(*keys));
    if (!keys)
        return -ENOMEM;
    *ret_keys = keys;
    *ret_n = n / 2;
    return 0;
}

const struct wsman_class wsman_class_file = {
    .uri = WSMAN_URI_BITS_CLIENT_FILE,
    .name = "BitsClientFile",
    .keys = {"JobId", "LocalFile"},
    .check_key = file_check_key,
    .write = file_write,
    .put = NULL,
    .list = file_list,
    .methods = NULL,
};
