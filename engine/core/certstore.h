/*
 * engine/core/certstore.h - the certificate store both roles read: a directory of PEM
 * files per store name, under cert-store-dir (default STATE/certs). The server role binds
 * a store's certificate to an https port (SetSslCertificate), the client role gives one
 * to a job as its client certificate (SetClientCertificateById). A PEM file holds the
 * certificate (and, for server use, its key); it is found by its SHA-1 thumbprint.
 */
#ifndef FERRY_CERTSTORE_H
#define FERRY_CERTSTORE_H

#include <stdbool.h>
#include <stdint.h>

#include "ferry/config.h"

#define CERTSTORE_NAME_MAX 64
#define CERTSTORE_SHA1_LEN 20

/* Whether name is a store name: 1-64 characters of [A-Za-z0-9._-], not starting with '.'
 * (so never ".", ".." or a hidden directory, and never a path). */
bool certstore_name_ok(const char *name);

/* The store directory for name: cert-store-dir/NAME, else STATE/certs/NAME. 0 and a
 * malloc()ed path, -EINVAL for a bad name, -ENOMEM. */
int certstore_dir(const struct ferry_config *cfg, const char *name, char **ret_dir);

/* The PEM file (*.pem, not hidden) in store `name` whose certificate's SHA-1 is sha1.
 * 0 and a malloc()ed path, -ENOENT when none matches, -EINVAL for a bad name, -errno when
 * the store cannot be read. */
int certstore_find(const struct ferry_config *cfg, const char *name,
                   const uint8_t sha1[CERTSTORE_SHA1_LEN], char **ret_path);

/*
 * Store locations (BITS's CertStoreLocation, BG_CERT_STORE_LOCATION 0-7). Location 1,
 * LOCAL_MACHINE, is the daemon's own store: cert-store-dir/NAME, the directory every
 * function above reads (SetSslCertificate's stores). Every other location has its own
 * tree: cert-store-dir/@LOCATION/NAME, with LOCATION one of CurrentUser (0),
 * CurrentService (2), Services (3), Users (4), CurrentUserGroupPolicy (5),
 * LocalMachineGroupPolicy (6), LocalMachineEnterprise (7). '@' is not a store-name
 * character, so no store name can collide with a location's tree.
 */
#define CERTSTORE_LOCAL_MACHINE 1u
#define CERTSTORE_LOCATION_MAX 7u
/* The name of a location (NULL when above CERTSTORE_LOCATION_MAX). */
const char *certstore_location_name(unsigned location);
/* certstore_dir / certstore_find for a location; -EINVAL also for a bad location. */
int certstore_dir_at(const struct ferry_config *cfg, unsigned location, const char *name,
                     char **ret_dir);
int certstore_find_at(const struct ferry_config *cfg, unsigned location, const char *name,
                      const uint8_t sha1[CERTSTORE_SHA1_LEN], char **ret_path);
/*
 * The PEM file in store (location, name) whose certificate's subject contains `subject`
 * (case-insensitive, as CERT_FIND_SUBJECT_STR: the one-line subject "CN=host, O=org" or any
 * part of it). With several matches, the first file name in byte order. 0 and a malloc()ed
 * path, -ENOENT, -EINVAL (bad location, name or empty subject), -errno.
 */
int certstore_find_subject(const struct ferry_config *cfg, unsigned location,
                           const char *name, const char *subject, char **ret_path);

#endif
