/*
 * tests/engine/client/test_jobs.c - engine/client/jobs.c: the public API and BITS rules
 * (create, limits, SetJobState transitions, Put, persistence across restarts,
 * credentials never readable), and with a real nginx: suspend/resume mid-file, cancel,
 * and crash resume (kill -9 of a child process, a flipped byte in a verified chunk).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client-test.h"
#include "ferry-test.h"
#include "client/client.h"
#include "client/job.h"
#include "client/jobs_role.h"

static int db_query_int(const char *db, const char *sql);

struct env {
    char *tmp;
    char state[512], root[512], www[512], ngxdir[512];
    struct ferry_config *cfg;
    struct ct_nginx ngx;
    bool have_ngx;
    struct ferry_jobs *jobs;
};

static void
env_init(struct env *e, const char *tag, bool nginx, const char *nginx_extra)
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
    if (nginx) {
        ck_assert_int_eq(ct_nginx_start(&e->ngx, e->ngxdir, e->www, nginx_extra), 0);
        e->have_ngx = true;
    }
}

static void
env_done(struct env *e)
{
    e->jobs = jobs_free(e->jobs);
    if (e->have_ngx)
        ct_nginx_done(&e->ngx);
    ct_config_free(e->cfg);
    e->tmp = ft_tmpdir_free(e->tmp);
}

/* Create validation: Type, DisplayName, URL scheme, LocalFile, limits. */
START_TEST(test_create_checks)
{
    struct env e;
    char id[FERRY_GUID_STRLEN], local[600], name[300];
    struct ferry_job_create req = {.display_name = "x", .remote_url = "http://h/x"};
    struct ferry_job_info *info = NULL;
    struct ferry_status st;
    struct stat sb;

    env_init(&e, "jobs-create", false, NULL);
    e.cfg->max_jobs = 3;
    e.cfg->max_files_per_job = 2;
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    /* the store: 0600 file in a 0700 directory */
    ck_assert_int_eq(stat(e.state, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0700);
    {
        char db[600];
        snprintf(db, sizeof(db), "%s/jobs.db", e.state);
        ck_assert_int_eq(stat(db, &sb), 0);
        ck_assert_int_eq(sb.st_mode & 0777, 0600);
    }
    snprintf(local, sizeof(local), "%s/x.bin", e.root);
    req.local_file = local;
    req.type = 3;
    ck_assert_int_eq(ferry_jobs_create(e.jobs, &req, id, &st), -EINVAL);
    ck_assert_int_eq(st.kind, FERRY_STATUS_INVALID_PARAMETER);
    ck_assert_str_eq(st.param, "Type");
    req.type = 0;
    memset(name, 'a', 257);
    name[257] = '\0';
    req.display_name = name;
    ck_assert_int_eq(ferry_jobs_create(e.jobs, &req, id, &st), -EINVAL);
    ck_assert_str_eq(st.param, "DisplayName");
    name[256] = '\0';
    req.remote_url = "ftp://h/x";
    ck_assert_int_eq(ferry_jobs_create(e.jobs, &req, id, &st), -EINVAL);
    ck_assert_str_eq(st.param, "RemoteUrl");
    req.remote_url = "file:///etc/passwd";
    ck_assert_int_eq(ferry_jobs_create(e.jobs, &req, id, &st), -EINVAL);
    ck_assert_str_eq(st.param, "RemoteUrl");
    req.remote_url = "https://h/x";
    req.local_file = "/etc/passwd";
    ck_assert_int_eq(ferry_jobs_create(e.jobs, &req, id, &st), -EINVAL);
    ck_assert_str_eq(st.param, "LocalFile");
    req.local_file = local;
    req.suspend = true;
    ck_assert_int_eq(ferry_jobs_create(e.jobs, &req, id, &st), 0);
    ck_assert_int_eq(ferry_guid_check(id), 0);
    ck_assert_int_eq(ferry_jobs_get(e.jobs, id, &info, &st), 0);
    ck_assert_str_eq(info->display_name, name);
    ck_assert_int_eq(info->state, FERRY_JOB_SUSPENDED);
    ck_assert_int_eq(info->priority, FERRY_PRIORITY_NORMAL);
    ck_assert_uint_eq(info->minimum_retry_delay, 600);
    ck_assert_uint_eq(info->no_progress_timeout, 1209600);
    ck_assert_uint_eq(info->bytes_total, FERRY_SIZE_UNKNOWN);
    ck_assert_uint_eq(info->files_total, 1);
    ck_assert_uint_ne(info->creation_time, 0);
    ck_assert_uint_eq(info->completion_time, 0);
    ferry_job_info_free(info);
    /* files per job */
    ck_assert_int_eq(ferry_jobs_add_file(e.jobs, id, "http://h/y", local, &st), 0);
    ck_assert_int_eq(ferry_jobs_add_file(e.jobs, id, "http://h/z", local, &st), -EMLINK);
    ck_assert_int_eq(st.kind, FERRY_STATUS_RESULT);
    ck_assert_uint_eq(st.code, FERRY_BG_E_TOO_MANY_FILES_IN_JOB);
    ck_assert_uint_eq(st.code, 0x80200051u);
    /* jobs per machine */
    ck_assert_int_eq(ferry_jobs_create(e.jobs, &req, id, &st), 0);
    ck_assert_int_eq(ferry_jobs_create(e.jobs, &req, id, &st), 0);
    ck_assert_int_eq(ferry_jobs_create(e.jobs, &req, id, &st), -EMLINK);
    ck_assert_uint_eq(st.code, FERRY_BG_E_TOO_MANY_JOBS_PER_MACHINE);
    ck_assert_uint_eq(st.code, 0x80200050u);
    /* cancelled jobs do not count */
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id, FERRY_JOB_ACTION_CANCEL, &st), 0);
    ck_assert_int_eq(ferry_jobs_create(e.jobs, &req, id, &st), 0);
    /* unknown and malformed ids */
    ck_assert_int_eq(ferry_jobs_get(e.jobs, "{00000000-0000-4000-8000-000000000000}", &info,
                                    &st),
                     -ENOENT);
    ck_assert_int_eq(st.kind, FERRY_STATUS_NOT_FOUND);
    ck_assert_int_eq(ferry_jobs_get(e.jobs, "nope", &info, &st), -EINVAL);
    ck_assert_int_eq(st.kind, FERRY_STATUS_INVALID_PARAMETER);
    env_done(&e);
}
END_TEST

