/*
 * wsman_res_job.c - the BitsClientJob class (docs/DESIGN.md §4): selector
 * JobId ("{GUID}"), the BITS properties plus ferry's own, Files embedded as BitsClientFile
 * items, Put of the writable properties, and the methods of the WMI provider plus ferry's
 * SetOption. Times are FILETIME uint64; BytesTotal is 18446744073709551615 until known.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wsman.h"
#include "wsman_parse.h"

static int
job_check_key(size_t i, const char *value)
{
    (void)i;
    return ferry_guid_check(value);
}

static int
job_write_info(struct wsman_response *resp, xmlNodePtr parent, const struct ferry_job_info *j)
{
    xmlNodePtr n = xmlNewChild(parent, resp->ns_p, (const xmlChar *)"BitsClientJob", NULL);

    if (!n)
        return -ENOMEM;
    wsman_prop(resp, n, "JobId", "%s", j->job_id);
    wsman_prop(resp, n, "DisplayName", "%s", j->display_name ? j->display_name : "");
    wsman_prop(resp, n, "Description", "%s", j->description ? j->description : "");
    wsman_prop(resp, n, "Priority", "%u", (unsigned)j->priority);
    wsman_prop(resp, n, "MinimumRetryDelay", "%u", (unsigned)j->minimum_retry_delay);
    wsman_prop(resp, n, "NoProgressTimeout", "%u", (unsigned)j->no_progress_timeout);
    wsman_prop(resp, n, "JobCreationTime", "%llu", (unsigned long long)j->creation_time);
    wsman_prop(resp, n, "JobLastModificationTime", "%llu",
               (unsigned long long)j->modification_time);
    wsman_prop(resp, n, "JobCompletionTime", "%llu", (unsigned long long)j->completion_time);
    wsman_prop(resp, n, "BytesTotal", "%llu", (unsigned long long)j->bytes_total);
    wsman_prop(resp, n, "BytesTransferred", "%llu", (unsigned long long)j->bytes_transferred);
    wsman_prop(resp, n, "FilesTotal", "%u", (unsigned)j->files_total);
    wsman_prop(resp, n, "FilesTransferred", "%u", (unsigned)j->files_transferred);
    wsman_prop(resp, n, "TransientErrorCount", "%u", (unsigned)j->transient_error_count);
    wsman_prop(resp, n, "State", "%u", (unsigned)j->state);
    wsman_prop(resp, n, "Owner", "%s", j->owner ? j->owner : "");
    wsman_prop(resp, n, "Type", "%u", j->type);
    wsman_prop(resp, n, "Throughput", "%llu", (unsigned long long)j->throughput);
    wsman_prop(resp, n, "ThroughputAverage", "%llu", (unsigned long long)j->throughput_avg);
    wsman_prop(resp, n, "BytesRefetched", "%llu", (unsigned long long)j->bytes_refetched);
    wsman_prop(resp, n, "BytesFromOrigin", "%llu", (unsigned long long)j->bytes_from_origin);
    wsman_prop(resp, n, "BytesFromPeers", "%llu", (unsigned long long)j->bytes_from_peers);
    wsman_prop(resp, n, "Retries", "%u", (unsigned)j->retries);
    wsman_prop(resp, n, "Connections", "%u", (unsigned)j->connections);
    wsman_prop(resp, n, "ConnectionsPerFile", "%u", (unsigned)j->connections_per_file);
    wsman_prop(resp, n, "BandwidthLimit", "%llu", (unsigned long long)j->bandwidth_limit);
    wsman_prop(resp, n, "MaxDownloadTime", "%u", (unsigned)j->max_download_time);
    wsman_prop(resp, n, "JobInactivityTimeout", "%u", (unsigned)j->inactivity_timeout);
    wsman_prop(resp, n, "DownloadTime", "%llu", (unsigned long long)j->download_time);
    wsman_prop(resp, n, "HasCredentials", "%s", j->has_credentials ? "true" : "false");
    wsman_prop(resp, n, "NotifyFlags", "%u", (unsigned)j->notify_flags);
    wsman_prop(resp, n, "NotifyProgram", "%s", j->notify_program ? j->notify_program : "");
    wsman_prop(resp, n, "NotifyCmdLine", "%s", j->notify_cmdline ? j->notify_cmdline : "");
    wsman_prop(resp, n, "NotifyUrl", "%s", j->notify_url ? j->notify_url : "");
    wsman_prop(resp, n, "FetchPath", "%s", j->fetch_path);
    for (size_t i = 0; i < j->nfiles; i++) {
        const struct ferry_file_info *fi = &j->files[i];
        xmlNodePtr f = xmlNewChild(n, resp->ns_p, (const xmlChar *)"Files", NULL);

        if (!f)
            return -ENOMEM;
        wsman_prop(resp, f, "RemoteUrl", "%s", fi->remote_url ? fi->remote_url : "");
        wsman_prop(resp, f, "LocalFile", "%s", fi->local_file ? fi->local_file : "");
        wsman_prop(resp, f, "BytesTotal", "%llu", (unsigned long long)fi->bytes_total);
        wsman_prop(resp, f, "BytesTransferred", "%llu",
                   (unsigned long long)fi->bytes_transferred);
        wsman_prop(resp, f, "Completed", "%s", fi->completed ? "true" : "false");
    }
    return 0;
}

static int
job_write(struct wsman_ctx *ctx, const char *const *keys, struct wsman_response *resp,
          xmlNodePtr parent, struct ferry_status *st)
{
    struct ferry_job_info *info = NULL;
    int r = ctx->ops->jobs_get(ctx->jobs, keys[0], &info, st);

    if (r < 0)
        return r;
    r = job_write_info(resp, parent, info);
    ctx->ops->job_info_free(info);
    if (r < 0)
        return ferry_status_oom(st, r);
    return 0;
}

/* ---- Put ---- */

