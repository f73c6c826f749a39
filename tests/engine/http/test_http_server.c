/*
 * tests/engine/http/test_http_server.c - engine/http/http_server.c and friends, driven by
 * real curl processes and raw sockets: GET/HEAD of memory and file bodies (byte-exact),
 * keep-alive reuse, pipelining, refusals (400/413/431), slowloris and idle timeouts, max
 * connections, many idle connections, unlisten, both send backends, on_done accounting,
 * request accessors, lent descriptors (released once, never closed), small bodies read
 * into the head.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ferry/config.h"
#include "ferry/http.h"
#include "ferry-test.h"

static char *tmpdir;
static char file_path[512];
static size_t file_size = 3 * 1024 * 1024 + 12345;

static atomic_uint_fast64_t done_bytes;
static atomic_int done_calls, done_complete;

static void
on_done(void *ud, uint64_t body_bytes_sent, bool complete)
{
    atomic_fetch_add(&done_bytes, body_bytes_sent);
    atomic_fetch_add(&done_calls, 1);
    if (complete)
        atomic_fetch_add(&done_complete, 1);
}

/* A descriptor the handler lends (body_file_lent): the core must release, never close. */
static int lent_fd = -1;
static atomic_int lent_releases;

static void
lent_release(void *ud)
{
    ck_assert_ptr_eq(ud, &lent_fd);
    atomic_fetch_add(&lent_releases, 1);
}

static struct ferry_rate *test_rate;
static pthread_mutex_t test_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ferry_http_server *test_srv;
static uint32_t test_id;

static void
handler(void *ud, const struct ferry_http_request *req, struct ferry_http_response *resp)
{
    const char *path = ferry_http_request_path(req);
    enum ferry_http_method m = ferry_http_request_method(req);

    ferry_http_response_on_done(resp, on_done, NULL);
    if (strcmp(path, "/mem") == 0) {
        ferry_http_response_status(resp, 200);
        ck_assert_int_eq(ferry_http_response_header(resp, "X-Test", "v=%d", 7), 0);
        ck_assert_int_eq(ferry_http_response_header(resp, "Content-Length", "1"), -EINVAL);
        ck_assert_int_eq(ferry_http_response_header(resp, "X-Bad", "a\r\nb"), -EINVAL);
        ferry_http_response_body_copy(resp, "hello ferry\n", 12);
    } else if (strcmp(path, "/file") == 0 || strcmp(path, "/range") == 0) {
        int fd = open(file_path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        ck_assert_int_ge(fd, 0);
        fstat(fd, &st);
        ferry_http_response_status(resp, 200);
        ferry_http_response_header(resp, "Content-Type", "application/octet-stream");
        if (m == FERRY_HTTP_HEAD) {
            close(fd);
            ferry_http_response_head_only(resp, st.st_size);
        } else if (path[1] == 'r') {
            ferry_http_response_body_file(resp, fd, 1000, 5000);
        } else {
            ferry_http_response_body_file(resp, fd, 0, st.st_size);
        }
    } else if (strcmp(path, "/lent/small") == 0 || strcmp(path, "/lent/big") == 0) {
        uint64_t off = path[6] == 's' ? 3 : 0, len = path[6] == 's' ? 7000 : file_size;
        ferry_http_response_status(resp, 200);
        if (m == FERRY_HTTP_HEAD) {
            lent_release(&lent_fd);
            ferry_http_response_head_only(resp, (off_t)len);
        } else {
            ck_assert_int_eq(ferry_http_response_body_file_lent(resp, lent_fd, (off_t)off,
                                                                (off_t)len, lent_release,
                                                                &lent_fd), 0);
        }
    } else if (strcmp(path, "/short") == 0) {
        /* promises more than the file holds, small enough to be read into the head: the
         * read finds the end early and the response becomes a 500 before any byte left */
        char p[600];
        int fd;
        snprintf(p, sizeof(p), "%s/short.bin", tmpdir);
        ck_assert_int_eq(ft_write_file(p, "0123456789", 10), 0);
        fd = open(p, O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ferry_http_response_status(resp, 200);
        ferry_http_response_body_file(resp, fd, 0, 8000);
    } else if (strcmp(path, "/big") == 0) {
        /* 256 MiB of zeros from a sparse file: more than any socket buffers hold */
        char big[600];
        int fd;
        snprintf(big, sizeof(big), "%s/big.bin", tmpdir);
        fd = open(big, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, 256 << 20), 0);
        ferry_http_response_status(resp, 200);
        ferry_http_response_body_file(resp, fd, 0, 256 << 20);
    } else if (strcmp(path, "/echo") == 0) {
        size_t len;
        const void *body = ferry_http_request_body(req, &len);
        ferry_http_response_status(resp, 200);
        ferry_http_response_body_copy(resp, body ? body : "", len);
    } else if (strcmp(path, "/info") == 0) {
        char buf[256];
        const char *name, *value;
        size_t nh = 0;
        socklen_t plen = 0;
        const struct sockaddr *sa = ferry_http_request_peer(req, &plen);
        while (ferry_http_request_header_at(req, nh, &name, &value))
            nh++;
        int n = snprintf(buf, sizeof(buf), "loopback=%d family=%d port=%d tls=%d q=%s ua=%s nh=%zu",
                         ferry_http_request_peer_is_loopback(req), sa->sa_family,
                         ferry_http_request_local_port(req), ferry_http_request_is_tls(req),
                         ferry_http_request_query(req),
                         ferry_http_request_header(req, "user-agent") ? "yes" : "no", nh);
        ferry_http_response_status(resp, 200);
        ferry_http_response_body_copy(resp, buf, (size_t)n);
    } else if (strcmp(path, "/rate") == 0) {
        /* 600 KiB at 1 MiB/s through a bucket shared by every /rate response */
        int fd = open(file_path, O_RDONLY | O_CLOEXEC);
        ferry_http_response_status(resp, 200);
        ferry_http_response_body_file(resp, fd, 0, 600 * 1024);
        ferry_http_response_rate(resp, test_rate);
    } else if (strcmp(path, "/cert") == 0) {
        char buf[200];
        const char *s256 = ferry_http_request_client_cert_sha256(req);
        const char *s1 = ferry_http_request_client_cert_sha1(req);
        int n = snprintf(buf, sizeof(buf), "sha256=%s sha1=%s", s256 ? s256 : "none",
                         s1 ? s1 : "none");
        ferry_http_response_status(resp, 200);
        ferry_http_response_body_copy(resp, buf, (size_t)n);
    } else if (strcmp(path, "/lock") == 0) {
        /* blocks while the test holds test_lock */
        pthread_mutex_lock(&test_lock);
        pthread_mutex_unlock(&test_lock);
        ferry_http_response_status(resp, 200);
        ferry_http_response_body_copy(resp, "unlocked\n", 9);
    } else if (strcmp(path, "/unlisten") == 0) {
        /* a handler closing its own listener must not deadlock */
        ferry_http_response_status(resp,
                                   ferry_http_server_unlisten(test_srv, test_id) == 0 ? 200 : 500);
    } else if (strcmp(path, "/close") == 0) {
        ferry_http_response_status(resp, 204);
        ferry_http_response_close(resp);
    } else if (strcmp(path, "/headonly") == 0) {
        /* head_only on a GET cannot be sent: 500, and on_done still runs (incomplete) */
        ferry_http_response_status(resp, 200);
        ferry_http_response_head_only(resp, 10);
    } else if (strcmp(path, "/nostatus") == 0) {
        /* handler forgets the status: 500 */
    } else {
        ferry_http_response_status(resp, 404);
        ferry_http_response_body_copy(resp, "nope\n", 5);
    }
}

static struct ferry_config cfg;

static struct ferry_http_server *
start(const char *backend, unsigned workers, uint32_t *id, int *port)
{
    struct ferry_http_server *srv = NULL;
    struct ferry_http_listen_opts o = {
        .addr = "127.0.0.1:0",
        .handler = handler,
        .max_body_bytes = 4096,
    };

    memset(&cfg, 0, sizeof(cfg));
    cfg.http_max_header_bytes = 2048;
    cfg.http_max_headers = 16;
    cfg.http_header_timeout = 1;
    cfg.http_idle_timeout = 3;
    cfg.http_max_connections = 2000;
    cfg.send_backend = (char *)backend;
    cfg.send_lowat = 65536; /* as ferryd's default: every test below runs with it */
    ck_assert_int_eq(ferry_http_server_new(&cfg, "test", workers, &srv), 0);
    ck_assert_int_eq(ferry_http_server_listen(srv, &o, id), 0);
    ck_assert_uint_ge(*id, 1);
    *port = ferry_http_server_port(srv, *id);
    ck_assert_int_gt(*port, 0);
    return srv;
}

static int
run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int
run(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    int r;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    r = system(cmd);
    return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

/* noinline: inlined, gcc 12 -O3 takes the result for a pointer to the local `data`
 * (-Wdangling-pointer false positive). */
__attribute__((noinline)) static char *
slurp(const char *name, size_t *len)
{
    char path[600], *data = NULL;

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    ck_assert_int_eq(ft_read_file(path, &data, len), 0);
    return data;
}

static int
tcp_connect(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_ge(fd, 0);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

static void
send_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        ck_assert_int_gt(w, 0);
        s += w;
        n -= (size_t)w;
    }
}

#define send_str(fd, s) send_all(fd, s, strlen(s))

/* Read until EOF or timeout_ms of silence; returns bytes read. */
static size_t
recv_all(int fd, char *buf, size_t cap, int timeout_ms)
{
    size_t n = 0;

    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) <= 0)
            break;
        ssize_t r = recv(fd, buf + n, cap - n - 1, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n + 1 >= cap)
            break;
    }
    buf[n] = '\0';
    return n;
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
setup(void)
{
    char *data = malloc(file_size);
    unsigned x = 12345;

    tmpdir = ft_tmpdir_new("http");
    ck_assert_ptr_nonnull(tmpdir);
    for (size_t i = 0; i < file_size; i++) {
        x = x * 1103515245u + 12345u;
        data[i] = (char)(x >> 16);
    }
    snprintf(file_path, sizeof(file_path), "%s/data.bin", tmpdir);
    ck_assert_int_eq(ft_write_file(file_path, data, file_size), 0);
    free(data);
    atomic_store(&done_bytes, 0);
    atomic_store(&done_calls, 0);
    atomic_store(&done_complete, 0);
}

