/*
 * control/wsman/wsman.h - internals of the WS-Management endpoint shared by its files:
 * the engine call table, the dispatcher context, parsed requests, faults, resource classes
 * and the transport-free HTTP entry point. Nothing here is public API.
 *
 * Flow: transport (wsman_http.c) -> authentication (wsman_auth.c) -> wsman_dispatch()
 * (wsman_dispatch.c): wsman_xml_parse() (hardened libxml2) -> wsman_envelope_parse()
 * (headers by namespace URI) -> the operation (Identify, Get, Put, Invoke in
 * wsman_dispatch.c; Enumerate/Pull/Release in wsman_enum.c) on a resource class
 * (wsman_res_*.c) -> reply envelope (wsman_envelope.c) or a fault (wsman_fault.c, the only
 * place faults are made). Helpers shared by those files sit below them, so calls run one
 * way: wsman_class.c (class keys, property writers), wsman_parse.c (numbers, booleans).
 */
#ifndef FERRY_WSMAN_H
#define FERRY_WSMAN_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include <libxml/tree.h>

#include "ferry/common.h"
#include "ferry/config.h"
#include "ferry/jobs.h"
#include "ferry/server.h"
#include "ferry/users.h"
#include "wsman_names.h"

/* ---- engine calls: one table, so tests and the fuzzer drive a fake engine and ferryd the
 * real one (wsman_engine.c). Signatures are those of include/ferry/. ---- */
struct wsman_engine_ops {
    int (*jobs_create)(struct ferry_jobs *, const struct ferry_job_create *,
                       char ret_job_id[FERRY_GUID_STRLEN], struct ferry_status *);
    int (*jobs_add_file)(struct ferry_jobs *, const char *, const char *, const char *,
                         struct ferry_status *);
    int (*jobs_set_state)(struct ferry_jobs *, const char *, enum ferry_job_action,
                          struct ferry_status *);
    int (*jobs_set_props)(struct ferry_jobs *, const char *, const struct ferry_job_props *,
                          struct ferry_status *);
    int (*jobs_get)(struct ferry_jobs *, const char *, struct ferry_job_info **,
                    struct ferry_status *);
    int (*jobs_list)(struct ferry_jobs *, struct ferry_job_info ***, size_t *);
    struct ferry_job_info *(*job_info_free)(struct ferry_job_info *);
    void (*job_info_list_free)(struct ferry_job_info **, size_t);
    int (*jobs_get_error)(struct ferry_jobs *, const char *, struct ferry_job_error *,
                          struct ferry_status *);
    void (*job_error_done)(struct ferry_job_error *);
    int (*jobs_set_credentials)(struct ferry_jobs *, const char *, unsigned, unsigned,
                                const char *, const char *, struct ferry_status *);
    int (*jobs_remove_credentials)(struct ferry_jobs *, const char *, unsigned, unsigned,
                                   struct ferry_status *);
    int (*jobs_set_proxy)(struct ferry_jobs *, const char *, unsigned, const char *,
                          const char *, struct ferry_status *);
    int (*jobs_set_client_cert)(struct ferry_jobs *, const char *, unsigned, const char *,
                                const uint8_t *, size_t, struct ferry_status *);
    int (*jobs_remove_client_cert)(struct ferry_jobs *, const char *, struct ferry_status *);
    int (*jobs_set_client_cert_by_name)(struct ferry_jobs *, const char *, unsigned,
                                        const char *, const char *, struct ferry_status *);
    int (*jobs_set_option)(struct ferry_jobs *, const char *, const char *, const char *,
                           struct ferry_status *);
    int (*jobs_set_notify_cmdline)(struct ferry_jobs *, const char *, const char *,
                                   const char *, struct ferry_status *);
    void (*jobs_stats)(struct ferry_jobs *, struct ferry_jobs_stats *);

