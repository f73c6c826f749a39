/*
 * control/wsman/wsman_config.c - the WS-Man endpoint's options (wsman_config.h): names,
 * defaults, limits and help lines, in --help order after the engine's.
 */
#include <stddef.h>

#include "wsman_config.h"

#define OFF(field) offsetof(struct wsman_config, field)
#define KiB 1024ULL
#define MiB (1024ULL * 1024ULL)

/* clang-format off */
static const struct ferry_config_option wsman_options[] = {
    {"wsman-listen", "ADDR:PORT", FERRY_CONFIG_STRING, "127.0.0.1:5985",
     "WS-Management listener (http); empty disables it", OFF(listen), 0, 0, NULL},
    {"wsman-tls-listen", "ADDR:PORT", FERRY_CONFIG_STRING, NULL,
     "WS-Management listener (https), needs --tls-cert and --tls-key", OFF(tls_listen),
     0, 0, NULL},
    {"anonymous-identify", NULL, FERRY_CONFIG_BOOL, "true",
     "answer WS-Man Identify without authentication", OFF(anonymous_identify), 0, 0, NULL},
    {"wsman-max-envelope", "BYTES", FERRY_CONFIG_SIZE, "512000",
     "hard cap on a WS-Man request envelope", OFF(max_envelope), 8 * KiB, 64 * MiB, NULL},
    {"wsman-enum-ttl", "SECONDS", FERRY_CONFIG_UNSIGNED, "240",
     "idle time after which an enumeration context expires", OFF(enum_ttl), 1, 86400,
     NULL},
    {"wsman-max-enums", "N", FERRY_CONFIG_UNSIGNED, "1024",
     "enumeration contexts alive at once", OFF(max_enums), 1, 1000000, NULL},
    {"wsman-max-connections", "N", FERRY_CONFIG_UNSIGNED, "512",
     "open WS-Man connections; with http-max-header-bytes this caps the bytes held for "
     "unauthenticated requests", OFF(max_connections), 1, 1000000, NULL},
    {"wsman-workers", "N", FERRY_CONFIG_UNSIGNED, "2",
     "threads serving the WS-Man listeners, so a flood of refused connections on one does "
     "not hold an authenticated call behind it", OFF(workers), 1, 16, NULL},
    {"metrics", NULL, FERRY_CONFIG_BOOL, "false",
     "serve GET /metrics on the WS-Man listener", OFF(metrics), 0, 0, NULL},
};
/* clang-format on */

const struct ferry_config_section wsman_config_section = {
    .name = "wsman",
    .options = wsman_options,
    .noptions = sizeof(wsman_options) / sizeof(wsman_options[0]),
    .size = sizeof(struct wsman_config),
};

/*
 * The WS-Man options of cfg (made by ferry_config_new_with with wsman_config_section).
 */
const struct wsman_config *
wsman_config_get(const struct ferry_config *cfg)
{
    return ferry_config_section_data(cfg, &wsman_config_section);
}
