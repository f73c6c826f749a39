/*
 * tests/control/cli/test_ctl_distribute.c - the session-free parts of `ferryctl
 * distribute`: the URL clients fetch (ctl_dist_publish.c) and the host list and per-host
 * helpers (ctl_dist_host.c).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_dist.h"

static char *
url(const char *group, const char *server, const char *suffix)
{
    char *u = NULL;

    ck_assert_int_eq(dist_publish_url(group, server, suffix, &u), 0);
    return u;
}

START_TEST(test_publish_url)
{
    char *u, *none = NULL;

    /* a named host is kept as it is */
    u = url("http://srv:8080/data", "http://10.0.0.1:5985/wsman", "f.img");
    ck_assert_str_eq(u, "http://srv:8080/data/f.img");
    free(u);
    /* a wildcard host becomes the server endpoint's host, without its port */
    u = url("http://+:8080/data", "http://10.0.0.1:5985/wsman", "f.img");
    ck_assert_str_eq(u, "http://10.0.0.1:8080/data/f.img");
    free(u);
    u = url("https://*/d", "https://host.example/wsman", "x");
    ck_assert_str_eq(u, "https://host.example/d/x");
    free(u);
    /* IPv6 literals keep their brackets */
    u = url("http://+:80/g", "http://[fd00::1]:5985/wsman", "a");
    ck_assert_str_eq(u, "http://[fd00::1]:80/g/a");
    free(u);
    u = url("http://+:80/g", "http://[fd00::1]/wsman", "a");
    ck_assert_str_eq(u, "http://[fd00::1]:80/g/a");
    free(u);
    ck_assert_int_eq(dist_publish_url("no-scheme/data", "http://h/wsman", "a", &none),
                     -EINVAL);
    ck_assert_ptr_null(none);
}
END_TEST

START_TEST(test_via_url)
{
    char *u = NULL;

    /* the cache's scheme, host and port; the published path */
    ck_assert_int_eq(dist_via_url("http://10.0.0.5:8080", "http://10.0.0.1:8080/g/f.img", &u),
                     0);
    ck_assert_str_eq(u, "http://10.0.0.5:8080/g/f.img");
    free(u);
    ck_assert_int_eq(dist_via_url("https://cache.example/", "http://[fd00::1]:80/a/b", &u), 0);
    ck_assert_str_eq(u, "https://cache.example/a/b");
    free(u);
    ck_assert_int_eq(dist_via_url("http://[fd00::5]:3128", "http://s/x", &u), 0);
    ck_assert_str_eq(u, "http://[fd00::5]:3128/x");
    free(u);
    /* no path, query or fragment of its own; both must be scheme://host */
    ck_assert_int_eq(dist_via_url("http://cache/ferry", "http://s/g/f", &u), -EINVAL);
    ck_assert_int_eq(dist_via_url("http://cache?x", "http://s/g/f", &u), -EINVAL);
    ck_assert_int_eq(dist_via_url("http://cache#x", "http://s/g/f", &u), -EINVAL);
    ck_assert_int_eq(dist_via_url("cache:8080", "http://s/g/f", &u), -EINVAL);
    ck_assert_int_eq(dist_via_url("http://", "http://s/g/f", &u), -EINVAL);
    ck_assert_int_eq(dist_via_url("http://c", "s/g/f", &u), -EINVAL);
    ck_assert_ptr_null(u);
}
END_TEST

START_TEST(test_hosts)
{
    char *eps[] = {"http://a:5985/wsman", "https://b/wsman"};
    struct dist_hosts hosts = {0};
    char buf[8];

    ck_assert_int_eq(dist_hosts_init(&hosts, eps, 2, "http://s/g/f"), 0);
    ck_assert_uint_eq(hosts.n, 2);
    for (size_t i = 0; i < 2; i++) {
        ck_assert_ptr_eq(hosts.v[i].endpoint, eps[i]);
        ck_assert_str_eq(hosts.v[i].fetch_url, "http://s/g/f");
        ck_assert_int_eq(hosts.v[i].phase, DIST_RUNNING);
        ck_assert_ptr_null(hosts.v[i].s);
    }
    dist_host_fail(&hosts.v[1], "CreateJob", "refused");
    ck_assert_int_eq(hosts.v[1].phase, DIST_FAILED);
    ck_assert_str_eq(hosts.v[1].error, "CreateJob: refused");

    /* the job's own clock (FILETIME, 100 ns) when both times are known */
    hosts.v[0].t_done = 9.0;
    ck_assert(dist_host_seconds(&hosts.v[0]) == 9.0);
    hosts.v[0].st.creation_time = 10000000;
    hosts.v[0].st.completion_time = 35000000;
    ck_assert(dist_host_seconds(&hosts.v[0]) == 2.5);

    dist_url_host(eps[0], buf, sizeof(buf));
    ck_assert_str_eq(buf, "a:5985");
    dist_url_host("noscheme/x", buf, sizeof(buf));
    ck_assert_str_eq(buf, "noschem");

    dist_hosts_done(&hosts);
    ck_assert_ptr_null(hosts.v);
    ck_assert_uint_eq(hosts.n, 0);
    dist_hosts_done(&hosts); /* safe on a zeroed list */
}
END_TEST

/* --relay's tree: a chain by default, fan-out 2 past DIST_CHAIN_MAX hosts, --fanout K as
 * given; every host's relay URL on its own endpoint's host. */
START_TEST(test_relay_plan)
{
    static char *eps[DIST_CHAIN_MAX + 8];
    char names[DIST_CHAIN_MAX + 8][40];
    struct dist_run run;
    size_t n;

    for (size_t i = 0; i < DIST_CHAIN_MAX + 8; i++) {
        snprintf(names[i], sizeof(names[i]), "http://10.0.%zu.%zu:5985/wsman", i / 200, i % 200);
        eps[i] = names[i];
    }
    for (int round = 0; round < 3; round++) {
        memset(&run, 0, sizeof(run));
        run.o.relay_group = "http://+:8081/relay";
        run.suffix = "disk.img";
        run.o.fanout = round == 2 ? 3 : 0;
        n = round == 0 ? 6 : DIST_CHAIN_MAX + 8;
        ck_assert_int_eq(dist_hosts_init(&run.hosts, eps, n, "http://s/g/disk.img"), 0);
        ck_assert_int_eq(dist_relay_plan(&run), 0);
        ck_assert_int_eq(run.hosts.v[0].parent, -1);
        for (size_t i = 1; i < n; i++) {
            long want = round == 0 ? (long)i - 1 : round == 1 ? (long)(i - 1) / 2
                                                             : (long)(i - 1) / 3;
            ck_assert_int_eq(run.hosts.v[i].parent, want);
        }
        ck_assert_str_eq(run.hosts.v[1].relay_url, "http://10.0.0.1:8081/relay/disk.img");
        dist_hosts_done(&run.hosts);
    }
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("ctl_distribute");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_publish_url);
    tcase_add_test(tc, test_via_url);
    tcase_add_test(tc, test_hosts);
    tcase_add_test(tc, test_relay_plan);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
