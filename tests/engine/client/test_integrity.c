/*
 * tests/engine/client/test_integrity.c - integrity across crashes, with a real nginx (no
 * server manifest): a Complete cut between its renames is finished by jobs_new and by a
 * repeated Complete (never a wrong LocalFile accepted), and a partial chunk whose bytes on
 * disk were damaged while the role was down is fetched again instead of being continued;
 * a v1 store (no prefix digests) is migrated and its unvouched partial chunks refetched.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
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
#include "client/verify.h"

struct env {
    char *tmp;
    char state[512], root[512], www[512], ngxdir[512];
    struct ferry_config *cfg;
    struct ct_nginx ngx;
    struct ferry_jobs *jobs;
};

static void
env_init(struct env *e, const char *tag, const char *nginx_extra)
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
    ck_assert_int_eq(ct_nginx_start(&e->ngx, e->ngxdir, e->www, nginx_extra), 0);
}

static void
env_done(struct env *e)
{
    e->jobs = jobs_free(e->jobs);
    ct_nginx_done(&e->ngx);
    ct_config_free(e->cfg);
    e->tmp = ft_tmpdir_free(e->tmp);
}

static int64_t
db_query_i64(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *stmt = NULL;
    int64_t v = -1;

    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        goto done;
    sqlite3_busy_timeout(h, 2000);
    if (sqlite3_prepare_v2(h, sql, -1, &stmt, NULL) != SQLITE_OK)
        goto done;
    if (sqlite3_step(stmt) == SQLITE_ROW)
        v = sqlite3_column_int64(stmt, 0);
done:
    sqlite3_finalize(stmt);
    sqlite3_close(h);
    return v;
}

/* The temp file of (job id, LocalFile root/name). */
static void
temp_path(const struct env *e, const char *id, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/.%s.ferry-%.8s.part", e->root, name, id + 1);
}

/* A job of n files fetched to TRANSFERRED; srcs/locals filled ("f<i>.bin"). */
static void
transferred_job(struct env *e, int n, uint64_t size, char id[FERRY_GUID_STRLEN],
                char src[][600], char local[][600])
{
    char url[300];

    for (int i = 0; i < n; i++) {
        snprintf(src[i], 600, "%s/f%d.bin", e->www, i);
        snprintf(local[i], 600, "%s/f%d.bin", e->root, i);
        ck_assert_int_eq(ct_random_file(src[i], size + (uint64_t)i * 4099, 40 + (uint64_t)i), 0);
    }
    snprintf(url, sizeof(url), "%s/f0.bin", e->ngx.url);
    ct_create(e->jobs, url, local[0], true, id);
    for (int i = 1; i < n; i++) {
        snprintf(url, sizeof(url), "%s/f%d.bin", e->ngx.url, i);
        ck_assert_int_eq(ferry_jobs_add_file(e->jobs, id, url, local[i], NULL), 0);
    }
    ck_assert_int_eq(ferry_jobs_set_state(e->jobs, id, FERRY_JOB_ACTION_RESUME, NULL), 0);
    ck_assert_int_eq(ct_wait_state(e->jobs, id, FERRY_JOB_TRANSFERRED, 60000),
                     FERRY_JOB_TRANSFERRED);
}

/*
 * kill -9 between two renames of a Complete: 2 of 3 temp files already renamed onto their
 * LocalFile, the third still a temp file, the store still says TRANSFERRED. jobs_new
 * finishes the Complete: the third file renamed, ACKNOWLEDGED, every file whole, no temp.
 */
START_TEST(test_complete_recovered)
{
    struct env e;
    char id[FERRY_GUID_STRLEN], src[3][600], local[3][600], tmp[700];

    env_init(&e, "integ-recover", NULL);
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    transferred_job(&e, 3, 1u << 20, id, src, local);
    e.jobs = jobs_free(e.jobs);
    for (int i = 0; i < 2; i++) {
        char name[16];
        snprintf(name, sizeof(name), "f%d.bin", i);
        temp_path(&e, id, name, tmp, sizeof(tmp));
        ck_assert_int_eq(rename(tmp, local[i]), 0);
    }
    ck_assert_int_eq(access(local[2], F_OK), -1);
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    ck_assert_int_eq(ct_job_state(e.jobs, id), FERRY_JOB_ACKNOWLEDGED);
    for (int i = 0; i < 3; i++)
        ck_assert(ct_files_equal(src[i], local[i]));
    temp_path(&e, id, "f2.bin", tmp, sizeof(tmp));
    ck_assert_int_eq(access(tmp, F_OK), -1);
    /* and it stays so across another restart */
    e.jobs = jobs_free(e.jobs);
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    ck_assert_int_eq(ct_job_state(e.jobs, id), FERRY_JOB_ACKNOWLEDGED);
    env_done(&e);
}
END_TEST

