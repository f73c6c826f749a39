/*
 * tests/engine/server/test_access.c - engine/server/access.c: SDDL and ferry rule parsing
 * (accepted and refused forms), the allow/401/403 decision, Basic credentials decoding.
 */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "access.h"

#define FP_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define FP_B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

struct parse_case {
    const char *text;
    bool anonymous, authenticated, admins;
    size_t nusers, ncerts;
};

static const struct parse_case good[] = {
    {NULL, true, false, false, 0, 0},
    {"", true, false, false, 0, 0},
    {"D:(A;;GA;;;WD)", true, false, false, 0, 0},
    {"(A;;GA;;;WD)", true, false, false, 0, 0},
    {"D:(A;;GA;;;AU)", false, true, false, 0, 0},
    {"D:(A;;GA;;;BA)", false, false, true, 0, 0},
    {"(A;;GA;;;BA)", false, false, true, 0, 0},
    {"D:(A;;GA;;;AU)(A;;GA;;;BA)", false, true, true, 0, 0},
    {"D:P(A;;GR;;;BA)(A;;FA;;;S-1-5-11)", false, true, true, 0, 0},
    {"O:BAG:BAD:(A;;GRGX;;;S-1-1-0)", true, false, false, 0, 0},
    {"  D:(A;;GA;;;WD)  ", true, false, false, 0, 0},
    {"anonymous", true, false, false, 0, 0},
    {"authenticated", false, true, false, 0, 0},
    {"admins", false, false, true, 0, 0},
    {"users=alice,bob", false, false, false, 2, 0},
    {"users=alice, bob ,alice; admins", false, false, true, 2, 0},
    {"cert=" FP_A, false, false, false, 0, 1},
    {"cert=" FP_A "," FP_B ";users=carol", false, false, false, 1, 2},
    {"authenticated;", false, true, false, 0, 0},
    /* service accounts: LocalSystem → admins, NetworkService / LocalService → authenticated */
    {"D:(A;;GA;;;SY)", false, false, true, 0, 0},
    {"D:(A;;GA;;;S-1-5-18)", false, false, true, 0, 0},
    {"D:(A;;GA;;;NS)", false, true, false, 0, 0},
    {"D:(A;;GR;;;S-1-5-20)", false, true, false, 0, 0},
    {"D:(A;;GA;;;LS)", false, true, false, 0, 0},
    {"D:(A;;GA;;;S-1-5-19)", false, true, false, 0, 0},
    {"D:(A;;GA;;;SY)(A;;GA;;;NS)", false, true, true, 0, 0},
};

static const char *const bad[] = {
    "D:(D;;GA;;;WD)",          /* deny ACE */
    "D:(A;;GA;;;XX)",          /* unknown trustee */
    "D:(A;;GW;;;WD)",          /* write only */
    "D:(A;OICI;GA;;;WD)",      /* inheritance flags */
    "D:(A;;GA;;;WD",           /* unterminated */
    "D:(A;;GA;;WD)",           /* 5 fields */
    "D:(A;;GA;;;WD;x)",        /* 7 fields */
    "D:",                      /* no ACE */
    "D:(A;;GA;;;WD)junk",
    "S:(AU;SA;GA;;;WD)",
    "everyone",
    "users=",
    "users=al ice",
    "users=a,,b",
    "cert=0123",
    "cert=" FP_A "00",
    "cert=zz23456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ";",
    "anonymous\n",
    "D:(A;;GA;;;DU)",          /* domain users */
    "D:(A;;GA;;;DA)",          /* domain admins */
    "D:(A;;GA;;;S-1-5-21-1004336348-1177238915-682003330-512)", /* a domain SID */
    "D:(A;;GA;;;S-1-5-32-546)", /* guests: not mapped */
};

