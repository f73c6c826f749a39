/*
 * ferry/server.h - the compact server role (docs/DESIGN.md §2) as the control plane sees it.
 * Every call is thread-safe and takes effect at once (listeners open/close, rules apply to
 * the next request). Groups and URLs persist in the state directory.
 *
 * Prefix grammar: scheme://host:port/name, scheme http|https, host + * IP-literal or name,
 * exactly one path segment. URL = prefix + "/" + suffix (no '/' in the suffix).
 */
#ifndef FERRY_SERVER_H
#define FERRY_SERVER_H

#include "ferry/common.h"

struct ferry_server;

/* Group properties (SetProperty / GetProperty). */
#define FERRY_PROP_CONNECTION_LIMIT "ConnectionLimit"
#define FERRY_PROP_BANDWIDTH_LIMIT "BandwidthLimit"
/* BITS uploads (BITS_POST) into --upload-root/NAME: 0 off (default), 1 on */
#define FERRY_PROP_UPLOAD_ENABLED "UploadEnabled"
/* largest upload accepted, bytes; 0 = unlimited */
#define FERRY_PROP_MAX_UPLOAD_SIZE "MaxUploadSize"

struct ferry_url_info {
    char *url;          /* full URL */
    char *suffix;
    char *source;       /* source file path */
    char *rule;         /* access rule as given (SDDL or ferry syntax) */
    bool manifest_ready;
    uint64_t requests;
    uint64_t bytes_sent;
    uint32_t active;
};

struct ferry_group_info {
    char *prefix;
    uint32_t connection_limit;  /* 0 = unlimited */
    uint32_t bandwidth_limit;   /* bytes/s, 0 = unlimited */
    bool auth_negotiate, auth_ntlm;
    uint64_t requests;
    uint64_t bytes_sent;
    uint32_t active;
    struct ferry_url_info *urls;
    size_t nurls;
};

FERRY_API int ferry_server_group_create(struct ferry_server *srv, const char *prefix,
                                        struct ferry_status *st);
FERRY_API int ferry_server_group_delete(struct ferry_server *srv, const char *prefix,
                                        struct ferry_status *st);
/* Creates the group when missing (as BITS does). cert_sha256 is a list of client
 * certificate SHA-256 fingerprints (hex) the rule also accepts; may be NULL. */
FERRY_API int ferry_server_url_create(struct ferry_server *srv, const char *prefix,
                                      const char *suffix, const char *source_path,
                                      const char *rule, const char *const *cert_sha256,
                                      size_t ncert, struct ferry_status *st);
FERRY_API int ferry_server_url_delete(struct ferry_server *srv, const char *prefix,
                                      const char *suffix, struct ferry_status *st);
FERRY_API int ferry_server_url_check(struct ferry_server *srv, const char *prefix,
                                     const char *suffix, bool *ret_exists,
                                     struct ferry_status *st);
/* scheme: 0 Negotiate, 1 NTLM (BITS numbering). */
FERRY_API int ferry_server_group_set_auth(struct ferry_server *srv, const char *prefix,
                                          unsigned scheme, bool enable,
                                          struct ferry_status *st);
FERRY_API int ferry_server_group_get_auth(struct ferry_server *srv, const char *prefix,
                                          unsigned scheme, bool *ret_enable,
                                          struct ferry_status *st);
FERRY_API int ferry_server_group_set_property(struct ferry_server *srv, const char *prefix,
                                              const char *name, uint32_t value,
                                              struct ferry_status *st);
FERRY_API int ferry_server_group_get_property(struct ferry_server *srv, const char *prefix,
                                              const char *name, uint32_t *ret_value,
                                              struct ferry_status *st);
/* Bind the certificate whose SHA-1 thumbprint is hash (20 bytes) from store `store_name`
 * (a directory under the cert store dir holding PEM cert+key files) to a port. */
FERRY_API int ferry_server_set_ssl_cert(struct ferry_server *srv, uint16_t port,
                                        const char *store_name, const uint8_t *hash,
                                        size_t hash_len, struct ferry_status *st);
/* The binding of a port: the store name (malloc()ed) and the 20-byte thumbprint. None:
 * -ENOENT, RESULT ERROR_NOT_FOUND 0x80070490. */
FERRY_API int ferry_server_get_ssl_cert(struct ferry_server *srv, uint16_t port,
                                        char **ret_store, uint8_t ret_hash[20],
                                        struct ferry_status *st);
/* Unbind a port's certificate; its open https listeners switch to the default certificate
 * (tls-cert), and without one the removal is refused while they exist (RESULT
 * BG_E_INVALID_STATE). None bound: -ENOENT, RESULT ERROR_NOT_FOUND 0x80070490. */
FERRY_API int ferry_server_remove_ssl_cert(struct ferry_server *srv, uint16_t port,
                                           struct ferry_status *st);

/* Snapshot of one group / all groups with their URLs and counters. */
FERRY_API int ferry_server_group_get(struct ferry_server *srv, const char *prefix,
                                     struct ferry_group_info **ret_group);
FERRY_API int ferry_server_group_list(struct ferry_server *srv,
                                      struct ferry_group_info ***ret_groups, size_t *ret_n);
FERRY_API struct ferry_group_info *ferry_group_info_free(struct ferry_group_info *g);
FERRY_API void ferry_group_info_list_free(struct ferry_group_info **v, size_t n);

/* Server-wide counters for metrics. */
struct ferry_server_stats {
    uint64_t requests;
    uint64_t bytes_sent;
    uint32_t active_connections;
    uint64_t manifests_computed;
    uint64_t tarpit_held;     /* 401 answers the refusal tarpit held back so far */
    uint32_t tarpit_parked;   /* connections whose 401 is held now */
};
FERRY_API void ferry_server_stats(struct ferry_server *srv, struct ferry_server_stats *ret);

#endif
