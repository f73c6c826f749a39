/*
 * tests/engine/client/client-test.c - see client-test.h.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "client-test.h"
#include "ferry-test.h"
#include "ferry/log.h"

void
ct_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int
ct_free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static bool
ct_port_open(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static int
ct_nginx_write_conf(struct ct_nginx *n)
{
    char *path = NULL;
    FILE *f;

    if (asprintf(&path, "%s/nginx.conf", n->dir) < 0)
        return -ENOMEM;
    f = fopen(path, "w");
    free(path);
    if (!f)
        return -errno;
    fprintf(f,
            "daemon off;\nmaster_process off;\nworker_processes 1;\n"
            "pid %1$s/nginx.pid;\nerror_log %1$s/error.log warn;\n"
            "events { worker_connections 256; }\n"
            "http {\n"
            "  log_format sent '$request $status \"$http_range\" $bytes_sent';\n"
            "  access_log %1$s/access.log sent;\n"
            "  client_body_temp_path %1$s/body;\n  proxy_temp_path %1$s/proxy;\n"
            "  fastcgi_temp_path %1$s/fastcgi;\n  uwsgi_temp_path %1$s/uwsgi;\n"
            "  scgi_temp_path %1$s/scgi;\n"
            "  types { application/octet-stream bin; application/metalink4+xml meta4; }\n"
            "  default_type application/octet-stream;\n"
            "  keepalive_requests 100000;\n"
            "  server {\n    listen 127.0.0.1:%2$d;\n    root %3$s;\n    sendfile on;\n"
            "    %4$s\n  }\n}\n",
            n->dir, n->port, n->root, n->extra ? n->extra : "");
    fclose(f);
    return 0;
}

static int
ct_nginx_spawn(struct ct_nginx *n)
{
    char *conf = NULL;
    pid_t pid;

    if (asprintf(&conf, "%s/nginx.conf", n->dir) < 0)
        return -ENOMEM;
    pid = fork();
    if (pid < 0) {
        free(conf);
        return -errno;
    }
    if (pid == 0) {
        char *errlog = NULL;
        int fd;
        if (asprintf(&errlog, "%s/stderr.log", n->dir) >= 0) {
            fd = open(errlog, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2(fd, 2);
                dup2(fd, 1);
            }
        }
        execlp("nginx", "nginx", "-p", n->dir, "-c", conf, (char *)NULL);
        _exit(127);
    }
    free(conf);
    n->pid = pid;
    for (int i = 0; i < 500; i++) {
        int status;
        if (ct_port_open(n->port))
            return 0;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            n->pid = 0;
            return -ECHILD;
        }
        ct_sleep_ms(10);
    }
    return -ETIMEDOUT;
}

int
ct_nginx_start(struct ct_nginx *n, const char *dir, const char *root, const char *extra)
{
    int r;

    if (getenv("FERRY_TEST_DEBUG"))
        ferry_log_set_level(FERRY_LOG_DEBUG);
    if (access("/usr/sbin/nginx", X_OK) != 0)
        ft_skip("nginx is not installed (Debian package nginx-light)");
    memset(n, 0, sizeof(*n));
    n->dir = strdup(dir);
    n->root = (char *)root;
    n->extra = extra ? strdup(extra) : NULL;
    mkdir(dir, 0755);
    for (int attempt = 0; attempt < 5; attempt++) {
        n->port = ct_free_port();
        if (n->port <= 0)
            return -EADDRNOTAVAIL;
        r = ct_nginx_write_conf(n);
        if (r < 0)
            return r;
        r = ct_nginx_spawn(n);
        if (r == 0) {
            snprintf(n->url, sizeof(n->url), "http://127.0.0.1:%d", n->port);
            return 0;
        }
    }
    return r;
}

int
ct_nginx_restart(struct ct_nginx *n)
{
    return ct_nginx_spawn(n);
}

void
ct_nginx_stop(struct ct_nginx *n)
{
    int status;

    if (n->pid <= 0)
        return;
    kill(n->pid, SIGKILL);
    waitpid(n->pid, &status, 0);
    n->pid = 0;
}

void
ct_nginx_done(struct ct_nginx *n)
{
    ct_nginx_stop(n);
    free(n->dir);
    free(n->extra);
    memset(n, 0, sizeof(*n));
}

uint64_t
ct_nginx_bytes_sent(struct ct_nginx *n)
{
    char *path = NULL, line[4096];
    uint64_t sum = 0;
    FILE *f;

    if (asprintf(&path, "%s/access.log", n->dir) < 0)
        return 0;
    f = fopen(path, "r");
    free(path);
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f)) {
        char *sp = strrchr(line, ' ');
        if (sp)
            sum += strtoull(sp + 1, NULL, 10);
    }
    fclose(f);
    return sum;
}

unsigned
ct_nginx_count(struct ct_nginx *n, const char *needle)
{
    char *path = NULL, line[4096];
    unsigned count = 0;
    FILE *f;

    if (asprintf(&path, "%s/access.log", n->dir) < 0)
        return 0;
    f = fopen(path, "r");
    free(path);
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (strstr(line, needle))
            count++;
    fclose(f);
    return count;
}

int
ct_random_file(const char *path, uint64_t size, uint64_t seed)
{
    uint64_t *buf = malloc(1 << 20);
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int r = 0;

    if (fd < 0 || !buf) {
        free(buf);
        if (fd >= 0)
            close(fd);
        return -errno;
    }
    while (size > 0) {
        size_t n = size < (1 << 20) ? (size_t)size : (1 << 20);
        for (size_t i = 0; i < (1 << 20) / 8; i++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            buf[i] = s;
        }
        if (write(fd, buf, n) != (ssize_t)n) {
            r = -EIO;
            break;
        }
        size -= n;
    }
    free(buf);
    close(fd);
    return r;
}

int
ct_file_digest(const char *path, uint8_t ret[16])
{
    XXH3_state_t *s = XXH3_createState();
    uint8_t *buf = malloc(1 << 20);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    XXH128_canonical_t c;
    ssize_t n;

    if (fd < 0 || !s || !buf) {
        free(buf);
        XXH3_freeState(s);
        if (fd >= 0)
            close(fd);
        return -ENOENT;
    }
    XXH3_128bits_reset(s);
    while ((n = read(fd, buf, 1 << 20)) > 0)
        XXH3_128bits_update(s, buf, (size_t)n);
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(s));
    memcpy(ret, c.digest, 16);
    close(fd);
    free(buf);
    XXH3_freeState(s);
    return 0;
}

bool
ct_files_equal(const char *a, const char *b)
{
    uint8_t da[16], db[16];

    if (ct_file_digest(a, da) < 0 || ct_file_digest(b, db) < 0)
        return false;
    return memcmp(da, db, 16) == 0;
}

struct ferry_config *
ct_config_new(const char *state_dir, const char *download_root)
{
    struct ferry_config *c = calloc(1, sizeof(*c));

    c->state_dir = strdup(state_dir);
    c->download_roots.v = calloc(2, sizeof(char *));
    c->download_roots.v[0] = strdup(download_root);
    c->download_roots.n = 1;
    c->max_jobs = 300;
    c->max_files_per_job = 1000;
    c->max_ranges_per_file = 500;
    c->connections_per_file = 4;
    c->fetch_threads = 1;        /* as ferryd's default (FERRY_FETCH_PATH=curl: libcurl) */
    c->fetch_chunk_size = 4u << 20;
    c->progress_interval_ms = 1000;
    c->max_active_jobs = 4;
    c->retry_delay_min = 5;
    c->connect_timeout = 30;
    c->stall_timeout = 60;
    return c;
}