START_TEST(test_parse_good)
{
    const struct parse_case *c = &good[_i];
    struct access_rule *r = NULL;
    char err[256] = "";

    ck_assert_msg(access_rule_parse(c->text, &r, err, sizeof(err)) == 0, "'%s': %s",
                  c->text ? c->text : "(null)", err);
    ck_assert_msg(r->anonymous == c->anonymous && r->authenticated == c->authenticated &&
                      r->admins == c->admins && r->nusers == c->nusers &&
                      r->ncerts == c->ncerts,
                  "'%s' parsed as anon=%d auth=%d admins=%d users=%zu certs=%zu", c->text,
                  r->anonymous, r->authenticated, r->admins, r->nusers, r->ncerts);
    access_rule_free(r);
}
END_TEST

START_TEST(test_parse_bad)
{
    struct access_rule *r = NULL;
    char err[256] = "";

    ck_assert_msg(access_rule_parse(bad[_i], &r, err, sizeof(err)) == -EINVAL, "'%s' accepted",
                  bad[_i]);
    ck_assert_ptr_null(r);
    ck_assert_msg(strlen(err) > 10, "no message for '%s'", bad[_i]);
}
END_TEST

START_TEST(test_parse_messages)
{
    struct access_rule *r = NULL;
    char err[256] = "";

    access_rule_parse("D:(D;;GA;;;WD)", &r, err, sizeof(err));
    ck_assert_ptr_nonnull(strstr(err, "deny"));
    access_rule_parse("D:(A;;GA;;;XY)", &r, err, sizeof(err));
    ck_assert_ptr_nonnull(strstr(err, "'XY'"));
    ck_assert_ptr_nonnull(strstr(err, "SY, NS or LS"));
    access_rule_parse("D:(A;;GA;;;S-1-5-21-1004336348-1177238915-682003330-513)", &r, err,
                      sizeof(err));
    ck_assert_ptr_nonnull(strstr(err, "domain account or group"));
    ck_assert_ptr_nonnull(strstr(err, "users=NAME"));
    access_rule_parse("D:(A;;GA;;;DU)", &r, err, sizeof(err));
    ck_assert_ptr_nonnull(strstr(err, "'DU' is a domain"));
    access_rule_parse("everyone", &r, err, sizeof(err));
    ck_assert_ptr_nonnull(strstr(err, "'everyone'"));
}
END_TEST

START_TEST(test_cert_normalise)
{
    struct access_rule *r = NULL;
    const char *certs[] = {
        "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:"
        "89:AB:CD:EF",
        FP_A, /* duplicate after normalisation */
    };
    const char *badc[] = {"nothex"};
    char err[128];

    ck_assert_int_eq(access_rule_parse("admins", &r, err, sizeof(err)), 0);
    ck_assert_int_eq(access_rule_add_certs(r, certs, 2, err, sizeof(err)), 0);
    ck_assert_uint_eq(r->ncerts, 1);
    ck_assert_str_eq(r->certs[0], FP_A);
    ck_assert_int_eq(access_rule_add_certs(r, badc, 1, err, sizeof(err)), -EINVAL);
    access_rule_free(r);
}
END_TEST

static enum access_decision
decide(const char *rule, const char *user, enum ferry_role role, const char *cert)
{
    struct access_rule *r = NULL;
    struct access_identity id = {.user = user, .role = role, .cert_sha256 = cert};
    enum access_decision d;
    char err[128];

    ck_assert_int_eq(access_rule_parse(rule, &r, err, sizeof(err)), 0);
    d = access_decide(r, &id);
    access_rule_free(r);
    return d;
}