enum { JP_RO = 0, JP_STRING, JP_UINT32, JP_UINT64 };

static const struct {
    const char *name;
    int type;             /* JP_RO: read-only, ignored in a Put */
    unsigned mask;
    uint64_t max;
} job_props[] = {
    {"JobId", JP_RO, 0, 0},
    {"DisplayName", JP_STRING, FERRY_JOBPROP_DISPLAY_NAME, 256},
    {"Description", JP_STRING, FERRY_JOBPROP_DESCRIPTION, 1024},
    {"Priority", JP_UINT32, FERRY_JOBPROP_PRIORITY, 3},
    {"MinimumRetryDelay", JP_UINT32, FERRY_JOBPROP_MIN_RETRY_DELAY, UINT32_MAX},
    {"NoProgressTimeout", JP_UINT32, FERRY_JOBPROP_NO_PROGRESS_TIMEOUT, UINT32_MAX},
    {"ConnectionsPerFile", JP_UINT32, FERRY_JOBPROP_CONNECTIONS, 16},
    {"BandwidthLimit", JP_UINT64, FERRY_JOBPROP_BANDWIDTH_LIMIT, UINT64_MAX},
    {"NotifyFlags", JP_UINT32, FERRY_JOBPROP_NOTIFY_FLAGS, FERRY_NOTIFY_ALL_FLAGS},
    {"NotifyUrl", JP_STRING, FERRY_JOBPROP_NOTIFY_URL, 2048},
    {"NotifyProgram", JP_RO, 0, 0},
    {"NotifyCmdLine", JP_RO, 0, 0},
    {"MaxDownloadTime", JP_UINT32, FERRY_JOBPROP_MAX_DOWNLOAD_TIME, UINT32_MAX - 1},
    {"JobInactivityTimeout", JP_UINT32, FERRY_JOBPROP_INACTIVITY_TIMEOUT, UINT32_MAX - 1},
    {"DownloadTime", JP_RO, 0, 0},
    {"Files", JP_RO, 0, 0},
    {"JobCreationTime", JP_RO, 0, 0},
    {"JobLastModificationTime", JP_RO, 0, 0},
    {"JobCompletionTime", JP_RO, 0, 0},
    {"BytesTotal", JP_RO, 0, 0},
    {"BytesTransferred", JP_RO, 0, 0},
    {"FilesTotal", JP_RO, 0, 0},
    {"FilesTransferred", JP_RO, 0, 0},
    {"TransientErrorCount", JP_RO, 0, 0},
    {"State", JP_RO, 0, 0},
    {"Owner", JP_RO, 0, 0},
    {"Type", JP_RO, 0, 0},
    {"Throughput", JP_RO, 0, 0},
    {"ThroughputAverage", JP_RO, 0, 0},
    {"BytesRefetched", JP_RO, 0, 0},
    {"BytesFromOrigin", JP_RO, 0, 0},
    {"BytesFromPeers", JP_RO, 0, 0},
    {"Retries", JP_RO, 0, 0},
    {"Connections", JP_RO, 0, 0},
    {"HasCredentials", JP_RO, 0, 0},
    {"FetchPath", JP_RO, 0, 0},
};