static void
teardown(void)
{
    tmpdir = ft_tmpdir_free(tmpdir);
}

START_TEST(test_get_mem_and_head)
{
    uint32_t id;
    int port;
    struct ferry_http_server *srv = start(NULL, 2, &id, &port);
    char *out;
    size_t len;

    ck_assert_int_eq(run("curl -s -D %s/h1 -o %s/b1 http://127.0.0.1:%d/mem", tmpdir, tmpdir,
                         port), 0);
    out = slurp("b1", &len);
    ck_assert_str_eq(out, "hello ferry\n");
    free(out);
    out = slurp("h1", &len);
    ck_assert_ptr_nonnull(strstr(out, "HTTP/1.1 200 OK\r\n"));
    ck_assert_ptr_nonnull(strstr(out, "X-Test: v=7\r\n"));
    ck_assert_ptr_nonnull(strstr(out, "Content-Length: 12\r\n"));
    ck_assert_ptr_nonnull(strstr(out, "Server: ferry\r\n"));
    ck_assert_ptr_nonnull(strstr(out, "Date: "));
    ck_assert_ptr_nonnull(strstr(out, " GMT\r\n"));
    free(out);

    /* HEAD of a file: length announced, no body */
    ck_assert_int_eq(run("curl -s -I -o %s/h2 http://127.0.0.1:%d/file", tmpdir, port), 0);
    out = slurp("h2", &len);
    char want[64];
    snprintf(want, sizeof(want), "Content-Length: %zu\r\n", file_size);
    ck_assert_ptr_nonnull(strstr(out, want));
    free(out);

    /* 404 and a handler that sets no status */
    ck_assert_int_eq(run("test \"$(curl -s -o /dev/null -w '%%{http_code}' "
                         "http://127.0.0.1:%d/missing)\" = 404", port), 0);
    ck_assert_int_eq(run("test \"$(curl -s -o /dev/null -w '%%{http_code}' "
                         "http://127.0.0.1:%d/nostatus)\" = 500", port), 0);
    atomic_store(&done_calls, 0);
    atomic_store(&done_complete, 0);
    ck_assert_int_eq(run("test \"$(curl -s -o /dev/null -w '%%{http_code}' "
                         "http://127.0.0.1:%d/headonly)\" = 500", port), 0);
    ck_assert_int_eq(atomic_load(&done_calls), 1);
    ck_assert_int_eq(atomic_load(&done_complete), 0);
    /* accessors */
    ck_assert_int_eq(run("curl -s -o %s/b3 'http://127.0.0.1:%d/info?a=b'", tmpdir, port), 0);
    out = slurp("b3", &len);
    char want3[128];
    snprintf(want3, sizeof(want3), "loopback=1 family=2 port=%d tls=0 q=a=b ua=yes nh=3", port);
    ck_assert_str_eq(out, want3);
    free(out);
    ferry_http_server_free(srv);
    ck_assert_int_eq(atomic_load(&done_complete), 1);
}
END_TEST

