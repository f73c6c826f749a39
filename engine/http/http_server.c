/*
 * http_server.c - ferry_http_server (ferry/http.h): worker threads with one io_uring loop
 * each, listeners opened once per worker with SO_REUSEPORT (the kernel spreads
 * connections), listen/unlisten/set_tls from any thread through the loops' command queues.
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "ferry/auth.h"
#include "ferry/config.h"
#include "ferry/log.h"
#include "http_conn.h"
#include "http_conn-internal.h"
#include "http_worker.h"
#include "send/send.h"

#define LISTEN_BACKLOG 1024
#define ACCEPT_RETRY_NS (100ULL * 1000 * 1000)


/* ---- listeners ---- */

static void lsock_arm(struct http_lsock *ls);

static void
lsock_retry(struct loop *loop, struct loop_timer *t)
{
    lsock_arm(t->data);
}

static void
lsock_closed(struct http_lsock *ls)
{
    close(ls->fd);
    ls->fd = -1;
    http_listener_unref(ls->l);
}

static void
lsock_on_accept(struct loop *loop, struct loop_op *op, int res, bool more)
{
    struct http_lsock *ls = op->data;
    struct ferry_http_server *srv = ls->w->srv;

    if (res >= 0) {
        if (ls->closing || atomic_load(&srv->nconns) >= srv->max_connections) {
            /* Over the limit: refuse at once rather than queue. */
            close(res);
        } else {
            http_conn_new(ls->w, ls->l, res);
        }
    }
    if (more)
        return;
    if (ls->closing) {
        lsock_closed(ls);
        return;
    }
    if (res == -EINVAL)
        return; /* shut down by unlisten; its command closes the socket */
    if (res < 0 && res != -EINTR && res != -ECONNABORTED && res != -EAGAIN) {
        /* EMFILE and friends: try again shortly instead of spinning. */
        ferry_log_warn("http: accept on port %d failed: %s", ls->l->port, strerror(-res));
        loop_timer_add(loop, &ls->retry, ACCEPT_RETRY_NS);
        return;
    }
    lsock_arm(ls);
}

static void
lsock_arm(struct http_lsock *ls)
{
    if (ls->closing)
        return;
    if (loop_accept(ls->w->loop, &ls->op, ls->fd, true) < 0)
        loop_timer_add(ls->w->loop, &ls->retry, ACCEPT_RETRY_NS);
}

static void
cmd_listen(struct loop *loop, void *arg)
{
    struct http_lsock *ls = arg;

    loop_op_init(&ls->op, lsock_on_accept, ls);
    loop_timer_init(&ls->retry, lsock_retry, ls);
    lsock_arm(ls);
}

static void
cmd_unlisten(struct loop *loop, void *arg)
{
    struct http_lsock *ls = arg;

    ls->closing = true;
    loop_timer_cancel(loop, &ls->retry);
    if (ls->op.armed)
        loop_cancel(loop, &ls->op); /* lsock_on_accept closes on the final completion */
    else
        lsock_closed(ls);
}

/* Parse "host:port", "[v6]:port", "*:port", "+:port". */
static int
parse_addr(const char *addr, char *host, size_t hostlen, char *port, size_t portlen)
{
    const char *colon;
    size_t hl;

    if (!addr || !*addr)
        return -EINVAL;
    if (addr[0] == '[') {
        const char *end = strchr(addr, ']');
        if (!end || end[1] != ':')
            return -EINVAL;
        hl = (size_t)(end - addr - 1);
        if (hl >= hostlen)
            return -EINVAL;
        memcpy(host, addr + 1, hl);
        host[hl] = '\0';
        colon = end + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            return -EINVAL;
        hl = (size_t)(colon - addr);
        if (hl >= hostlen)
            return -EINVAL;
        memcpy(host, addr, hl);
        host[hl] = '\0';
    }
    if (snprintf(port, portlen, "%s", colon + 1) >= (int)portlen || !port[0])
        return -EINVAL;
    for (const char *p = port; *p; p++)
        if (*p < '0' || *p > '9')
            return -EINVAL;
    if (strtol(port, NULL, 10) > 65535)
        return -EINVAL;
    return 0;
}

