/*
 * tests/engine/client/test_notify.c - the notification settings of a job (NotifyFlags,
 * SetNotifyCmdLine, NotifyUrl) through the public API: validation, the snapshot, the
 * notify table of jobs.db (written, deleted at the defaults, kept across a restart) and
 * the v2 -> v3 store migration; and the notifier running commands in-process (ERROR, a
 * hang killed after notify-timeout, DISABLE). tests/integration/notify.sh drives the
 * daemon (argv exactly, TRANSFERRED, notify URL, restart).
 */
#include <check.h>
#include <errno.h>
#include <pwd.h>
#include <unistd.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "client-test.h"
#include "ferry-test.h"
#include "client/jobs_role.h"
#include "core/clock.h"

static long long
db_int(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;

    ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

static void
db_exec(const char *db, const char *sql)
{
    sqlite3 *h = NULL;

    ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
}

struct env {
    char *tmp;
    char state[512], root[512], db[600], local[600];
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
    snprintf(e->db, sizeof(e->db), "%s/jobs.db", e->state);
    snprintf(e->local, sizeof(e->local), "%s/x.bin", e->root);
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

static struct ferry_job_info *
get(struct env *e, const char *id)
{
    struct ferry_job_info *info = NULL;

    ck_assert_int_eq(ferry_jobs_get(e->jobs, id, &info, NULL), 0);
    return info;
}

START_TEST(test_settings)
{
    struct env e;
    char id[FERRY_GUID_STRLEN];
    struct ferry_status st;
    struct ferry_job_info *info;
    struct ferry_job_props p = {0};

    env_init(&e, "notify-settings");
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    ct_create(e.jobs, "http://127.0.0.1:9/x", e.local, true, id);
    info = get(&e, id);
    ck_assert_uint_eq(info->notify_flags, FERRY_NOTIFY_DEFAULT_FLAGS); /* BITS: 3 */
    ck_assert_ptr_null(info->notify_program);
    ck_assert_ptr_null(info->notify_cmdline);
    ck_assert_ptr_null(info->notify_url);
    ferry_job_info_free(info);
    ck_assert_int_eq(db_int(e.db, "SELECT COUNT(*) FROM notify"), 0);

    /* refusals: relative or control-character programs, bad lines, flags, URLs */
    ck_assert_int_eq(ferry_jobs_set_notify_cmdline(e.jobs, id, "bin/x", NULL, &st), -EINVAL);
    ck_assert_str_eq(st.param, "Program");
    ck_assert_int_eq(ferry_jobs_set_notify_cmdline(e.jobs, id, "/bin/x\n", NULL, &st),
                     -EINVAL);
    ck_assert_int_eq(ferry_jobs_set_notify_cmdline(e.jobs, id, "/bin/x", "/bin/x 'open", &st),
                     -EINVAL);
    ck_assert_str_eq(st.param, "Parameters");
    ck_assert_int_eq(ferry_jobs_set_notify_cmdline(e.jobs, "{nope}", "/bin/x", NULL, &st),
                     -EINVAL);
    p.mask = FERRY_JOBPROP_NOTIFY_FLAGS;
    p.notify_flags = 0x20; /* FILE_RANGES_TRANSFERRED: not supported */
    ck_assert_int_eq(ferry_jobs_set_props(e.jobs, id, &p, &st), -EINVAL);
    ck_assert_str_eq(st.param, "NotifyFlags");
    p.mask = FERRY_JOBPROP_NOTIFY_URL;
    p.notify_url = "file:///etc/passwd";
    ck_assert_int_eq(ferry_jobs_set_props(e.jobs, id, &p, &st), -EINVAL);
    ck_assert_str_eq(st.param, "NotifyUrl");
    ck_assert_int_eq(db_int(e.db, "SELECT COUNT(*) FROM notify"), 0);

    /* the program alone is its own argv; Parameters are split as given */
    ck_assert_int_eq(ferry_jobs_set_notify_cmdline(e.jobs, id, "/bin/true", NULL, &st), 0);
    info = get(&e, id);
    ck_assert_str_eq(info->notify_program, "/bin/true");
    ck_assert_str_eq(info->notify_cmdline, "/bin/true");
    ferry_job_info_free(info);
    ck_assert_int_eq(ferry_jobs_set_notify_cmdline(e.jobs, id, "/usr/bin/logger",
                                                   "logger -t 'ferry job' \"$ID\"", &st),
                     0);
    p.mask = FERRY_JOBPROP_NOTIFY_FLAGS | FERRY_JOBPROP_NOTIFY_URL;
    p.notify_flags = FERRY_NOTIFY_JOB_ERROR | FERRY_NOTIFY_JOB_MODIFICATION;
    p.notify_url = "http://127.0.0.1:9/hook";
    ck_assert_int_eq(ferry_jobs_set_props(e.jobs, id, &p, &st), 0);
    ck_assert_int_eq(db_int(e.db, "SELECT flags FROM notify"), 10);
    e.jobs = jobs_free(e.jobs);

    /* a restart keeps all of it */
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    info = get(&e, id);
    ck_assert_uint_eq(info->notify_flags, 10);
    ck_assert_str_eq(info->notify_program, "/usr/bin/logger");
    ck_assert_str_eq(info->notify_cmdline, "logger -t \"ferry job\" \"$ID\"");
    ck_assert_str_eq(info->notify_url, "http://127.0.0.1:9/hook");
    ferry_job_info_free(info);

    /* back to the defaults: no program, no URL, flags 3 -> the row goes */
    ck_assert_int_eq(ferry_jobs_set_notify_cmdline(e.jobs, id, "", "ignored", &st), 0);
    p.notify_flags = FERRY_NOTIFY_DEFAULT_FLAGS;
    p.notify_url = "";
    ck_assert_int_eq(ferry_jobs_set_props(e.jobs, id, &p, &st), 0);
    info = get(&e, id);
    ck_assert_ptr_null(info->notify_program);
    ck_assert_ptr_null(info->notify_url);
    ferry_job_info_free(info);
    ck_assert_int_eq(db_int(e.db, "SELECT COUNT(*) FROM notify"), 0);

    /* a final job is read-only */
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id, FERRY_JOB_ACTION_CANCEL, NULL), 0);
    ck_assert_int_eq(ferry_jobs_set_notify_cmdline(e.jobs, id, "/bin/true", NULL, &st),
                     -EINVAL);
    ck_assert_uint_eq(st.code, FERRY_BG_E_INVALID_STATE);
    env_done(&e);
}
END_TEST