/* SetJobState: BITS transition rules, no transfer involved (suspended jobs, or a URL on a
 * closed port for the error path). */
START_TEST(test_transitions)
{
    struct env e;
    char id[FERRY_GUID_STRLEN], local[600];
    struct ferry_status st;
    struct ferry_job_error err;
    struct ferry_job_props p = {0};
    struct ferry_job_info *info = NULL;

    env_init(&e, "jobs-states", false, NULL);
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    snprintf(local, sizeof(local), "%s/x.bin", e.root);
    /* complete before TRANSFERRED: as BITS, the complete files (none here) are kept, the
     * others dropped, ACKNOWLEDGED, and the answer is the success BG_S_PARTIAL_COMPLETE;
     * a final job cannot be completed again */
    ct_create(e.jobs, "http://127.0.0.1:9/x", local, true, id);
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id, FERRY_JOB_ACTION_COMPLETE, &st), 0);
    ck_assert_int_eq(st.kind, FERRY_STATUS_OK);
    ck_assert_uint_eq(st.code, FERRY_BG_S_PARTIAL_COMPLETE);
    ck_assert_int_eq(ct_job_state(e.jobs, id), FERRY_JOB_ACKNOWLEDGED);
    ck_assert_int_eq(access(local, F_OK), -1);
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id, FERRY_JOB_ACTION_COMPLETE, &st), -EINVAL);
    ck_assert_int_eq(st.kind, FERRY_STATUS_RESULT);
    ck_assert_uint_eq(st.code, FERRY_BG_E_INVALID_STATE);
    ct_create(e.jobs, "http://127.0.0.1:9/x", local, true, id);
    /* suspend on suspended: no-op */
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id, FERRY_JOB_ACTION_SUSPEND, &st), 0);
    ck_assert_int_eq(ct_job_state(e.jobs, id), FERRY_JOB_SUSPENDED);
    /* no error object outside ERROR states */
    ck_assert_int_eq(ferry_jobs_get_error(e.jobs, id, &err, &st), -ENODATA);
    ck_assert_int_eq(st.kind, FERRY_STATUS_RESULT);
    /* bad action value */
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id, (enum ferry_job_action)7, &st), -EINVAL);
    ck_assert_int_eq(st.kind, FERRY_STATUS_INVALID_PARAMETER);
    /* Put: priority, retry delay floor, NoProgressTimeout 0 = every error fatal */
    p.mask = FERRY_JOBPROP_PRIORITY | FERRY_JOBPROP_MIN_RETRY_DELAY |
             FERRY_JOBPROP_NO_PROGRESS_TIMEOUT | FERRY_JOBPROP_DESCRIPTION;
    p.priority = 3;
    p.minimum_retry_delay = 2;
    p.no_progress_timeout = 0;
    p.description = "desc";
    ck_assert_int_eq(ferry_jobs_set_props(e.jobs, id, &p, &st), 0);
    p.mask = FERRY_JOBPROP_PRIORITY;
    p.priority = 4;
    ck_assert_int_eq(ferry_jobs_set_props(e.jobs, id, &p, &st), -EINVAL);
    ck_assert_str_eq(st.param, "Priority");
    p.mask = FERRY_JOBPROP_CONNECTIONS;
    p.connections = 17;
    ck_assert_int_eq(ferry_jobs_set_props(e.jobs, id, &p, &st), -EINVAL);
    ck_assert_int_eq(ferry_jobs_get(e.jobs, id, &info, &st), 0);
    ck_assert_int_eq(info->priority, FERRY_PRIORITY_LOW);
    ck_assert_uint_eq(info->minimum_retry_delay, 5);
    ck_assert_uint_eq(info->no_progress_timeout, 0);
    ck_assert_str_eq(info->description, "desc");
    ferry_job_info_free(info);
    /* resume: port 9 refuses -> a transient error, fatal because NoProgressTimeout is 0 */
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id, FERRY_JOB_ACTION_RESUME, &st), 0);
    ck_assert_int_eq(ct_wait_state(e.jobs, id, FERRY_JOB_ERROR, 10000), FERRY_JOB_ERROR);
    ck_assert_int_eq(ferry_jobs_get_error(e.jobs, id, &err, &st), 0);
    ck_assert_int_eq(err.context, FERRY_ERRCTX_GENERAL_TRANSPORT);
    ck_assert_uint_eq(err.code, 0x80072EFDu);
    ck_assert_str_eq(err.file, "http://127.0.0.1:9/x");
    ck_assert_ptr_nonnull(err.context_text);
    ferry_job_error_done(&err);
    /* errors clear when the job moves on */
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id, FERRY_JOB_ACTION_SUSPEND, &st), 0);
    ck_assert_int_eq(ferry_jobs_get_error(e.jobs, id, &err, &st), -ENODATA);
    /* cancel is final */
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id, FERRY_JOB_ACTION_CANCEL, &st), 0);
    ck_assert_int_eq(ct_job_state(e.jobs, id), FERRY_JOB_CANCELLED);
    for (int a = 0; a <= 3; a++) {
        ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id, (enum ferry_job_action)a, &st),
                         -EINVAL);
        ck_assert_uint_eq(st.code, FERRY_BG_E_INVALID_STATE);
    }
    ck_assert_int_eq(ferry_jobs_add_file(e.jobs, id, "http://h/x", local, &st), -EINVAL);
    p.mask = FERRY_JOBPROP_DISPLAY_NAME;
    p.display_name = "y";
    ck_assert_int_eq(ferry_jobs_set_props(e.jobs, id, &p, &st), -EINVAL);
    /* final jobs stay readable by id, leave the list */
    {
        struct ferry_job_info **v = NULL;
        size_t n = 9;
        ck_assert_int_eq(ferry_jobs_list(e.jobs, &v, &n), 0);
        ck_assert_uint_eq(n, 0);
        ferry_job_info_list_free(v, n);
    }
    ck_assert_int_eq(ct_job_state(e.jobs, id), FERRY_JOB_CANCELLED);
    env_done(&e);
}
END_TEST