    int (*group_create)(struct ferry_server *, const char *, struct ferry_status *);
    int (*group_delete)(struct ferry_server *, const char *, struct ferry_status *);
    int (*url_create)(struct ferry_server *, const char *, const char *, const char *,
                      const char *, const char *const *, size_t, struct ferry_status *);
    int (*url_delete)(struct ferry_server *, const char *, const char *,
                      struct ferry_status *);
    int (*url_check)(struct ferry_server *, const char *, const char *, bool *,
                     struct ferry_status *);
    int (*group_set_auth)(struct ferry_server *, const char *, unsigned, bool,
                          struct ferry_status *);
    int (*group_get_auth)(struct ferry_server *, const char *, unsigned, bool *,
                          struct ferry_status *);
    int (*group_set_property)(struct ferry_server *, const char *, const char *, uint32_t,
                              struct ferry_status *);
    int (*group_get_property)(struct ferry_server *, const char *, const char *, uint32_t *,
                              struct ferry_status *);
    int (*set_ssl_cert)(struct ferry_server *, uint16_t, const char *, const uint8_t *,
                        size_t, struct ferry_status *);
    int (*get_ssl_cert)(struct ferry_server *, uint16_t, char **, uint8_t[20],
                        struct ferry_status *);
    int (*remove_ssl_cert)(struct ferry_server *, uint16_t, struct ferry_status *);
    int (*group_get)(struct ferry_server *, const char *, struct ferry_group_info **);
    int (*group_list)(struct ferry_server *, struct ferry_group_info ***, size_t *);
    struct ferry_group_info *(*group_info_free)(struct ferry_group_info *);
    void (*group_info_list_free)(struct ferry_group_info **, size_t);
    void (*server_stats)(struct ferry_server *, struct ferry_server_stats *);

    int (*users_verify)(struct ferry_users *, const char *, const char *, enum ferry_role *);
    int (*users_role)(struct ferry_users *, const char *, enum ferry_role *);
    /* the engine's verifier pool (ferry/auth.h); NULL or unset: the endpoint runs its own */
    struct ferry_authpool *(*users_authpool)(struct ferry_users *);
};

/* The real engine (wsman_engine.c): the ferry_* functions of include/ferry/. */
extern const struct wsman_engine_ops wsman_engine_ops_real;

/* ---- who is calling ---- */
struct wsman_caller {
    const char *user;        /* NULL when unauthenticated */
    enum ferry_role role;    /* FERRY_ROLE_NONE when unauthenticated */
    bool authenticated;
};

/* ---- a reply: an HTTP status and a UTF-8 SOAP body (malloc()ed) ---- */
struct wsman_reply {
    int http_status;
    char *body;
    size_t len;
    bool need_auth;          /* unauthenticated caller reached a non-Identify op: 401 */
};
/* Free the body and zero the reply (safe on a zeroed or already freed reply).
 * wsman_envelope.c. */
void wsman_reply_done(struct wsman_reply *reply);

/* ---- the endpoint ---- */
struct wsman_enum_store;
struct wsman_auth;

struct wsman_config;

struct wsman_ctx {
    const struct ferry_config *cfg;
    const struct wsman_config *wcfg; /* the endpoint's own options (wsman_config.h) */
    const struct wsman_engine_ops *ops;
    struct ferry_jobs *jobs;
    struct ferry_server *server;
    struct ferry_users *users;
    struct wsman_enum_store *enums;
    struct wsman_auth *auth;
    struct ferry_http_server *http; /* the listeners' server (wsman_server.c), or NULL */
};

/* Create the endpoint state (enumeration store, auth state reading STATE/certmap). The
 * configs and engine objects are borrowed and must outlive the context. -ENOMEM. */
int wsman_ctx_new(const struct ferry_config *cfg, const struct wsman_config *wcfg,
                  const struct wsman_engine_ops *ops,
                  struct ferry_jobs *jobs, struct ferry_server *server,
                  struct ferry_users *users, struct wsman_ctx **ret_ctx);
/* Free the context, its enumeration contexts and auth state (not the engine). NULL-safe;
 * returns NULL. */
struct wsman_ctx *wsman_ctx_free(struct wsman_ctx *ctx);

