/*
 * tests/engine/client/test_ferry_peer.c - the client role against ferry's own server role
 * (both in this process, over loopback): the server computes the chunk manifest of a sparse
 * image and links it (Link: rel=describedby); the client uses the manifest's chunk size and
 * digests, never fetches the zero chunks and leaves them as holes; the result is exact.
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
#include <unistd.h>

#include "client-test.h"
#include "ferry-test.h"
#include "ferry/server.h"
#include "ferry/users.h"
#include "client/client.h"
#include "client/job.h"
#include "client/jobs_role.h"
#include "server/server_role.h"

static void
cfg_set(struct ferry_config *cfg, const char *name, const char *value)
{
    char err[256] = "";

    ck_assert_msg(ferry_config_set(cfg, name, value, err, sizeof(err)) == 0, "%s: %s", name,
                  err);
}

static bool
manifest_ready(struct ferry_server *srv, const char *prefix, const char *suffix)
{
    struct ferry_group_info *g = NULL;
    bool ready = false;

    if (ferry_server_group_get(srv, prefix, &g) < 0)
        return false;
    for (size_t i = 0; i < g->nurls; i++)
        if (strcmp(g->urls[i].suffix, suffix) == 0)
            ready = g->urls[i].manifest_ready;
    ferry_group_info_free(g);
    return ready;
}

static uint64_t
url_bytes_sent(struct ferry_server *srv, const char *prefix)
{
    struct ferry_group_info *g = NULL;
    uint64_t sum = 0;

    if (ferry_server_group_get(srv, prefix, &g) < 0)
        return 0;
    for (size_t i = 0; i < g->nurls; i++)
        sum += g->urls[i].bytes_sent;
    ferry_group_info_free(g);
    return sum;
}

START_TEST(test_sparse_image_from_ferry)
{
    char *tmp = ft_tmpdir_new("ferry-peer");
    char sstate[600], cstate[600], pub[600], dl[600], users_path[700], src[700];
    char prefix[128], url[256], local[700], id[FERRY_GUID_STRLEN];
    uint64_t size = 48u << 20, chunk = 1u << 20, nonzero = 0;
    struct ferry_config *scfg, *ccfg;
    struct ferry_users *users = NULL;
    struct ferry_server *srv = NULL;
    struct ferry_jobs *jobs = NULL;
    struct ferry_status st;
    struct stat sb;
    int port = ct_free_port();

    signal(SIGPIPE, SIG_IGN);
    snprintf(sstate, sizeof(sstate), "%s/sstate", tmp);
    snprintf(cstate, sizeof(cstate), "%s/cstate", tmp);
    snprintf(pub, sizeof(pub), "%s/pub", tmp);
    snprintf(dl, sizeof(dl), "%s/dl", tmp);
    mkdir(sstate, 0700);
    mkdir(pub, 0755);
    mkdir(dl, 0755);
    /* a sparse image: 1 MiB chunks, data in a few, holes elsewhere */
    snprintf(src, sizeof(src), "%s/disk.img", pub);
    {
        int fd = open(src, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        char *buf = malloc(chunk);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
        for (uint64_t i = 0; i < size / chunk; i++) {
            if (!(i < 4 || (i >= 20 && i < 24) || i == 47))
                continue;
            for (uint64_t k = 0; k < chunk; k++)
                buf[k] = (char)(k * 31 + i * 7 + 1);
            ck_assert_int_eq(pwrite(fd, buf, chunk, (off_t)(i * chunk)), (ssize_t)chunk);
            nonzero += chunk;
        }
        free(buf);
        close(fd);
    }
    snprintf(users_path, sizeof(users_path), "%s/users", sstate);
    ck_assert_int_eq(ferry_users_add(users_path, "root", FERRY_ROLE_ADMIN, "root-pw"), 0);
    ck_assert_int_eq(ferry_users_open(users_path, &users), 0);
    scfg = ferry_config_new();
    cfg_set(scfg, "state-dir", sstate);
    cfg_set(scfg, "publish-root", pub);
    cfg_set(scfg, "workers", "1");
    cfg_set(scfg, "manifest-chunk-size", "1MiB");
    ck_assert_int_eq(server_new(scfg, users, &srv), 0);
    snprintf(prefix, sizeof(prefix), "http://127.0.0.1:%d/images", port);
    ck_assert_msg(ferry_server_url_create(srv, prefix, "disk.img", src, NULL, NULL, 0, &st) == 0,
                  "publish: %s", st.text);
    for (int i = 0; i < 3000 && !manifest_ready(srv, prefix, "disk.img"); i++)
        ct_sleep_ms(10);
    ck_assert(manifest_ready(srv, prefix, "disk.img"));

    ccfg = ct_config_new(cstate, dl);
    ck_assert_int_eq(jobs_new(ccfg, &jobs), 0);
    snprintf(url, sizeof(url), "%s/disk.img", prefix);
    snprintf(local, sizeof(local), "%s/disk.img", dl);
    ct_create(jobs, url, local, false, id);
    ck_assert_int_eq(ct_wait_state(jobs, id, FERRY_JOB_TRANSFERRED, 60000),
                     FERRY_JOB_TRANSFERRED);
    ck_assert_int_eq(ferry_jobs_set_state(jobs, id, FERRY_JOB_ACTION_COMPLETE, &st), 0);
    ck_assert(ct_files_equal(src, local));
    ck_assert_int_eq(stat(local, &sb), 0);
    ck_assert_uint_eq((uint64_t)sb.st_size, size);
    ck_assert_uint_le((uint64_t)sb.st_blocks * 512, nonzero + (1u << 20));
    /* the server sent the data chunks (+ manifest and headers), not the holes */
    ck_assert_uint_ge(url_bytes_sent(srv, prefix), nonzero);
    ck_assert_uint_le(url_bytes_sent(srv, prefix), nonzero + (1u << 20));
    {
        struct ferry_jobs_stats stats;
        ferry_jobs_stats(jobs, &stats);
        ck_assert_uint_eq(stats.chunk_verify_failures, 0);
        ck_assert_uint_eq(stats.bytes_refetched, 0);
        ck_assert_uint_eq(stats.bytes_fetched, nonzero);
    }
    jobs = jobs_free(jobs);
    srv = server_free(srv);
    ct_config_free(ccfg);
    ferry_config_free(scfg);
    ferry_users_free(users);
    ft_tmpdir_free(tmp);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("ferry-peer");
    SRunner *sr;
    int failed;

    ct_add(s, "sparse", test_sparse_image_from_ferry);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