/* Jobs, props, options and credentials persist; credentials never come back out. */
START_TEST(test_persistence_and_credentials)
{
    struct env e;
    char id[FERRY_GUID_STRLEN], local[600];
    struct ferry_status st;
    struct ferry_job_info *info = NULL;
    struct ferry_job_props p = {.mask = FERRY_JOBPROP_PRIORITY | FERRY_JOBPROP_BANDWIDTH_LIMIT,
                                .priority = 1, .bandwidth_limit = 123456};

    env_init(&e, "jobs-persist", false, NULL);
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    snprintf(local, sizeof(local), "%s/x.bin", e.root);
    ct_create(e.jobs, "http://127.0.0.1:9/x", local, true, id);
    ck_assert_int_eq(ferry_jobs_set_props(e.jobs, id, &p, &st), 0);
    ck_assert_int_eq(ferry_jobs_set_credentials(e.jobs, id, 0, 0, "alice", "s3cr3t-pw", &st),
                     0);
    ck_assert_int_eq(ferry_jobs_set_credentials(e.jobs, id, 0, 4, "a", "b", &st), -EOPNOTSUPP);
    ck_assert_str_eq(st.param, "Scheme");
    ck_assert_int_eq(st.kind, FERRY_STATUS_RESULT);
    ck_assert_uint_eq(st.code, 0x80200028u); /* BG_E_INVALID_AUTH_SCHEME */
    ck_assert_int_eq(ferry_jobs_set_credentials(e.jobs, id, 0, 9, "a", "b", &st), -EINVAL);
    ck_assert_uint_eq(st.code, FERRY_BG_E_INVALID_AUTH_SCHEME);
    ck_assert_int_eq(ferry_jobs_set_credentials(e.jobs, id, 2, 0, "a", "b", &st), -EINVAL);
    ck_assert_int_eq(st.kind, FERRY_STATUS_RESULT);
    ck_assert_uint_eq(st.code, 0x80200027u); /* BG_E_INVALID_AUTH_TARGET */
    ck_assert_int_eq(ferry_jobs_remove_credentials(e.jobs, id, 3, 0, &st), -EINVAL);
    ck_assert_uint_eq(st.code, FERRY_BG_E_INVALID_AUTH_TARGET);
    ck_assert_int_eq(ferry_jobs_remove_credentials(e.jobs, id, 0, 5, &st), -EINVAL);
    ck_assert_uint_eq(st.code, FERRY_BG_E_INVALID_AUTH_SCHEME);
    ck_assert_int_eq(ferry_jobs_set_credentials(e.jobs, id, 0, 0, NULL, "b", &st), -EINVAL);
    ck_assert_int_eq(ferry_jobs_set_proxy(e.jobs, id, 2, "http://proxy:3128", "<local>", &st),
                     0);
    ck_assert_int_eq(ferry_jobs_set_proxy(e.jobs, id, 1, "http://proxy:3128", NULL, &st),
                     -EINVAL);
    ck_assert_int_eq(ferry_jobs_set_option(e.jobs, id, "Mirror", "http://m/x", &st), 0);
    ck_assert_int_eq(ferry_jobs_set_option(e.jobs, id, "Mirror", "gopher://m/x", &st), -EINVAL);
    ck_assert_int_eq(ferry_jobs_set_option(e.jobs, id, "CustomHeader", "X-A: b", &st), 0);
    ck_assert_int_eq(ferry_jobs_set_option(e.jobs, id, "CustomHeader", "X-A: b\r\nX: y", &st),
                     -EINVAL);
    ck_assert_int_eq(ferry_jobs_set_option(e.jobs, id, "Bogus", "1", &st), -EINVAL);
    ck_assert_str_eq(st.param, "Name");
    e.jobs = jobs_free(e.jobs);

    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    ck_assert_int_eq(ferry_jobs_get(e.jobs, id, &info, &st), 0);
    ck_assert_int_eq(info->state, FERRY_JOB_SUSPENDED);
    ck_assert_int_eq(info->priority, FERRY_PRIORITY_HIGH);
    ck_assert_uint_eq(info->bandwidth_limit, 123456);
    ck_assert(info->has_credentials);
    ck_assert_str_eq(info->owner, "tester");
    ck_assert_str_eq(info->files[0].local_file, local);
    /* nothing in the snapshot carries the password */
    ck_assert_ptr_null(strstr(info->display_name, "s3cr3t"));
    ck_assert_ptr_null(strstr(info->description, "s3cr3t"));
    ferry_job_info_free(info);
    {
        struct ferry_jobs_stats stats;
        ferry_jobs_stats(e.jobs, &stats);
        ck_assert_uint_eq(stats.jobs_by_state[FERRY_JOB_SUSPENDED], 1);
    }
    ck_assert_int_eq(ferry_jobs_remove_credentials(e.jobs, id, 0, 0, &st), 0);
    ck_assert_int_eq(ferry_jobs_get(e.jobs, id, &info, &st), 0);
    ck_assert(!info->has_credentials);
    ferry_job_info_free(info);
    env_done(&e);
}
END_TEST