static void
file_bodies(const char *backend)
{
    uint32_t id;
    int port;
    struct ferry_http_server *srv = start(backend, 2, &id, &port);

    /* whole file, twice over one connection (keep-alive) */
    ck_assert_int_eq(run("curl -s -v -o %s/f1 http://127.0.0.1:%d/file -o %s/f2 "
                         "http://127.0.0.1:%d/file 2>%s/v.log",
                         tmpdir, port, tmpdir, port, tmpdir), 0);
    ck_assert_int_eq(run("cmp -s %s %s/f1", file_path, tmpdir), 0);
    ck_assert_int_eq(run("cmp -s %s %s/f2", file_path, tmpdir), 0);
    ck_assert_int_eq(run("grep -q 'Re-using existing connection' %s/v.log", tmpdir), 0);
    /* a range of the file */
    ck_assert_int_eq(run("curl -s -o %s/r1 http://127.0.0.1:%d/range", tmpdir, port), 0);
    ck_assert_int_eq(run("test \"$(tail -c +1001 %s | head -c 5000 | sha256sum)\" = "
                         "\"$(sha256sum < %s/r1)\"", file_path, tmpdir), 0);
    /* several parallel clients */
    ck_assert_int_eq(run("for i in 1 2 3 4; do curl -s -o %s/p$i http://127.0.0.1:%d/file & "
                         "done; wait; for i in 1 2 3 4; do cmp -s %s %s/p$i || exit 1; done",
                         tmpdir, port, file_path, tmpdir), 0);
    ferry_http_server_free(srv);
    ck_assert_int_eq(atomic_load(&done_complete), 7);
    ck_assert_uint_eq(atomic_load(&done_bytes), 6 * file_size + 5000);
}

/* Lent descriptors: released exactly once per response (small inline body, large
 * sendfile/splice body, HEAD), never closed by the core; bytes exact. */
static void
lent_bodies(const char *backend)
{
    uint32_t id;
    int port;
    struct ferry_http_server *srv;

    lent_fd = open(file_path, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(lent_fd, 0);
    atomic_store(&lent_releases, 0);
    srv = start(backend, 1, &id, &port);
    ck_assert_int_eq(run("curl -s -o %s/l1 http://127.0.0.1:%d/lent/small -o %s/l2 "
                         "http://127.0.0.1:%d/lent/big -o %s/l3 http://127.0.0.1:%d/lent/small",
                         tmpdir, port, tmpdir, port, tmpdir, port), 0);
    ck_assert_int_eq(run("test \"$(tail -c +4 %s | head -c 7000 | sha256sum)\" = "
                         "\"$(sha256sum < %s/l1)\"", file_path, tmpdir), 0);
    ck_assert_int_eq(run("cmp -s %s/l1 %s/l3", tmpdir, tmpdir), 0);
    ck_assert_int_eq(run("cmp -s %s %s/l2", file_path, tmpdir), 0);
    ck_assert_int_eq(run("curl -s -I -o /dev/null http://127.0.0.1:%d/lent/big", port), 0);
    /* a promise the file cannot keep, read into the head: 500, nothing half-sent */
    ck_assert_int_eq(run("test \"$(curl -s -o /dev/null -w '%%{http_code}' "
                         "http://127.0.0.1:%d/short)\" = 500", port), 0);
    ferry_http_server_free(srv);
    ck_assert_int_eq(atomic_load(&lent_releases), 4);
    ck_assert_int_ge(fcntl(lent_fd, F_GETFD), 0); /* still ours */
    ck_assert_uint_eq(atomic_load(&done_bytes), 2 * 7000 + file_size);
    close(lent_fd);
    lent_fd = -1;
}

/* The accepted socket carries send_lowat as TCP_NOTSENT_LOWAT: find the server's end of a
 * kept-alive connection among this process's descriptors (the server runs in-process). */
static int
count_sockets_with_lowat(int want)
{
    int n = 0;

    for (int fd = 3; fd < 1024; fd++) {
        int v = 0;
        socklen_t len = sizeof(v);
        if (getsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, &len) == 0 && v == want)
            n++;
    }
    return n;
}

START_TEST(test_send_lowat)
{
    uint32_t id;
    int port, fd;
    struct ferry_http_server *srv = start(NULL, 1, &id, &port);
    char buf[8192];

    ck_assert_int_eq(count_sockets_with_lowat(65536), 0);
    fd = tcp_connect(port);
    ck_assert_int_ge(fd, 0);
    send_str(fd, "GET /mem HTTP/1.1\r\nHost: x\r\n\r\n");
    ck_assert_uint_gt(recv_all(fd, buf, sizeof(buf), 300), 0);
    ck_assert_ptr_nonnull(strstr(buf, "hello ferry"));
    ck_assert_int_eq(count_sockets_with_lowat(65536), 1);
    close(fd);
    ferry_http_server_free(srv);
}
END_TEST

START_TEST(test_lent_sendfile)
{
    lent_bodies("sendfile");
}
END_TEST

START_TEST(test_lent_splice)
{
    lent_bodies("splice");
}
END_TEST

START_TEST(test_file_sendfile)
{
    file_bodies("sendfile");
}
END_TEST

START_TEST(test_file_splice)
{
    file_bodies("splice");
}
END_TEST

