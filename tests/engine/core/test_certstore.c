/*
 * tests/engine/core/test_certstore.c - engine/core/certstore.c: store name rules, the
 * store directory, lookup by SHA-1 thumbprint of an openssl-made certificate (found, not
 * found, hidden and non-.pem files skipped, unreadable store).
 */
#include <check.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certstore.h"
#include "ferry/config.h"

START_TEST(test_names)
{
    char name[80];

    ck_assert(certstore_name_ok("MY"));
    ck_assert(certstore_name_ok("web-01_a.b"));
    ck_assert(!certstore_name_ok(NULL));
    ck_assert(!certstore_name_ok(""));
    ck_assert(!certstore_name_ok("."));
    ck_assert(!certstore_name_ok(".."));
    ck_assert(!certstore_name_ok(".hidden"));
    ck_assert(!certstore_name_ok("../x"));
    ck_assert(!certstore_name_ok("a/b"));
    ck_assert(!certstore_name_ok("a b"));
    memset(name, 'a', 64);
    name[64] = '\0';
    ck_assert(certstore_name_ok(name));
    name[64] = 'a';
    name[65] = '\0';
    ck_assert(!certstore_name_ok(name));
}
END_TEST

/* A self-signed certificate written as PEM to path; its SHA-1 in sha1. */
static void
make_cert(const char *path, uint8_t sha1[20])
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    unsigned len = 0;
    FILE *f;

    ck_assert_ptr_nonnull(key);
    ck_assert_ptr_nonnull(x);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"certstore", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(PEM_write_X509(f, x), 1);
    fclose(f);
    ck_assert_int_eq(X509_digest(x, EVP_sha1(), sha1, &len), 1);
    ck_assert_uint_eq(len, 20);
    X509_free(x);
    EVP_PKEY_free(key);
}

START_TEST(test_find)
{
    char root[] = "/tmp/certstore-XXXXXX", path[512], *found = NULL, *dir = NULL;
    struct ferry_config cfg;
    uint8_t sha1[20], other[20];

    ck_assert_ptr_nonnull(mkdtemp(root));
    memset(&cfg, 0, sizeof(cfg));
    cfg.state_dir = root;
    /* default directory: STATE/certs/NAME */
    ck_assert_int_eq(certstore_dir(&cfg, "MY", &dir), 0);
    snprintf(path, sizeof(path), "%s/certs/MY", root);
    ck_assert_str_eq(dir, path);
    free(dir);
    ck_assert_int_eq(certstore_dir(&cfg, "../MY", &dir), -EINVAL);
    /* cert-store-dir set */
    cfg.cert_store_dir = root;
    snprintf(path, sizeof(path), "%s/MY", root);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/MY/server.pem", root);
    make_cert(path, sha1);
    snprintf(path, sizeof(path), "%s/MY/.hidden.pem", root);
    make_cert(path, other);
    snprintf(path, sizeof(path), "%s/MY/other.crt", root);
    make_cert(path, other);
    ck_assert_int_eq(certstore_find(&cfg, "MY", sha1, &found), 0);
    snprintf(path, sizeof(path), "%s/MY/server.pem", root);
    ck_assert_str_eq(found, path);
    free(found);
    ck_assert_int_eq(certstore_find(&cfg, "MY", other, &found), -ENOENT);
    ck_assert_int_eq(certstore_find(&cfg, "NONE", sha1, &found), -ENOENT);
    ck_assert_int_eq(certstore_find(&cfg, ".MY", sha1, &found), -EINVAL);
    snprintf(path, sizeof(path), "rm -rf -- '%s'", root);
    ck_assert_int_eq(system(path), 0);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("certstore");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_find);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
