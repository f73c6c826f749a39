/*
 * bench/fetch_one.c - run ferry's client role in-process for one file and time it.
 *
 *   fetch_one URL OUTFILE [--no-hash] [--repeat N] [ferryd options...]
 *
 * Creates a fresh state directory next to OUTFILE (removed afterwards), starts the client
 * role through the public engine API (ferry_engine_new, ferry_engine_jobs), creates one job for URL -> OUTFILE, waits for TRANSFERRED, completes it,
 * and prints one line per run:
 *
 *   wall_s=W transfer_s=T complete_s=C cpu_s=U bytes=B
 *
 * cpu_s is this process's utime+stime over the run (every thread). ferryd options
 * (--connections-per-file, --fetch-chunk-size, ...) pass through to the config; the
 * download root is OUTFILE's directory. --no-hash turns off the per-chunk XXH3 stream
 * (bench only: measures what hashing costs) through the documented FERRY_BENCH_NO_HASH=1
 * hook of engine/client/verify.h. Exit 0 when every run reached ACKNOWLEDGED,
 * 1 otherwise. A bench tool, not a test: meson builds it only with -Dbench=true.
 */
#include <errno.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ferry/config.h"
#include "ferry/engine.h"
#include "ferry/jobs.h"
#include "ferry/log.h"

static double
fo_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
fo_cpu(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void
fo_sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int
fo_state(struct ferry_jobs *jobs, const char *id, enum ferry_job_state *ret,
         uint64_t *ret_bytes)
{
    struct ferry_job_info *info = NULL;
    int r = ferry_jobs_get(jobs, id, &info, NULL);

    if (r < 0)
        return r;
    *ret = info->state;
    *ret_bytes = info->bytes_transferred;
    ferry_job_info_free(info);
    return 0;
}

static int
fo_run(struct ferry_config *cfg, const char *url, const char *out)
{
    struct ferry_engine *engine = NULL;
    struct ferry_jobs *jobs = NULL;
    struct ferry_job_create req = {
        .display_name = "bench", .remote_url = url, .local_file = out, .owner = "bench",
    };
    struct ferry_status st;
    char id[FERRY_GUID_STRLEN];
    enum ferry_job_state s = FERRY_JOB_QUEUED;
    uint64_t bytes = 0;
    double t0, t1, t2, c0;
    int r;

    unlink(out);
    r = ferry_engine_new(cfg, &engine);
    if (r < 0) {
        fprintf(stderr, "ferry_engine_new failed: %s\n", strerror(-r));
        return r;
    }
    jobs = ferry_engine_jobs(engine);
    c0 = fo_cpu();
    t0 = fo_now();
    r = ferry_jobs_create(jobs, &req, id, &st);
    if (r < 0) {
        fprintf(stderr, "create failed: %s\n", st.text);
        goto out;
    }
    for (;;) {
        r = fo_state(jobs, id, &s, &bytes);
        if (r < 0 || s == FERRY_JOB_TRANSFERRED || s == FERRY_JOB_ERROR ||
            s == FERRY_JOB_TRANSIENT_ERROR)
            break;
        fo_sleep_us(2000);
    }
    t1 = fo_now();
    if (s != FERRY_JOB_TRANSFERRED) {
        fprintf(stderr, "job ended in state %d\n", (int)s);
        r = -EIO;
        goto out;
    }
    r = ferry_jobs_set_state(jobs, id, FERRY_JOB_ACTION_COMPLETE, &st);
    if (r < 0) {
        fprintf(stderr, "complete failed: %s\n", st.text);
        goto out;
    }
    t2 = fo_now();
    printf("wall_s=%.3f transfer_s=%.3f complete_s=%.3f cpu_s=%.3f bytes=%llu\n", t2 - t0,
           t1 - t0, t2 - t1, fo_cpu() - c0, (unsigned long long)bytes);
    fflush(stdout);
out:
    ferry_engine_free(engine);
    return r;
}

int
main(int argc, char **argv)
{
    struct ferry_config *cfg = ferry_config_new();
    char statedir[] = "/tmp/ferry-fetch-one-XXXXXX";
    char err[512], *dirbuf, **cargv;
    int cargc = 0, repeat = 1, r = 0;

    if (argc < 3 || !cfg) {
        fprintf(stderr, "usage: %s URL OUTFILE [--no-hash] [--repeat N] [ferryd options]\n",
                argv[0]);
        return 2;
    }
    if (!mkdtemp(statedir)) {
        perror("mkdtemp");
        return 1;
    }
    dirbuf = strdup(argv[2]);
    cargv = calloc((size_t)argc + 8, sizeof(*cargv));
    cargv[cargc++] = argv[0];
    cargv[cargc++] = "--state-dir";
    cargv[cargc++] = statedir;
    cargv[cargc++] = "--download-root";
    cargv[cargc++] = dirname(dirbuf);
    cargv[cargc++] = "--log-level";
    cargv[cargc++] = "warn";
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--no-hash") == 0)
            setenv("FERRY_BENCH_NO_HASH", "1", 1); /* the verify.h bench hook */
        else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
            repeat = (int)strtol(argv[++i], NULL, 10);
        else
            cargv[cargc++] = argv[i];
    }
    if (ferry_config_parse_args(cfg, cargc, cargv, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    if (strcmp(cfg->log_level, "debug") == 0)
        ferry_log_set_level(FERRY_LOG_DEBUG);
    else if (strcmp(cfg->log_level, "info") == 0)
        ferry_log_set_level(FERRY_LOG_INFO);
    else
        ferry_log_set_level(FERRY_LOG_WARN);
    for (int i = 0; i < repeat && r >= 0; i++) {
        char cmd[128];
        r = fo_run(cfg, argv[1], argv[2]);
        /* a fresh store per run: nothing resumes from the previous one */
        snprintf(cmd, sizeof(cmd), "rm -rf %s/*", statedir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not clean %s\n", statedir);
    }
    {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", statedir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", statedir);
    }
    free(dirbuf);
    free(cargv);
    ferry_config_free(cfg);
    return r < 0 ? 1 : 0;
}
