/*
 * tests/engine/server/test_urlgroup.c - engine/server/urlgroup.c: prefix grammar and suffix
 * tables, the registry (idempotent create, CreateUrl creating its group, limits, one shared
 * listener per address/port/scheme closed with the last group, http/https conflict),
 * publish-root confinement with openat2, routing and URL strings, the open-file cache
 * (reuse while the path names the inode, replacement, removal, escape, sweep, delete).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry-test.h"
#include "urlgroup.h"

struct prefix_case {
    const char *in;
    const char *canonical; /* NULL = refused */
    enum urlgroup_host_kind kind;
};

static const struct prefix_case prefixes[] = {
    {"http://+:80/images", "http://+:80/images", URLGROUP_HOST_STRONG},
    {"http://+:80/images/", "http://+:80/images", URLGROUP_HOST_STRONG},
    {"HTTP://*:8080/a.b_c~d-e", "http://*:8080/a.b_c~d-e", URLGROUP_HOST_WEAK},
    {"https://+/secure", "https://+:443/secure", URLGROUP_HOST_STRONG},
    {"http://+/x", "http://+:80/x", URLGROUP_HOST_STRONG},
    {"http://127.0.0.1:65535/x", "http://127.0.0.1:65535/x", URLGROUP_HOST_IPV4},
    {"http://[::1]:8080/v6", "http://[::1]:8080/v6", URLGROUP_HOST_IPV6},
    {"http://[0:0:0:0:0:0:0:1]:1/v6", "http://[::1]:1/v6", URLGROUP_HOST_IPV6},
    {"http://Files.Example.COM:81/g", "http://files.example.com:81/g", URLGROUP_HOST_NAME},
    {"http://host1:81/g", "http://host1:81/g", URLGROUP_HOST_NAME},
    {"http://localhost:81/g", "http://localhost:81/g", URLGROUP_HOST_NAME},
    {"http://+:80/a/b", NULL, 0},
    {"http://+:80/a/b/", NULL, 0},
    {"http://+:80//a", NULL, 0},
    {"http://+:80/", NULL, 0},
    {"http://+:80", NULL, 0},
    {"http://+:0/x", NULL, 0},
    {"http://+:65536/x", NULL, 0},
    {"http://+:-1/x", NULL, 0},
    {"http://+:/x", NULL, 0},
    {"http://+:80x/x", NULL, 0},
    {"http://+:000080/x", NULL, 0},
    {"ftp://+:21/x", NULL, 0},
    {"+:80/x", NULL, 0},
    {"http://:80/x", NULL, 0},
    {"http://[::1:80/x", NULL, 0},
    {"http://[zz::1]:80/x", NULL, 0},
    {"http://1.2.3.256:80/x", NULL, 0},
    {"http://bad_host:80/x", NULL, 0},
    {"http://-bad.com:80/x", NULL, 0},
    {"http://+:80/a b", NULL, 0},
    {"http://+:80/a%20b", NULL, 0},
    {"http://+:80/..", NULL, 0},
    {"http://+:80/.", NULL, 0},
    {"http://+:80/a?x", NULL, 0},
    {"", NULL, 0},
};

START_TEST(test_prefix)
{
    const struct prefix_case *c = &prefixes[_i];
    struct urlgroup_prefix p;
    char err[256] = "";
    int r = urlgroup_prefix_parse(c->in, &p, err, sizeof(err));

    if (c->canonical) {
        ck_assert_msg(r == 0, "'%s' refused: %s", c->in, err);
        ck_assert_str_eq(p.canonical, c->canonical);
        ck_assert_int_eq(p.host_kind, c->kind);
    } else {
        ck_assert_msg(r == -EINVAL, "'%s' accepted as '%s'", c->in, p.canonical);
        ck_assert_msg(strlen(err) > 10, "no message for '%s'", c->in);
    }
}
END_TEST

START_TEST(test_prefix_messages)
{
    struct urlgroup_prefix p;
    char err[256];

    urlgroup_prefix_parse("http://+:80/a/b", &p, err, sizeof(err));
    ck_assert_ptr_nonnull(strstr(err, "more than one path segment"));
    urlgroup_prefix_parse("http://+:99999/a", &p, err, sizeof(err));
    ck_assert_ptr_nonnull(strstr(err, "1-65535"));
    urlgroup_prefix_parse("https://+:443/a", &p, err, sizeof(err));
    ck_assert(p.https);
    ck_assert_uint_eq(p.port, 443);
    ck_assert_str_eq(p.name, "a");
}
END_TEST