START_TEST(test_decide)
{
    ck_assert_int_eq(decide("anonymous", NULL, 0, NULL), ACCESS_ALLOW);
    ck_assert_int_eq(decide("D:(A;;GA;;;WD)", "bob", FERRY_ROLE_USER, NULL), ACCESS_ALLOW);
    ck_assert_int_eq(decide("authenticated", NULL, 0, NULL), ACCESS_UNAUTHORIZED);
    ck_assert_int_eq(decide("authenticated", "bob", FERRY_ROLE_USER, NULL), ACCESS_ALLOW);
    ck_assert_int_eq(decide("admins", "bob", FERRY_ROLE_USER, NULL), ACCESS_FORBIDDEN);
    ck_assert_int_eq(decide("admins", "root", FERRY_ROLE_ADMIN, NULL), ACCESS_ALLOW);
    ck_assert_int_eq(decide("admins", NULL, 0, NULL), ACCESS_UNAUTHORIZED);
    ck_assert_int_eq(decide("users=alice,bob", "bob", FERRY_ROLE_USER, NULL), ACCESS_ALLOW);
    ck_assert_int_eq(decide("users=alice", "bob", FERRY_ROLE_ADMIN, NULL), ACCESS_FORBIDDEN);
    ck_assert_int_eq(decide("users=alice", NULL, 0, NULL), ACCESS_UNAUTHORIZED);
    /* certificate-only rules: a password cannot help, so 403 not 401 */
    ck_assert_int_eq(decide("cert=" FP_A, NULL, 0, NULL), ACCESS_FORBIDDEN);
    ck_assert_int_eq(decide("cert=" FP_A, NULL, 0, FP_B), ACCESS_FORBIDDEN);
    ck_assert_int_eq(decide("cert=" FP_A, NULL, 0, FP_A), ACCESS_ALLOW);
    ck_assert_int_eq(decide("cert=" FP_A ";admins", NULL, 0, FP_A), ACCESS_ALLOW);
    ck_assert_int_eq(decide("cert=" FP_A ";admins", NULL, 0, NULL), ACCESS_UNAUTHORIZED);
}
END_TEST

START_TEST(test_basic)
{
    char u[65], p[129];

    /* "alice:s3cr:et" */
    ck_assert_int_eq(access_basic_parse("Basic YWxpY2U6czNjcjpldA==", u, sizeof(u), p,
                                        sizeof(p)), 0);
    ck_assert_str_eq(u, "alice");
    ck_assert_str_eq(p, "s3cr:et");
    /* "bob:" empty password */
    ck_assert_int_eq(access_basic_parse("basic Ym9iOg==", u, sizeof(u), p, sizeof(p)), 0);
    ck_assert_str_eq(u, "bob");
    ck_assert_str_eq(p, "");
    ck_assert_int_eq(access_basic_parse("Bearer abc", u, sizeof(u), p, sizeof(p)), -EINVAL);
    ck_assert_int_eq(access_basic_parse("Basic !!!!", u, sizeof(u), p, sizeof(p)), -EINVAL);
    ck_assert_int_eq(access_basic_parse("Basic YWxpY2U=", u, sizeof(u), p, sizeof(p)),
                     -EINVAL); /* no colon */
    ck_assert_int_eq(access_basic_parse("Basic OnB3", u, sizeof(u), p, sizeof(p)),
                     -EINVAL); /* ":pw" empty user */
    ck_assert_int_eq(access_basic_parse("Basic YWxpY2U6czNjcjpldA==", u, 3, p, sizeof(p)),
                     -E2BIG);
    ck_assert_int_eq(access_basic_parse("Basic YQBiOmM=", u, sizeof(u), p, sizeof(p)),
                     -EINVAL); /* NUL inside */
    ck_assert_int_eq(access_basic_parse(NULL, u, sizeof(u), p, sizeof(p)), -EINVAL);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("access");
    TCase *tc = tcase_create("access");
    SRunner *sr;
    int failed;

    tcase_add_loop_test(tc, test_parse_good, 0, sizeof(good) / sizeof(good[0]));
    tcase_add_loop_test(tc, test_parse_bad, 0, sizeof(bad) / sizeof(bad[0]));
    tcase_add_test(tc, test_parse_messages);
    tcase_add_test(tc, test_cert_normalise);
    tcase_add_test(tc, test_decide);
    tcase_add_test(tc, test_basic);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
