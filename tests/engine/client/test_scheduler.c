/*
 * tests/engine/client/test_scheduler.c - engine/client/scheduler.c with nginx: a higher
 * priority preempts a lower one (which goes back to QUEUED and moves no bytes), FOREGROUND
 * jobs all run at once beyond max_active_jobs, equal priorities share in slices.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client-test.h"
#include "ferry-test.h"
#include "client/client.h"
#include "client/job.h"
#include "client/jobs_role.h"
#include "client/scheduler.h"

struct env {
    char *tmp;
    char state[512], root[512], www[512], ngxdir[512];
    struct ferry_config *cfg;
    struct ct_nginx ngx;
    struct ferry_jobs *jobs;
};

static void
env_init(struct env *e, const char *tag, unsigned max_active)
{
    memset(e, 0, sizeof(*e));
    e->tmp = ft_tmpdir_new(tag);
    ck_assert_ptr_nonnull(e->tmp);
    snprintf(e->state, sizeof(e->state), "%s/state", e->tmp);
    snprintf(e->root, sizeof(e->root), "%s/dl", e->tmp);
    snprintf(e->www, sizeof(e->www), "%s/www", e->tmp);
    snprintf(e->ngxdir, sizeof(e->ngxdir), "%s/nginx", e->tmp);
    mkdir(e->root, 0755);
    mkdir(e->www, 0755);
    e->cfg = ct_config_new(e->state, e->root);
    e->cfg->max_active_jobs = max_active;
    ck_assert_int_eq(ct_nginx_start(&e->ngx, e->ngxdir, e->www, NULL), 0);
    ck_assert_int_eq(jobs_new(e->cfg, &e->jobs), 0);
}

static void
env_done(struct env *e)
{
    e->jobs = jobs_free(e->jobs);
    ct_nginx_done(&e->ngx);
    ct_config_free(e->cfg);
    e->tmp = ft_tmpdir_free(e->tmp);
}

/* A suspended job for www/NAME (created with `size` random bytes), priority and
 * bandwidth set, then resumed. */
static void
start_job(struct env *e, const char *name, uint64_t size, unsigned prio, uint64_t bw,
          char id[FERRY_GUID_STRLEN])
{
    char src[600], url[256], local[600];
    struct ferry_job_props p = {.mask = FERRY_JOBPROP_PRIORITY | FERRY_JOBPROP_BANDWIDTH_LIMIT,
                                .priority = prio, .bandwidth_limit = bw};

    snprintf(src, sizeof(src), "%s/%s", e->www, name);
    ck_assert_int_eq(ct_random_file(src, size, (uint64_t)name[0]), 0);
    snprintf(url, sizeof(url), "%s/%s", e->ngx.url, name);
    snprintf(local, sizeof(local), "%s/%s", e->root, name);
    ct_create(e->jobs, url, local, true, id);
    ck_assert_int_eq(ferry_jobs_set_props(e->jobs, id, &p, NULL), 0);
    ck_assert_int_eq(ferry_jobs_set_state(e->jobs, id, FERRY_JOB_ACTION_RESUME, NULL), 0);
}

static void
finish(struct env *e, const char *id, const char *name)
{
    char src[600], local[600];
    struct ferry_job_props p = {.mask = FERRY_JOBPROP_BANDWIDTH_LIMIT, .bandwidth_limit = 0};

    ck_assert_int_eq(ferry_jobs_set_props(e->jobs, id, &p, NULL), 0);
    ck_assert_int_eq(ct_wait_state(e->jobs, id, FERRY_JOB_TRANSFERRED, 60000),
                     FERRY_JOB_TRANSFERRED);
    ck_assert_int_eq(ferry_jobs_set_state(e->jobs, id, FERRY_JOB_ACTION_COMPLETE, NULL), 0);
    snprintf(src, sizeof(src), "%s/%s", e->www, name);
    snprintf(local, sizeof(local), "%s/%s", e->root, name);
    ck_assert(ct_files_equal(src, local));
}

/* LOW runs; HIGH arrives and runs; LOW is back in QUEUED and moves no bytes until HIGH is
 * done; then LOW finishes. */
