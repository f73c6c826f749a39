/*
 * tests/engine/http/ktls_probe.c - the kTLS check that tests/integration/ktls_vm.sh runs
 * inside a QEMU guest whose kernel has the tls module (tests/integration/ktls_vm.sh, docs/internals/http.md).
 *
 * It serves a 3 MiB file through the real engine: a ferry_http_server with one worker and
 * a TLS listener (ferry_tls_ctx_new from the PEM files given), the file handed over with
 * ferry_http_response_body_file, so the bytes leave through the engine's TLS send backend
 * (SSL_sendfile under kTLS, pread + SSL_write otherwise). An OpenSSL client in the same
 * program fetches it and checks the digest. The handler reads the connection's kTLS
 * decision from the engine's internals (http_response.h: the request's ktls_send), so the
 * final line says which
 * path really carried the body, first over TLS 1.2, then over the default (TLS 1.3):
 *   KTLS_PROBE_TLS12 path=ktls|userspace bytes=N sha256=HEX OK|MISMATCH
 *   KTLS_PROBE path=ktls|userspace bytes=N sha256=HEX OK|MISMATCH
 * `ktls_probe --sha256` prints the expected digest (for the host side).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ferry/config.h"
#include "ferry/http.h"
#include "ferry/log.h"
#include "http_response.h"

#define PROBE_BYTES (3u * 1024 * 1024)

static atomic_int served_ktls = -1;

static void
fill(unsigned char *buf, size_t n)
{
    uint32_t x = 0x9e3779b9u;

    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (unsigned char)x;
    }
}

static void
sha256_hex(const unsigned char *data, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned len = 0;

    EVP_Digest(data, n, md, &len, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static const char *file_path;

static void
handler(void *ud, const struct ferry_http_request *req, struct ferry_http_response *resp)
{
    int fd = open(file_path, O_RDONLY | O_CLOEXEC);

    atomic_store(&served_ktls, req->ktls_send ? 1 : 0);
    if (fd < 0) {
        ferry_http_response_status(resp, 500);
        return;
    }
    ferry_http_response_status(resp, 200);
    ferry_http_response_body_file(resp, fd, 0, PROBE_BYTES);
}

/* Fetch https://127.0.0.1:port/probe with OpenSSL; returns the body length or -1. */
static long
fetch(int port, int max_version, unsigned char *body, size_t cap)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    static const char req[] = "GET /probe HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    static char buf[PROBE_BYTES + 65536];
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = NULL;
    size_t n = 0;
    long ret = -1;
    char *end;
    int fd;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (ctx && max_version)
        SSL_CTX_set_max_proto_version(ctx, max_version);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (!ctx || fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("ktls_probe: connect");
        goto cleanup;
    }
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) != 1 || SSL_write(ssl, req, sizeof(req) - 1) != (int)sizeof(req) - 1) {
        fprintf(stderr, "ktls_probe: TLS client failed\n");
        goto cleanup;
    }
    for (;;) {
        int r = SSL_read(ssl, buf + n, (int)(sizeof(buf) - n));
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n == sizeof(buf))
            break;
    }
    end = memmem(buf, n, "\r\n\r\n", 4);
    if (!end || strncmp(buf, "HTTP/1.1 200 ", 13) != 0) {
        fprintf(stderr, "ktls_probe: bad response (%zu bytes)\n", n);
        goto cleanup;
    }
    end += 4;
    n -= (size_t)(end - buf);
    if (n > cap)
        n = cap;
    memcpy(body, end, n);
    ret = (long)n;
cleanup:
    if (ssl)
        SSL_free(ssl);
    if (ctx)
        SSL_CTX_free(ctx);
    if (fd >= 0)
        close(fd);
    return ret;
}

int
main(int argc, char **argv)
{
    static unsigned char data[PROBE_BYTES], got[PROBE_BYTES];
    struct ferry_http_listen_opts o = {.addr = "127.0.0.1:0", .handler = handler};
    struct ferry_http_server *srv = NULL;
    struct ferry_tls_ctx *tls = NULL;
    struct ferry_config cfg;
    char want[65], have[65], path[256];
    const char *dir;
    uint32_t id;
    long n;
    int r;

    fill(data, sizeof(data));
    sha256_hex(data, sizeof(data), want);
    if (argc == 2 && strcmp(argv[1], "--sha256") == 0) {
        printf("%s\n", want);
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: ktls_probe CERT.pem KEY.pem | ktls_probe --sha256\n");
        return 2;
    }
    ferry_log_set_ident("ktls_probe");
    dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(path, sizeof(path), "%s/ktls_probe.bin", dir);
    file_path = path;
    {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, data, sizeof(data)) != (ssize_t)sizeof(data) || close(fd) < 0) {
            perror("ktls_probe: writing the file");
            return 1;
        }
    }
    printf("KTLS_PROBE kernel_has_ktls=%d\n", ferry_tls_kernel_has_ktls());
    r = ferry_tls_ctx_new(argv[1], argv[2], NULL, &tls);
    if (r < 0) {
        fprintf(stderr, "ktls_probe: ferry_tls_ctx_new: %s\n", strerror(-r));
        return 1;
    }
    memset(&cfg, 0, sizeof(cfg));
    r = ferry_http_server_new(&cfg, "probe", 1, &srv);
    if (r == 0) {
        o.tls = tls;
        r = ferry_http_server_listen(srv, &o, &id);
    }
    if (r < 0) {
        fprintf(stderr, "ktls_probe: server: %s\n", strerror(-r));
        return 1;
    }
    /* TLS 1.2 first (its own line), then the default (TLS 1.3): the final line */
    int ok = 1;
    for (int round = 0; round < 2; round++) {
        atomic_store(&served_ktls, -1);
        n = fetch(ferry_http_server_port(srv, id), round == 0 ? TLS1_2_VERSION : 0, got,
                  sizeof(got));
        if (n < 0) {
            ok = 0;
            break;
        }
        sha256_hex(got, (size_t)n, have);
        bool good = (size_t)n == sizeof(data) && strcmp(have, want) == 0;
        printf("%s path=%s bytes=%ld sha256=%s %s\n",
               round == 0 ? "KTLS_PROBE_TLS12" : "KTLS_PROBE", atomic_load(&served_ktls) == 1 ? "ktls" : "userspace", n, have,
               good ? "OK" : "MISMATCH");
        fflush(stdout);
        ok &= good;
    }
    ferry_http_server_free(srv);
    ferry_tls_ctx_unref(tls);
    unlink(path);
    return ok ? 0 : 1;
}