static int
job_put(struct wsman_ctx *ctx, const char *const *keys, xmlNodePtr inst,
        const struct wsman_caller *caller, struct wsman_fault *f, struct ferry_status *st)
{
    struct ferry_job_props props = {0};
    char *strs[3] = {NULL, NULL, NULL};
    int r = 0;

    (void)caller;
    for (xmlNodePtr n = wsman_xml_child(inst, NULL, NULL); n; n = wsman_xml_next_element(n)) {
        size_t i;
        char *text;
        uint64_t v = 0;

        if (!n->ns || !n->ns->href || strcasecmp((const char *)n->ns->href, inst->ns->href
                                                 ? (const char *)inst->ns->href : "") != 0) {
            r = wsman_fault_set(f, WSMAN_FAULT_INVALID_REPRESENTATION, "InvalidNamespace",
                                "The property '%.64s' is not in the class namespace.",
                                (const char *)n->name);
            goto cleanup;
        }
        for (i = 0; i < sizeof(job_props) / sizeof(job_props[0]); i++)
            if (strcasecmp(job_props[i].name, (const char *)n->name) == 0)
                break;
        if (i == sizeof(job_props) / sizeof(job_props[0])) {
            r = wsman_fault_set(f, WSMAN_FAULT_INVALID_REPRESENTATION, "InvalidValues",
                                "BitsClientJob has no property '%.64s'.", (const char *)n->name);
            goto cleanup;
        }
        if (job_props[i].type == JP_RO || wsman_xml_attr_true(n, WSMAN_NS_XSI, "nil"))
            continue;   /* read-only: may be stale, ignored */
        if (props.mask & job_props[i].mask || wsman_xml_has_element_child(n)) {
            r = wsman_fault_set(f, WSMAN_FAULT_INVALID_REPRESENTATION, "InvalidValues",
                                "The property '%s' must appear once with a text value.",
                                job_props[i].name);
            goto cleanup;
        }
        text = wsman_xml_text(n);
        if (!text) {
            r = wsman_fault_oom(f);
            goto cleanup;
        }
        if (job_props[i].type == JP_STRING) {
            if (strlen(text) > job_props[i].max) {
                free(text);
                r = wsman_fault_set(f, WSMAN_FAULT_INVALID_REPRESENTATION, "InvalidValues",
                                    "The property '%s' is longer than %llu characters.",
                                    job_props[i].name, (unsigned long long)job_props[i].max);
                goto cleanup;
            }
            if (job_props[i].mask == FERRY_JOBPROP_DISPLAY_NAME) {
                strs[0] = text;
                props.display_name = text;
            } else if (job_props[i].mask == FERRY_JOBPROP_NOTIFY_URL) {
                strs[2] = text;
                props.notify_url = text;
            } else {
                strs[1] = text;
                props.description = text;
            }
        } else {
            r = wsman_parse_uint(text, job_props[i].max, &v);
            free(text);
            if (r < 0) {
                r = wsman_fault_set(f, WSMAN_FAULT_INVALID_REPRESENTATION, "InvalidValues",
                                    "The value of property '%s' is not valid.",
                                    job_props[i].name);
                goto cleanup;
            }
            switch (job_props[i].mask) {
            case FERRY_JOBPROP_PRIORITY:
                props.priority = (unsigned)v;
                break;
            case FERRY_JOBPROP_MIN_RETRY_DELAY:
                props.minimum_retry_delay = (uint32_t)v;
                break;
            case FERRY_JOBPROP_NO_PROGRESS_TIMEOUT:
                props.no_progress_timeout = (uint32_t)v;
                break;
            case FERRY_JOBPROP_CONNECTIONS:
                props.connections = (uint32_t)v;
                break;
            case FERRY_JOBPROP_NOTIFY_FLAGS:
                props.notify_flags = (uint32_t)v;
                break;
            default:
                props.bandwidth_limit = v;
                break;
            case FERRY_JOBPROP_MAX_DOWNLOAD_TIME:
                props.max_download_time = (uint32_t)v;
                break;
            case FERRY_JOBPROP_INACTIVITY_TIMEOUT:
                props.inactivity_timeout = (uint32_t)v;
                break;
            }
        }
        props.mask |= job_props[i].mask;
    }
    r = ctx->ops->jobs_set_props(ctx->jobs, keys[0], &props, st);
    if (r < 0 && st->kind == FERRY_STATUS_INVALID_PARAMETER)
        wsman_fault_set(f, WSMAN_FAULT_INVALID_REPRESENTATION, "InvalidValues", "%s", st->text);
    else if (r < 0 && st->kind == FERRY_STATUS_RESULT)
        wsman_fault_set(f, WSMAN_FAULT_INVALID_REPRESENTATION, "InvalidValues",
                        "The job cannot be changed (0x%08X): %s", (unsigned)st->code,
                        st->text);
cleanup:
    free(strs[0]);
    free(strs[1]);
    free(strs[2]);
    return r;
}