/* A second process (or handle) on the same state dir is refused, naming the file; a
 * corrupt store refuses to start. */
START_TEST(test_store_refusals)
{
    struct env e;
    struct ferry_jobs *second = NULL;
    char db[600];

    env_init(&e, "jobs-store", false, NULL);
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    ck_assert_int_eq(jobs_new(e.cfg, &second), -EBUSY);
    e.jobs = jobs_free(e.jobs);
    snprintf(db, sizeof(db), "%s/jobs.db", e.state);
    ck_assert_int_eq(db_query_int(db, "PRAGMA user_version"), 6);
    ck_assert_int_eq(db_query_int(db, "SELECT COUNT(*) FROM settings WHERE key = "
                                      "'last_opened_by'"),
                     1);
    /* a store from a newer ferry is refused, not rewritten */
    {
        sqlite3 *h = NULL;
        ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
        ck_assert_int_eq(sqlite3_exec(h, "PRAGMA user_version = 99", NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(h);
    }
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), -EPROTO);
    ck_assert_int_eq(db_query_int(db, "PRAGMA user_version"), 99);
    {
        char junk[8192];
        memset(junk, 'Z', sizeof(junk));
        ck_assert_int_eq(ft_write_file(db, junk, sizeof(junk)), 0);
    }
    ck_assert_int_lt(jobs_new(e.cfg, &e.jobs), 0);
    ck_assert_ptr_null(e.jobs);
    env_done(&e);
}
END_TEST

/* Suspend mid-file stops the bytes; Resume continues from the partial chunks (nginx sends
 * little more than the file once); Cancel removes the temp file. */