START_TEST(test_pipelining_raw)
{
    uint32_t id;
    int port;
    struct ferry_http_server *srv = start(NULL, 1, &id, &port);
    int fd = tcp_connect(port);
    static char buf[65536];
    const char *reqs = "GET /mem HTTP/1.1\r\nHost: x\r\n\r\n"
                       "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde"
                       "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "2\r\nxy\r\n1;ext=1\r\nz\r\n0\r\n\r\n"
                       "HEAD /mem HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET /range HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    size_t n;
    char *p;

    ck_assert_int_ge(fd, 0);
    send_all(fd, reqs, strlen(reqs));
    n = recv_all(fd, buf, sizeof(buf), 3000);
    /* in order: 200 mem, echo abcde, echo xyz, HEAD (no body), range 5000 bytes, then EOF */
    p = strstr(buf, "\r\n\r\nhello ferry\n");
    ck_assert_ptr_nonnull(p);
    p = strstr(p, "Content-Length: 5\r\n");
    ck_assert_ptr_nonnull(p);
    p = strstr(p, "\r\n\r\nabcde");
    ck_assert_ptr_nonnull(p);
    p = strstr(p, "Content-Length: 3\r\n");
    ck_assert_ptr_nonnull(p);
    p = strstr(p, "\r\n\r\nxyzHTTP/1.1 200 OK\r\n");
    ck_assert_ptr_nonnull(p);
    p = strstr(p, "Content-Length: 12\r\n");
    ck_assert_ptr_nonnull(p);
    p = strstr(p, "\r\n\r\nHTTP/1.1 200 OK\r\n"); /* HEAD: no body before the next head */
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(strstr(p, "Connection: close\r\n"));
    p = strstr(p + 4, "\r\n\r\n");
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(n - (size_t)(p + 4 - buf), 5000);
    close(fd);

    /* 200 tiny pipelined requests in one segment: all answered, in order */
    {
        static char many[200 * 40], resp_buf[200 * 400];
        size_t m = 0, got;
        int count = 0;
        for (int i = 0; i < 200; i++)
            m += (size_t)snprintf(many + m, sizeof(many) - m,
                                  "GET /mem?%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
        fd = tcp_connect(port);
        send_all(fd, many, m);
        got = recv_all(fd, resp_buf, sizeof(resp_buf), 1000);
        for (char *q = strstr(resp_buf, "hello ferry\n"); q; q = strstr(q + 1, "hello ferry\n"))
            count++;
        ck_assert_int_eq(count, 200);
        ck_assert_uint_gt(got, 200 * 100);
        close(fd);
    }

    /* Expect: 100-continue gets the interim response before the body is sent */
    fd = tcp_connect(port);
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                 "Expect: 100-continue\r\n\r\n");
    n = recv_all(fd, buf, sizeof(buf), 500);
    ck_assert_str_eq(buf, "HTTP/1.1 100 Continue\r\n\r\n");
    send_str(fd, "abcd");
    n = recv_all(fd, buf, sizeof(buf), 500);
    ck_assert_ptr_nonnull(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    ck_assert_ptr_nonnull(strstr(buf, "\r\n\r\nabcd"));
    close(fd);

    /* HTTP/1.0: closes by default, keeps alive when asked */
    fd = tcp_connect(port);
    send_str(fd, "GET /mem HTTP/1.0\r\n\r\n");
    n = recv_all(fd, buf, sizeof(buf), 3000);
    ck_assert_ptr_nonnull(strstr(buf, "Connection: close\r\n"));
    close(fd);
    fd = tcp_connect(port);
    send_str(fd, "GET /mem HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    n = recv_all(fd, buf, sizeof(buf), 300);
    ck_assert_ptr_nonnull(strstr(buf, "Connection: keep-alive\r\n"));
    send_str(fd, "GET /mem HTTP/1.0\r\n\r\n");
    n = recv_all(fd, buf, sizeof(buf), 3000);
    ck_assert_ptr_nonnull(strstr(buf, "hello ferry"));
    close(fd);
    (void)n;
    ferry_http_server_free(srv);
}
END_TEST

/* Send a raw request, return the status of the response and whether the server closed. */
static int
raw_status_n(int port, const char *req, size_t len, bool *closed)
{
    static char buf[16384];
    int fd = tcp_connect(port), status = -1;

    ck_assert_int_ge(fd, 0);
    send_all(fd, req, len);
    recv_all(fd, buf, sizeof(buf), 3000);
    if (strncmp(buf, "HTTP/1.1 ", 9) == 0)
        status = (int)strtol(buf + 9, NULL, 10);
    if (closed) {
        char c;
        *closed = recv(fd, &c, 1, MSG_DONTWAIT) == 0;
    }
    close(fd);
    return status;
}

static int
raw_status(int port, const char *req, bool *closed)
{
    return raw_status_n(port, req, strlen(req), closed);
}

START_TEST(test_refusals)
{
    uint32_t id;
    int port;
    struct ferry_http_server *srv = start(NULL, 1, &id, &port);
    char big[8192];
    bool closed;
    size_t n;

    ck_assert_int_eq(raw_status(port, "GET / HTTP/1.1\r\n\r\n", &closed), 400);
    ck_assert(closed);
    ck_assert_int_eq(raw_status(port, "GET /a%2fb HTTP/1.1\r\nHost: x\r\n\r\n", NULL), 400);
    ck_assert_int_eq(raw_status(port, "GET /../x HTTP/1.1\r\nHost: x\r\n\r\n", NULL), 400);
    ck_assert_int_eq(raw_status(port, "GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n", NULL),
                     400);
    /* 431: header block over 2048 bytes */
    n = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(big + n, 'a', 3000);
    n += 3000;
    n += (size_t)snprintf(big + n, sizeof(big) - n, "\r\n\r\n");
    ck_assert_int_eq(raw_status_n(port, big, n, &closed), 431);
    ck_assert(closed);
    /* 413: body above the listener's 4096 */
    ck_assert_int_eq(raw_status(port, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000"
                                      "\r\n\r\n", NULL), 413);
    ck_assert_int_eq(raw_status(port, "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                                      "Transfer-Encoding: chunked\r\n\r\n", NULL), 400);
    /* curl sees 413 for a big upload too */
    ck_assert_int_eq(run("head -c 10000 /dev/zero > %s/up && test \"$(curl -s -o /dev/null -w "
                         "'%%{http_code}' --data-binary @%s/up http://127.0.0.1:%d/echo)\" = 413",
                         tmpdir, tmpdir, port), 0);
    /* and a small upload is echoed (Expect-less) */
    ck_assert_int_eq(run("test \"$(curl -s --data-binary 'a=1&b=2' "
                         "http://127.0.0.1:%d/echo)\" = 'a=1&b=2'", port), 0);
    /* a 204 that closes */
    ck_assert_int_eq(raw_status(port, "GET /close HTTP/1.1\r\nHost: x\r\n\r\n", &closed),
                     204);
    ck_assert(closed);
    ferry_http_server_free(srv);
}
END_TEST

START_TEST(test_slowloris_and_idle)
{
    uint32_t id;
    int port;
    struct ferry_http_server *srv = start(NULL, 1, &id, &port);
    int slow = tcp_connect(port), silent = tcp_connect(port), idle;
    char buf[4096];
    double t0 = now_s(), t;

    /* a head dribbled byte by byte never completes: closed after the 1 s header timeout */
    send_str(slow, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 30; i++) {
        if (send(slow, "X", 1, MSG_NOSIGNAL) < 0)
            break;
        struct pollfd p = {.fd = slow, .events = POLLIN};
        if (poll(&p, 1, 100) > 0)
            break;
    }
    ck_assert_uint_eq(recv_all(slow, buf, sizeof(buf), 3000), 0);
    t = now_s() - t0;
    ck_assert(t >= 0.9 && t < 2.5);
    /* a connection that sends nothing is closed by the same timeout */
    ck_assert_uint_eq(recv_all(silent, buf, sizeof(buf), 3000), 0);
    close(slow);
    close(silent);

    /* keep-alive idle: after a response, closed after the 3 s idle timeout, not before the
     * 1 s header timeout would have */
    idle = tcp_connect(port);
    send_str(idle, "GET /mem HTTP/1.1\r\nHost: x\r\n\r\n");
    recv_all(idle, buf, sizeof(buf), 200);
    ck_assert_ptr_nonnull(strstr(buf, "hello ferry"));
    t0 = now_s();
    recv_all(idle, buf, sizeof(buf), 6000);
    t = now_s() - t0;
    ck_assert(t >= 2.5 && t < 4.5);
    close(idle);
    ferry_http_server_free(srv);
}
END_TEST

START_TEST(test_many_idle_connections)
{
    uint32_t id;
    int port;
    struct ferry_http_server *srv = start(NULL, 2, &id, &port);
    static int fds[500];
    struct rlimit rl;
    char *out;
    size_t len;

    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 2000 && rl.rlim_max >= 2000) {
        rl.rlim_cur = 2000;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    for (int i = 0; i < 500; i++) {
        fds[i] = tcp_connect(port);
        ck_assert_int_ge(fds[i], 0);
        send_all(fds[i], "GET", 3);
    }
    ck_assert_int_eq(run("curl -s -o %s/m http://127.0.0.1:%d/mem", tmpdir, port), 0);
    out = slurp("m", &len);
    ck_assert_str_eq(out, "hello ferry\n");
    free(out);
    for (int i = 0; i < 500; i++)
        close(fds[i]);
    ferry_http_server_free(srv);
}
END_TEST

START_TEST(test_max_connections_and_unlisten)
{
    uint32_t id;
    int port;
    struct ferry_http_server *srv;
    struct ferry_http_listen_opts o = {.addr = "127.0.0.1:0", .handler = handler};
    int a, b, c;
    char buf[256];

    memset(&cfg, 0, sizeof(cfg));
    cfg.http_header_timeout = 5;
    cfg.http_max_connections = 2;
    ck_assert_int_eq(ferry_http_server_new(&cfg, "t", 1, &srv), 0);
    ck_assert_int_eq(ferry_http_server_listen(srv, &o, &id), 0);
    port = ferry_http_server_port(srv, id);
    a = tcp_connect(port);
    b = tcp_connect(port);
    usleep(100000);
    c = tcp_connect(port);
    ck_assert_int_ge(c, 0);
    /* the third is closed at once, the first two stay */
    ck_assert_uint_eq(recv_all(c, buf, sizeof(buf), 2000), 0);
    send_str(a, "GET /mem HTTP/1.1\r\nHost: x\r\n\r\n");
    recv_all(a, buf, sizeof(buf), 300);
    ck_assert_ptr_nonnull(strstr(buf, "hello ferry"));
    close(c);

    /* a second listener, bad addresses, unknown ids */
    uint32_t id2;
    struct ferry_http_listen_opts o2 = {.addr = "[::1]:0", .handler = handler};
    struct ferry_http_listen_opts bad = {.addr = "127.0.0.1", .handler = handler};
    ck_assert_int_eq(ferry_http_server_listen(srv, &bad, &id2), -EINVAL);
    bad.addr = "127.0.0.1:99999";
    ck_assert_int_eq(ferry_http_server_listen(srv, &bad, &id2), -EINVAL);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    o.addr = addr;
    ck_assert_int_eq(ferry_http_server_unlisten(srv, 999), -ENOENT);
    ck_assert_int_eq(ferry_http_server_port(srv, 999), -ENOENT);
    if (ferry_http_server_listen(srv, &o2, &id2) == 0) {
        ck_assert_uint_ne(id2, id);
        ck_assert_int_eq(ferry_http_server_unlisten(srv, id2), 0);
    }

    /* a port already listened on is refused, by this server or by another socket */
    ck_assert_int_eq(ferry_http_server_listen(srv, &o, &id2), -EADDRINUSE);
    {
        struct sockaddr_in sa = {.sin_family = AF_INET};
        socklen_t sl = sizeof(sa);
        int foreign = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
        char faddr[64];
        struct ferry_http_listen_opts of = {.addr = faddr, .handler = handler};
        setsockopt(foreign, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ck_assert_int_eq(bind(foreign, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(listen(foreign, 4), 0);
        getsockname(foreign, (struct sockaddr *)&sa, &sl);
        snprintf(faddr, sizeof(faddr), "127.0.0.1:%d", ntohs(sa.sin_port));
        ck_assert_int_eq(ferry_http_server_listen(srv, &of, &id2), -EADDRINUSE);
        close(foreign);
    }

    /* unlisten: the port refuses new connections, open ones are still served */
    ck_assert_int_eq(ferry_http_server_unlisten(srv, id), 0);
    ck_assert_int_eq(tcp_connect(port), -ECONNREFUSED);
    send_str(b, "GET /mem HTTP/1.1\r\nHost: x\r\n\r\n");
    recv_all(b, buf, sizeof(buf), 300);
    ck_assert_ptr_nonnull(strstr(buf, "hello ferry"));
    /* and the same port can be listened on again */
    ck_assert_int_eq(ferry_http_server_listen(srv, &o, &id2), 0);
    ck_assert_int_eq(ferry_http_server_port(srv, id2), port);
    close(a);
    close(b);
    ferry_http_server_free(srv);
}
END_TEST

static void
rate_limited(const char *backend)
{
    uint32_t id;
    int port;
    struct ferry_http_server *srv = start(backend, 2, &id, &port);
    double t0, t;

    test_rate = ferry_rate_new(1024 * 1024);
    t0 = now_s();
    ck_assert_int_eq(run("curl -s -o %s/rl http://127.0.0.1:%d/rate", tmpdir, port), 0);
    t = now_s() - t0;
    ck_assert_int_eq(run("test \"$(head -c 614400 %s | sha256sum)\" = \"$(sha256sum < %s/rl)\"",
                         file_path, tmpdir), 0);
    /* 600 KiB at 1 MiB/s minus a 100 ms burst: about 0.5 s */
    ck_assert_msg(t >= 0.4 && t < 1.5, "took %.3f s", t);
    /* two at once share the bucket: about 1.1 s for both */
    t0 = now_s();
    ck_assert_int_eq(run("curl -s -o %s/ra http://127.0.0.1:%d/rate & curl -s -o %s/rb "
                         "http://127.0.0.1:%d/rate; wait", tmpdir, port, tmpdir, port), 0);
    t = now_s() - t0;
    ck_assert_msg(t >= 0.9 && t < 2.5, "took %.3f s", t);
    ck_assert_int_eq(run("cmp -s %s/ra %s/rl && cmp -s %s/rb %s/rl", tmpdir, tmpdir, tmpdir,
                         tmpdir), 0);
    ferry_http_server_free(srv);
    test_rate = ferry_rate_unref(test_rate);
}

START_TEST(test_rate_sendfile)
{
    rate_limited("sendfile");
}
END_TEST

START_TEST(test_rate_splice)
{
    rate_limited("splice");
}
END_TEST

/* Self-signed certificate for 127.0.0.1 as DIR/NAME.pem + DIR/NAME.key. */
static void
make_cert(const char *name, const char *cn)
{
    ck_assert_int_eq(run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
                         "-nodes -days 2 -subj /CN=%s -addext subjectAltName=IP:127.0.0.1 "
                         "-keyout %s/%s.key -out %s/%s.pem >/dev/null 2>&1",
                         cn, tmpdir, name, tmpdir, name), 0);
}

/* Lowercase hex fingerprint of DIR/NAME.pem as openssl computes it. */
static void
fingerprint(const char *name, const char *md, char *out, size_t outlen)
{
    char path[600], *data = NULL, *p;
    size_t len, o = 0;

    ck_assert_int_eq(run("openssl x509 -in %s/%s.pem -noout -fingerprint -%s > %s/%s.fp", tmpdir,
                         name, md, tmpdir, name), 0);
    snprintf(path, sizeof(path), "%s/%s.fp", tmpdir, name);
    ck_assert_int_eq(ft_read_file(path, &data, &len), 0);
    p = strchr(data, '=');
    ck_assert_ptr_nonnull(p);
    for (p++; *p && *p != '\n' && o + 1 < outlen; p++)
        if (*p != ':')
            out[o++] = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
    out[o] = '\0';
    free(data);
}

START_TEST(test_tls)
{
    struct ferry_http_server *srv = NULL;
    struct ferry_tls_ctx *tls = NULL, *tls2 = NULL;
    char cert[600], key[600], log_path[600], want[200], fp256[80], fp1[80];
    struct ferry_http_listen_opts o = {.addr = "127.0.0.1:0", .handler = handler};
    uint32_t id;
    int port, saved_err, logfd;
    char *out;
    size_t len;

    make_cert("srv", "ferry-one");
    make_cert("srv2", "ferry-two");
    make_cert("cli", "client-one");
    snprintf(cert, sizeof(cert), "%s/srv.pem", tmpdir);
    snprintf(key, sizeof(key), "%s/srv.key", tmpdir);
    ck_assert_int_eq(ferry_tls_ctx_new(cert, key, NULL, &tls), 0);
    ck_assert_int_eq(ferry_tls_ctx_new(cert, "/nonexistent.key", NULL, &tls2), -ENOENT);
    snprintf(key, sizeof(key), "%s/srv2.key", tmpdir);
    ck_assert_int_eq(ferry_tls_ctx_new(cert, key, NULL, &tls2), -EINVAL); /* mismatched */
    tls2 = NULL;

    /* capture the engine's log to check the one-time send path line */
    snprintf(log_path, sizeof(log_path), "%s/log", tmpdir);
    logfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    saved_err = dup(STDERR_FILENO);
    dup2(logfd, STDERR_FILENO);

    memset(&cfg, 0, sizeof(cfg));
    cfg.http_header_timeout = 5;
    ck_assert_int_eq(ferry_http_server_new(&cfg, "tls", 2, &srv), 0);
    o.tls = tls;
    ck_assert_int_eq(ferry_http_server_listen(srv, &o, &id), 0);
    port = ferry_http_server_port(srv, id);

    /* file body byte-exact (twice: keep-alive over TLS), memory body, accessors */
    ck_assert_int_eq(run("curl -s --cacert %s/srv.pem -o %s/t1 https://127.0.0.1:%d/file -o "
                         "%s/t2 https://127.0.0.1:%d/file", tmpdir, tmpdir, port, tmpdir, port), 0);
    ck_assert_int_eq(run("cmp -s %s %s/t1 && cmp -s %s %s/t2", file_path, tmpdir, file_path,
                         tmpdir), 0);
    ck_assert_int_eq(run("curl -s --cacert %s/srv.pem -o %s/t3 https://127.0.0.1:%d/info",
                         tmpdir, tmpdir, port), 0);
    out = slurp("t3", &len);
    ck_assert_ptr_nonnull(strstr(out, " tls=1 "));
    free(out);
    /* TLS 1.2 too, and a range */
    ck_assert_int_eq(run("curl -s --tlsv1.2 --tls-max 1.2 --cacert %s/srv.pem -o %s/t4 "
                         "https://127.0.0.1:%d/range", tmpdir, tmpdir, port), 0);
    ck_assert_int_eq(run("test \"$(tail -c +1001 %s | head -c 5000 | sha256sum)\" = "
                         "\"$(sha256sum < %s/t4)\"", file_path, tmpdir), 0);

    /* no client certificate: none; a self-signed one: its fingerprints */
    ck_assert_int_eq(run("curl -s --cacert %s/srv.pem -o %s/c0 https://127.0.0.1:%d/cert",
                         tmpdir, tmpdir, port), 0);
    out = slurp("c0", &len);
    ck_assert_str_eq(out, "sha256=none sha1=none");
    free(out);
    ck_assert_int_eq(run("curl -s --cacert %s/srv.pem --cert %s/cli.pem --key %s/cli.key -o "
                         "%s/c1 https://127.0.0.1:%d/cert", tmpdir, tmpdir, tmpdir, tmpdir, port),
                     0);
    fingerprint("cli", "sha256", fp256, sizeof(fp256));
    fingerprint("cli", "sha1", fp1, sizeof(fp1));
    snprintf(want, sizeof(want), "sha256=%s sha1=%s", fp256, fp1);
    out = slurp("c1", &len);
    ck_assert_str_eq(out, want);
    free(out);

    /* a client leaving mid-body (curl killed by head's EPIPE), then garbage instead of a
     * handshake: the worker survives both and serves on */
    atomic_store(&done_calls, 0);
    atomic_store(&done_complete, 0);
    run("curl -s --cacert %s/srv.pem https://127.0.0.1:%d/big | head -c 1000 >/dev/null",
        tmpdir, port);
    for (int i = 0; i < 300 && atomic_load(&done_calls) == 0; i++)
        usleep(10000);
    ck_assert_int_eq(atomic_load(&done_calls), 1);
    ck_assert_int_eq(atomic_load(&done_complete), 0);
    {
        int g = tcp_connect(port);
        char junk[256];
        send_str(g, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        recv_all(g, junk, sizeof(junk), 2000);
        close(g);
    }
    ck_assert_int_eq(run("curl -s --cacert %s/srv.pem -o %s/t6 https://127.0.0.1:%d/mem",
                         tmpdir, tmpdir, port), 0);
    out = slurp("t6", &len);
    ck_assert_str_eq(out, "hello ferry\n");
    free(out);

    /* plain http on the TLS port fails; swapping the context changes the certificate */
    ck_assert_int_ne(run("curl -s -m 5 -o /dev/null http://127.0.0.1:%d/mem", port), 0);
    snprintf(cert, sizeof(cert), "%s/srv2.pem", tmpdir);
    ck_assert_int_eq(ferry_tls_ctx_new(cert, key, NULL, &tls2), 0);
    ck_assert_int_eq(ferry_http_server_set_tls(srv, id, tls2), 0);
    ck_assert_int_eq(ferry_http_server_set_tls(srv, 999, tls2), -ENOENT);
    ck_assert_int_ne(run("curl -s --cacert %s/srv.pem -o /dev/null https://127.0.0.1:%d/mem",
                         tmpdir, port), 0);
    ck_assert_int_eq(run("curl -s --cacert %s/srv2.pem -o %s/t5 https://127.0.0.1:%d/mem",
                         tmpdir, tmpdir, port), 0);
    out = slurp("t5", &len);
    ck_assert_str_eq(out, "hello ferry\n");
    free(out);

    ferry_http_server_free(srv);
    ferry_tls_ctx_unref(tls);
    ferry_tls_ctx_unref(tls2);
    dup2(saved_err, STDERR_FILENO);
    close(saved_err);
    close(logfd);
    out = slurp("log", &len);
    if (ferry_tls_kernel_has_ktls())
        ck_assert_ptr_nonnull(strstr(out, "TLS send path: kTLS (SSL_sendfile)"));
    else
        ck_assert_ptr_nonnull(strstr(out, "TLS send path: userspace TLS (kernel has no kTLS: "
                                          "TCP_ULP tls ENOENT)"));
    ck_assert_ptr_null(strstr(strstr(out, "TLS send path:") + 1, "TLS send path:"));
    free(out);
}
END_TEST

START_TEST(test_tls_client_ca)
{
    struct ferry_http_server *srv = NULL;
    struct ferry_tls_ctx *tls = NULL;
    char cert[600], key[600], ca[600], want[200], fp256[80], fp1[80];
    struct ferry_http_listen_opts o = {.addr = "127.0.0.1:0", .handler = handler};
    uint32_t id;
    int port;
    char *out;
    size_t len;

    make_cert("srv", "ferry-one");
    make_cert("ca", "ferry-test-ca");
    make_cert("rogue", "rogue");
    /* a client certificate signed by the CA */
    ck_assert_int_eq(run("cd %s && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                         "-subj /CN=client -keyout cli.key -out cli.csr >/dev/null 2>&1 && "
                         "openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
                         "-days 2 -out cli.pem >/dev/null 2>&1", tmpdir), 0);
    snprintf(cert, sizeof(cert), "%s/srv.pem", tmpdir);
    snprintf(key, sizeof(key), "%s/srv.key", tmpdir);
    snprintf(ca, sizeof(ca), "%s/ca.pem", tmpdir);
    ck_assert_int_eq(ferry_tls_ctx_new(cert, key, ca, &tls), 0);
    memset(&cfg, 0, sizeof(cfg));
    ck_assert_int_eq(ferry_http_server_new(&cfg, "tls", 1, &srv), 0);
    o.tls = tls;
    ck_assert_int_eq(ferry_http_server_listen(srv, &o, &id), 0);
    ferry_tls_ctx_unref(tls); /* the listener holds its own reference */
    port = ferry_http_server_port(srv, id);

    ck_assert_int_eq(run("curl -s --cacert %s/srv.pem --cert %s/cli.pem --key %s/cli.key -o "
                         "%s/c1 https://127.0.0.1:%d/cert", tmpdir, tmpdir, tmpdir, tmpdir, port),
                     0);
    fingerprint("cli", "sha256", fp256, sizeof(fp256));
    fingerprint("cli", "sha1", fp1, sizeof(fp1));
    snprintf(want, sizeof(want), "sha256=%s sha1=%s", fp256, fp1);
    out = slurp("c1", &len);
    ck_assert_str_eq(out, want);
    free(out);
    /* optional: no certificate is fine */
    ck_assert_int_eq(run("curl -s --cacert %s/srv.pem -o %s/c0 https://127.0.0.1:%d/cert",
                         tmpdir, tmpdir, port), 0);
    out = slurp("c0", &len);
    ck_assert_str_eq(out, "sha256=none sha1=none");
    free(out);
    /* a certificate the CA did not sign is refused in the handshake */
    ck_assert_int_ne(run("curl -s --cacert %s/srv.pem --cert %s/rogue.pem --key %s/rogue.key "
                         "-o /dev/null https://127.0.0.1:%d/cert", tmpdir, tmpdir, tmpdir, port),
                     0);
    ferry_http_server_free(srv);
}
END_TEST

/* A client that vanishes mid-body: on_done(complete = false) with a partial count, and
 * the worker keeps serving. */
static void
client_disappears(const char *backend)
{
    uint32_t id;
    int port;
    struct ferry_http_server *srv = start(backend, 1, &id, &port);
    int fd = tcp_connect(port);
    char buf[8192];
    char *out;
    size_t len;

    send_str(fd, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    ck_assert_int_gt(recv(fd, buf, sizeof(buf), 0), 0);
    close(fd);
    for (int i = 0; i < 300 && atomic_load(&done_calls) == 0; i++)
        usleep(10000);
    ck_assert_int_eq(atomic_load(&done_calls), 1);
    ck_assert_int_eq(atomic_load(&done_complete), 0);
    ck_assert_uint_lt(atomic_load(&done_bytes), 256 << 20);
    ck_assert_int_eq(run("curl -s -o %s/after http://127.0.0.1:%d/mem", tmpdir, port), 0);
    out = slurp("after", &len);
    ck_assert_str_eq(out, "hello ferry\n");
    free(out);
    ferry_http_server_free(srv);
}

START_TEST(test_client_disappears_sendfile)
{
    client_disappears("sendfile");
}
END_TEST

START_TEST(test_client_disappears_splice)
{
    client_disappears("splice");
}
END_TEST

START_TEST(test_ipv6_loopback)
{
    struct ferry_http_server *srv = NULL;
    struct ferry_http_listen_opts o = {.addr = "[::1]:0", .handler = handler};
    uint32_t id;
    char *out;
    size_t len;
    int r;

    memset(&cfg, 0, sizeof(cfg));
    ck_assert_int_eq(ferry_http_server_new(&cfg, "v6", 1, &srv), 0);
    r = ferry_http_server_listen(srv, &o, &id);
    if (r == -EADDRNOTAVAIL || r == -EAFNOSUPPORT) {
        ferry_http_server_free(srv);
        return; /* no IPv6 loopback on this machine */
    }
    ck_assert_int_eq(r, 0);
    ck_assert_int_eq(run("curl -s -g -o %s/v6 'http://[::1]:%d/info'", tmpdir,
                         ferry_http_server_port(srv, id)), 0);
    out = slurp("v6", &len);
    ck_assert_ptr_nonnull(strstr(out, "loopback=1 family=10 "));
    free(out);
    ferry_http_server_free(srv);
}
END_TEST

/* Other real clients: wget (HTTP/1.1 keep-alive) and aria2c. */
START_TEST(test_wget_aria2c)
{
    uint32_t id;
    int port;
    struct ferry_http_server *srv = start(NULL, 2, &id, &port);

    if (run("wget --version >/dev/null 2>&1") == 0) {
        ck_assert_int_eq(run("wget -q -O %s/w1 http://127.0.0.1:%d/file", tmpdir, port), 0);
        ck_assert_int_eq(run("cmp -s %s %s/w1", file_path, tmpdir), 0);
    }
    if (run("aria2c --version >/dev/null 2>&1") == 0) {
        ck_assert_int_eq(run("aria2c -q --allow-overwrite=true -d %s -o a1 "
                             "http://127.0.0.1:%d/file", tmpdir, port), 0);
        ck_assert_int_eq(run("cmp -s %s %s/a1", file_path, tmpdir), 0);
    }
    ferry_http_server_free(srv);
}
END_TEST

/* unlisten never waits for a worker: not while a handler is blocked on a lock the caller
 * holds, not from a handler of the listener itself. */
START_TEST(test_unlisten_no_deadlock)
{
    uint32_t id;
    int port;
    struct ferry_http_server *srv = start(NULL, 1, &id, &port);
    char *out;
    size_t len;

    pthread_mutex_lock(&test_lock);
    ck_assert_int_eq(run("curl -s -o %s/lk http://127.0.0.1:%d/lock & echo $! > %s/pid", tmpdir,
                         port, tmpdir), 0);
    usleep(300000); /* the only worker is now inside the handler, waiting for test_lock */
    ck_assert_int_eq(ferry_http_server_unlisten(srv, id), 0);
    ck_assert_int_eq(tcp_connect(port), -ECONNREFUSED);
    pthread_mutex_unlock(&test_lock);
    ck_assert_int_eq(run("while kill -0 $(cat %s/pid) 2>/dev/null; do sleep 0.05; done", tmpdir),
                     0);
    out = slurp("lk", &len);
    ck_assert_str_eq(out, "unlocked\n");
    free(out);

    /* from a handler: the listener closes, the response still arrives */
    struct ferry_http_listen_opts o = {.addr = "127.0.0.1:0", .handler = handler};
    ck_assert_int_eq(ferry_http_server_listen(srv, &o, &test_id), 0);
    test_srv = srv;
    port = ferry_http_server_port(srv, test_id);
    ck_assert_int_eq(run("test \"$(curl -s -o /dev/null -w '%%{http_code}' "
                         "http://127.0.0.1:%d/unlisten)\" = 200", port), 0);
    usleep(100000);
    ck_assert_int_eq(tcp_connect(port), -ECONNREFUSED);
    ck_assert_int_eq(ferry_http_server_port(srv, test_id), -ENOENT);
    ferry_http_server_free(srv);
}
END_TEST

START_TEST(test_bad_backend)
{
    struct ferry_http_server *srv = NULL;

    memset(&cfg, 0, sizeof(cfg));
    cfg.send_backend = "carrier-pigeon";
    ck_assert_int_eq(ferry_http_server_new(&cfg, "t", 1, &srv), -EINVAL);
    ck_assert_ptr_null(ferry_http_server_free(NULL));
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("http_server");
    TCase *tc = tcase_create("server");
    SRunner *sr;
    int failed;

    if (system("curl --version >/dev/null 2>&1") != 0)
        ft_skip("curl is not installed");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_get_mem_and_head);
    tcase_add_test(tc, test_file_sendfile);
    tcase_add_test(tc, test_file_splice);
    tcase_add_test(tc, test_lent_sendfile);
    tcase_add_test(tc, test_send_lowat);
    tcase_add_test(tc, test_lent_splice);
    tcase_add_test(tc, test_pipelining_raw);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_slowloris_and_idle);
    tcase_add_test(tc, test_many_idle_connections);
    tcase_add_test(tc, test_max_connections_and_unlisten);
    tcase_add_test(tc, test_rate_sendfile);
    tcase_add_test(tc, test_rate_splice);
    tcase_add_test(tc, test_tls);
    tcase_add_test(tc, test_tls_client_ca);
    tcase_add_test(tc, test_client_disappears_sendfile);
    tcase_add_test(tc, test_client_disappears_splice);
    tcase_add_test(tc, test_ipv6_loopback);
    tcase_add_test(tc, test_wget_aria2c);
    tcase_add_test(tc, test_unlisten_no_deadlock);
    tcase_add_test(tc, test_bad_backend);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