START_TEST(test_preemption)
{
    struct env e;
    char low[FERRY_GUID_STRLEN], high[FERRY_GUID_STRLEN];
    uint64_t b1, b2;

    env_init(&e, "sched-preempt", 4);
    start_job(&e, "low.bin", 64u << 20, FERRY_PRIORITY_LOW, 8u << 20, low);
    ck_assert_uint_ge(ct_wait_bytes(e.jobs, low, 2u << 20, 20000), 2u << 20);
    ck_assert_int_eq(ct_job_state(e.jobs, low), FERRY_JOB_TRANSFERRING);
    start_job(&e, "high.bin", 24u << 20, FERRY_PRIORITY_HIGH, 12u << 20, high);
    ck_assert_int_eq(ct_wait_state(e.jobs, high, FERRY_JOB_TRANSFERRING, 10000),
                     FERRY_JOB_TRANSFERRING);
    ck_assert_int_eq(ct_job_state(e.jobs, low), FERRY_JOB_QUEUED);
    b1 = ct_job_bytes(e.jobs, low);
    ct_sleep_ms(700);
    ck_assert_int_eq(ct_job_state(e.jobs, high), FERRY_JOB_TRANSFERRING);
    ck_assert_int_eq(ct_job_state(e.jobs, low), FERRY_JOB_QUEUED);
    b2 = ct_job_bytes(e.jobs, low);
    ck_assert_uint_eq(b1, b2);
    ck_assert_uint_lt(b2, 64u << 20);
    finish(&e, high, "high.bin");
    /* LOW gets its turn back */
    ck_assert_int_eq(ct_wait_state(e.jobs, low, FERRY_JOB_TRANSFERRING, 10000),
                     FERRY_JOB_TRANSFERRING);
    finish(&e, low, "low.bin");
    env_done(&e);
}
END_TEST

/* max_active_jobs = 1: two FOREGROUND jobs still transfer at the same time. */
START_TEST(test_foreground_all)
{
    struct env e;
    char a[FERRY_GUID_STRLEN], b[FERRY_GUID_STRLEN];
    bool both = false;

    env_init(&e, "sched-fg", 1);
    start_job(&e, "fa.bin", 24u << 20, FERRY_PRIORITY_FOREGROUND, 8u << 20, a);
    start_job(&e, "fb.bin", 24u << 20, FERRY_PRIORITY_FOREGROUND, 8u << 20, b);
    for (int i = 0; i < 300 && !both; i++) {
        both = ct_job_state(e.jobs, a) == FERRY_JOB_TRANSFERRING &&
               ct_job_state(e.jobs, b) == FERRY_JOB_TRANSFERRING;
        ct_sleep_ms(20);
    }
    ck_assert(both);
    finish(&e, a, "fa.bin");
    finish(&e, b, "fb.bin");
    env_done(&e);
}
END_TEST

/* max_active_jobs = 1, two NORMAL jobs: never both running, and both make progress within
 * two slices (round-robin). */
START_TEST(test_equal_share)
{
    struct env e;
    char a[FERRY_GUID_STRLEN], b[FERRY_GUID_STRLEN];
    uint64_t ba = 0, bb = 0;

    env_init(&e, "sched-rr", 1);
    start_job(&e, "ra.bin", 64u << 20, FERRY_PRIORITY_NORMAL, 4u << 20, a);
    start_job(&e, "rb.bin", 64u << 20, FERRY_PRIORITY_NORMAL, 4u << 20, b);
    for (int i = 0; i < (2 * SCHEDULER_SLICE_MS + 3000) / 50 && (ba == 0 || bb == 0); i++) {
        enum ferry_job_state sa = ct_job_state(e.jobs, a), sb = ct_job_state(e.jobs, b);
        ck_assert(!(sa == FERRY_JOB_TRANSFERRING && sb == FERRY_JOB_TRANSFERRING));
        ba = ct_job_bytes(e.jobs, a);
        bb = ct_job_bytes(e.jobs, b);
        ct_sleep_ms(50);
    }
    ck_assert_uint_gt(ba, 0);
    ck_assert_uint_gt(bb, 0);
    finish(&e, a, "ra.bin");
    finish(&e, b, "rb.bin");
    env_done(&e);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("scheduler");
    SRunner *sr;
    int failed;

    ct_add(s, "preempt", test_preemption);
    ct_add(s, "foreground", test_foreground_all);
    ct_add(s, "share", test_equal_share);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