/* Handle one SOAP request body (any encoding libxml2 detects: UTF-8, UTF-16 with BOM) for
 * an already authenticated caller (or an unauthenticated one for Identify). Always fills
 * *out with a response or a fault (an HTTP status and body); returns 0, or -ENOMEM when not
 * even a fault could be built (caller answers a bare 500). */
int wsman_dispatch(struct wsman_ctx *ctx, const char *body, size_t len,
                   const struct wsman_caller *caller, struct wsman_reply *out);

/* ---- hardened XML (wsman_xml.c) ---- */
struct wsman_xml_limits {
    size_t max_bytes;
    unsigned max_depth;
    unsigned max_nodes;
};
#define WSMAN_XML_MAX_DEPTH 32
#define WSMAN_XML_MAX_NODES 20000

enum wsman_xml_error {
    WSMAN_XML_OK = 0,
    WSMAN_XML_TOO_BIG,       /* size cap */
    WSMAN_XML_DOCTYPE,       /* any DTD: refused (no entities, no XXE) */
    WSMAN_XML_TOO_DEEP,
    WSMAN_XML_TOO_MANY_NODES,
    WSMAN_XML_MALFORMED,
    WSMAN_XML_NOMEM,
};
/* Parse bytes into a tree: no network, no DTD, no entity substitution, depth/node limits.
 * On success *ret_doc owns the tree (xmlFreeDoc). */
enum wsman_xml_error wsman_xml_parse(const char *buf, size_t len,
                                     const struct wsman_xml_limits *lim, xmlDocPtr *ret_doc);
/* true when node is an element named `local` in namespace `ns` (URI compare). */
bool wsman_xml_is(const xmlNode *node, const char *ns, const char *local);
/* First element child (optionally matching ns/local, NULL = any). */
xmlNodePtr wsman_xml_child(const xmlNode *node, const char *ns, const char *local);
/* The next sibling that is an element, or NULL. Pointers into the document: not owned. */
xmlNodePtr wsman_xml_next_element(const xmlNode *node);
/* Text content as a malloc()ed string (trimmed of surrounding XML whitespace), or NULL. */
char *wsman_xml_text(const xmlNode *node);
/* true when the node has element children. */
bool wsman_xml_has_element_child(const xmlNode *node);
/* Attribute in namespace ns (NULL = no namespace) equals "true" or "1". */
bool wsman_xml_attr_true(const xmlNode *node, const char *ns, const char *name);
/* Serialize a document as UTF-8 with an XML declaration; malloc()ed. -ENOMEM. */
int wsman_xml_dump(xmlDocPtr doc, char **ret_buf, size_t *ret_len);

/* ---- faults (wsman_fault.c) ---- */
enum wsman_fault_code {
    WSMAN_FAULT_NONE = 0,
    WSMAN_FAULT_DESTINATION_UNREACHABLE,
    WSMAN_FAULT_ACTION_NOT_SUPPORTED,
    WSMAN_FAULT_MESSAGE_INFORMATION_HEADER_REQUIRED,
    WSMAN_FAULT_INVALID_MESSAGE_INFORMATION_HEADER,
    WSMAN_FAULT_INVALID_SELECTORS,
    WSMAN_FAULT_INVALID_PARAMETER,
    WSMAN_FAULT_INVALID_REPRESENTATION,
    WSMAN_FAULT_SCHEMA_VALIDATION_ERROR,
    WSMAN_FAULT_ENCODING_LIMIT,
    WSMAN_FAULT_ACCESS_DENIED,
    WSMAN_FAULT_TIMED_OUT,
    WSMAN_FAULT_UNSUPPORTED_FEATURE,
    WSMAN_FAULT_INVALID_ENUMERATION_CONTEXT,
    WSMAN_FAULT_INTERNAL_ERROR,
    WSMAN_FAULT_MUST_UNDERSTAND,
    WSMAN_FAULT_QUOTA_LIMIT,
    WSMAN_FAULT_CANNOT_PROCESS_FILTER,
    WSMAN_FAULT_MAX_
};