START_TEST(test_suspend_resume_cancel)
{
    struct env e;
    char id[FERRY_GUID_STRLEN], id2[FERRY_GUID_STRLEN], url[256], local[600], src[600];
    char tmpf[700], local2[600], tmpf2[700];
    uint64_t size = 40u << 20, b1, b2;
    struct ferry_status st;
    struct stat sb;

    env_init(&e, "jobs-suspend", true, "limit_rate 5m;");
    snprintf(src, sizeof(src), "%s/s.bin", e.www);
    ck_assert_int_eq(ct_random_file(src, size, 7), 0);
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    snprintf(url, sizeof(url), "%s/s.bin", e.ngx.url);
    snprintf(local, sizeof(local), "%s/s.bin", e.root);
    ct_create(e.jobs, url, local, false, id);
    ck_assert_uint_ge(ct_wait_bytes(e.jobs, id, size / 4, 30000), size / 4);
    {
        struct ferry_job_info *info = NULL;
        ck_assert_int_eq(ferry_jobs_get(e.jobs, id, &info, NULL), 0);
        ck_assert_uint_ge(info->connections, 1); /* ranges in flight */
        ck_assert_uint_le(info->connections, 4);
        ck_assert_uint_eq(info->connections_per_file, 4);
        ferry_job_info_free(info);
    }
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id, FERRY_JOB_ACTION_SUSPEND, &st), 0);
    {
        struct ferry_job_info *info = NULL;
        ct_sleep_ms(200);
        ck_assert_int_eq(ferry_jobs_get(e.jobs, id, &info, NULL), 0);
        ck_assert_uint_eq(info->connections, 0);
        ferry_job_info_free(info);
    }
    ck_assert_int_eq(ct_job_state(e.jobs, id), FERRY_JOB_SUSPENDED);
    ct_sleep_ms(300);
    b1 = ct_job_bytes(e.jobs, id);
    ct_sleep_ms(1000);
    b2 = ct_job_bytes(e.jobs, id);
    ck_assert_uint_eq(b1, b2);
    ck_assert_uint_lt(b2, size);
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id, FERRY_JOB_ACTION_RESUME, &st), 0);
    ck_assert_int_eq(ct_wait_state(e.jobs, id, FERRY_JOB_TRANSFERRED, 60000),
                     FERRY_JOB_TRANSFERRED);
    {
        struct ferry_job_info *info = NULL;
        ck_assert_int_eq(ferry_jobs_get(e.jobs, id, &info, NULL), 0);
        ck_assert_uint_eq(info->bytes_refetched, 0); /* partial chunks were resumed */
        ferry_job_info_free(info);
    }
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id, FERRY_JOB_ACTION_COMPLETE, &st), 0);
    ck_assert(ct_files_equal(src, local));
    /* Progress was kept across suspend: a restart from zero would have sent the b2 bytes
     * (>= 10 MiB) twice, so nginx's total stays below size + b2 even though its
     * $bytes_sent also counts what sat in the closed connections' socket queues. */
    ct_sleep_ms(200);
    ck_assert_uint_ge(b2, size / 4);
    ck_assert_uint_lt(ct_nginx_bytes_sent(&e.ngx), size + b2);

    /* cancel mid-transfer */
    snprintf(local2, sizeof(local2), "%s/s2.bin", e.root);
    ct_create(e.jobs, url, local2, false, id2);
    snprintf(tmpf2, sizeof(tmpf2), "%s/.s2.bin.ferry-%.8s.part", e.root, id2 + 1);
    ck_assert_uint_ge(ct_wait_bytes(e.jobs, id2, 4u << 20, 30000), 4u << 20);
    ck_assert_int_eq(stat(tmpf2, &sb), 0);
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id2, FERRY_JOB_ACTION_CANCEL, &st), 0);
    ck_assert_int_eq(ct_job_state(e.jobs, id2), FERRY_JOB_CANCELLED);
    ck_assert_int_ne(stat(tmpf2, &sb), 0);
    ct_sleep_ms(500);
    ck_assert_int_ne(stat(tmpf2, &sb), 0);
    ck_assert_int_ne(stat(local2, &sb), 0);
    snprintf(tmpf, sizeof(tmpf), "%s/.s.bin.ferry-%.8s.part", e.root, id + 1);
    ck_assert_int_ne(stat(tmpf, &sb), 0);
    env_done(&e);
}
END_TEST

/* NoProgressTimeout: a job that keeps failing transiently ends in ERROR once the next retry
 * would fall beyond the timeout; Resume from ERROR retries at once. */
