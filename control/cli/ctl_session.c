/*
 * control/cli/ctl_session.c - WS-Man operations against one endpoint. Translates HTTP
 * statuses and SOAP faults into ferryctl's failures, once.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_session.h"
#include "ferry/common.h"

/* The envelope size ferryctl asks for: ferryd's default hard cap (config.h). */
#define SESSION_MAX_ENVELOPE 512000

int
ctl_session_new(const char *endpoint, const struct ctl_http_options *opts,
                struct ctl_session **ret)
{
    struct ctl_session *s;
    int r;

    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->endpoint = strdup(endpoint);
    if (!s->endpoint) {
        free(s);
        return -ENOMEM;
    }
    s->timeout_s = opts->timeout_s;
    s->max_envelope = SESSION_MAX_ENVELOPE;
    r = ctl_http_new(endpoint, opts, &s->http);
    if (r < 0) {
        free(s->endpoint);
        free(s);
        return r;
    }
    *ret = s;
    return 0;
}

static void
session_clear_fault(struct ctl_session *s)
{
    free(s->fault.code);
    free(s->fault.subcode);
    free(s->fault.reason);
    free(s->fault.detail);
    memset(&s->fault, 0, sizeof(s->fault));
    s->is_fault = false;
}

struct ctl_session *
ctl_session_free(struct ctl_session *s)
{
    if (!s)
        return NULL;
    session_clear_fault(s);
    ctl_http_free(s->http);
    free(s->endpoint);
    free(s);
    return NULL;
}

