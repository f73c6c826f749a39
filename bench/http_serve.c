/*
 * bench/http_serve.c - a minimal file server on the engine's HTTP core, for
 * measuring send backends by hand (docs/internals/http.md has the figures):
 *   http_serve FILE BACKEND WORKERS [CERT KEY]
 * Serves FILE at every path on 127.0.0.1 (ephemeral port, printed as "port N"), with
 * BACKEND sendfile|splice, over TLS when CERT and KEY are given; runs until SIGTERM/SIGINT.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry/config.h"
#include "ferry/http.h"

static const char *file;

static void
handler(void *ud, const struct ferry_http_request *req, struct ferry_http_response *resp)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    struct stat st;

    if (fd < 0 || fstat(fd, &st) < 0) {
        if (fd >= 0)
            close(fd);
        ferry_http_response_status(resp, 404);
        return;
    }
    ferry_http_response_status(resp, 200);
    if (ferry_http_request_method(req) == FERRY_HTTP_HEAD) {
        close(fd);
        ferry_http_response_head_only(resp, st.st_size);
    } else {
        ferry_http_response_body_file(resp, fd, 0, st.st_size);
    }
}

int
main(int argc, char **argv)
{
    struct ferry_http_listen_opts o = {.addr = "127.0.0.1:0", .handler = handler};
    struct ferry_http_server *srv = NULL;
    struct ferry_tls_ctx *tls = NULL;
    struct ferry_config cfg;
    sigset_t set;
    uint32_t id;
    int sig, r;

    if (argc != 4 && argc != 6) {
        fprintf(stderr, "usage: http_serve FILE sendfile|splice WORKERS [CERT KEY]\n");
        return 2;
    }
    file = argv[1];
    memset(&cfg, 0, sizeof(cfg));
    cfg.send_backend = argv[2];
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (argc == 6) {
        r = ferry_tls_ctx_new(argv[4], argv[5], NULL, &tls);
        if (r < 0) {
            fprintf(stderr, "http_serve: tls: %s\n", strerror(-r));
            return 1;
        }
    }
    o.tls = tls;
    r = ferry_http_server_new(&cfg, "serve", (unsigned)strtoul(argv[3], NULL, 10), &srv);
    if (r == 0)
        r = ferry_http_server_listen(srv, &o, &id);
    if (r < 0) {
        fprintf(stderr, "http_serve: %s\n", strerror(-r));
        return 1;
    }
    printf("port %d\n", ferry_http_server_port(srv, id));
    fflush(stdout);
    sigwait(&set, &sig);
    ferry_http_server_free(srv);
    ferry_tls_ctx_unref(tls);
    return 0;
}