/*
 * A repeated Complete after the renames went through but not the state: returns 0 and
 * ACKNOWLEDGED. A LocalFile that is not the transferred file is never taken for it:
 * Complete fails with BG_E_LOCAL_FILE_CHANGED (right size, other bytes) or 0x80070002
 * (wrong size), and the job goes to ERROR with a LOCAL_FILE error naming LocalFile; Resume
 * brings it back to TRANSFERRED.
 */
START_TEST(test_complete_repeated)
{
    struct env e;
    char id[FERRY_GUID_STRLEN], id2[FERRY_GUID_STRLEN], src[2][600], local[2][600];
    char tmp[700], url[300], src3[600], local3[600], spec[64];
    uint8_t d[16];
    struct ferry_status st;
    struct ferry_job_error err;
    int fd;

    env_init(&e, "integ-repeat", NULL);
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    transferred_job(&e, 2, 1u << 20, id, src, local);
    temp_path(&e, id, "f0.bin", tmp, sizeof(tmp));
    ck_assert_int_eq(rename(tmp, local[0]), 0);
    temp_path(&e, id, "f1.bin", tmp, sizeof(tmp));
    ck_assert_int_eq(rename(tmp, local[1]), 0);
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id, FERRY_JOB_ACTION_COMPLETE, &st), 0);
    ck_assert_int_eq(ct_job_state(e.jobs, id), FERRY_JOB_ACKNOWLEDGED);
    ck_assert(ct_files_equal(src[0], local[0]));
    ck_assert(ct_files_equal(src[1], local[1]));

    /* a job with an ExpectedDigest whose temp file vanished and whose LocalFile has the
     * right size but other bytes */
    snprintf(src3, sizeof(src3), "%s/g.bin", e.www);
    snprintf(local3, sizeof(local3), "%s/g.bin", e.root);
    ck_assert_int_eq(ct_random_file(src3, 1u << 20, 77), 0);
    ck_assert_int_eq(ct_file_digest(src3, d), 0);
    memcpy(spec, "xxh128:", 7);
    ferry_hex_encode(d, 16, spec + 7);
    snprintf(url, sizeof(url), "%s/g.bin", e.ngx.url);
    ct_create(e.jobs, url, local3, true, id2);
    ck_assert_int_eq(ferry_jobs_set_option(e.jobs, id2, "ExpectedDigest", spec, NULL), 0);
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id2, FERRY_JOB_ACTION_RESUME, NULL), 0);
    ck_assert_int_eq(ct_wait_state(e.jobs, id2, FERRY_JOB_TRANSFERRED, 60000),
                     FERRY_JOB_TRANSFERRED);
    temp_path(&e, id2, "g.bin", tmp, sizeof(tmp));
    ck_assert_int_eq(unlink(tmp), 0);
    ck_assert_int_eq(ct_random_file(local3, 1u << 20, 78), 0);
    ck_assert_int_lt(ferry_jobs_set_state(e.jobs, id2, FERRY_JOB_ACTION_COMPLETE, &st), 0);
    ck_assert_uint_eq(st.code, FERRY_BG_E_LOCAL_FILE_CHANGED);
    ck_assert_int_eq(ct_job_state(e.jobs, id2), FERRY_JOB_ERROR);
    ck_assert_int_eq(ferry_jobs_get_error(e.jobs, id2, &err, &st), 0);
    ck_assert_int_eq(err.context, FERRY_ERRCTX_LOCAL_FILE);
    ck_assert_uint_eq(err.code, FERRY_BG_E_LOCAL_FILE_CHANGED);
    ck_assert_ptr_nonnull(strstr(err.text, local3));
    ferry_job_error_done(&err);
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id2, FERRY_JOB_ACTION_RESUME, NULL), 0);
    ck_assert_int_eq(ct_wait_state(e.jobs, id2, FERRY_JOB_TRANSFERRED, 60000),
                     FERRY_JOB_TRANSFERRED);
    /* wrong size: refused too, also by the recovery of jobs_new */
    fd = open(local3, O_WRONLY | O_TRUNC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "short", 5), 5);
    close(fd);
    e.jobs = jobs_free(e.jobs);
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    ck_assert_int_eq(ct_job_state(e.jobs, id2), FERRY_JOB_TRANSFERRED);
    ck_assert_int_lt(ferry_jobs_set_state(e.jobs, id2, FERRY_JOB_ACTION_COMPLETE, &st), 0);
    ck_assert_uint_eq(st.code, 0x80070002u);
    ck_assert_int_eq(ct_job_state(e.jobs, id2), FERRY_JOB_ERROR);
    env_done(&e);
}
END_TEST

