/*
 * credbox.c - credentials at rest (credbox.h). The key file sits beside jobs.db in the
 * state directory (0700): a copy of the database alone (a backup, a bug report, a stolen
 * disk image of /var/lib without the key) reveals no password; whoever can read the state
 * directory as its owner can read both, as with any key kept on the same host.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry/common.h"
#include "ferry/log.h"
#include "client/credbox.h"

#define CREDBOX_KEY_LEN 32
#define CREDBOX_NONCE_LEN 12
#define CREDBOX_TAG_LEN 16
#define CREDBOX_MAX_PLAIN 4096

struct credbox {
    uint8_t key[CREDBOX_KEY_LEN];
};

static int
credbox_read_key(int fd, uint8_t *key)
{
    size_t got = 0;

    while (got < CREDBOX_KEY_LEN) {
        ssize_t n = read(fd, key + got, CREDBOX_KEY_LEN - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EBADMSG;
        got += (size_t)n;
    }
    return 0;
}

/* Load or create the key (credbox.h). */
int
credbox_open(const char *state_dir, struct credbox **ret)
{
    struct credbox *b = NULL;
    char *path = NULL, *tmp = NULL;
    struct stat st;
    int fd = -1, r;

    if (asprintf(&path, "%s/credentials.key", state_dir) < 0) {
        path = NULL;
        r = -ENOMEM;
        goto out;
    }
    b = calloc(1, sizeof(*b));
    if (!b) {
        r = -ENOMEM;
        goto out;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != CREDBOX_KEY_LEN) {
            ferry_log_error("credential key '%s' is not a %d-byte file", path,
                            CREDBOX_KEY_LEN);
            r = -EBADMSG;
            goto out;
        }
        if (st.st_mode & 077) {
            ferry_log_warn("credential key '%s' was readable by others; now 0600", path);
            if (fchmod(fd, 0600) < 0) {
                r = -errno;
                goto out;
            }
        }
        r = credbox_read_key(fd, b->key);
        if (r < 0)
            ferry_log_error("credential key '%s' could not be read: %s", path, strerror(-r));
        goto out;
    }
    if (errno != ENOENT) {
        r = -errno;
        ferry_log_error("open('%s') failed: %s", path, strerror(errno));
        goto out;
    }
    /* first use: a new key, written to a temp file and renamed, so it appears whole */
    if (getrandom(b->key, sizeof(b->key), 0) != (ssize_t)sizeof(b->key) ||
        asprintf(&tmp, "%s/.credentials.key.new", state_dir) < 0) {
        tmp = NULL;
        r = -EIO;
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || write(fd, b->key, sizeof(b->key)) != (ssize_t)sizeof(b->key) ||
        fsync(fd) < 0 || rename(tmp, path) < 0) {
        r = -errno;
        ferry_log_error("credential key '%s' could not be written: %s", path,
                        strerror(errno));
        unlink(tmp);
        goto out;
    }
    r = 0;
out:
    if (fd >= 0)
        close(fd);
    free(path);
    free(tmp);
    if (r < 0) {
        credbox_free(b);
        return r;
    }
    *ret = b;
    return 0;
}

struct credbox *
credbox_free(struct credbox *b)
{
    if (b) {
        explicit_bzero(b->key, sizeof(b->key));
        free(b);
    }
    return NULL;
}

bool
credbox_is_sealed(const char *text)
{
    return text && strncmp(text, CREDBOX_PREFIX, strlen(CREDBOX_PREFIX)) == 0;
}

/* AES-256-GCM over in (len bytes) with aad; enc: out gets ciphertext and tag (tag
 * written/read at tag). 0 or -EIO / -EBADMSG. */