struct wsman_fault {
    enum wsman_fault_code code;
    const char *detail;      /* faultDetail name ("InsufficientSelectors"), NULL = none */
    char text[300];          /* Reason text; default per code when empty */
    uint32_t ms_code;        /* WSManFault@Code (0 = none) */
    char nu_ns[256];         /* s:MustUnderstand: the header not understood */
    char nu_local[128];
};

/* Set *f (returns -EINVAL so callers can `return wsman_fault_set(...)`). fmt may be NULL. */
int wsman_fault_set(struct wsman_fault *f, enum wsman_fault_code code, const char *detail,
                    const char *fmt, ...) FERRY_PRINTF(4, 5);
/* The one out-of-memory fault: w:InternalError "Out of memory." (returns -EINVAL). */
int wsman_fault_oom(struct wsman_fault *f);
/* Map an engine status to a fault (INVALID_PARAMETER, NOT_FOUND, INTERNAL). RESULT is not
 * a fault: callers turn it into ReturnValue. Returns -EINVAL. */
int wsman_fault_from_status(struct wsman_fault *f, const struct ferry_status *st);
/* HTTP status of a fault: Sender 400, Receiver and MustUnderstand 500. */
int wsman_fault_http_status(enum wsman_fault_code code);
/* Name of the subcode ("InvalidSelectors"), for logs and tests. */
const char *wsman_fault_name(enum wsman_fault_code code);
/* Build the fault envelope into *out. relates_to is the request's MessageID (may be NULL).
 * -ENOMEM. */
int wsman_fault_reply(const struct wsman_fault *f, const char *relates_to,
                      struct wsman_reply *out);

/* ---- requests (wsman_envelope.c) ---- */
#define WSMAN_MAX_SELECTORS 8
#define WSMAN_MIN_ENVELOPE 8192

struct wsman_selector {
    char *name;
    char *value;             /* NULL when the selector holds elements (an EPR) */
};

struct wsman_request {
    xmlDocPtr doc;
    xmlNodePtr header;
    xmlNodePtr body;         /* the s:Body element */
    bool identify;
    char *action;
    char *to;
    char *resource_uri;
    char *message_id;
    bool has_message_id;
    struct wsman_selector selectors[WSMAN_MAX_SELECTORS];
    size_t nselectors;
    uint64_t max_envelope;   /* 0 = not given */
    int64_t timeout_ms;      /* -1 = not given */
    bool total_estimate;     /* RequestTotalItemsCountEstimate */
    struct timespec start;   /* for OperationTimeout */
};

/* Parse headers of doc (taken over by req on success and failure) by namespace URI. Faults
 * -> *f and -EINVAL; what could be read (MessageID) stays in req for RelatesTo. */
int wsman_envelope_parse(xmlDocPtr doc, struct wsman_request *req, struct wsman_fault *f);
/* Free the request's document and strings; zeroes *req. */
void wsman_request_done(struct wsman_request *req);
/* Parse an xs:duration (PnYnMnDTnHnMnS, fractional seconds) into ms; -EINVAL. */
int wsman_duration_parse(const char *s, int64_t *ret_ms);
/* Milliseconds since req->start. */
int64_t wsman_request_elapsed_ms(const struct wsman_request *req);

/* A response under construction: Envelope with s, wsa, wsman, wsen, wxf (and p = class
 * namespace when given) declared on the root, the addressing headers, an empty Body. */
struct wsman_response {
    xmlDocPtr doc;
    xmlNodePtr body;
    xmlNsPtr ns_s, ns_a, ns_w, ns_n, ns_x, ns_p;
};
int wsman_response_new(const struct wsman_request *req, const char *action,
                       const char *class_uri, struct wsman_response *ret);
/* Free the response document (after wsman_response_finish copied it out). */
void wsman_response_done(struct wsman_response *resp);
/* Serialize into *out (HTTP 200). When the result exceeds the request's MaxEnvelopeSize or
 * the configured cap, returns -E2BIG and leaves *out untouched. -ENOMEM. */
int wsman_response_finish(struct wsman_response *resp, const struct wsman_request *req,
                          size_t hard_cap, struct wsman_reply *out);