/* The 16-byte tree_digest and the chunk_size of file idx of job id in jobs.db. */
static bool
db_tree_digest(const char *db, const char *id, int idx, uint8_t ret[16], uint64_t *ret_cs)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *stmt = NULL;
    bool ok = false;

    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        goto done;
    sqlite3_busy_timeout(h, 2000);
    if (sqlite3_prepare_v2(h, "SELECT tree_digest, chunk_size FROM files"
                              " WHERE job_id = ?1 AND idx = ?2", -1, &stmt, NULL) != SQLITE_OK)
        goto done;
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 2, idx);
    if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_bytes(stmt, 0) == 16) {
        memcpy(ret, sqlite3_column_blob(stmt, 0), 16);
        *ret_cs = (uint64_t)sqlite3_column_int64(stmt, 1);
        ok = true;
    }
done:
    sqlite3_finalize(stmt);
    sqlite3_close(h);
    return ok;
}

/*
 * Every completed file's tree digest is recorded from the chunk digests the fetcher
 * computed while writing (no read of the file): it equals the tree digest read back from
 * the fetched bytes (verify_tree_file), for a file of several chunks with a short last one
 * and for an empty file. Without a digest nothing would tell a foreign file of the same
 * size from the job's own.
 */
START_TEST(test_tree_recorded)
{
    struct env e;
    char id[FERRY_GUID_STRLEN], src[2][600], local[2][600], db[600];
    uint8_t want[16], got[16], zero_tree[16];
    uint64_t cs = 0;
    int fd;

    env_init(&e, "integ-tree", NULL);
    e.cfg->fetch_chunk_size = 1u << 20;
    snprintf(db, sizeof(db), "%s/jobs.db", e.state);
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    transferred_job(&e, 2, (3u << 20) + 1000, id, src, local);
    for (int i = 0; i < 2; i++) {
        char tmp[700], name[16];
        snprintf(name, sizeof(name), "f%d.bin", i);
        temp_path(&e, id, name, tmp, sizeof(tmp));
        ck_assert(db_tree_digest(db, id, i, want, &cs));
        ck_assert_uint_eq(cs, 1u << 20);
        fd = open(tmp, O_RDONLY);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(verify_tree_file(fd, (3u << 20) + 1000 + (uint64_t)i * 4099, cs, got),
                         0);
        close(fd);
        ck_assert_mem_eq(want, got, 16);
    }
    /* a digest of other bytes differs */
    fd = open(src[0], O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(verify_tree_file(fd, 1u << 20, cs, got), 0);
    close(fd);
    ck_assert_mem_ne(want, got, 16);
    /* the empty file: the tree of no chunks */
    ck_assert_int_eq(verify_tree_file(-1, 0, 0, zero_tree), 0);
    verify_digest("", 0, got);
    ck_assert_mem_eq(zero_tree, got, 16);
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id, FERRY_JOB_ACTION_COMPLETE, NULL), 0);
    env_done(&e);
}
END_TEST

/*
 * A partial chunk damaged while the role is down: 2 chunks of 8 MiB fetched at 2 MB/s each
 * (no manifest), the role stopped with both partial, bytes flipped inside the durable prefix
 * of one. On restart that chunk is fetched again from zero (bytes_refetched = its prefix),
 * the other one is continued (nothing else refetched), and LocalFile is the source.
 */
