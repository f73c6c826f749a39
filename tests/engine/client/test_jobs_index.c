/*
 * tests/engine/client/test_jobs_index.c - engine/client/jobs.c: the id index behind Get,
 * AddFile, SetJobState (found case-insensitively, through index growths, after a restart
 * rebuilds it from the store, gone after pruning) and the CreateJob fast paths (the limit
 * still holds when only counted near it; a suspended job stays suspended).
 */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "client-test.h"
#include "ferry-test.h"
#include "client/client.h"
#include "client/job.h"
#include "client/jobs_role.h"
#include "client/store.h"

#define NJOBS 1500 /* several index growths (64 -> 4096 buckets) */

struct env {
    char *tmp;
    char state[512], root[512];
    struct ferry_config *cfg;
    struct ferry_jobs *jobs;
};

static void
env_init(struct env *e, const char *tag)
{
    memset(e, 0, sizeof(*e));
    e->tmp = ft_tmpdir_new(tag);
    ck_assert_ptr_nonnull(e->tmp);
    snprintf(e->state, sizeof(e->state), "%s/state", e->tmp);
    snprintf(e->root, sizeof(e->root), "%s/dl", e->tmp);
    mkdir(e->root, 0755);
    e->cfg = ct_config_new(e->state, e->root);
}

static void
env_done(struct env *e)
{
    e->jobs = jobs_free(e->jobs);
    ct_config_free(e->cfg);
    e->tmp = ft_tmpdir_free(e->tmp);
}

static void
lower(char *dst, const char *src)
{
    size_t i = 0;

    for (; src[i]; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    dst[i] = '\0';
}

/* Every one of NJOBS ids answers Get (as returned and lower-cased) with its own name;
 * an unknown GUID does not; the same after a restart. */
START_TEST(test_index_lookup)
{
    struct env e;
    char(*ids)[FERRY_GUID_STRLEN] = calloc(NJOBS, FERRY_GUID_STRLEN);
    char local[600], low[FERRY_GUID_STRLEN], want[32];
    struct ferry_job_info *info = NULL;
    struct ferry_job_info **v = NULL;
    struct ferry_status st;
    size_t n = 0;

    ck_assert_ptr_nonnull(ids);
    env_init(&e, "jobs-index");
    e.cfg->max_jobs = NJOBS + 10;
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    snprintf(local, sizeof(local), "%s/x.bin", e.root);
    for (int i = 0; i < NJOBS; i++) {
        struct ferry_job_create req = {.remote_url = "http://127.0.0.1:9/x",
                                       .local_file = local, .suspend = true};
        snprintf(want, sizeof(want), "j%d", i);
        req.display_name = want;
        ck_assert_int_eq(ferry_jobs_create(e.jobs, &req, ids[i], &st), 0);
    }
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < NJOBS; i++) {
            snprintf(want, sizeof(want), "j%d", i);
            ck_assert_int_eq(ferry_jobs_get(e.jobs, ids[i], &info, &st), 0);
            ck_assert_str_eq(info->display_name, want);
            ck_assert_int_eq(info->state, FERRY_JOB_SUSPENDED);
            info = ferry_job_info_free(info);
            lower(low, ids[i]);
            ck_assert_int_eq(ferry_jobs_get(e.jobs, low, &info, &st), 0);
            ck_assert_str_eq(info->job_id, ids[i]);
            info = ferry_job_info_free(info);
        }
        ck_assert_int_eq(ferry_jobs_get(e.jobs, "{00000000-0000-0000-0000-000000000000}", &info,
                                        &st),
                         -ENOENT);
        ck_assert_int_eq(st.kind, FERRY_STATUS_NOT_FOUND);
        ck_assert_int_eq(ferry_jobs_list(e.jobs, &v, &n), 0);
        ck_assert_uint_eq(n, NJOBS);
        ck_assert_str_eq(v[0]->job_id, ids[0]); /* oldest first */
        ck_assert_str_eq(v[NJOBS - 1]->job_id, ids[NJOBS - 1]);
        ferry_job_info_list_free(v, n);
        /* restart: the index is rebuilt from the store */
        e.jobs = jobs_free(e.jobs);
        ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    }
    /* SetJobState through the index: cancel one, it leaves the listing */
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, ids[700], FERRY_JOB_ACTION_CANCEL, &st), 0);
    ck_assert_int_eq(ferry_jobs_list(e.jobs, &v, &n), 0);
    ck_assert_uint_eq(n, NJOBS - 1);
    ferry_job_info_list_free(v, n);
    free(ids);
    env_done(&e);
}
END_TEST