START_TEST(test_no_progress_timeout)
{
    struct env e;
    char id[FERRY_GUID_STRLEN], local[600];
    struct ferry_job_props p = {.mask = FERRY_JOBPROP_MIN_RETRY_DELAY |
                                        FERRY_JOBPROP_NO_PROGRESS_TIMEOUT,
                                .minimum_retry_delay = 5, .no_progress_timeout = 7};
    struct ferry_job_info *info = NULL;
    struct ferry_job_error err;
    struct ferry_status st;

    env_init(&e, "jobs-noprogress", false, NULL);
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    snprintf(local, sizeof(local), "%s/x.bin", e.root);
    ct_create(e.jobs, "http://127.0.0.1:9/x", local, true, id);
    ck_assert_int_eq(ferry_jobs_set_props(e.jobs, id, &p, &st), 0);
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id, FERRY_JOB_ACTION_RESUME, &st), 0);
    /* first failure at ~0 s: 5 s retry fits in 7 s */
    ck_assert_int_eq(ct_wait_state(e.jobs, id, FERRY_JOB_TRANSIENT_ERROR, 5000),
                     FERRY_JOB_TRANSIENT_ERROR);
    ck_assert_int_eq(ferry_jobs_get_error(e.jobs, id, &err, &st), 0);
    ck_assert_uint_eq(err.code, 0x80072EFDu);
    ferry_job_error_done(&err);
    /* second failure at ~5 s: another 5 s would pass 7 s -> ERROR */
    ck_assert_int_eq(ct_wait_state(e.jobs, id, FERRY_JOB_ERROR, 9000), FERRY_JOB_ERROR);
    ck_assert_int_eq(ferry_jobs_get(e.jobs, id, &info, &st), 0);
    ck_assert_uint_eq(info->transient_error_count, 2);
    ck_assert_uint_eq(info->retries, 1);
    ferry_job_info_free(info);
    ck_assert_int_eq(ferry_jobs_get_error(e.jobs, id, &err, &st), 0);
    ck_assert_uint_eq(err.code, 0x80072EFDu);
    ferry_job_error_done(&err);
    /* Resume from ERROR: tried again now, fails transiently again */
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id, FERRY_JOB_ACTION_RESUME, &st), 0);
    ck_assert_int_eq(ct_wait_state(e.jobs, id, FERRY_JOB_TRANSIENT_ERROR, 5000),
                     FERRY_JOB_TRANSIENT_ERROR);
    ck_assert_int_eq(ferry_jobs_get(e.jobs, id, &info, &st), 0);
    ck_assert_uint_eq(info->transient_error_count, 3);
    ferry_job_info_free(info);
    env_done(&e);
}
END_TEST

/* Final-state jobs stay readable by id, up to max-jobs of them; older ones are pruned from
 * memory and the store. */
START_TEST(test_prune_final)
{
    struct env e;
    char ids[5][FERRY_GUID_STRLEN], local[600], db[600];
    struct ferry_job_info *info = NULL;
    struct ferry_status st;

    env_init(&e, "jobs-prune", false, NULL);
    e.cfg->max_jobs = 3;
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    snprintf(local, sizeof(local), "%s/x.bin", e.root);
    for (int i = 0; i < 5; i++) {
        ct_create(e.jobs, "http://127.0.0.1:9/x", local, true, ids[i]);
        ck_assert_int_eq(ferry_jobs_set_state(e.jobs, ids[i], FERRY_JOB_ACTION_CANCEL, &st), 0);
    }
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(ferry_jobs_get(e.jobs, ids[i], &info, &st), i < 2 ? -ENOENT : 0);
        info = ferry_job_info_free(info);
    }
    e.jobs = jobs_free(e.jobs);
    snprintf(db, sizeof(db), "%s/jobs.db", e.state);
    ck_assert_int_eq(db_query_int(db, "SELECT COUNT(*) FROM jobs"), 3);
    ck_assert_int_eq(db_query_int(db, "SELECT COUNT(*) FROM files"), 3);
    env_done(&e);
}
END_TEST

/* A clean stop mid-transfer (jobs_free) persists progress: the next start resumes the job
 * (state back to running, verified chunks re-hashed and kept, nothing re-fetched). */
START_TEST(test_clean_restart)
{
    struct env e;
    char id[FERRY_GUID_STRLEN], url[256], local[600], src[600];
    uint64_t size = 32u << 20, before;
    struct ferry_job_info *info = NULL;

    env_init(&e, "jobs-restart", true, "limit_rate 4m;");
    snprintf(src, sizeof(src), "%s/r.bin", e.www);
    ck_assert_int_eq(ct_random_file(src, size, 9), 0);
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    snprintf(url, sizeof(url), "%s/r.bin", e.ngx.url);
    snprintf(local, sizeof(local), "%s/r.bin", e.root);
    ct_create(e.jobs, url, local, false, id);
    ck_assert_uint_ge(ct_wait_bytes(e.jobs, id, size / 3, 30000), size / 3);
    e.jobs = jobs_free(e.jobs);
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    ck_assert_int_eq(ferry_jobs_get(e.jobs, id, &info, NULL), 0);
    before = info->bytes_transferred;
    ck_assert_uint_ge(before, size / 3); /* progress survived */
    ferry_job_info_free(info);
    ck_assert_int_eq(ct_wait_state(e.jobs, id, FERRY_JOB_TRANSFERRED, 60000),
                     FERRY_JOB_TRANSFERRED);
    ck_assert_int_eq(ferry_jobs_get(e.jobs, id, &info, NULL), 0);
    ck_assert_uint_eq(info->bytes_refetched, 0);
    ferry_job_info_free(info);
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id, FERRY_JOB_ACTION_COMPLETE, NULL), 0);
    ck_assert(ct_files_equal(src, local));
    ct_sleep_ms(200);
    /* Nothing was fetched twice by the client (bytes_refetched 0 above); nginx also counts
     * what its limit_rate bursts had queued on the 4 closed connections at the stop. */
    ck_assert_uint_le(ct_nginx_bytes_sent(&e.ngx), size + (16u << 20));
    env_done(&e);
}
END_TEST