static int
credbox_gcm(const struct credbox *b, bool enc, const uint8_t *nonce, const char *aad,
            const uint8_t *in, int len, uint8_t *out, uint8_t *tag)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, r = -EIO;

    if (!c)
        return -ENOMEM;
    if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, CREDBOX_NONCE_LEN, NULL) != 1 ||
        EVP_CipherInit_ex(c, NULL, NULL, b->key, nonce, enc) != 1 ||
        EVP_CipherUpdate(c, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)) != 1 ||
        EVP_CipherUpdate(c, out, &n, in, len) != 1)
        goto out;
    if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, CREDBOX_TAG_LEN, tag) != 1)
        goto out;
    if (EVP_CipherFinal_ex(c, out + n, &n) != 1) {
        r = enc ? -EIO : -EBADMSG;
        goto out;
    }
    if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, CREDBOX_TAG_LEN, tag) != 1)
        goto out;
    r = 0;
out:
    EVP_CIPHER_CTX_free(c);
    return r;
}

/* Seal (credbox.h). */
int
credbox_seal(const struct credbox *b, const char *job_id, const char *plain, char **ret_sealed)
{
    size_t len = strlen(plain), blen = CREDBOX_NONCE_LEN + len + CREDBOX_TAG_LEN;
    size_t plen = strlen(CREDBOX_PREFIX);
    uint8_t *buf;
    char *out;
    int r;

    if (len > CREDBOX_MAX_PLAIN)
        return -EINVAL;
    buf = malloc(blen);
    out = malloc(plen + 2 * blen + 1);
    if (!buf || !out) {
        free(buf);
        free(out);
        return -ENOMEM;
    }
    if (getrandom(buf, CREDBOX_NONCE_LEN, 0) != CREDBOX_NONCE_LEN) {
        r = -EIO;
        goto error;
    }
    r = credbox_gcm(b, true, buf, job_id, (const uint8_t *)plain, (int)len,
                    buf + CREDBOX_NONCE_LEN, buf + CREDBOX_NONCE_LEN + len);
    if (r < 0)
        goto error;
    memcpy(out, CREDBOX_PREFIX, plen);
    ferry_hex_encode(buf, blen, out + plen);
    out[plen + 2 * blen] = '\0';
    free(buf);
    *ret_sealed = out;
    return 0;
error:
    free(buf);
    free(out);
    return r;
}

static int
credbox_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Open (credbox.h). */
int
credbox_unseal(const struct credbox *b, const char *job_id, const char *text, char **ret_plain)
{
    const char *hex = text + strlen(CREDBOX_PREFIX);
    size_t hlen, blen, len;
    uint8_t *buf = NULL;
    char *plain = NULL;
    int r;

    if (!credbox_is_sealed(text)) {
        plain = strdup(text);
        if (!plain)
            return -ENOMEM;
        *ret_plain = plain;
        return 0;
    }
    hlen = strlen(hex);
    if (hlen % 2 || hlen / 2 < CREDBOX_NONCE_LEN + CREDBOX_TAG_LEN ||
        hlen / 2 > CREDBOX_NONCE_LEN + CREDBOX_MAX_PLAIN + CREDBOX_TAG_LEN)
        return -EBADMSG;
    blen = hlen / 2;
    len = blen - CREDBOX_NONCE_LEN - CREDBOX_TAG_LEN;
    buf = malloc(blen);
    plain = malloc(len + 1);
    if (!buf || !plain) {
        r = -ENOMEM;
        goto error;
    }
    for (size_t i = 0; i < blen; i++) {
        int hi = credbox_nibble(hex[2 * i]), lo = credbox_nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            r = -EBADMSG;
            goto error;
        }
        buf[i] = (uint8_t)(hi << 4 | lo);
    }
    r = credbox_gcm(b, false, buf, job_id, buf + CREDBOX_NONCE_LEN, (int)len,
                    (uint8_t *)plain, buf + CREDBOX_NONCE_LEN + len);
    if (r < 0)
        goto error;
    plain[len] = '\0';
    free(buf);
    *ret_plain = plain;
    return 0;
error:
    if (plain)
        explicit_bzero(plain, len + 1);
    free(plain);
    free(buf);
    return r;
}