/* API writes are durable within JOBS_SYNC_INTERVAL_MS: a lone write syncs at once, the
 * rest of a burst is synced once by the jobs thread when the interval ends, and an idle
 * role does not sync again. */
START_TEST(test_burst_sync)
{
    struct env e;
    char id[FERRY_GUID_STRLEN], local[600];
    struct ferry_status st;
    uint64_t c0, c1, c2;

    env_init(&e, "jobs-sync");
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    snprintf(local, sizeof(local), "%s/y.bin", e.root);
    ct_sleep_ms(1200); /* start-up syncs are older than one interval */
    pthread_mutex_lock(&e.jobs->lock);
    c0 = store_sync_count(e.jobs->store);
    pthread_mutex_unlock(&e.jobs->lock);
    for (int i = 0; i < 20; i++) {
        struct ferry_job_create req = {.display_name = "b", .remote_url = "http://127.0.0.1:9/y",
                                       .local_file = local, .suspend = true};
        ck_assert_int_eq(ferry_jobs_create(e.jobs, &req, id, &st), 0);
    }
    pthread_mutex_lock(&e.jobs->lock);
    c1 = store_sync_count(e.jobs->store);
    pthread_mutex_unlock(&e.jobs->lock);
    ck_assert_uint_eq(c1, c0 + 1); /* the first write synced, the other 19 wait */
    for (int i = 0; i < 100; i++) {
        ct_sleep_ms(50);
        pthread_mutex_lock(&e.jobs->lock);
        c2 = store_sync_count(e.jobs->store);
        pthread_mutex_unlock(&e.jobs->lock);
        if (c2 > c1)
            break;
    }
    ck_assert_uint_eq(c2, c1 + 1); /* the tail, once */
    ct_sleep_ms(2500);
    pthread_mutex_lock(&e.jobs->lock);
    ck_assert_uint_eq(store_sync_count(e.jobs->store), c2); /* idle: nothing more */
    pthread_mutex_unlock(&e.jobs->lock);
    env_done(&e);
}
END_TEST

/* The job limit counts live jobs only, also once final-state jobs make up the total;
 * pruned jobs are gone from the index. */
START_TEST(test_limit_and_prune)
{
    struct env e;
    char ids[8][FERRY_GUID_STRLEN], id[FERRY_GUID_STRLEN], local[600];
    struct ferry_job_create req = {.display_name = "x", .remote_url = "http://127.0.0.1:9/x",
                                   .suspend = true};
    struct ferry_job_info *info = NULL;
    struct ferry_status st;

    env_init(&e, "jobs-limit");
    e.cfg->max_jobs = 3;
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    snprintf(local, sizeof(local), "%s/x.bin", e.root);
    req.local_file = local;
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(ferry_jobs_create(e.jobs, &req, ids[i], &st), 0);
    ck_assert_int_eq(ferry_jobs_create(e.jobs, &req, id, &st), -EMLINK);
    ck_assert_uint_eq(st.code, FERRY_BG_E_TOO_MANY_JOBS_PER_MACHINE);
    /* cancelled jobs stop counting: three more fit, the oldest final ones are pruned */
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(ferry_jobs_set_state(e.jobs, ids[i], FERRY_JOB_ACTION_CANCEL, &st), 0);
    for (int i = 3; i < 6; i++)
        ck_assert_int_eq(ferry_jobs_create(e.jobs, &req, ids[i], &st), 0);
    ck_assert_int_eq(ferry_jobs_create(e.jobs, &req, id, &st), -EMLINK);
    for (int i = 3; i < 6; i++) {
        ck_assert_int_eq(ferry_jobs_set_state(e.jobs, ids[i], FERRY_JOB_ACTION_CANCEL, &st), 0);
        ck_assert_int_eq(ferry_jobs_create(e.jobs, &req, id, &st), 0);
    }
    /* 6 cancelled, max 3 final kept: ids 0..2 pruned (gone from the index), 3..5 readable */
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(ferry_jobs_get(e.jobs, ids[i], &info, &st), i < 3 ? -ENOENT : 0);
        if (i >= 3)
            ck_assert_int_eq(info->state, FERRY_JOB_CANCELLED);
        info = ferry_job_info_free(info);
    }
    env_done(&e);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("jobs_index");
    SRunner *sr;
    int failed;

    ct_add(s, "lookup", test_index_lookup);
    ct_add(s, "limit", test_limit_and_prune);
    ct_add(s, "burst-sync", test_burst_sync);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