/* Append <wsa:EndpointReference> (or children of an existing element when `into` is given)
 * addressing the instance: Address anonymous + ReferenceParameters(ResourceURI,
 * SelectorSet), with the wsa:/wsman: prefixes wsl copies verbatim. */
xmlNodePtr wsman_response_epr(struct wsman_response *resp, xmlNodePtr parent,
                              const char *class_uri, const char *const *keys,
                              const char *const *values, size_t n);

/* ---- resource classes (wsman_res_*.c) ---- */
enum wsman_ptype {
    WSMAN_P_STRING = 0,
    WSMAN_P_UINT16,
    WSMAN_P_UINT32,
    WSMAN_P_BOOL,
    WSMAN_P_BYTES,           /* uint8[]: repeated elements with decimal bytes, or hex text */
};

struct wsman_param_def {
    const char *name;
    enum wsman_ptype type;
    bool required;
};

struct wsman_arg {
    bool present;
    char *s;                 /* WSMAN_P_STRING (malloc()ed) */
    uint64_t u;              /* integers, bool */
    uint8_t *bytes;          /* WSMAN_P_BYTES (malloc()ed) */
    size_t nbytes;
};

#define WSMAN_MAX_PARAMS 8
#define WSMAN_MAX_KEYS 2

struct wsman_call {
    struct wsman_ctx *ctx;
    const struct wsman_caller *caller;
    const char *keys[WSMAN_MAX_KEYS];   /* selector values in class key order */
    struct wsman_arg args[WSMAN_MAX_PARAMS];
    struct wsman_response *resp;
    xmlNodePtr out;          /* the <p:Method_OUTPUT> element for out-params */
    struct ferry_status st;  /* engine result: RESULT -> ReturnValue */
    struct wsman_fault *fault;
};

/* A method returns 0 (ReturnValue 0) or < 0: with st.kind RESULT the ReturnValue is
 * st.code, other kinds become faults (wsman_fault_from_status), or a fault already set. */
struct wsman_method {
    const char *name;
    bool is_static;
    struct wsman_param_def params[WSMAN_MAX_PARAMS + 1];   /* terminated by name NULL */
    int (*fn)(struct wsman_call *call);
};

/* Add an out-parameter <p:name>value</p:name> to call->out. */
int wsman_call_out(struct wsman_call *call, const char *name, const char *fmt, ...)
    FERRY_PRINTF(3, 4);

struct wsman_class {
    const char *uri;
    const char *name;                   /* root element / class name */
    const char *keys[WSMAN_MAX_KEYS];   /* selector names, NULL-terminated */
    /* Validate a selector value's shape (0 or -EINVAL -> InvalidSelectors/InvalidValue). */
    int (*check_key)(size_t i, const char *value);
    /* Write the instance <p:Name> under parent. NOT_FOUND in st when missing. */
    int (*write)(struct wsman_ctx *ctx, const char *const *keys, struct wsman_response *resp,
                 xmlNodePtr parent, struct ferry_status *st);
    /* Put: apply the instance element; faults in *f. NULL = not supported. */
    int (*put)(struct wsman_ctx *ctx, const char *const *keys, xmlNodePtr instance,
               const struct wsman_caller *caller, struct wsman_fault *f,
               struct ferry_status *st);
    /* Instance keys for enumeration: a malloc()ed array of nkeys-tuples of strings. The
     * filter values (selectors given on Enumerate, by key index, NULL = none) narrow it. */
    int (*list)(struct wsman_ctx *ctx, const char *const *filter, char ***ret_keys,
                size_t *ret_n);
    const struct wsman_method *methods;
};

extern const struct wsman_class wsman_class_job;
extern const struct wsman_class wsman_class_file;
extern const struct wsman_class wsman_class_urlgroup;

/* Shared by the classes and the operations on them (wsman_class.c); the value parsers are
 * in wsman_parse.h. */
/* Number of selector keys of a class (1 or 2). */
size_t wsman_class_nkeys(const struct wsman_class *cls);
/* Add <p:name>text</p:name> (text formatted) to parent in the class namespace. */
xmlNodePtr wsman_prop(struct wsman_response *resp, xmlNodePtr parent, const char *name,
                      const char *fmt, ...) FERRY_PRINTF(4, 5);

