/*
 * ferryd.c - the agent's main(): configuration, engine, WS-Man endpoint, signals.
 *
 * Start-up: parse the configuration (exit 0 after --help/--version, 2 on bad arguments),
 * set the log level, start the engine (both roles), start the WS-Man listeners, then write
 * STATE/ferryd.ready atomically (tmp + rename) with one "NAME URL" line per listener,
 *   wsman http://127.0.0.1:PORT/wsman
 *   wsman-tls https://127.0.0.1:PORT/wsman
 * (the ports actually bound, so port 0 works) and tell systemd READY=1 when $NOTIFY_SOCKET
 * is set (libsystemd's sd_notify). Under a unit with WatchdogSec=, WATCHDOG=1 goes out at
 * half of $WATCHDOG_USEC; a STATUS= line (jobs running, fetch and serve rates) every 5 s. SIGTERM/SIGINT stop cleanly (STOPPING=1, exit 0); SIGHUP logs that the users
 * file and certificate map are re-read when they change on disk (both reload on mtime).
 * Every thread inherits a mask blocking those signals; main() receives them with sigwait.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "ferry/config.h"
#include "ferry/engine.h"
#include "ferry/log.h"
#include "wsman.h"
#include "wsman_config.h"
#include "wsman_server.h"

#define READY_FILE "ferryd.ready"
/* Period of the STATUS= line (and of the wait when no watchdog is set). */
#define STATUS_INTERVAL_MS 5000

/* sd_notify(3); nothing happens when $NOTIFY_SOCKET is unset. */
static void
ferryd_notify(const char *state)
{
    int r = sd_notify(0, state);

    if (r < 0)
        ferry_log_warn("sd_notify('%s') failed: %s", state, strerror(-r));
}

/* "12.3 MiB/s" */
static void
ferryd_rate(double bytes_per_s, char *buf, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    size_t u = 0;

    while (bytes_per_s >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
        bytes_per_s /= 1024.0;
        u++;
    }
    snprintf(buf, len, "%.1f %s/s", bytes_per_s, units[u]);
}

/* Counters between two STATUS= lines. */
struct ferryd_status {
    uint64_t fetched, served;
    struct timespec at;
};

/* STATUS=: jobs running (CONNECTING or TRANSFERRING) and the byte rates since the last
 * call, fetched by jobs and served by the server role. */
static void
ferryd_send_status(struct ferry_engine *engine, struct ferryd_status *prev)
{
    struct ferry_jobs_stats js = {0};
    struct ferry_server_stats ss = {0};
    struct timespec now;
    char line[256], in[32], out[32];
    double secs;

    ferry_jobs_stats(ferry_engine_jobs(engine), &js);
    ferry_server_stats(ferry_engine_server(engine), &ss);
    clock_gettime(CLOCK_MONOTONIC, &now);
    secs = (double)(now.tv_sec - prev->at.tv_sec) + (now.tv_nsec - prev->at.tv_nsec) / 1e9;
    if (secs <= 0)
        secs = 1;
    ferryd_rate((double)(js.bytes_fetched - prev->fetched) / secs, in, sizeof(in));
    ferryd_rate((double)(ss.bytes_sent - prev->served) / secs, out, sizeof(out));
    snprintf(line, sizeof(line), "STATUS=%u job(s) running, fetching %s, serving %s",
             (unsigned)(js.jobs_by_state[FERRY_JOB_CONNECTING] +
                        js.jobs_by_state[FERRY_JOB_TRANSFERRING]),
             in, out);
    ferryd_notify(line);
    prev->fetched = js.bytes_fetched;
    prev->served = ss.bytes_sent;
    prev->at = now;
}

/* Host part of ADDR:PORT for the ready file; wildcards become loopback. */
static void
ferryd_host(const char *addr, char *buf, size_t len)
{
    const char *colon = strrchr(addr, ':');
    size_t n = colon ? (size_t)(colon - addr) : strlen(addr);

    if (n == 0 || (n == 1 && (addr[0] == '*' || addr[0] == '+')) ||
        (n == 7 && strncmp(addr, "0.0.0.0", 7) == 0)) {
        snprintf(buf, len, "127.0.0.1");
        return;
    }
    if (n == 4 && strncmp(addr, "[::]", 4) == 0) {
        snprintf(buf, len, "[::1]");
        return;
    }
    snprintf(buf, len, "%.*s", (int)n, addr);
}