static int
db_query_int(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *stmt = NULL;
    int v = -1;

    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        goto done;
    sqlite3_busy_timeout(h, 2000);
    if (sqlite3_prepare_v2(h, sql, -1, &stmt, NULL) != SQLITE_OK)
        goto done;
    if (sqlite3_step(stmt) == SQLITE_ROW)
        v = sqlite3_column_int(stmt, 0);
done:
    sqlite3_finalize(stmt);
    sqlite3_close(h);
    return v;
}

/*
 * Crash resume: a child process runs the role and a 256 MiB job; it is killed with
 * SIGKILL mid-transfer; a byte inside a chunk the store calls verified is flipped; the
 * role starts again in this process. The job finishes with the right bytes, and nginx sent
 * at most 2% of the file + the flipped chunk again.
 */
START_TEST(test_crash_resume)
{
    struct env e;
    char id[FERRY_GUID_STRLEN] = "", url[256], local[600], src[600], db[600], tmpf[700];
    uint64_t size = 256ull << 20, chunk = 4u << 20, sent;
    int pfd[2], verified = 0, flip_idx;
    pid_t pid;
    struct ferry_job_info *info = NULL;

    /* nginx paces each response (2 MB/s after a 2 MB start) so that the client, not the
     * socket buffers, holds the data in flight: what nginx counts as sent is then what the
     * client received (a kill would otherwise lose whole buffered responses that the
     * client never saw). 8 connections: ~30 MB/s. */
    env_init(&e, "jobs-crash", true, "limit_rate 2m;");
    e.cfg->connections_per_file = 8;
    snprintf(src, sizeof(src), "%s/c.bin", e.www);
    ck_assert_int_eq(ct_random_file(src, size, 8), 0);
    snprintf(url, sizeof(url), "%s/c.bin", e.ngx.url);
    snprintf(local, sizeof(local), "%s/c.bin", e.root);
    snprintf(db, sizeof(db), "%s/jobs.db", e.state);
    ck_assert_int_eq(pipe(pfd), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct ferry_jobs *jobs = NULL;
        char cid[FERRY_GUID_STRLEN];
        close(pfd[0]);
        if (jobs_new(e.cfg, &jobs) < 0)
            _exit(2);
        ct_create(jobs, url, local, false, cid);
        if (write(pfd[1], cid, sizeof(cid)) != (ssize_t)sizeof(cid))
            _exit(3);
        for (;;)
            pause();
    }
    close(pfd[1]);
    ck_assert_int_eq(read(pfd[0], id, sizeof(id)), (ssize_t)sizeof(id));
    close(pfd[0]);
    for (int i = 0; i < 600 && verified < 26; i++) {
        ct_sleep_ms(50);
        verified = db_query_int(db, "SELECT COUNT(*) FROM chunks WHERE verified = 1");
    }
    ck_assert_int_ge(verified, 26); /* ~40% */
    /* nginx's limit_rate releases a second's worth of every response at each second tick,
     * and the verified count moves right after a tick: kill half a second later, in steady
     * state, not inside the burst that every connection receives at once (a kill there
     * loses up to a second of traffic whatever the client does; see client.md). */
    ct_sleep_ms(500);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    if (getenv("FERRY_TEST_DEBUG")) {
        ct_sleep_ms(2500);
        fprintf(stderr, "at kill: nginx sent %llu, durable %d MiB-ish (verified %d, fill sum %d)\n",
                (unsigned long long)ct_nginx_bytes_sent(&e.ngx),
                db_query_int(db, "SELECT SUM(CASE WHEN verified THEN 4 ELSE 0 END) FROM chunks"),
                db_query_int(db, "SELECT COUNT(*) FROM chunks WHERE verified = 1"),
                db_query_int(db, "SELECT SUM(fill) FROM chunks WHERE verified = 0"));
    }
    flip_idx = db_query_int(db, "SELECT MIN(chunk_idx) FROM chunks WHERE verified = 1");
    ck_assert_int_ge(flip_idx, 0);
    snprintf(tmpf, sizeof(tmpf), "%s/.c.bin.ferry-%.8s.part", e.root, id + 1);
    {
        int fd = open(tmpf, O_RDWR);
        uint8_t b[16];
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(pread(fd, b, sizeof(b), (off_t)(flip_idx * chunk + 12345)), 16);
        for (size_t k = 0; k < sizeof(b); k++)
            b[k] ^= 0xA5;
        ck_assert_int_eq(pwrite(fd, b, sizeof(b), (off_t)(flip_idx * chunk + 12345)), 16);
        close(fd);
    }
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    ck_assert_int_eq(ct_wait_state(e.jobs, id, FERRY_JOB_TRANSFERRED, 120000),
                     FERRY_JOB_TRANSFERRED);
    ck_assert_int_eq(ferry_jobs_get(e.jobs, id, &info, NULL), 0);
    ck_assert_uint_ge(info->bytes_refetched, chunk); /* the flipped chunk at least */
    ferry_job_info_free(info);
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id, FERRY_JOB_ACTION_COMPLETE, NULL), 0);
    ck_assert(ct_files_equal(src, local));
    ct_sleep_ms(300);
    sent = ct_nginx_bytes_sent(&e.ngx);
    fprintf(stderr, "crash resume: %d chunks verified at kill, nginx sent %llu bytes for a "
                    "%llu-byte file: %.2f%% again (limit 2%% + one chunk)\n",
            verified, (unsigned long long)sent, (unsigned long long)size,
            100.0 * (double)(sent - size) / (double)size);
    ck_assert_uint_ge(sent, size);
    ck_assert_uint_le(sent - size, size / 50 + chunk);
    env_done(&e);
}
END_TEST