START_TEST(test_partial_damage)
{
    struct env e;
    char id[FERRY_GUID_STRLEN], url[300], src[600], local[600], tmp[700], db[600], sql[200];
    uint64_t size = 16u << 20, chunk = 8u << 20;
    int64_t fill0, fill1, dmg_fill;
    int dmg;
    struct ferry_job_info *info = NULL;

    env_init(&e, "integ-partial", "limit_rate 2m;");
    e.cfg->fetch_chunk_size = chunk;
    e.cfg->connections_per_file = 2;
    snprintf(src, sizeof(src), "%s/p.bin", e.www);
    ck_assert_int_eq(ct_random_file(src, size, 5), 0);
    snprintf(url, sizeof(url), "%s/p.bin", e.ngx.url);
    snprintf(local, sizeof(local), "%s/p.bin", e.root);
    snprintf(db, sizeof(db), "%s/jobs.db", e.state);
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    ct_create(e.jobs, url, local, false, id);
    ck_assert_uint_ge(ct_wait_bytes(e.jobs, id, 4u << 20, 30000), 4u << 20);
    e.jobs = jobs_free(e.jobs); /* checkpoints: both chunks partial and durable */
    fill0 = db_query_i64(db, "SELECT fill FROM chunks WHERE chunk_idx = 0 AND verified = 0");
    fill1 = db_query_i64(db, "SELECT fill FROM chunks WHERE chunk_idx = 1 AND verified = 0");
    ck_assert_int_gt(fill0, 65536);
    ck_assert_int_gt(fill1, 65536);
    dmg = 1;
    dmg_fill = fill1;
    temp_path(&e, id, "p.bin", tmp, sizeof(tmp));
    {
        int fd = open(tmp, O_RDWR);
        uint8_t b[8];
        off_t at = (off_t)((uint64_t)dmg * chunk + (uint64_t)dmg_fill / 2);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(pread(fd, b, sizeof(b), at), (ssize_t)sizeof(b));
        for (size_t k = 0; k < sizeof(b); k++)
            b[k] ^= 0x5A;
        ck_assert_int_eq(pwrite(fd, b, sizeof(b), at), (ssize_t)sizeof(b));
        close(fd);
    }
    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM chunks WHERE chunk_idx = %d", dmg);
    ck_assert_int_eq(db_query_i64(db, sql), 1);
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    ck_assert_int_eq(ct_wait_state(e.jobs, id, FERRY_JOB_TRANSFERRED, 60000),
                     FERRY_JOB_TRANSFERRED);
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id, FERRY_JOB_ACTION_COMPLETE, NULL), 0);
    ck_assert(ct_files_equal(src, local));
    ck_assert_int_eq(ferry_jobs_get(e.jobs, id, &info, NULL), 0);
    /* the damaged prefix, and only it: the intact partial chunk was continued */
    ck_assert_uint_eq(info->bytes_refetched, (uint64_t)dmg_fill);
    ferry_job_info_free(info);
    /* schema v2 keeps the prefix digests (v3 the tree digests, v4 the job policies) */
    ck_assert_int_eq(db_query_i64(db, "PRAGMA user_version"), 6);
    ck_assert_int_eq(db_query_i64(db, "SELECT COUNT(*) FROM pragma_table_info('chunks')"
                                      " WHERE name = 'fill_digest'"), 1);
    env_done(&e);
}
END_TEST

static void
db_exec(const char *db, const char *sql)
{
    sqlite3 *h = NULL;

    ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
}

/*
 * A store written by schema v1 (no prefix digests): migrated to v2 on open, the job loads,
 * and its partial chunks, which nothing can vouch for (no digest, no manifest), are fetched
 * again from zero: bytes_refetched = the partial bytes, LocalFile identical.
 */
START_TEST(test_v1_migration)
{
    struct env e;
    char id[FERRY_GUID_STRLEN], url[300], src[600], local[600], db[600];
    uint64_t size = 16u << 20;
    int64_t partial;
    struct ferry_job_info *info = NULL;

    env_init(&e, "integ-v1", "limit_rate 2m;");
    e.cfg->fetch_chunk_size = 8u << 20;
    e.cfg->connections_per_file = 2;
    snprintf(src, sizeof(src), "%s/m.bin", e.www);
    ck_assert_int_eq(ct_random_file(src, size, 6), 0);
    snprintf(url, sizeof(url), "%s/m.bin", e.ngx.url);
    snprintf(local, sizeof(local), "%s/m.bin", e.root);
    snprintf(db, sizeof(db), "%s/jobs.db", e.state);
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    ct_create(e.jobs, url, local, false, id);
    ck_assert_uint_ge(ct_wait_bytes(e.jobs, id, 2u << 20, 30000), 2u << 20);
    e.jobs = jobs_free(e.jobs);
    partial = db_query_i64(db, "SELECT SUM(fill) FROM chunks WHERE verified = 0");
    ck_assert_int_gt(partial, 0);
    /* back to what a v1 ferryd left */
    db_exec(db, "ALTER TABLE chunks DROP COLUMN fill_digest;"
                " ALTER TABLE files DROP COLUMN tree_digest; DROP TABLE job_policies;"
                " PRAGMA user_version = 1;");
    ck_assert_int_eq(db_query_i64(db, "PRAGMA user_version"), 1);
    ck_assert_int_eq(jobs_new(e.cfg, &e.jobs), 0);
    ck_assert_int_eq(db_query_i64(db, "PRAGMA user_version"), 6);
    ck_assert_int_eq(ct_wait_state(e.jobs, id, FERRY_JOB_TRANSFERRED, 60000),
                     FERRY_JOB_TRANSFERRED);
    ck_assert_int_eq(ferry_jobs_set_state(e.jobs, id, FERRY_JOB_ACTION_COMPLETE, NULL), 0);
    ck_assert(ct_files_equal(src, local));
    ck_assert_int_eq(ferry_jobs_get(e.jobs, id, &info, NULL), 0);
    ck_assert_uint_eq(info->bytes_refetched, (uint64_t)partial);
    ferry_job_info_free(info);
    env_done(&e);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("integrity");
    SRunner *sr;
    int failed;

    ct_add(s, "complete_recovered", test_complete_recovered);
    ct_add(s, "complete_repeated", test_complete_repeated);
    ct_add(s, "partial_damage", test_partial_damage);
    ct_add(s, "v1_migration", test_v1_migration);
    ct_add(s, "tree_recorded", test_tree_recorded);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
