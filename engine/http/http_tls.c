/*
 * http_tls.c - TLS contexts (ferry_tls_ctx_*, OpenSSL 3, TLS 1.2+) and the per-connection TLS
 * layer of the HTTP server: non-blocking handshake driven by POLL_ADD readiness, kTLS
 * detection (SSL_OP_ENABLE_KTLS + BIO_get_ktls_send), optional client certificates with
 * their SHA-256 / SHA-1 fingerprints.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ferry/log.h"
#include "http_tls.h"

#ifndef TCP_ULP
#define TCP_ULP 31
#endif

struct ferry_tls_ctx {
    SSL_CTX *ctx;
    atomic_uint refs;
    bool has_ca;
};

static pthread_once_t ktls_once = PTHREAD_ONCE_INIT;
static bool ktls_kernel;
static int ktls_errno;
static atomic_bool path_logged;

/* setsockopt(TCP_ULP, "tls") on an unconnected socket: ENOENT when the kernel has no tls
 * module; ENOTCONN (the ULP exists but wants an established socket) or 0 when it has. */
static void
ktls_probe(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        ktls_errno = errno;
        return;
    }
    if (setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")) == 0) {
        ktls_kernel = true;
    } else {
        ktls_errno = errno;
        ktls_kernel = errno == ENOTCONN || errno == EEXIST;
    }
    close(fd);
}

bool
ferry_tls_kernel_has_ktls(void)
{
    pthread_once(&ktls_once, ktls_probe);
    return ktls_kernel;
}

/* Accept any certificate when no CA is configured (the handler decides on fingerprints);
 * otherwise OpenSSL's verdict stands. */
static int
verify_cb(int preverify_ok, X509_STORE_CTX *store)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    SSL_CTX *sctx = ssl ? SSL_get_SSL_CTX(ssl) : NULL;
    struct ferry_tls_ctx *ctx = sctx ? SSL_CTX_get_app_data(sctx) : NULL;

    if (ctx && !ctx->has_ca)
        return 1;
    return preverify_ok;
}

/*
 * Load a certificate chain and key (PEM). client_ca (may be NULL) is used to verify client
 * certificates; without it any client certificate is accepted and only its fingerprints
 * are exposed. Client certificates are requested but never required. 0 and *ret_ctx (one
 * reference), -ENOENT / -EINVAL (unreadable or mismatched files; the OpenSSL reason is
 * logged at debug level) or -ENOMEM.
 */
int
ferry_tls_ctx_new(const char *cert_file, const char *key_file, const char *client_ca,
                  struct ferry_tls_ctx **ret_ctx)
{
    struct ferry_tls_ctx *ctx;
    int r = -EINVAL;

    if (!cert_file || !key_file)
        return -EINVAL;
    if (access(cert_file, R_OK) < 0 || access(key_file, R_OK) < 0 ||
        (client_ca && access(client_ca, R_OK) < 0))
        return -errno;
    ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return -ENOMEM;
    atomic_init(&ctx->refs, 1);
    ctx->ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx->ctx) {
        r = -ENOMEM;
        goto error;
    }
    SSL_CTX_set_app_data(ctx->ctx, ctx);
    SSL_CTX_set_min_proto_version(ctx->ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx->ctx, SSL_OP_ENABLE_KTLS | SSL_OP_NO_RENEGOTIATION |
                                      SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                   SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                   SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_use_certificate_chain_file(ctx->ctx, cert_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx->ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx->ctx) != 1)
        goto ssl_error;
    if (client_ca) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(client_ca);
        if (SSL_CTX_load_verify_locations(ctx->ctx, client_ca, NULL) != 1 || !names) {
            if (names)
                sk_X509_NAME_pop_free(names, X509_NAME_free);
            goto ssl_error;
        }
        SSL_CTX_set_client_CA_list(ctx->ctx, names);
        ctx->has_ca = true;
    }
    SSL_CTX_set_verify(ctx->ctx, SSL_VERIFY_PEER, verify_cb);
    SSL_CTX_set_session_id_context(ctx->ctx, (const unsigned char *)"ferry", 5);
    *ret_ctx = ctx;
    return 0;