/* Upload jobs (Type 1/2): one file; ReplyFileName only for Type 2, inside a root, before
 * the transfer, persisted in the uploads table across a restart. */
START_TEST(test_upload_jobs)
{
    struct env e;
    char id1[FERRY_GUID_STRLEN], id2[FERRY_GUID_STRLEN], local[600], reply[600], db[600];
    struct ferry_job_create req = {.display_name = "up", .remote_url = "http://h/in/x",
                                   .suspend = true};
    struct ferry_status st;

    env_init(&e, "jobs-upload", false, NULL);
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    snprintf(local, sizeof(local), "%s/x.bin", e.root);
    snprintf(reply, sizeof(reply), "%s/x.reply", e.root);
    snprintf(db, sizeof(db), "%s/jobs.db", e.state);
    req.local_file = local;
    req.type = 1;
    ck_assert_int_eq(ferry_jobs_create(e.jobs, &req, id1, &st), 0);
    ck_assert_int_eq(ferry_jobs_add_file(e.jobs, id1, "http://h/in/y", local, &st), -EMLINK);
    ck_assert_uint_eq(st.code, FERRY_BG_E_TOO_MANY_FILES);
    ck_assert_int_eq(ferry_jobs_set_option(e.jobs, id1, "ReplyFileName", reply, &st), -EINVAL);
    ck_assert_uint_eq(st.code, FERRY_BG_E_INVALID_STATE);
    req.type = 2;
    ck_assert_int_eq(ferry_jobs_create(e.jobs, &req, id2, &st), 0);
    ck_assert_int_eq(ferry_jobs_set_option(e.jobs, id2, "ReplyFileName", "/etc/x", &st),
                     -EINVAL);
    ck_assert_int_eq(ferry_jobs_set_option(e.jobs, id2, "ReplyFileName", local, &st), -EINVAL);
    ck_assert_int_eq(ferry_jobs_set_option(e.jobs, id2, "ReplyFileName", reply, &st), 0);
    e.jobs = jobs_free(e.jobs);
    ck_assert_int_eq(db_query_int(db, "SELECT COUNT(*) FROM uploads WHERE reply_file IS NOT "
                                      "NULL"),
                     1);
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    /* the row was loaded: a second ReplyFileName replaces it, still one row */
    ck_assert_int_eq(ferry_jobs_set_option(e.jobs, id2, "ReplyFileName", reply, &st), 0);
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id2, FERRY_JOB_ACTION_CANCEL, &st), 0);
    e.jobs = jobs_free(e.jobs);
    ck_assert_int_eq(db_query_int(db, "SELECT COUNT(*) FROM uploads"), 1);
    env_done(&e);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("jobs");
    SRunner *sr;
    int failed;

    ct_add(s, "create", test_create_checks);
    ct_add(s, "transitions", test_transitions);
    ct_add(s, "persistence", test_persistence_and_credentials);
    ct_add(s, "store", test_store_refusals);
    ct_add(s, "suspend", test_suspend_resume_cancel);
    ct_add(s, "crash", test_crash_resume);
    ct_add(s, "noprogress", test_no_progress_timeout);
    ct_add(s, "prune", test_prune_final);
    ct_add(s, "restart", test_clean_restart);
    ct_add(s, "upload", test_upload_jobs);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