static int
job_list(struct wsman_ctx *ctx, const char *const *filter, char ***ret_keys, size_t *ret_n)
{
    struct ferry_job_info **v = NULL;
    size_t n = 0;
    char **keys;
    int r;

    (void)filter;
    r = ctx->ops->jobs_list(ctx->jobs, &v, &n);
    if (r < 0)
        return r;
    keys = calloc(n ? n : 1, sizeof(*keys));
    if (!keys) {
        ctx->ops->job_info_list_free(v, n);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        keys[i] = strdup(v[i]->job_id);
        if (!keys[i]) {
            for (size_t k = 0; k < i; k++)
                free(keys[k]);
            free(keys);
            ctx->ops->job_info_list_free(v, n);
            return -ENOMEM;
        }
    }
    ctx->ops->job_info_list_free(v, n);
    *ret_keys = keys;
    *ret_n = n;
    return 0;
}

/* ---- methods ---- */

#define ARG(call, i) (&(call)->args[i])
#define ARG_S(call, i) ((call)->args[i].present ? (call)->args[i].s : NULL)

static int
m_create_job(struct wsman_call *c)
{
    struct ferry_job_create req = {
        .display_name = ARG_S(c, 0),
        .remote_url = ARG_S(c, 1),
        .local_file = ARG_S(c, 2),
        .service_account = ARG(c, 3)->present ? (unsigned)ARG(c, 3)->u : 2,
        .type = ARG(c, 4)->present ? (unsigned)ARG(c, 4)->u : 0,
        .suspend = ARG(c, 5)->present && ARG(c, 5)->u,
        .description = ARG_S(c, 6),
        .owner = c->caller->user,
    };
    char id[FERRY_GUID_STRLEN];
    int r = c->ctx->ops->jobs_create(c->ctx->jobs, &req, id, &c->st);

    if (r < 0)
        return r;
    return wsman_call_out(c, "JobId", "%s", id);
}

static int
m_add_file(struct wsman_call *c)
{
    return c->ctx->ops->jobs_add_file(c->ctx->jobs, c->keys[0], ARG_S(c, 0), ARG_S(c, 1),
                                      &c->st);
}