static int
open_socket(const struct sockaddr *sa, socklen_t len, bool dual, bool reuseport)
{
    int one = 1, zero = 0;
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int r;

    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        goto error;
    if (sa->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual ? &zero : &one, sizeof(one));
    if (bind(fd, sa, len) < 0)
        goto error;
    if (listen(fd, LISTEN_BACKLOG) < 0)
        goto error;
    return fd;
error:
    r = -errno;
    close(fd);
    return r;
}

/* Resolve the listen address; wildcard hosts become a dual-stack [::] (or 0.0.0.0). */
static int
resolve(const char *addr, struct sockaddr_storage *ss, socklen_t *len, bool *dual)
{
    char host[256], port[16];
    struct addrinfo hints, *res = NULL;
    int r;

    r = parse_addr(addr, host, sizeof(host), port, sizeof(port));
    if (r < 0)
        return r;
    memset(ss, 0, sizeof(*ss));
    *dual = false;
    if (!host[0] || strcmp(host, "*") == 0 || strcmp(host, "+") == 0) {
        int probe = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
            close(probe);
            s6->sin6_family = AF_INET6;
            s6->sin6_addr = in6addr_any;
            s6->sin6_port = htons((uint16_t)strtol(port, NULL, 10));
            *len = sizeof(*s6);
            *dual = true;
        } else {
            struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
            s4->sin_family = AF_INET;
            s4->sin_addr.s_addr = htonl(INADDR_ANY);
            s4->sin_port = htons((uint16_t)strtol(port, NULL, 10));
            *len = sizeof(*s4);
        }
        return 0;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    r = getaddrinfo(host, port, &hints, &res);
    if (r != 0 || !res)
        return -EADDRNOTAVAIL;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int
sockaddr_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static void
sockaddr_set_port(struct sockaddr_storage *ss, int port)
{
    if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
}

/*
 * Open opts->addr on every worker (one SO_REUSEPORT socket each). The sockets are bound
 * and listening when this returns; accepting starts on each worker's next iteration.
 * Thread-safe. 0 and *ret_id, or -errno (-EADDRINUSE, -EINVAL for a bad address or a
 * missing handler, -EADDRNOTAVAIL).
 */
int
ferry_http_server_listen(struct ferry_http_server *srv, const struct ferry_http_listen_opts *opts,
                         uint32_t *ret_id)
{
    struct sockaddr_storage ss;
    struct http_listener *l = NULL, **nl;
    socklen_t len = 0;
    bool dual = false;
    unsigned opened = 0;
    int r;

    if (!srv || !opts || !opts->handler)
        return -EINVAL;
    r = resolve(opts->addr, &ss, &len, &dual);
    if (r < 0)
        return r;
    l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->socks = calloc(srv->nworkers, sizeof(*l->socks));
    if (!l->socks) {
        r = -ENOMEM;
        goto error;
    }
    l->handler = opts->handler;
    l->head = opts->head;
    l->userdata = opts->userdata;
    l->max_body_bytes = opts->max_body_bytes;
    l->tls = opts->tls ? ferry_tls_ctx_ref(opts->tls) : NULL;
    atomic_init(&l->refs, 1);
    /* SO_REUSEPORT would let us join a port another listener (ours or another process's)
     * already serves, silently splitting its traffic. Claim the port alone first: a
     * listening socket without SO_REUSEPORT fails with EADDRINUSE on any live listener. */
    {
        struct sockaddr_storage bound;
        socklen_t blen = sizeof(bound);
        int probe = open_socket((struct sockaddr *)&ss, len, dual, false);

        if (probe < 0) {
            r = probe;
            goto error;
        }
        if (getsockname(probe, (struct sockaddr *)&bound, &blen) < 0) {
            r = -errno;
            close(probe);
            goto error;
        }
        close(probe);
        sockaddr_set_port(&ss, sockaddr_port(&bound)); /* port 0: keep the one chosen */
    }
    for (unsigned i = 0; i < srv->nworkers; i++) {
        struct http_lsock *ls = &l->socks[i];
        ls->l = l;
        ls->w = &srv->workers[i];
        ls->fd = open_socket((struct sockaddr *)&ss, len, dual, true);
        if (ls->fd < 0) {
            r = ls->fd;
            goto error;
        }
        opened++;
    }
    l->port = sockaddr_port(&ss);

    pthread_mutex_lock(&srv->lock);
    nl = realloc(srv->listeners, (srv->nlisteners + 1) * sizeof(*nl));
    if (!nl) {
        pthread_mutex_unlock(&srv->lock);
        r = -ENOMEM;
        goto error;
    }
    srv->listeners = nl;
    l->id = ++srv->next_id;
    srv->listeners[srv->nlisteners++] = l;
    pthread_mutex_unlock(&srv->lock);

    for (unsigned i = 0; i < srv->nworkers; i++) {
        atomic_fetch_add(&l->refs, 1); /* each worker's socket holds one until closed */
        if (loop_post(srv->workers[i].loop, cmd_listen, &l->socks[i]) < 0) {
            /* Loop shutting down (cannot happen while the server lives). */
            close(l->socks[i].fd);
            l->socks[i].fd = -1;
            atomic_fetch_sub(&l->refs, 1);
        }
    }
    *ret_id = l->id;
    return 0;
error:
    for (unsigned i = 0; i < opened; i++)
        close(l->socks[i].fd);
    http_listener_unref(l);
    return r;
}

static struct http_listener *
find_listener(struct ferry_http_server *srv, uint32_t id, size_t *ret_index)
{
    for (size_t i = 0; i < srv->nlisteners; i++) {
        if (srv->listeners[i]->id == id) {
            if (ret_index)
                *ret_index = i;
            return srv->listeners[i];
        }
    }
    return NULL;
}

/*
 * Close listener `id` on every worker. Open connections keep being served. The sockets
 * stop listening before this returns (shutdown(2) from the calling thread: new connections
 * are refused, the port can be listened on again); each worker then closes its descriptor
 * when it next runs. Never waits for a worker, so it may be called while holding locks a
 * handler takes, and from a handler. Thread-safe. 0 or -ENOENT.
 */
int
ferry_http_server_unlisten(struct ferry_http_server *srv, uint32_t id)
{
    struct http_listener *l;
    size_t idx;

    if (!srv)
        return -EINVAL;
    pthread_mutex_lock(&srv->lock);
    l = find_listener(srv, id, &idx);
    if (!l) {
        pthread_mutex_unlock(&srv->lock);
        return -ENOENT;
    }
    srv->listeners[idx] = srv->listeners[--srv->nlisteners];
    pthread_mutex_unlock(&srv->lock);
    for (unsigned i = 0; i < srv->nworkers; i++) {
        /* The worker owns the descriptor until its cmd_unlisten ran, which is posted only
         * below, so it is still open here. A pending accept fails with EINVAL. */
        if (l->socks[i].fd >= 0)
            shutdown(l->socks[i].fd, SHUT_RDWR);
        loop_post(srv->workers[i].loop, cmd_unlisten, &l->socks[i]);
    }
    http_listener_unref(l); /* the table's reference */
    return 0;
}

int
ferry_http_server_port(struct ferry_http_server *srv, uint32_t id)
{
    struct http_listener *l;
    int port;

    if (!srv)
        return -EINVAL;
    pthread_mutex_lock(&srv->lock);
    l = find_listener(srv, id, NULL);
    port = l ? l->port : -ENOENT;
    pthread_mutex_unlock(&srv->lock);
    return port;
}

/*
 * Swap the TLS context of listener `id` (a new reference is taken, the old one dropped).
 * New connections use the new context; established ones keep theirs. Passing NULL turns
 * the listener into plain http. Thread-safe. 0 or -ENOENT.
 */
int
ferry_http_server_set_tls(struct ferry_http_server *srv, uint32_t id, struct ferry_tls_ctx *tls)
{
    struct ferry_tls_ctx *old;
    struct http_listener *l;

    if (!srv)
        return -EINVAL;
    pthread_mutex_lock(&srv->lock);
    l = find_listener(srv, id, NULL);
    if (!l) {
        pthread_mutex_unlock(&srv->lock);
        return -ENOENT;
    }
    old = l->tls;
    l->tls = tls ? ferry_tls_ctx_ref(tls) : NULL;
    pthread_mutex_unlock(&srv->lock);
    if (old)
        ferry_tls_ctx_unref(old);
    return 0;
}

/* ---- workers ---- */

static void *
worker_main(void *arg)
{
    struct http_worker *w = arg;
    char name[16];
    int r;

    sigset_t set;

    /* sendfile(2) and OpenSSL's socket writes have no MSG_NOSIGNAL: a peer that went away
     * must give EPIPE, not kill the process. SIGPIPE is synchronous, so blocking it on the
     * worker threads is enough. */
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    snprintf(name, sizeof(name), "%s-%u", w->srv->name, w->index);
    ferry_log_set_thread_name(name);
    r = loop_run(w->loop);
    if (r < 0)
        ferry_log_error("http: event loop of %s failed: %s", name, strerror(-r));
    return NULL;
}

static void http_pipes_free(struct http_worker *w);

/*
 * Create the server and start its workers. Limits come from cfg (http_max_header_bytes,
 * http_max_headers, http_header_timeout, http_idle_timeout, http_max_connections,
 * send_backend, send_lowat); zero fields take the documented defaults (send_lowat: not
 * set). 0 or -errno (-EINVAL for an
 * unknown send backend).
 */
int
ferry_http_server_new(const struct ferry_config *cfg, const char *name, unsigned workers,
                      struct ferry_http_server **ret_srv)
{
    struct ferry_http_server *srv;
    long ncpu;
    int r;

    if (!cfg)
        return -EINVAL;
    srv = calloc(1, sizeof(*srv));
    if (!srv)
        return -ENOMEM;
    pthread_mutex_init(&srv->lock, NULL);
    srv->name = strdup(name && *name ? name : "http");
    srv->max_header_bytes = cfg->http_max_header_bytes ? cfg->http_max_header_bytes : 16384;
    srv->max_headers = cfg->http_max_headers ? cfg->http_max_headers : 64;
    srv->header_timeout_ns =
        (uint64_t)(cfg->http_header_timeout ? cfg->http_header_timeout : 10) * 1000000000ULL;
    srv->idle_timeout_ns =
        (uint64_t)(cfg->http_idle_timeout ? cfg->http_idle_timeout : 60) * 1000000000ULL;
    srv->body_timeout_ns =
        (uint64_t)(cfg->http_body_timeout ? cfg->http_body_timeout : 30) * 1000000000ULL;
    srv->max_connections = cfg->http_max_connections ? cfg->http_max_connections : 20000;
    srv->backend = http_send_backend_find(cfg->send_backend);
    srv->send_lowat = cfg->send_lowat > INT_MAX ? INT_MAX : (int)cfg->send_lowat;
    if (!srv->name || !srv->backend) {
        r = srv->name ? -EINVAL : -ENOMEM;
        goto error;
    }
    srv->tarpit_max = cfg->auth_tarpit_max;
    atomic_init(&srv->tarpit_log_ms, ferry_clock_ms() - HTTP_TARPIT_LOG_MS);
    if (cfg->auth_tarpit_rate > 0 && srv->tarpit_max > 0) {
        r = ferry_tarpit_new(cfg->auth_tarpit_rate, &srv->tarpit);
        if (r < 0)
            goto error;
    }
    if (workers == 0) {
        ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        workers = ncpu > 0 ? (unsigned)ncpu : 1;
    }
    srv->workers = calloc(workers, sizeof(*srv->workers));
    if (!srv->workers) {
        r = -ENOMEM;
        goto error;
    }
    srv->nworkers = workers;
    for (unsigned i = 0; i < workers; i++) {
        struct http_worker *w = &srv->workers[i];
        w->srv = srv;
        w->index = i;
        http_wait_worker_init(w, http_conn_resume);
        r = loop_new(0, &w->loop);
        if (r < 0)
            goto error;
    }
    for (unsigned i = 0; i < workers; i++) {
        struct http_worker *w = &srv->workers[i];
        r = -pthread_create(&w->thread, NULL, worker_main, w);
        if (r < 0)
            goto error;
        w->started = true;
    }
    *ret_srv = srv;
    return 0;
error:
    ferry_http_server_free(srv);
    return r;
}

/*
 * Stop: every worker loop stops and is joined, the rings are torn down (the kernel drops
 * every pending operation), then connections are freed (their on_done callbacks run with
 * complete = false) and listening sockets closed. Must not be called from a worker of
 * this server. NULL-safe, returns NULL.
 */
struct ferry_http_server *
ferry_http_server_free(struct ferry_http_server *srv)
{
    if (!srv)
        return NULL;
    /* Leave the LISTEN state first: the rings tear down their pending accepts
     * asynchronously and would otherwise keep the ports bound for a while after this
     * returns, so an immediate re-bind (restart in-process) would see EADDRINUSE. */
    pthread_mutex_lock(&srv->lock);
    for (size_t i = 0; i < srv->nlisteners; i++)
        for (unsigned k = 0; k < srv->nworkers; k++)
            if (srv->listeners[i]->socks[k].fd >= 0)
                shutdown(srv->listeners[i]->socks[k].fd, SHUT_RDWR);
    pthread_mutex_unlock(&srv->lock);
    for (unsigned i = 0; i < srv->nworkers; i++)
        if (srv->workers[i].started)
            loop_stop(srv->workers[i].loop);
    for (unsigned i = 0; i < srv->nworkers; i++)
        if (srv->workers[i].started)
            pthread_join(srv->workers[i].thread, NULL);
    for (unsigned i = 0; i < srv->nworkers; i++)
        http_wait_worker_detach(&srv->workers[i]);
    for (unsigned i = 0; i < srv->nworkers; i++)
        srv->workers[i].loop = loop_free(srv->workers[i].loop);
    for (unsigned i = 0; i < srv->nworkers; i++)
        http_conn_free_all(&srv->workers[i]);
    /* Listeners still open (and sockets of listeners whose unlisten never ran). */
    for (size_t i = 0; i < srv->nlisteners; i++) {
        struct http_listener *l = srv->listeners[i];
        for (unsigned k = 0; k < srv->nworkers; k++) {
            if (l->socks[k].fd >= 0) {
                close(l->socks[k].fd);
                l->socks[k].fd = -1;
                http_listener_unref(l); /* the socket's reference */
            }
        }
        http_listener_unref(l); /* the table's */
    }
    for (unsigned i = 0; i < srv->nworkers; i++)
        http_pipes_free(&srv->workers[i]);
    free(srv->listeners);
    free(srv->workers);
    free(srv->name);
    srv->tarpit = ferry_tarpit_free(srv->tarpit);
    pthread_mutex_destroy(&srv->lock);
    free(srv);
    return NULL;
}

static void
http_pipes_free(struct http_worker *w)
{
    for (size_t i = 0; i < w->npipes_free; i++) {
        close(w->pipes_free[i].fds[0]);
        close(w->pipes_free[i].fds[1]);
    }
    free(w->pipes_free);
    w->pipes_free = NULL;
    w->npipes_free = 0;
}

void
ferry_http_server_tarpit_stats(struct ferry_http_server *srv, uint64_t *ret_held,
                               unsigned *ret_parked)
{
    if (ret_held)
        *ret_held = atomic_load(&srv->tarpit_held);
    if (ret_parked)
        *ret_parked = atomic_load(&srv->tarpit_parked);
}