/* A v2 store (no notify table) is migrated to v3 and its jobs get the defaults. */
START_TEST(test_migration)
{
    struct env e;
    char id[FERRY_GUID_STRLEN];
    struct ferry_job_info *info;

    env_init(&e, "notify-migrate");
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    ct_create(e.jobs, "http://127.0.0.1:9/x", e.local, true, id);
    ck_assert_int_eq(ferry_jobs_set_notify_cmdline(e.jobs, id, "/bin/true", NULL, NULL), 0);
    e.jobs = jobs_free(e.jobs);
    ck_assert_int_eq(db_int(e.db, "PRAGMA user_version"), 6);
    db_exec(e.db, "DROP TABLE notify; PRAGMA user_version = 2;");
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    ck_assert_int_eq(db_int(e.db, "PRAGMA user_version"), 6);
    ck_assert_int_eq(db_int(e.db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'notify'"),
                     1);
    info = get(&e, id);
    ck_assert_uint_eq(info->notify_flags, FERRY_NOTIFY_DEFAULT_FLAGS);
    ck_assert_ptr_null(info->notify_program);
    ferry_job_info_free(info);
    env_done(&e);
}
END_TEST

/* Wait for a file to exist and be non-empty; its contents (malloc()ed) or NULL. */
static char *
wait_file(const char *path, int timeout_ms)
{
    for (int t = 0; t < timeout_ms; t += 50) {
        FILE *f = fopen(path, "r");

        if (f) {
            char *buf = calloc(1, 4096);
            size_t n = buf ? fread(buf, 1, 4095, f) : 0;

            fclose(f);
            if (n > 0)
                return buf;
            free(buf);
        }
        ct_sleep_ms(50);
    }
    return NULL;
}

/* A job that fails at once (connection refused, NoProgressTimeout 0) with a command. */
static void
failing_job(struct env *e, const char *name, uint32_t flags, const char *program,
            const char *params, char id[FERRY_GUID_STRLEN])
{
    struct ferry_job_props p = {.mask = FERRY_JOBPROP_NO_PROGRESS_TIMEOUT |
                                        FERRY_JOBPROP_NOTIFY_FLAGS,
                                .no_progress_timeout = 0, .notify_flags = flags};
    char local[700];

    snprintf(local, sizeof(local), "%s/%s.bin", e->root, name);
    ct_create(e->jobs, "http://127.0.0.1:9/x", local, true, id);
    ck_assert_int_eq(ferry_jobs_set_props(e->jobs, id, &p, NULL), 0);
    ck_assert_int_eq(ferry_jobs_set_notify_cmdline(e->jobs, id, program, params, NULL), 0);
    ck_assert_int_eq(ferry_jobs_set_state(e->jobs, id, FERRY_JOB_ACTION_RESUME, NULL), 0);
    ck_assert_int_eq(ct_wait_state(e->jobs, id, FERRY_JOB_ERROR, 30000), FERRY_JOB_ERROR);
}

START_TEST(test_run)
{
    struct env e;
    char id[FERRY_GUID_STRLEN], id2[FERRY_GUID_STRLEN], id3[FERRY_GUID_STRLEN];
    char out[700], out2[700], script[700], params[1600], want[200], *got;
    int64_t t0;
    FILE *f;

    if (geteuid() == 0 && !getpwnam("nobody"))
        return; /* root, and no account to run the commands as */
    env_init(&e, "notify-run");
    e.cfg->notify_user = (char *)"nobody";
    e.cfg->notify_timeout = 1;
    chmod(e.tmp, 0755);
    snprintf(out, sizeof(out), "%s/out", e.tmp);
    mkdir(out, 0777);
    chmod(out, 0777);
    snprintf(script, sizeof(script), "%s/hook.sh", e.tmp);
    f = fopen(script, "w");
    ck_assert_ptr_nonnull(f);
    fputs("#!/bin/sh\n/usr/bin/env | LC_ALL=C sort > \"$1\"\n", f);
    fclose(f);
    chmod(script, 0755);
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);

    /* ERROR (flag 2): the command runs with the job's id and state in a clean environment */
    snprintf(out, sizeof(out), "%s/out/err.txt", e.tmp);
    snprintf(params, sizeof(params), "hook %s", out);
    failing_job(&e, "a", FERRY_NOTIFY_JOB_ERROR, script, params, id);
    got = wait_file(out, 10000);
    ck_assert_ptr_nonnull(got);
    snprintf(want, sizeof(want),
             "FERRY_JOB_ID=%s\nFERRY_JOB_STATE=ERROR\nFERRY_NOTIFY_EVENT=ERROR\n"
             "PATH=/usr/local/bin:/usr/bin:/bin\nPWD=/\n", id);
    ck_assert_str_eq(got, want);
    free(got);

    /* DISABLE (4) with ERROR (2): nothing runs */
    snprintf(out2, sizeof(out2), "%s/out/disabled.txt", e.tmp);
    snprintf(params, sizeof(params), "hook %s", out2);
    failing_job(&e, "b", FERRY_NOTIFY_JOB_ERROR | FERRY_NOTIFY_DISABLE, script, params, id2);

    /* a command that hangs is killed after notify-timeout (1 s); the API stays responsive */
    failing_job(&e, "c", FERRY_NOTIFY_JOB_ERROR, "/bin/sleep", "sleep 30", id3);
    t0 = ferry_clock_ms();
    for (int i = 0; i < 20; i++) {
        struct ferry_job_info *info = get(&e, id3);
        ck_assert_int_eq(info->state, FERRY_JOB_ERROR);
        ferry_job_info_free(info);
    }
    ck_assert_int_lt(ferry_clock_ms() - t0, 500);
    ct_sleep_ms(2000);
    ck_assert_int_eq(access(out2, F_OK), -1);
    /* stopping does not wait for anything: children are killed and reaped */
    t0 = ferry_clock_ms();
    e.jobs = jobs_free(e.jobs);
    ck_assert_int_lt(ferry_clock_ms() - t0, 3000);
    e.cfg->notify_user = NULL;
    env_done(&e);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("notify");
    SRunner *sr;
    int failed;

    ct_add(s, "settings", test_settings);
    ct_add(s, "migration", test_migration);
    ct_add(s, "run", test_run);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