static int
m_set_job_state(struct wsman_call *c)
{
    if (ARG(c, 0)->u > FERRY_JOB_ACTION_SUSPEND)
        return wsman_fault_set(c->fault, WSMAN_FAULT_INVALID_PARAMETER, "InvalidValue",
                               "JobState must be 0 (cancel), 1 (complete), 2 (resume) or "
                               "3 (suspend).");
    return c->ctx->ops->jobs_set_state(c->ctx->jobs, c->keys[0],
                                       (enum ferry_job_action)ARG(c, 0)->u, &c->st);
}

static int
m_get_error(struct wsman_call *c)
{
    struct ferry_job_error err = {0};
    int r = c->ctx->ops->jobs_get_error(c->ctx->jobs, c->keys[0], &err, &c->st);

    if (r < 0)
        return r;
    r = wsman_call_out(c, "ErrorContext", "%u", (unsigned)err.context);
    if (r == 0)
        r = wsman_call_out(c, "ErrorCode", "%u", (unsigned)err.code);
    if (r == 0)
        r = wsman_call_out(c, "ContextDescription", "%s",
                           err.context_text ? err.context_text : "");
    if (r == 0)
        r = wsman_call_out(c, "ErrorDescription", "%s", err.text ? err.text : "");
    if (r == 0 && err.file)
        r = wsman_call_out(c, "File", "%s", err.file);
    c->ctx->ops->job_error_done(&err);
    if (r < 0)
        return ferry_status_set(&c->st, r, FERRY_STATUS_INTERNAL, FERRY_E_FAIL, NULL,
                                "The error text does not fit the response.");
    return 0;
}

static int
m_set_credentials(struct wsman_call *c)
{
    return c->ctx->ops->jobs_set_credentials(c->ctx->jobs, c->keys[0], (unsigned)ARG(c, 0)->u,
                                             (unsigned)ARG(c, 1)->u, ARG_S(c, 2), ARG_S(c, 3),
                                             &c->st);
}

static int
m_remove_credentials(struct wsman_call *c)
{
    return c->ctx->ops->jobs_remove_credentials(c->ctx->jobs, c->keys[0],
                                                (unsigned)ARG(c, 0)->u, (unsigned)ARG(c, 1)->u,
                                                &c->st);
}

static int
m_set_proxy(struct wsman_call *c)
{
    return c->ctx->ops->jobs_set_proxy(c->ctx->jobs, c->keys[0], (unsigned)ARG(c, 0)->u,
                                       ARG_S(c, 1), ARG_S(c, 2), &c->st);
}

static int
m_set_client_cert(struct wsman_call *c)
{
    if (ARG(c, 2)->nbytes != 20)
        return wsman_fault_set(c->fault, WSMAN_FAULT_INVALID_PARAMETER, "InvalidValue",
                               "CertHash must be the 20-byte SHA-1 thumbprint.");
    return c->ctx->ops->jobs_set_client_cert(c->ctx->jobs, c->keys[0], (unsigned)ARG(c, 0)->u,
                                             ARG_S(c, 1), ARG(c, 2)->bytes, ARG(c, 2)->nbytes,
                                             &c->st);
}

/* SetClientCertificateByName(CertStoreLocation, StoreName, SubjectName): the COM
 * method's parameters (research/bits.md: the WMI signature is not published). */
static int
m_set_client_cert_by_name(struct wsman_call *c)
{
    return c->ctx->ops->jobs_set_client_cert_by_name(c->ctx->jobs, c->keys[0],
                                                     (unsigned)ARG(c, 0)->u, ARG_S(c, 1),
                                                     ARG_S(c, 2), &c->st);
}

static int
m_remove_client_cert(struct wsman_call *c)
{
    return c->ctx->ops->jobs_remove_client_cert(c->ctx->jobs, c->keys[0], &c->st);
}

static int
m_set_option(struct wsman_call *c)
{
    return c->ctx->ops->jobs_set_option(c->ctx->jobs, c->keys[0], ARG_S(c, 0), ARG_S(c, 1),
                                        &c->st);
}