static int
ferryd_write_ready(const struct ferry_config *cfg, struct wsman_server *ws)
{
    char path[4096], tmp[4200], host[256];
    FILE *fp;
    int port, r = 0;

    snprintf(path, sizeof(path), "%s/%s", cfg->state_dir, READY_FILE);
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    fp = fopen(tmp, "we");
    if (!fp) {
        r = -errno;
        ferry_log_error("fopen('%s') failed: %s", tmp, strerror(errno));
        return r;
    }
    port = wsman_server_port(ws, false);
    if (port > 0) {
        ferryd_host(wsman_config_get(cfg)->listen, host, sizeof(host));
        fprintf(fp, "wsman http://%s:%d/wsman\n", host, port);
    }
    port = wsman_server_port(ws, true);
    if (port > 0) {
        ferryd_host(wsman_config_get(cfg)->tls_listen, host, sizeof(host));
        fprintf(fp, "wsman-tls https://%s:%d/wsman\n", host, port);
    }
    if (fflush(fp) != 0 || fsync(fileno(fp)) < 0)
        r = -errno;
    if (fclose(fp) != 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0) {
        ferry_log_error("writing '%s' failed: %s", path, strerror(-r));
        unlink(tmp);
    }
    return r;
}

int
main(int argc, char **argv)
{
    static const struct ferry_config_section *const sections[] = {&wsman_config_section};
    struct ferry_config *cfg = NULL;
    struct ferry_engine *engine = NULL;
    struct wsman_server *ws = NULL;
    enum ferry_log_level level;
    char err[512] = "";
    struct ferryd_status last_status = {0};
    uint64_t watchdog_usec = 0, tick_ms = STATUS_INTERVAL_MS, last_status_ms;
    sigset_t mask;
    int r, sig, status = 1;

    ferry_log_set_ident("ferryd");
    ferry_log_set_thread_name("main");
    cfg = ferry_config_new_with(sections, sizeof(sections) / sizeof(sections[0]));
    if (!cfg) {
        fprintf(stderr, "ferryd: out of memory\n");
        return 1;
    }
    r = ferry_config_parse_args(cfg, argc, argv, err, sizeof(err));
    if (r == 1) {
        ferry_config_free(cfg);
        return 0;
    }
    if (r < 0) {
        fprintf(stderr, "ferryd: %s\n", err[0] ? err : "bad arguments");
        fprintf(stderr, "Try 'ferryd --help'.\n");
        ferry_config_free(cfg);
        return 2;
    }
    if (cfg->log_level && ferry_log_parse_level(cfg->log_level, &level) == 0)
        ferry_log_set_level(level);

    /* Before any thread exists: they all inherit this mask. */
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);

    r = ferry_engine_new(cfg, &engine);
    if (r < 0) {
        ferry_log_error("the engine could not start: %s", strerror(-r));
        goto cleanup;
    }
    r = wsman_server_new(cfg, &wsman_engine_ops_real, ferry_engine_jobs(engine),
                         ferry_engine_server(engine), ferry_engine_users(engine), &ws);
    if (r < 0)
        goto cleanup;
    r = ferryd_write_ready(cfg, ws);
    if (r < 0)
        goto cleanup;
    ferry_log_event(FERRY_LOG_INFO, FERRY_MSGID_DAEMON_START, NULL, NULL,
                    "ferryd %s ready (state '%s')", FERRY_VERSION, cfg->state_dir);
    ferryd_notify("READY=1");
    /* WatchdogSec= in the unit: ping at half the period. */
    if (sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0) {
        tick_ms = watchdog_usec / 2000;
        if (tick_ms == 0)
            tick_ms = 1;
        if (tick_ms > STATUS_INTERVAL_MS)
            tick_ms = STATUS_INTERVAL_MS;
        ferryd_notify("WATCHDOG=1");
    }
    clock_gettime(CLOCK_MONOTONIC, &last_status.at);
    last_status_ms = 0;
    ferryd_send_status(engine, &last_status);

    for (;;) {
        struct timespec timeout = {.tv_sec = (time_t)(tick_ms / 1000),
                                   .tv_nsec = (long)(tick_ms % 1000) * 1000000L};

        sig = sigtimedwait(&mask, NULL, &timeout);
        if (sig < 0) {
            if (errno != EAGAIN)
                continue;
            if (watchdog_usec > 0)
                ferryd_notify("WATCHDOG=1");
            last_status_ms += tick_ms;
            if (last_status_ms >= STATUS_INTERVAL_MS) {
                last_status_ms = 0;
                ferryd_send_status(engine, &last_status);
            }
            continue;
        }
        if (sig == SIGHUP) {
            ferry_log_info("SIGHUP: the users file and certmap are re-read when they change");
            continue;
        }
        ferry_log_event(FERRY_LOG_INFO, FERRY_MSGID_DAEMON_STOP, NULL, NULL,
                        "signal %d: stopping", sig);
        break;
    }
    ferryd_notify("STOPPING=1");
    status = 0;
cleanup:
    ws = wsman_server_free(ws);
    engine = ferry_engine_free(engine);
    if (cfg->state_dir) {
        char path[4096];

        snprintf(path, sizeof(path), "%s/%s", cfg->state_dir, READY_FILE);
        unlink(path);
    }
    ferry_config_free(cfg);
    return status;
}