/* ---- enumeration (wsman_enum.c) ---- */
/* The enumeration contexts of one endpoint: at most `max` alive, each expiring ttl_s
 * seconds after its last use. NULL on OOM. Thread-safe. */
struct wsman_enum_store *wsman_enum_store_new(unsigned max, unsigned ttl_s);
/* Free every context. NULL-safe; returns NULL. */
struct wsman_enum_store *wsman_enum_store_free(struct wsman_enum_store *store);
/* Live contexts (expired ones purged first). */
size_t wsman_enum_store_count(struct wsman_enum_store *store);
/* The three WS-Enumeration operations on class cls. Each fills *out with a response and
 * returns 0, or sets *f and returns -EINVAL (the dispatcher turns *f into the fault). */
int wsman_enum_enumerate(struct wsman_ctx *ctx, const struct wsman_class *cls,
                         const struct wsman_request *req, const struct wsman_caller *caller,
                         struct wsman_fault *f, struct wsman_reply *out);
int wsman_enum_pull(struct wsman_ctx *ctx, const struct wsman_class *cls,
                    const struct wsman_request *req, const struct wsman_caller *caller,
                    struct wsman_fault *f, struct wsman_reply *out);
int wsman_enum_release(struct wsman_ctx *ctx, const struct wsman_class *cls,
                       const struct wsman_request *req, const struct wsman_caller *caller,
                       struct wsman_fault *f, struct wsman_reply *out);
/* For tests: age every context by `seconds`. */
void wsman_enum_store_age(struct wsman_enum_store *store, unsigned seconds);

/* ---- authentication (wsman_auth.c) ---- */
struct ferry_auth_req;
enum wsman_auth_result {
    WSMAN_AUTH_OK = 0,
    WSMAN_AUTH_NONE,          /* no usable credentials: 401 */
    WSMAN_AUTH_BAD,           /* wrong credentials: 401 (counted) */
    WSMAN_AUTH_REFUSED,       /* Basic over plain http from non-loopback: 401 */
    WSMAN_AUTH_RATE_LIMITED,  /* this address failed too often: 429 + Retry-After */
    WSMAN_AUTH_BUSY,          /* the verifier queue is full: 503 + Retry-After */
    WSMAN_AUTH_VERIFY,        /* a password needs PBKDF2: wsman_auth_submit() */
};

struct wsman_auth_in {
    const char *authorization;   /* Authorization header or NULL */
    const char *peer;            /* peer address text */
    const struct sockaddr *peer_sa; /* the peer (limiter key); NULL: parsed from peer */
    socklen_t peer_sa_len;
    bool peer_loopback;
    bool is_tls;
    const char *cert_sha256;     /* client certificate fingerprint (hex) or NULL */
};

/* Authentication state of one endpoint (the engine's verifier pool through ops, or its
 * own; certmap of cfg->state_dir). NULL on OOM. Thread-safe. */
struct wsman_auth *wsman_auth_new(const struct ferry_config *cfg,
                                  const struct wsman_engine_ops *ops, struct ferry_users *users);
/* Free it. NULL-safe; returns NULL. */
struct wsman_auth *wsman_auth_free(struct wsman_auth *auth);
/* Everything up to PBKDF2, on the calling thread: OK (user copied into user_buf, role),
 * NONE, BAD, REFUSED, RATE_LIMITED (*ret_retry seconds), or VERIFY with *req filled for
 * wsman_auth_submit(). */
enum wsman_auth_result wsman_auth_begin(struct wsman_ctx *ctx, const struct wsman_auth_in *in,
                                        struct ferry_auth_req *req, char *user_buf,
                                        size_t user_len, enum ferry_role *ret_role,
                                        unsigned *ret_retry);
/* Queue req (its done/ud set by the caller): VERIFY (done(req) follows on a verifier
 * thread) or BUSY (done is not called). */