void
ct_config_free(struct ferry_config *c)
{
    if (!c)
        return;
    free(c->state_dir);
    for (size_t i = 0; i < c->download_roots.n; i++)
        free(c->download_roots.v[i]);
    free(c->download_roots.v);
    free(c->cert_store_dir);
    free(c);
}

enum ferry_job_state
ct_job_state(struct ferry_jobs *jobs, const char *id)
{
    struct ferry_job_info *info = NULL;
    enum ferry_job_state s;

    ck_assert_int_eq(ferry_jobs_get(jobs, id, &info, NULL), 0);
    s = info->state;
    ferry_job_info_free(info);
    return s;
}

uint64_t
ct_job_bytes(struct ferry_jobs *jobs, const char *id)
{
    struct ferry_job_info *info = NULL;
    uint64_t b;

    ck_assert_int_eq(ferry_jobs_get(jobs, id, &info, NULL), 0);
    b = info->bytes_transferred;
    ferry_job_info_free(info);
    return b;
}

enum ferry_job_state
ct_wait_state(struct ferry_jobs *jobs, const char *id, enum ferry_job_state state,
              int timeout_ms)
{
    enum ferry_job_state s = ct_job_state(jobs, id);

    for (int t = 0; t < timeout_ms && s != state; t += 20) {
        if (s == FERRY_JOB_ERROR && state != FERRY_JOB_ERROR)
            break;
        if ((s == FERRY_JOB_ACKNOWLEDGED || s == FERRY_JOB_CANCELLED) && s != state)
            break;
        ct_sleep_ms(20);
        s = ct_job_state(jobs, id);
    }
    return s;
}