ssl_error: {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
    ferry_log_debug("tls: loading '%s' / '%s' failed: %s", cert_file, key_file, buf);
    ERR_clear_error();
}
error:
    if (ctx->ctx)
        SSL_CTX_free(ctx->ctx);
    free(ctx);
    return r;
}

struct ferry_tls_ctx *
ferry_tls_ctx_ref(struct ferry_tls_ctx *ctx)
{
    if (ctx)
        atomic_fetch_add(&ctx->refs, 1);
    return ctx;
}

struct ferry_tls_ctx *
ferry_tls_ctx_unref(struct ferry_tls_ctx *ctx)
{
    if (ctx && atomic_fetch_sub(&ctx->refs, 1) == 1) {
        SSL_CTX_free(ctx->ctx);
        free(ctx);
    }
    return NULL;
}

/* ---- connections ---- */

/* A server-side SSL object for fd under ctx (http_tls.h). */
int
http_tls_accept(struct ferry_tls_ctx *ctx, int fd, SSL **ret_ssl)
{
    SSL *ssl = SSL_new(ctx->ctx);

    if (!ssl)
        return -ENOMEM;
    if (SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        return -ENOMEM;
    }
    SSL_set_accept_state(ssl);
    *ret_ssl = ssl;
    return 0;
}

static void
log_path_once(bool ktls)
{
    bool expected = false;

    if (!atomic_compare_exchange_strong(&path_logged, &expected, true))
        return;
    if (ktls)
        ferry_log_info("TLS send path: kTLS (SSL_sendfile)");
    else if (!ferry_tls_kernel_has_ktls())
        ferry_log_info("TLS send path: userspace TLS (kernel has no kTLS: TCP_ULP tls %s)",
                       ktls_errno == ENOENT ? "ENOENT" : strerror(ktls_errno));
    else
        ferry_log_info("TLS send path: userspace TLS (kTLS not enabled for the negotiated "
                       "cipher)");
}

/* Whether the handshake turned kTLS send on; the first answer is logged (http_tls.h). */
bool
http_tls_ktls_send(SSL *ssl)
{
    bool ktls = BIO_get_ktls_send(SSL_get_wbio(ssl)) > 0;

    log_path_once(ktls);
    return ktls;
}

/* The client certificate's SHA-256 and SHA-1 hex digests; false without one. */
bool
http_tls_peer_cert(SSL *ssl, char sha256[65], char sha1[41])
{
    X509 *cert = SSL_get1_peer_certificate(ssl);
    bool ok = false;

    if (cert) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        if (X509_digest(cert, EVP_sha256(), md, &len) == 1 && len == 32) {
            ferry_hex_encode(md, len, sha256);
            if (X509_digest(cert, EVP_sha1(), md, &len) == 1 && len == 20) {
                ferry_hex_encode(md, len, sha1);
                ok = true;
            }
        }
        X509_free(cert);
    }
    return ok;
}

/*
 * Advance the handshake. 0 when complete, -EAGAIN when waiting for the socket
 * (*ret_events says for what), -EPROTO on a failed handshake.
 */
int
http_tls_handshake(SSL *ssl, unsigned *ret_events)
{
    int r = SSL_do_handshake(ssl);

    if (r == 1)
        return 0;
    switch (SSL_get_error(ssl, r)) {
    case SSL_ERROR_WANT_READ:
        *ret_events = POLLIN;
        return -EAGAIN;
    case SSL_ERROR_WANT_WRITE:
        *ret_events = POLLOUT;
        return -EAGAIN;
    default:
        ERR_clear_error();
        return -EPROTO;
    }
}

/* Free the SSL object and clear this thread's OpenSSL error queue. */
void
http_tls_free(SSL *ssl)
{
    if (ssl)
        SSL_free(ssl);
    ERR_clear_error();
}