enum wsman_auth_result wsman_auth_submit(struct wsman_ctx *ctx, struct ferry_auth_req *req);
/* The outcome of a checked req. */
enum wsman_auth_result wsman_auth_finish(const struct ferry_auth_req *req, char *user_buf,
                                         size_t user_len, enum ferry_role *ret_role,
                                         unsigned *ret_retry);
/* begin + PBKDF2 on the calling thread (never VERIFY). */
enum wsman_auth_result wsman_auth_check(struct wsman_ctx *ctx, const struct wsman_auth_in *in,
                                        char *user_buf, size_t user_len,
                                        enum ferry_role *ret_role, unsigned *ret_retry);
/* Look up a certificate fingerprint in the certmap file ("SHA256HEX user" lines). */
int wsman_auth_certmap_lookup(struct wsman_auth *auth, const char *sha256, char *user_buf,
                              size_t user_len);
/* For tests: pretend `seconds` passed for the rate limiter. */
void wsman_auth_age(struct wsman_auth *auth, unsigned seconds);

/* ---- transport-free HTTP entry (wsman_http.c) ---- */
typedef const char *(*wsman_header_fn)(void *userdata, const char *name);

/* The caller as the head stage found it, handed to wsman_http_handle() for the body. */
struct wsman_http_auth {
    bool decided;                /* ar and the rest are valid */
    enum wsman_auth_result ar;
    char user[72];
    enum ferry_role role;
    unsigned retry_after;
};

struct wsman_http_in {
    const char *method;          /* "POST", "GET", ... */
    const char *path;
    wsman_header_fn header;      /* case-insensitive lookup */
    void *header_userdata;
    const void *body;
    size_t body_len;
    const char *peer;
    bool peer_loopback;
    bool is_tls;
    const char *cert_sha256;
    const struct sockaddr *peer_sa; /* limiter key (NULL: parsed from peer) */
    socklen_t peer_sa_len;
    const struct wsman_http_auth *preauth; /* from wsman_http_head(); NULL: check here */
};

struct wsman_http_out {
    int status;
    const char *content_type;    /* static string or NULL (no body) */
    bool www_authenticate;       /* add WWW-Authenticate: Basic realm="WSMAN" */
    const char *allow;           /* Allow header for 405 */
    unsigned retry_after;        /* 429: seconds */
    char *body;                  /* malloc()ed, may be NULL */
    size_t len;
};
/* Serve one request on the WS-Man listener. Always fills *out. */
void wsman_http_handle(struct wsman_ctx *ctx, const struct wsman_http_in *in,
                       struct wsman_http_out *out);
/* Verdicts of wsman_http_head(). */
enum wsman_head_verdict {
    WSMAN_HEAD_GO = 0,   /* read the body, then wsman_http_handle() with in->preauth = auth */
    WSMAN_HEAD_ANSWER,   /* *out is the answer (401, 404, 405, 415, 429, 503): the body is
                            never read */
    WSMAN_HEAD_VERIFY,   /* *req needs PBKDF2: wsman_auth_submit() it, put the outcome in
                            auth (wsman_auth_finish, decided = true) and call again */
};
/* Largest body read from a caller without credentials (anonymous Identify). */
#define WSMAN_ANON_BODY_MAX 16384
/* Decide on the request head alone (in->body unused): routing, Content-Type and
 * authentication, so no body byte of an unauthenticated caller is read (beyond
 * WSMAN_ANON_BODY_MAX for an anonymous Identify). */
enum wsman_head_verdict wsman_http_head(struct wsman_ctx *ctx, const struct wsman_http_in *in,
                                        struct wsman_http_auth *auth,
                                        struct ferry_auth_req *req, struct wsman_http_out *out);
/* Free the body of *out and zero it. */
void wsman_http_out_done(struct wsman_http_out *out);
/* true when a Content-Type header value is application/soap+xml with an accepted (or no)
 * charset. */
bool wsman_http_content_type_ok(const char *value);

/* ---- metrics (wsman_metrics.c) ---- */
/* Prometheus text exposition of engine counters; malloc()ed. -ENOMEM. */
int wsman_metrics_render(struct wsman_ctx *ctx, char **ret_buf, size_t *ret_len);

#endif
