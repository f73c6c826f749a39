/*
 * control/cli/ctl_session.h - one WS-Man endpoint as ferryctl talks to it: the operations
 * (Identify, Get, Put, Enumerate + Pull + Release, Invoke) on top of ctl_http and
 * ctl_envelope. Failures are classified once here so every command exits the same way.
 */
#ifndef FERRY_CTL_SESSION_H
#define FERRY_CTL_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "ctl_envelope.h"
#include "ctl_http.h"

/* Process exit codes of ferryctl (documented in ferryctl(1)). */
enum {
    CTL_EXIT_OK = 0,
    CTL_EXIT_FAILED = 1,  /* a fault, or the operation failed (ReturnValue != 0, job ERROR) */
    CTL_EXIT_USAGE = 2,
    CTL_EXIT_CONNECT = 3, /* connection or authentication failure */
};

/* Items requested per Enumerate / Pull. */
#define CTL_SESSION_MAX_ELEMENTS 50
/* Pull rounds before an enumeration is abandoned (a server that never ends it). */
#define CTL_SESSION_MAX_PULLS 10000

struct ctl_session {
    struct ctl_http *http;
    char *endpoint;
    unsigned timeout_s;
    size_t max_envelope;
    /* last failure */
    int error;                /* -errno of the last failed call, 0 after success */
    struct ctl_fault fault;   /* filled when the last call ended in a SOAP fault */
    bool is_fault;
    uint32_t return_value;    /* of the last Invoke */
    char message[1024];       /* one line describing the last failure */
};

/* A session on endpoint (copied) with the transport options (copied). -EINVAL for a URL
 * that is not http(s), -ENOMEM. */
int ctl_session_new(const char *endpoint, const struct ctl_http_options *opts,
                    struct ctl_session **ret);
/* Free the session, its transport and its last fault. NULL-safe; returns NULL. */
struct ctl_session *ctl_session_free(struct ctl_session *s);

/* Each call returns 0 and a parsed response of the expected kind, or a negative errno with
 * s->message set: -EREMOTEIO for a SOAP fault (s->fault), -EBADMSG for a response that is
 * not the expected envelope, -EACCES for an authentication failure, a transport errno. */
int ctl_session_identify(struct ctl_session *s, struct ctl_response **ret);
int ctl_session_get(struct ctl_session *s, const char *uri, const struct ctl_pair *sel,
                    size_t nsel, struct ctl_response **ret);
int ctl_session_put(struct ctl_session *s, const char *uri, const struct ctl_pair *sel,
                    size_t nsel, const xmlNode *instance, struct ctl_response **ret);
/* Every instance of uri: an optimized Enumerate, Pulls until EndOfSequence (a Release when
 * a Pull fails midway). The instances move into *ret_v (free each, then the array). */
int ctl_session_enumerate(struct ctl_session *s, const char *uri,
                          struct ctl_instance ***ret_v, size_t *ret_n);
/* Invoke a method. A ReturnValue other than 0 is a failure too: -EIO with the message
 * naming the method and the code (s->return_value holds it). */
int ctl_session_invoke(struct ctl_session *s, const char *uri, const char *method,
                       const struct ctl_pair *sel, size_t nsel, const struct ctl_pair *params,
                       size_t nparams, struct ctl_response **ret);

/* The exit code for a failure returned by the calls above. */
int ctl_session_exit_code(int err);
/* A short name for a BITS-style result code ("BG_E_INVALID_STATE"), NULL if unknown. */
const char *ctl_result_name(uint32_t code);

#endif
