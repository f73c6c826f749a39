/*
 * tests/engine/client/client-test.h - what the client-role suites share: a real nginx
 * started per test on a free loopback port, random source files, a hand-built
 * struct ferry_config, and polling helpers over the ferry_jobs API.
 */
#ifndef FERRY_CLIENT_TEST_H
#define FERRY_CLIENT_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ferry/config.h"
#include "ferry/jobs.h"

struct ct_nginx {
    pid_t pid;
    int port;
    char *dir;       /* conf, logs, pid (owned) */
    char *root;      /* document root (borrowed) */
    char *extra;     /* extra server{} directives (owned copy) */
    char url[128];   /* "http://127.0.0.1:PORT" */
};

/* Start nginx serving root on a free 127.0.0.1 port; `extra` goes inside server {} (may be
 * NULL). Exits 77 (SKIP) when nginx is not installed. 0 or -errno. */
int ct_nginx_start(struct ct_nginx *n, const char *dir, const char *root, const char *extra);
/* Restart on the same port (after ct_nginx_stop). */
int ct_nginx_restart(struct ct_nginx *n);
void ct_nginx_stop(struct ct_nginx *n);
void ct_nginx_done(struct ct_nginx *n);
/* Sum of $bytes_sent over the access log (requests finished so far). */
uint64_t ct_nginx_bytes_sent(struct ct_nginx *n);
/* Number of access-log lines whose request line contains `needle`. */
unsigned ct_nginx_count(struct ct_nginx *n, const char *needle);

/* A free 127.0.0.1 TCP port (bound and released), -1 on failure. */
int ct_free_port(void);

/* Write `size` pseudo-random bytes (seeded) to path. */
int ct_random_file(const char *path, uint64_t size, uint64_t seed);
/* XXH3-128 of a whole file, canonical; -errno. */
int ct_file_digest(const char *path, uint8_t ret[16]);
bool ct_files_equal(const char *a, const char *b);

/* A config with state dir and one download root; every numeric field at its default. */
struct ferry_config *ct_config_new(const char *state_dir, const char *download_root);
void ct_config_free(struct ferry_config *cfg);

/* Poll until the job is in `state` (or any final/ERROR state when not expected), at most
 * timeout_ms. Returns the state reached. */
enum ferry_job_state ct_wait_state(struct ferry_jobs *jobs, const char *id,
                                   enum ferry_job_state state, int timeout_ms);
/* Poll until the job has transferred at least `bytes` (or left the running states). */
uint64_t ct_wait_bytes(struct ferry_jobs *jobs, const char *id, uint64_t bytes, int timeout_ms);
uint64_t ct_job_bytes(struct ferry_jobs *jobs, const char *id);
enum ferry_job_state ct_job_state(struct ferry_jobs *jobs, const char *id);
void ct_sleep_ms(int ms);
/* tests/tools/faultproxy.py in front of 127.0.0.1:target_port with one fault armed (port
 * file in dir); SKIP without python3. Returns its pid; *ret_port its listening port. */
pid_t ct_faultproxy_start(int target_port, const char *dir, const char *fault, int *ret_port);
void ct_faultproxy_stop(pid_t pid);

/* Create a job for one file (not suspended unless asked); aborts the test on failure. */
void ct_create(struct ferry_jobs *jobs, const char *url, const char *local, bool suspend,
               char id[FERRY_GUID_STRLEN]);

/* One TCase per test (so CK_RUN_CASE=name runs just it), 300 s timeout. */
#define ct_add(suite, name, fn)                                                               \
    do {                                                                                      \
        TCase *tc_ = tcase_create(name);                                                      \
        tcase_set_timeout(tc_, 300);                                                          \
        tcase_add_test(tc_, fn);                                                              \
        suite_add_tcase(suite, tc_);                                                          \
    } while (0)

#endif