static int session_fail(struct ctl_session *s, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
session_fail(struct ctl_session *s, int err, const char *fmt, ...)
{
    va_list ap;

    s->error = err;
    va_start(ap, fmt);
    vsnprintf(s->message, sizeof(s->message), fmt, ap);
    va_end(ap);
    return err;
}

/* POST xml (consumed), parse the answer; faults and odd answers become errors. */
static int
session_call(struct ctl_session *s, char *xml, size_t len, struct ctl_response **ret)
{
    struct ctl_response *resp = NULL;
    char *body = NULL;
    size_t blen = 0;
    long status = 0;
    int r;

    session_clear_fault(s);
    s->error = 0;
    s->message[0] = '\0';
    r = ctl_http_post(s->http, xml, len, &status, &body, &blen);
    free(xml);
    if (r < 0)
        return session_fail(s, r, "%s", ctl_http_error(s->http));
    r = ctl_envelope_parse(body, blen, &resp);
    free(body);
    if (r == -ENOMEM)
        return session_fail(s, r, "%s", "out of memory");
    if (r < 0) {
        s->error = -EBADMSG;
        if (status != 200)
            snprintf(s->message, sizeof(s->message), "%s: HTTP status %ld without a SOAP body",
                     s->endpoint, status);
        else
            snprintf(s->message, sizeof(s->message), "%s: the response is not a SOAP envelope",
                     s->endpoint);
        return -EBADMSG;
    }
    if (resp->kind == CTL_RESPONSE_FAULT) {
        s->fault = resp->fault;
        memset(&resp->fault, 0, sizeof(resp->fault));
        s->is_fault = true;
        ctl_fault_format(&s->fault, s->message, sizeof(s->message));
        ctl_response_free(resp);
        s->error = -EREMOTEIO;
        return -EREMOTEIO;
    }
    if (status != 200) {
        ctl_response_free(resp);
        s->error = -EBADMSG;
        snprintf(s->message, sizeof(s->message), "%s: HTTP status %ld", s->endpoint, status);
        return -EBADMSG;
    }
    *ret = resp;
    return 0;
}

static struct ctl_target
session_target(struct ctl_session *s, const char *uri, const struct ctl_pair *sel, size_t nsel)
{
    struct ctl_target t = {
        .to = s->endpoint,
        .resource_uri = uri,
        .selectors = sel,
        .nselectors = nsel,
        .timeout_s = s->timeout_s,
        .max_envelope = s->max_envelope,
    };
    return t;
}

static int
session_expect(struct ctl_session *s, struct ctl_response *resp, enum ctl_response_kind kind,
               const char *what, struct ctl_response **ret)
{
    if (resp->kind != kind && !(kind == CTL_RESPONSE_INSTANCE &&
                                resp->kind == CTL_RESPONSE_EMPTY)) {
        ctl_response_free(resp);
        return session_fail(s, -EBADMSG, "unexpected response to %s", what);
    }
    *ret = resp;
    return 0;
}

int
ctl_session_identify(struct ctl_session *s, struct ctl_response **ret)
{
    struct ctl_response *resp;
    char *xml;
    size_t len;
    int r;

    r = ctl_envelope_identify(&xml, &len);
    if (r < 0)
        return session_fail(s, r, "%s", "out of memory");
    r = session_call(s, xml, len, &resp);
    if (r < 0)
        return r;
    return session_expect(s, resp, CTL_RESPONSE_IDENTIFY, "Identify", ret);
}

int
ctl_session_get(struct ctl_session *s, const char *uri, const struct ctl_pair *sel,
                size_t nsel, struct ctl_response **ret)
{
    struct ctl_target t = session_target(s, uri, sel, nsel);
    struct ctl_response *resp;
    char *xml;
    size_t len;
    int r;

    r = ctl_envelope_get(&t, NULL, &xml, &len);
    if (r < 0)
        return session_fail(s, r, "%s", "cannot build the Get request");
    r = session_call(s, xml, len, &resp);
    if (r < 0)
        return r;
    if (resp->kind != CTL_RESPONSE_INSTANCE || resp->ninstances != 1) {
        ctl_response_free(resp);
        return session_fail(s, -EBADMSG, "%s", "unexpected response to Get");
    }
    *ret = resp;
    return 0;
}

int
ctl_session_put(struct ctl_session *s, const char *uri, const struct ctl_pair *sel,
                size_t nsel, const xmlNode *instance, struct ctl_response **ret)
{
    struct ctl_target t = session_target(s, uri, sel, nsel);
    struct ctl_response *resp;
    char *xml;
    size_t len;
    int r;

    r = ctl_envelope_put(&t, NULL, instance, &xml, &len);
    if (r < 0)
        return session_fail(s, r, "%s", "cannot build the Put request");
    r = session_call(s, xml, len, &resp);
    if (r < 0)
        return r;
    return session_expect(s, resp, CTL_RESPONSE_INSTANCE, "Put", ret);
}

static void
session_release(struct ctl_session *s, const char *uri, const char *context)
{
    struct ctl_target t = session_target(s, uri, NULL, 0);
    struct ctl_response *resp = NULL;
    char *xml;
    size_t len;
    int saved = s->error;
    char msg[sizeof(s->message)];

    memcpy(msg, s->message, sizeof(msg));
    if (ctl_envelope_release(&t, NULL, context, &xml, &len) < 0)
        return;
    if (session_call(s, xml, len, &resp) == 0)
        ctl_response_free(resp);
    /* keep the failure that made us release */
    s->error = saved;
    memcpy(s->message, msg, sizeof(msg));
}

int
ctl_session_enumerate(struct ctl_session *s, const char *uri, struct ctl_instance ***ret_v,
                      size_t *ret_n)
{
    struct ctl_target t = session_target(s, uri, NULL, 0);
    struct ctl_instance **v = NULL;
    struct ctl_response *resp = NULL;
    char *context = NULL, *xml;
    size_t n = 0, len;
    unsigned rounds = 0;
    int r;

    r = ctl_envelope_enumerate(&t, NULL, CTL_SESSION_MAX_ELEMENTS, &xml, &len);
    if (r < 0)
        return session_fail(s, r, "%s", "cannot build the Enumerate request");
    for (;;) {
        struct ctl_instance **nv;

        r = session_call(s, xml, len, &resp);
        if (r < 0)
            goto error;
        if (resp->kind != CTL_RESPONSE_ITEMS) {
            r = session_fail(s, -EBADMSG, "%s", "unexpected response to Enumerate/Pull");
            goto error;
        }
        if (resp->ninstances > 0) {
            nv = realloc(v, (n + resp->ninstances) * sizeof(*v));
            if (!nv) {
                r = session_fail(s, -ENOMEM, "%s", "out of memory");
                goto error;
            }
            v = nv;
            for (size_t i = 0; i < resp->ninstances; i++) {
                v[n++] = resp->instances[i];
                resp->instances[i] = NULL;
            }
            resp->ninstances = 0;
        }
        free(context);
        context = resp->context;
        resp->context = NULL;
        if (resp->end_of_sequence || !context)
            break;
        resp = ctl_response_free(resp);
        if (++rounds > CTL_SESSION_MAX_PULLS) {
            r = session_fail(s, -EBADMSG, "%s", "enumeration never ended");
            goto error;
        }
        r = ctl_envelope_pull(&t, NULL, context, CTL_SESSION_MAX_ELEMENTS, &xml, &len);
        if (r < 0) {
            session_fail(s, r, "%s", "cannot build the Pull request");
            goto error;
        }
    }
    ctl_response_free(resp);
    free(context);
    *ret_v = v;
    *ret_n = n;
    return 0;

error:
    ctl_response_free(resp);
    if (context && s->error != -EREMOTEIO)
        session_release(s, uri, context);
    free(context);
    for (size_t i = 0; i < n; i++)
        ctl_instance_free(v[i]);
    free(v);
    return r;
}

int
ctl_session_invoke(struct ctl_session *s, const char *uri, const char *method,
                   const struct ctl_pair *sel, size_t nsel, const struct ctl_pair *params,
                   size_t nparams, struct ctl_response **ret)
{
    struct ctl_target t = session_target(s, uri, sel, nsel);
    struct ctl_response *resp;
    char *xml;
    size_t len;
    int r;

    s->return_value = 0;
    r = ctl_envelope_invoke(&t, NULL, method, params, nparams, &xml, &len);
    if (r < 0)
        return session_fail(s, r, "cannot build the %s request", method);
    r = session_call(s, xml, len, &resp);
    if (r < 0)
        return r;
    if (resp->kind != CTL_RESPONSE_OUTPUT || resp->ninstances != 1) {
        ctl_response_free(resp);
        return session_fail(s, -EBADMSG, "unexpected response to %s", method);
    }
    /* a success code (high bit clear, e.g. BG_S_PARTIAL_COMPLETE) is no failure; the caller
     * finds it in s->return_value */
    if (resp->has_return_value)
        s->return_value = resp->return_value;
    if (resp->has_return_value && (resp->return_value & 0x80000000u)) {
        const char *name = ctl_result_name(resp->return_value);

        s->return_value = resp->return_value;
        s->error = -EIO;
        snprintf(s->message, sizeof(s->message), "%s failed: ReturnValue 0x%08X%s%s", method,
                 resp->return_value, name ? " " : "", name ? name : "");
        ctl_response_free(resp);
        return -EIO;
    }
    *ret = resp;
    return 0;
}

int
ctl_session_exit_code(int err)
{
    switch (err) {
    case 0:
        return CTL_EXIT_OK;
    case -EACCES:
    case -ECONNREFUSED:
    case -EHOSTUNREACH:
    case -ETIMEDOUT:
    case -EPROTO:
        return CTL_EXIT_CONNECT;
    default:
        return CTL_EXIT_FAILED;
    }
}

const char *
ctl_result_name(uint32_t code)
{
    static const struct {
        uint32_t code;
        const char *name;
    } names[] = {
        {FERRY_E_INVALIDARG, "E_INVALIDARG"},
        {FERRY_E_ACCESSDENIED, "E_ACCESSDENIED"},
        {FERRY_E_OUTOFMEMORY, "E_OUTOFMEMORY"},
        {FERRY_E_FILE_NOT_FOUND, "ERROR_FILE_NOT_FOUND"},
        {FERRY_E_PATH_NOT_FOUND, "ERROR_PATH_NOT_FOUND"},
        {FERRY_E_ALREADY_EXISTS, "ERROR_ALREADY_EXISTS"},
        {FERRY_E_DISK_FULL, "ERROR_DISK_FULL"},
        {FERRY_E_FAIL, "E_FAIL"},
        {FERRY_BG_E_NOT_FOUND, "BG_E_NOT_FOUND"},
        {FERRY_BG_E_INVALID_STATE, "BG_E_INVALID_STATE"},
        {FERRY_BG_E_EMPTY, "BG_E_EMPTY"},
        {FERRY_BG_E_DESTINATION_LOCKED, "BG_E_DESTINATION_LOCKED"},
        {FERRY_BG_E_NETWORK_DISCONNECTED, "BG_E_NETWORK_DISCONNECTED"},
        {FERRY_BG_E_MISSING_FILE_SIZE, "BG_E_MISSING_FILE_SIZE"},
        {FERRY_BG_E_INSUFFICIENT_HTTP_SUPPORT, "BG_E_INSUFFICIENT_HTTP_SUPPORT"},
        {FERRY_BG_E_INSUFFICIENT_RANGE_SUPPORT, "BG_E_INSUFFICIENT_RANGE_SUPPORT"},
        {FERRY_BG_E_INVALID_SERVER_RESPONSE, "BG_E_INVALID_SERVER_RESPONSE"},
        {FERRY_BG_E_TOO_MANY_FILES, "BG_E_TOO_MANY_FILES"},
        {FERRY_BG_E_LOCAL_FILE_CHANGED, "BG_E_LOCAL_FILE_CHANGED"},
        {FERRY_BG_E_NO_PROGRESS, "BG_E_NO_PROGRESS"},
        {FERRY_BG_E_INVALID_RANGE, "BG_E_INVALID_RANGE"},
        {FERRY_BG_E_INVALID_PROXY_INFO, "BG_E_INVALID_PROXY_INFO"},
        {FERRY_BG_E_INVALID_AUTH_TARGET, "BG_E_INVALID_AUTH_TARGET"},
        {FERRY_BG_E_INVALID_AUTH_SCHEME, "BG_E_INVALID_AUTH_SCHEME"},
        {FERRY_BG_E_TOO_MANY_JOBS_PER_MACHINE, "BG_E_TOO_MANY_JOBS_PER_MACHINE"},
        {FERRY_BG_E_TOO_MANY_FILES_IN_JOB, "BG_E_TOO_MANY_FILES_IN_JOB"},
        {FERRY_BG_S_PARTIAL_COMPLETE, "BG_S_PARTIAL_COMPLETE"},
        {FERRY_E_CHECKSUM_MISMATCH, "FERRY_E_CHECKSUM_MISMATCH"},
        {FERRY_E_REMOTE_CHANGED, "FERRY_E_REMOTE_CHANGED"},
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].code == code)
            return names[i].name;
    if ((code & 0xFFFF0000u) == 0x80190000u)
        return "BG_E_HTTP_ERROR";
    return NULL;
}