/* BITS's SetNotifyCmdLine (IBackgroundCopyJob2): Program an absolute path, Parameters the
 * command line split into the argv (engine/client/cmdline.c); no Program clears it. */
static int
m_set_notify_cmdline(struct wsman_call *c)
{
    if (!c->ctx->ops->jobs_set_notify_cmdline)
        return wsman_fault_set(c->fault, WSMAN_FAULT_INVALID_PARAMETER, "InvalidValue",
                               "SetNotifyCmdLine is not available.");
    return c->ctx->ops->jobs_set_notify_cmdline(c->ctx->jobs, c->keys[0], ARG_S(c, 0),
                                                ARG_S(c, 1), &c->st);
}

static const struct wsman_method job_methods[] = {
    {"CreateJob", true,
     {{"DisplayName", WSMAN_P_STRING, true},
      {"RemoteUrl", WSMAN_P_STRING, true},
      {"LocalFile", WSMAN_P_STRING, true},
      {"ServiceAccount", WSMAN_P_UINT16, false},
      {"Type", WSMAN_P_UINT16, false},
      {"Suspend", WSMAN_P_BOOL, false},
      {"Description", WSMAN_P_STRING, false},
      {NULL, 0, false}},
     m_create_job},
    {"AddFile", false,
     {{"RemoteUrl", WSMAN_P_STRING, true}, {"LocalFile", WSMAN_P_STRING, true}, {NULL, 0, false}},
     m_add_file},
    {"SetJobState", false, {{"JobState", WSMAN_P_UINT16, true}, {NULL, 0, false}},
     m_set_job_state},
    {"GetError", false, {{"LanguageId", WSMAN_P_UINT32, false}, {NULL, 0, false}}, m_get_error},
    {"SetCredentials", false,
     {{"Target", WSMAN_P_UINT16, true},
      {"Scheme", WSMAN_P_UINT16, true},
      {"UserName", WSMAN_P_STRING, false},
      {"Password", WSMAN_P_STRING, false},
      {NULL, 0, false}},
     m_set_credentials},
    {"RemoveCredentials", false,
     {{"Target", WSMAN_P_UINT16, true}, {"Scheme", WSMAN_P_UINT16, true}, {NULL, 0, false}},
     m_remove_credentials},
    {"SetProxySettings", false,
     {{"ProxyUsage", WSMAN_P_UINT16, true},
      {"ProxyList", WSMAN_P_STRING, false},
      {"ProxyBypassList", WSMAN_P_STRING, false},
      {NULL, 0, false}},
     m_set_proxy},
    {"SetClientCertificateById", false,
     {{"CertStoreLocation", WSMAN_P_UINT16, true},
      {"StoreName", WSMAN_P_STRING, true},
      {"CertHash", WSMAN_P_BYTES, true},
      {NULL, 0, false}},
     m_set_client_cert},
    {"SetClientCertificateByName", false,
     {{"CertStoreLocation", WSMAN_P_UINT16, true},
      {"StoreName", WSMAN_P_STRING, true},
      {"SubjectName", WSMAN_P_STRING, true},
      {NULL, 0, false}},
     m_set_client_cert_by_name},
    {"RemoveClientCertificate", false, {{NULL, 0, false}}, m_remove_client_cert},
    {"SetOption", false,
     {{"Name", WSMAN_P_STRING, true}, {"Value", WSMAN_P_STRING, true}, {NULL, 0, false}},
     m_set_option},
    {"SetNotifyCmdLine", false,
     {{"Program", WSMAN_P_STRING, false}, {"Parameters", WSMAN_P_STRING, false},
      {NULL, 0, false}},
     m_set_notify_cmdline},
    {NULL, false, {{NULL, 0, false}}, NULL},
};

const struct wsman_class wsman_class_job = {
    .uri = WSMAN_URI_BITS_CLIENT_JOB,
    .name = "BitsClientJob",
    .keys = {"JobId", NULL},
    .check_key = job_check_key,
    .write = job_write,
    .put = job_put,
    .list = job_list,
    .methods = job_methods,
};