uint64_t
ct_wait_bytes(struct ferry_jobs *jobs, const char *id, uint64_t bytes, int timeout_ms)
{
    uint64_t b = ct_job_bytes(jobs, id);

    for (int t = 0; t < timeout_ms && b < bytes; t += 10) {
        ct_sleep_ms(10);
        b = ct_job_bytes(jobs, id);
    }
    return b;
}

void
ct_create(struct ferry_jobs *jobs, const char *url, const char *local, bool suspend,
          char id[FERRY_GUID_STRLEN])
{
    struct ferry_job_create req = {
        .display_name = "test job",
        .remote_url = url,
        .local_file = local,
        .suspend = suspend,
        .owner = "tester",
    };
    struct ferry_status st;
    int r = ferry_jobs_create(jobs, &req, id, &st);

    ck_assert_msg(r == 0, "create(%s -> %s) failed: %d %s", url, local, r, st.text);
}

/*
 * tests/tools/faultproxy.py on a free port in front of 127.0.0.1:target_port with one fault
 * armed; its port file in dir. Returns its pid (SKIP without python3 or the tool).
 */
pid_t
ct_faultproxy_start(int target_port, const char *dir, const char *fault, int *ret_port)
{
    const char *srcdir = getenv("FERRY_SRC");
    char tool[600], target[64], pfile[600];
    pid_t pid;

    if (!srcdir || access("/usr/bin/python3", X_OK) != 0)
        ft_skip("python3 or FERRY_SRC missing for faultproxy");
    snprintf(tool, sizeof(tool), "%s/tests/tools/faultproxy.py", srcdir);
    if (access(tool, R_OK) != 0)
        ft_skip("%s missing", tool);
    snprintf(target, sizeof(target), "127.0.0.1:%d", target_port);
    snprintf(pfile, sizeof(pfile), "%s/proxy.port", dir);
    unlink(pfile);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0)
            dup2(fd, 1);
        execl("/usr/bin/python3", "python3", tool, "serve", "--target", target, "--port-file",
              pfile, "--fault", fault, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        char *txt = NULL;
        size_t len = 0;
        if (ft_read_file(pfile, &txt, &len) == 0) {
            char *p = strstr(txt, "proxy ");
            if (p && strstr(txt, "control ")) {
                *ret_port = (int)strtol(p + 6, NULL, 10);
                free(txt);
                return pid;
            }
            free(txt);
        }
        ct_sleep_ms(10);
    }
    kill(pid, SIGKILL);
    ck_abort_msg("faultproxy did not start");
    return -1;
}

/* Stop a faultproxy of ct_faultproxy_start and reap it. */
void
ct_faultproxy_stop(pid_t pid)
{
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}