START_TEST(test_suffix)
{
    static const char *const good[] = {"disk.img", "/disk.img", "a b.iso", "x.meta4",
                                       "résumé.txt", "a%2Fb"};
    static const char *const bad[] = {"", "/", "a/b", "//a", "..", "a..b", "../x", ".",
                                      "a\tb", "a\x7f", "a\nb"};
    const char *out;
    char err[256];

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ck_assert_msg(urlgroup_suffix_check(good[i], &out, err, sizeof(err)) == 0,
                      "'%s': %s", good[i], err);
    ck_assert_int_eq(urlgroup_suffix_check("/disk.img", &out, err, sizeof(err)), 0);
    ck_assert_str_eq(out, "disk.img");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(urlgroup_suffix_check(bad[i], &out, err, sizeof(err)) == -EINVAL,
                      "'%s' accepted", bad[i]);
    char longs[300];
    memset(longs, 'a', sizeof(longs) - 1);
    longs[299] = '\0';
    ck_assert_int_eq(urlgroup_suffix_check(longs, &out, err, sizeof(err)), -EINVAL);
}
END_TEST

START_TEST(test_encode)
{
    char out[64];

    ck_assert_int_eq(urlgroup_path_encode("a b%/?#.img~", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "a%20b%25%2F%3F%23.img~");
    ck_assert_int_eq(urlgroup_path_encode("\xc3\xa9", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "%C3%A9");
    ck_assert_int_eq(urlgroup_path_encode("abcdef", out, 4), -ENOSPC);
}
END_TEST

/* ---- registry with a fake listener backend ---- */

struct fake {
    uint32_t next_id;
    int open;          /* listeners currently open */
    int listens, unlistens;
    char last_addr[300];
    const char *fail_addr;
    int groups_new;
    bool keep_rates;              /* take the references below (the test releases them) */
    struct ferry_rate *rates[16]; /* a reference on every group's rate */
};

static int
fake_listen(void *ud, const char *addr, uint16_t port, bool https, uint32_t *ret_id, char *err,
            size_t errlen)
{
    struct fake *f = ud;

    if (f->fail_addr && strcmp(addr, f->fail_addr) == 0) {
        snprintf(err, errlen, "cannot listen on %s: Address already in use", addr);
        return -EADDRINUSE;
    }
    snprintf(f->last_addr, sizeof(f->last_addr), "%s", addr);
    f->listens++;
    f->open++;
    *ret_id = ++f->next_id;
    return 0;
}

static void
fake_unlisten(void *ud, uint32_t id)
{
    struct fake *f = ud;
    f->unlistens++;
    f->open--;
}

static int
fake_group_new(void *ud, struct urlgroup *g)
{
    struct fake *f = ud;
    g->rate = ferry_rate_new(0);
    if (!g->rate)
        return -ENOMEM;
    if (f->keep_rates && f->groups_new < 16)
        f->rates[f->groups_new] = ferry_rate_ref(g->rate);
    f->groups_new++;
    return 0;
}

static const struct urlgroup_ops fake_ops = {fake_listen, fake_unlisten, fake_group_new};

static char *tmp, *root, *outside;

static void
setup(void)
{
    char *p;

    tmp = ft_tmpdir_new("urlgroup");
    ck_assert_int_ge(asprintf(&root, "%s/pub", tmp), 0);
    ck_assert_int_ge(asprintf(&outside, "%s/secret", tmp), 0);
    ck_assert_int_eq(mkdir(root, 0755), 0);
    ck_assert_int_eq(mkdir(outside, 0755), 0);
    ck_assert_int_ge(asprintf(&p, "%s/disk.img", root), 0);
    ck_assert_int_eq(ft_write_file(p, "0123456789", 10), 0);
    free(p);
    ck_assert_int_ge(asprintf(&p, "%s/pw", outside), 0);
    ck_assert_int_eq(ft_write_file(p, "secret", 6), 0);
    free(p);
    ck_assert_int_ge(asprintf(&p, "%s/sub", root), 0);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    free(p);
    ck_assert_int_ge(asprintf(&p, "%s/sub/in.txt", root), 0);
    ck_assert_int_eq(ft_write_file(p, "in", 2), 0);
    free(p);
    /* symlinks: one escaping the root, one staying inside */
    ck_assert_int_ge(asprintf(&p, "%s/escape", root), 0);
    ck_assert_int_eq(symlink("../secret/pw", p), 0);
    free(p);
    ck_assert_int_ge(asprintf(&p, "%s/inside", root), 0);
    ck_assert_int_eq(symlink("sub/in.txt", p), 0);
    free(p);
}

static void
teardown(void)
{
    free(root);
    free(outside);
    tmp = ft_tmpdir_free(tmp);
}

static struct urlgroup_registry *
reg_new(struct fake *f, unsigned max_groups, unsigned max_urls)
{
    struct urlgroup_registry *reg = NULL;
    const char *roots[] = {root};

    ck_assert_int_eq(urlgroup_registry_new(roots, 1, max_groups, max_urls, &fake_ops, f, &reg),
                     0);
    return reg;
}

START_TEST(test_groups_and_listeners)
{
    struct fake f = {.keep_rates = true};
    struct urlgroup_registry *reg = reg_new(&f, 8, 100);
    struct ferry_status st;
    bool created = false;

    ck_assert_int_eq(urlgroup_group_create(reg, "http://+:8080/a", &created, &st), 0);
    ck_assert(created);
    ck_assert_str_eq(f.last_addr, "*:8080");
    /* idempotent: same group (also spelled with a trailing slash) */
    ck_assert_int_eq(urlgroup_group_create(reg, "http://+:8080/a/", &created, &st), 0);
    ck_assert(!created);
    ck_assert_uint_eq(reg->ngroups, 1);
    /* a second group on the same port shares the listener */
    ck_assert_int_eq(urlgroup_group_create(reg, "http://+:8080/b", &created, &st), 0);
    ck_assert_int_eq(f.listens, 1);
    ck_assert_int_eq(f.open, 1);
    /* a specific address on a port that listens everywhere shares that listener */
    ck_assert_int_eq(urlgroup_group_create(reg, "http://127.0.0.1:8080/c", NULL, &st), 0);
    ck_assert_int_eq(urlgroup_group_create(reg, "http://[::1]:8080/d", NULL, &st), 0);
    ck_assert_int_eq(f.open, 1);
    ck_assert_int_eq(f.listens, 1);
    /* specific addresses first, then + on that port: refused with a clear message */
    ck_assert_int_eq(urlgroup_group_create(reg, "http://127.0.0.1:8090/x", NULL, &st), 0);
    ck_assert_str_eq(f.last_addr, "127.0.0.1:8090");
    ck_assert_int_eq(urlgroup_group_create(reg, "http://+:8090/y", NULL, &st), -EADDRINUSE);
    ck_assert_ptr_nonnull(strstr(st.text, "must be created first"));
    ck_assert_int_eq(urlgroup_group_delete(reg, "http://127.0.0.1:8090/x", &st), 0);
    ck_assert_int_eq(f.open, 1);
    /* https on an http port: refused with a clear message */
    ferry_status_clear(&st);
    ck_assert_int_eq(urlgroup_group_create(reg, "https://+:8080/s", NULL, &st), -EINVAL);
    ck_assert_int_eq(st.kind, FERRY_STATUS_INVALID_PARAMETER);
    ck_assert_str_eq(st.param, "UrlGroup");
    ck_assert_ptr_nonnull(strstr(st.text, "both http and https"));
    /* deleting groups keeps the shared listener until the last one goes */
    ck_assert_int_eq(urlgroup_group_delete(reg, "http://+:8080/a", &st), 0);
    ck_assert_int_eq(f.open, 1);
    ck_assert_int_eq(urlgroup_group_delete(reg, "http://+:8080/b", &st), 0);
    ck_assert_int_eq(f.open, 1);
    /* every group made so far got a rate; a, b, x and the refused + group dropped theirs (the
     * sanitizer build sees a leak or a double unref when not exactly once) */
    ck_assert_int_eq(f.groups_new, 6);
    for (int i = 0; i < f.groups_new && i < 16; i++)
        f.rates[i] = ferry_rate_unref(f.rates[i]);
    f.keep_rates = false; /* the groups made below keep only their own reference */
    /* unknown group */
    ferry_status_clear(&st);
    ck_assert_int_eq(urlgroup_group_delete(reg, "http://+:8080/a", &st), -ENOENT);
    ck_assert_int_eq(st.kind, FERRY_STATUS_NOT_FOUND);
    /* bad grammar */
    ck_assert_int_eq(urlgroup_group_delete(reg, "http://+:8080/a/b", &st), -EINVAL);
    ck_assert_int_eq(st.kind, FERRY_STATUS_INVALID_PARAMETER);
    /* 127.0.0.1 and ::1 still hold the port for http */
    ck_assert_int_eq(urlgroup_group_create(reg, "https://+:8080/s", NULL, &st), -EINVAL);
    ck_assert_int_eq(urlgroup_group_delete(reg, "http://127.0.0.1:8080/c", &st), 0);
    ck_assert_int_eq(f.open, 1);
    ck_assert_int_eq(urlgroup_group_delete(reg, "http://[::1]:8080/d", &st), 0);
    ck_assert_int_eq(f.open, 0);
    ck_assert_int_eq(urlgroup_group_create(reg, "https://+:8080/s", NULL, &st), 0);
    ck_assert_int_eq(f.open, 1);
    /* listen failure: nothing created */
    f.fail_addr = "127.0.0.2:9000";
    ck_assert_int_eq(urlgroup_group_create(reg, "http://127.0.0.2:9000/x", NULL, &st),
                     -EADDRINUSE);
    ck_assert_ptr_nonnull(strstr(st.text, "Address already in use"));
    ck_assert_uint_eq(reg->ngroups, 1);
    /* a name resolves to its addresses */
    ck_assert_int_eq(urlgroup_group_create(reg, "http://localhost:9001/n", NULL, &st), 0);
    ck_assert_int_ge(f.open, 2);
    reg = urlgroup_registry_free(reg);
    ck_assert_int_eq(f.open, 0);
}
END_TEST

START_TEST(test_group_limit)
{
    struct fake f = {0};
    struct urlgroup_registry *reg = reg_new(&f, 2, 100);
    struct ferry_status st;

    ck_assert_int_eq(urlgroup_group_create(reg, "http://+:8080/a", NULL, &st), 0);
    ck_assert_int_eq(urlgroup_group_create(reg, "http://+:8080/b", NULL, &st), 0);
    ck_assert_int_eq(urlgroup_group_create(reg, "http://+:8080/c", NULL, &st), -ENOSPC);
    ck_assert_ptr_nonnull(strstr(st.text, "max-url-groups"));
    /* an existing one is still fine */
    ck_assert_int_eq(urlgroup_group_create(reg, "http://+:8080/a", NULL, &st), 0);
    urlgroup_registry_free(reg);
}
END_TEST

START_TEST(test_urls)
{
    struct fake f = {0};
    struct urlgroup_registry *reg = reg_new(&f, 8, 3);
    struct ferry_status st;
    struct urlgroup_url *u = NULL, *r = NULL;
    char src[512], src2[512];
    bool meta4 = true;
    struct stat sb;
    int fd;

    snprintf(src, sizeof(src), "%s/disk.img", root);
    snprintf(src2, sizeof(src2), "%s/sub/in.txt", root);
    /* CreateUrl creates the group */
    ck_assert_int_eq(urlgroup_url_create(reg, "http://+:8080/img", "disk.img", src,
                                         "D:(A;;GA;;;WD)", NULL, 0, &u, &st), 0);
    ck_assert_uint_eq(reg->ngroups, 1);
    ck_assert(u->rule->anonymous);
    ck_assert_str_eq(u->relpath, "disk.img");
    /* duplicate */
    ck_assert_int_eq(urlgroup_url_create(reg, "http://+:8080/img", "disk.img", src, NULL, NULL,
                                         0, NULL, &st), -EEXIST);
    ck_assert_int_eq(st.kind, FERRY_STATUS_RESULT);
    ck_assert_uint_eq(st.code, FERRY_E_ALREADY_EXISTS);
    /* the generated name of disk.img's Metalink is not a suffix of its own */
    ck_assert_int_eq(urlgroup_url_create(reg, "http://+:8080/img", "disk.img.meta4", src, NULL,
                                         NULL, 0, NULL, &st), -EEXIST);
    ck_assert_int_eq(st.kind, FERRY_STATUS_INVALID_PARAMETER);
    ck_assert_str_eq(st.param, "UrlSuffix");
    ck_assert_ptr_nonnull(strstr(st.text, "Metalink"));
    /* bad rule */
    ck_assert_int_eq(urlgroup_url_create(reg, "http://+:8080/img", "x", src, "D:(A;;GA;;;ZZ)",
                                         NULL, 0, NULL, &st), -EINVAL);
    ck_assert_str_eq(st.param, "SDDLAuth");
    /* bad suffix */
    ck_assert_int_eq(urlgroup_url_create(reg, "http://+:8080/img", "a/b", src, NULL, NULL, 0,
                                         NULL, &st), -EINVAL);
    ck_assert_str_eq(st.param, "UrlSuffix");
    /* sources: outside root, escaping symlink, '..', directory, missing, relative */
    char bad[512];
    snprintf(bad, sizeof(bad), "%s/pw", outside);
    ck_assert_int_eq(urlgroup_url_create(reg, "http://+:8080/img", "x", bad, NULL, NULL, 0,
                                         NULL, &st), -EACCES);
    ck_assert_str_eq(st.param, "SourceFilePath");
    snprintf(bad, sizeof(bad), "%s/escape", root);
    ck_assert_int_eq(urlgroup_url_create(reg, "http://+:8080/img", "x", bad, NULL, NULL, 0,
                                         NULL, &st), -EACCES);
    ck_assert_ptr_nonnull(strstr(st.text, "outside"));
    snprintf(bad, sizeof(bad), "%s/../secret/pw", root);
    ck_assert_int_eq(urlgroup_url_create(reg, "http://+:8080/img", "x", bad, NULL, NULL, 0,
                                         NULL, &st), -EACCES);
    snprintf(bad, sizeof(bad), "%s/sub", root);
    ck_assert_int_eq(urlgroup_url_create(reg, "http://+:8080/img", "x", bad, NULL, NULL, 0,
                                         NULL, &st), -EINVAL);
    ck_assert_str_eq(st.param, "SourceFilePath");
    snprintf(bad, sizeof(bad), "%s/missing", root);
    ck_assert_int_eq(urlgroup_url_create(reg, "http://+:8080/img", "x", bad, NULL, NULL, 0,
                                         NULL, &st), -ENOENT);
    ck_assert_int_eq(urlgroup_url_create(reg, "http://+:8080/img", "x", "disk.img", NULL, NULL,
                                         0, NULL, &st), -EINVAL);
    ck_assert_uint_eq(reg->nurls, 1);
    /* a symlink staying inside the root is fine; a nested path too */
    snprintf(bad, sizeof(bad), "%s/inside", root);
    ck_assert_int_eq(urlgroup_url_create(reg, "http://+:8080/img", "inside", bad, "admins",
                                         NULL, 0, NULL, &st), 0);
    ck_assert_int_eq(urlgroup_url_create(reg, "http://+:8080/img", "/in.txt", src2, NULL, NULL,
                                         0, NULL, &st), 0);
    /* URL limit (3) */
    ck_assert_int_eq(urlgroup_url_create(reg, "http://+:8080/other", "d", src, NULL, NULL, 0,
                                         NULL, &st), -ENOSPC);
    ck_assert_uint_eq(reg->ngroups, 1); /* and no group was created for it */

    /* routing */
    ck_assert_int_eq(urlgroup_route(reg, 8080, false, "localhost:8080", "/img/disk.img", &r,
                                    &meta4), 0);
    ck_assert_ptr_eq(r, u);
    ck_assert(!meta4);
    r = urlgroup_url_unref(r);
    ck_assert_int_eq(urlgroup_route(reg, 8080, false, NULL, "/img/disk.img.meta4", &r, &meta4),
                     0);
    ck_assert_ptr_eq(r, u);
    ck_assert(meta4);
    r = urlgroup_url_unref(r);
    ck_assert_int_eq(urlgroup_route(reg, 8080, true, NULL, "/img/disk.img", &r, &meta4),
                     -ENOENT);
    ck_assert_int_eq(urlgroup_route(reg, 8081, false, NULL, "/img/disk.img", &r, &meta4),
                     -ENOENT);
    ck_assert_int_eq(urlgroup_route(reg, 8080, false, NULL, "/img/", &r, &meta4), -ENOENT);
    ck_assert_int_eq(urlgroup_route(reg, 8080, false, NULL, "/img", &r, &meta4), -ENOENT);
    ck_assert_int_eq(urlgroup_route(reg, 8080, false, NULL, "/img/sub/in.txt", &r, &meta4),
                     -ENOENT);
    ck_assert_int_eq(urlgroup_route(reg, 8080, false, NULL, "/img/../pub/disk.img", &r,
                                    &meta4), -ENOENT);
    ck_assert_int_eq(urlgroup_route(reg, 8080, false, NULL, "/IMG/disk.img", &r, &meta4),
                     -ENOENT);

    /* open beneath the root; a file replaced by a directory is refused */
    fd = urlgroup_url_open(reg, u, &sb);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(sb.st_size, 10);
    close(fd);

    /* URL strings */
    char *s = urlgroup_url_string(u, NULL);
    ck_assert_str_eq(s, "http://+:8080/img/disk.img");
    free(s);
    s = urlgroup_url_string(u, "10.0.0.5:8080");
    ck_assert_str_eq(s, "http://10.0.0.5:8080/img/disk.img");
    free(s);
    s = urlgroup_url_string(u, "evil/host\r\n");
    ck_assert_str_eq(s, "http://+:8080/img/disk.img");
    free(s);

    /* find / delete */
    ck_assert_int_eq(urlgroup_url_find(reg, "http://+:8080/img", "in.txt", &r, &st), 0);
    r = urlgroup_url_unref(r);
    ck_assert_int_eq(urlgroup_url_find(reg, "http://+:8080/img", "nope", &r, &st), -ENOENT);
    ck_assert_int_eq(urlgroup_url_find(reg, "http://+:8080/zzz", "nope", &r, &st), -ENOENT);
    ck_assert_int_eq(st.kind, FERRY_STATUS_NOT_FOUND);
    ck_assert_int_eq(urlgroup_url_delete(reg, "http://+:8080/img", "disk.img", &st), 0);
    ck_assert(atomic_load(&u->deleted));
    ck_assert_int_eq(urlgroup_url_delete(reg, "http://+:8080/img", "disk.img", &st), -ENOENT);
    ck_assert_int_eq(st.kind, FERRY_STATUS_NOT_FOUND);
    ck_assert_str_eq(st.param, "UrlSuffix");
    ck_assert_int_eq(urlgroup_route(reg, 8080, false, NULL, "/img/disk.img", &r, &meta4),
                     -ENOENT);
    /* the caller's reference still works after delete */
    ck_assert_str_eq(u->suffix, "disk.img");
    u = urlgroup_url_unref(u);
    ck_assert_uint_eq(reg->nurls, 2);
    ck_assert_int_eq(urlgroup_group_delete(reg, "http://+:8080/img", &st), 0);
    ck_assert_uint_eq(reg->nurls, 0);
    ck_assert_int_eq(f.open, 0);
    urlgroup_registry_free(reg);
}
END_TEST

START_TEST(test_route_hosts)
{
    struct fake f = {0};
    struct urlgroup_registry *reg = reg_new(&f, 8, 100);
    struct ferry_status st;
    struct urlgroup_url *a, *b, *c, *r;
    char src[512];
    bool meta4;

    snprintf(src, sizeof(src), "%s/disk.img", root);
    ck_assert_int_eq(urlgroup_url_create(reg, "http://*:9000/g", "f", src, NULL, NULL, 0, &a,
                                         &st), 0);
    ck_assert_int_eq(urlgroup_url_create(reg, "http://+:9000/g", "f", src, NULL, NULL, 0, &b,
                                         &st), 0);
    ck_assert_int_eq(urlgroup_url_create(reg, "http://localhost:9000/g", "f", src, NULL, NULL,
                                         0, &c, &st), 0);
    ck_assert_int_eq(urlgroup_route(reg, 9000, false, "LOCALHOST:9000", "/g/f", &r, &meta4), 0);
    ck_assert_ptr_eq(r, c);
    urlgroup_url_unref(r);
    ck_assert_int_eq(urlgroup_route(reg, 9000, false, "127.0.0.1:9000", "/g/f", &r, &meta4), 0);
    ck_assert_ptr_eq(r, b);
    urlgroup_url_unref(r);
    ck_assert_int_eq(urlgroup_group_delete(reg, "http://+:9000/g", &st), 0);
    ck_assert_int_eq(urlgroup_route(reg, 9000, false, "127.0.0.1:9000", "/g/f", &r, &meta4), 0);
    ck_assert_ptr_eq(r, a);
    urlgroup_url_unref(r);
    urlgroup_url_unref(a);
    urlgroup_url_unref(b);
    urlgroup_url_unref(c);
    urlgroup_registry_free(reg);
}
END_TEST

START_TEST(test_missing_root)
{
    struct fake f = {0};
    struct urlgroup_registry *reg = NULL;
    struct ferry_status st;
    char missing[512], src[600];
    const char *roots[2];

    snprintf(missing, sizeof(missing), "%s/nope", tmp);
    roots[0] = missing;
    roots[1] = root;
    ck_assert_int_eq(urlgroup_registry_new(roots, 2, 8, 8, &fake_ops, &f, &reg), 0);
    snprintf(src, sizeof(src), "%s/x.img", missing);
    ck_assert_int_eq(urlgroup_url_create(reg, "http://+:8080/g", "x", src, NULL, NULL, 0, NULL,
                                         &st), -ENOENT);
    ck_assert_str_eq(st.param, "SourceFilePath");
    ck_assert_ptr_nonnull(strstr(st.text, "could not be opened"));
    /* the other root still works */
    snprintf(src, sizeof(src), "%s/disk.img", root);
    ck_assert_int_eq(urlgroup_url_create(reg, "http://+:8080/g", "d", src, NULL, NULL, 0, NULL,
                                         &st), 0);
    urlgroup_registry_free(reg);
}
END_TEST

/* Read all of an open-file cache entry's descriptor. */
static void
file_bytes(struct urlgroup_file *f, char *buf, size_t cap, size_t *len)
{
    ssize_t n = pread(f->fd, buf, cap, 0);

    ck_assert_int_ge(n, 0);
    *len = (size_t)n;
}

START_TEST(test_file_cache)
{
    struct fake f = {0};
    struct urlgroup_registry *reg = reg_new(&f, 8, 8);
    struct ferry_status st;
    struct urlgroup_url *u = NULL;
    struct urlgroup_file *a, *b, *c;
    char src[512], tmpname[600], target[600], buf[64];
    struct stat sb;
    size_t len;

    snprintf(src, sizeof(src), "%s/disk.img", root);
    ck_assert_int_eq(urlgroup_url_create(reg, "http://+:8080/img", "disk.img", src, NULL, NULL,
                                         0, &u, &st), 0);
    /* first use opens; the second reuses the same descriptor */
    ck_assert_int_eq(urlgroup_url_file(reg, u, &sb, &a), 0);
    ck_assert_int_eq(sb.st_size, 10);
    ck_assert_uint_eq(atomic_load(&reg->nfiles), 1);
    ck_assert_int_eq(urlgroup_url_file(reg, u, &sb, &b), 0);
    ck_assert_ptr_eq(a, b);
    ck_assert_int_eq(a->fd, b->fd);
    urlgroup_file_release(b);

    /* rewritten in place (same inode): same descriptor, fresh stat */
    ck_assert_int_eq(truncate(src, 4), 0);
    ck_assert_int_eq(urlgroup_url_file(reg, u, &sb, &b), 0);
    ck_assert_ptr_eq(a, b);
    ck_assert_int_eq(sb.st_size, 4);
    urlgroup_file_release(b);

    /* replaced by rename: a new descriptor with the new bytes; the old reference still
     * reads the old inode */
    snprintf(tmpname, sizeof(tmpname), "%s/disk.img.new", root);
    ck_assert_int_eq(ft_write_file(tmpname, "replaced!", 9), 0);
    ck_assert_int_eq(rename(tmpname, src), 0);
    ck_assert_int_eq(urlgroup_url_file(reg, u, &sb, &b), 0);
    ck_assert_ptr_ne(a, b);
    ck_assert_int_eq(sb.st_size, 9);
    file_bytes(b, buf, sizeof(buf), &len);
    ck_assert_uint_eq(len, 9);
    ck_assert_int_eq(memcmp(buf, "replaced!", 9), 0);
    file_bytes(a, buf, sizeof(buf), &len);
    ck_assert_uint_eq(len, 4);
    ck_assert_int_eq(memcmp(buf, "0123", 4), 0);
    ck_assert_uint_eq(atomic_load(&reg->nfiles), 1);
    urlgroup_file_release(a);
    urlgroup_file_release(b);

    /* replaced by a symlink leaving the root: refused like an uncached open, and the
     * cache entry is gone */
    ck_assert_int_eq(unlink(src), 0);
    snprintf(target, sizeof(target), "%s/pw", outside);
    ck_assert_int_eq(symlink(target, src), 0);
    ck_assert_int_eq(urlgroup_url_file(reg, u, &sb, &c), -EXDEV);
    ck_assert_ptr_null(u->file);
    ck_assert_uint_eq(atomic_load(&reg->nfiles), 0);

    /* removed: ENOENT */
    ck_assert_int_eq(unlink(src), 0);
    ck_assert_int_eq(urlgroup_url_file(reg, u, &sb, &c), -ENOENT);

    /* back again; an idle sweep closes the entry, a busy one keeps it */
    ck_assert_int_eq(ft_write_file(src, "again", 5), 0);
    ck_assert_int_eq(urlgroup_url_file(reg, u, &sb, &c), 0);
    urlgroup_file_release(c);
    ck_assert_uint_eq(urlgroup_registry_sweep_files(reg, 3600ull * 1000000000ull), 0);
    ck_assert_ptr_nonnull(u->file);
    ck_assert_uint_eq(urlgroup_registry_sweep_files(reg, 0), 1);
    ck_assert_ptr_null(u->file);
    ck_assert_uint_eq(atomic_load(&reg->nfiles), 0);

    /* a deleted URL drops its entry and caches nothing more */
    ck_assert_int_eq(urlgroup_url_file(reg, u, &sb, &c), 0);
    urlgroup_file_release(c);
    ck_assert_uint_eq(atomic_load(&reg->nfiles), 1);
    ck_assert_int_eq(urlgroup_url_delete(reg, "http://+:8080/img", "disk.img", &st), 0);
    ck_assert_ptr_null(u->file);
    ck_assert_uint_eq(atomic_load(&reg->nfiles), 0);
    ck_assert_int_eq(urlgroup_url_file(reg, u, &sb, &c), 0);
    ck_assert_ptr_null(u->file);
    file_bytes(c, buf, sizeof(buf), &len);
    ck_assert_uint_eq(len, 5);
    urlgroup_file_release(c);
    u = urlgroup_url_unref(u);
    urlgroup_registry_free(reg);
}
END_TEST

/* Beyond max_files, URLs are served from descriptors of their own. */
START_TEST(test_file_cache_limit)
{
    struct fake f = {0};
    struct urlgroup_registry *reg = reg_new(&f, 8, 8);
    struct ferry_status st;
    struct urlgroup_url *u1 = NULL, *u2 = NULL;
    struct urlgroup_file *a, *b, *c;
    char src[512], src2[512];
    struct stat sb;

    reg->max_files = 1;
    snprintf(src, sizeof(src), "%s/disk.img", root);
    snprintf(src2, sizeof(src2), "%s/sub/in.txt", root);
    ck_assert_int_eq(urlgroup_url_create(reg, "http://+:8080/img", "a", src, NULL, NULL, 0,
                                         &u1, &st), 0);
    ck_assert_int_eq(urlgroup_url_create(reg, "http://+:8080/img", "b", src2, NULL, NULL, 0,
                                         &u2, &st), 0);
    ck_assert_int_eq(urlgroup_url_file(reg, u1, &sb, &a), 0);
    ck_assert_int_eq(urlgroup_url_file(reg, u2, &sb, &b), 0);
    ck_assert_ptr_nonnull(u1->file);
    ck_assert_ptr_null(u2->file);
    ck_assert_uint_eq(atomic_load(&reg->nfiles), 1);
    ck_assert_int_eq(urlgroup_url_file(reg, u2, &sb, &c), 0);
    ck_assert_ptr_ne(b, c);
    ck_assert_int_eq(sb.st_size, 2);
    urlgroup_file_release(a);
    urlgroup_file_release(b);
    urlgroup_file_release(c);
    urlgroup_url_unref(u1);
    urlgroup_url_unref(u2);
    urlgroup_registry_free(reg);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("urlgroup");
    TCase *tc = tcase_create("grammar");
    TCase *tr = tcase_create("registry");
    SRunner *sr;
    int failed;

    tcase_add_loop_test(tc, test_prefix, 0, sizeof(prefixes) / sizeof(prefixes[0]));
    tcase_add_test(tc, test_prefix_messages);
    tcase_add_test(tc, test_suffix);
    tcase_add_test(tc, test_encode);
    suite_add_tcase(s, tc);
    tcase_add_checked_fixture(tr, setup, teardown);
    tcase_add_test(tr, test_groups_and_listeners);
    tcase_add_test(tr, test_group_limit);
    tcase_add_test(tr, test_urls);
    tcase_add_test(tr, test_route_hosts);
    tcase_add_test(tr, test_missing_root);
    tcase_add_test(tr, test_file_cache);
    tcase_add_test(tr, test_file_cache_limit);
    suite_add_tcase(s, tr);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
