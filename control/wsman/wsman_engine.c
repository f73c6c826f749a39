/*
 * wsman_engine.c - the engine call table of ferryd: the public functions of
 * include/ferry/{jobs,server,users}.h. Tests and the fuzzer use their own tables.
 */
#include "wsman.h"

const struct wsman_engine_ops wsman_engine_ops_real = {
    .jobs_create = ferry_jobs_create,
    .jobs_add_file = ferry_jobs_add_file,
    .jobs_set_state = ferry_jobs_set_state,
    .jobs_set_props = ferry_jobs_set_props,
    .jobs_get = ferry_jobs_get,
    .jobs_list = ferry_jobs_list,
    .job_info_free = ferry_job_info_free,
    .job_info_list_free = ferry_job_info_list_free,
    .jobs_get_error = ferry_jobs_get_error,
    .job_error_done = ferry_job_error_done,
    .jobs_set_credentials = ferry_jobs_set_credentials,
    .jobs_remove_credentials = ferry_jobs_remove_credentials,
    .jobs_set_proxy = ferry_jobs_set_proxy,
    .jobs_set_client_cert = ferry_jobs_set_client_cert,
    .jobs_remove_client_cert = ferry_jobs_remove_client_cert,
    .jobs_set_option = ferry_jobs_set_option,
    .jobs_set_notify_cmdline = ferry_jobs_set_notify_cmdline,
    .jobs_stats = ferry_jobs_stats,
    .group_create = ferry_server_group_create,
    .group_delete = ferry_server_group_delete,
    .url_create = ferry_server_url_create,
    .url_delete = ferry_server_url_delete,
    .url_check = ferry_server_url_check,
    .group_set_auth = ferry_server_group_set_auth,
    .group_get_auth = ferry_server_group_get_auth,
    .group_set_property = ferry_server_group_set_property,
    .group_get_property = ferry_server_group_get_property,
    .set_ssl_cert = ferry_server_set_ssl_cert,
    .group_get = ferry_server_group_get,
    .group_list = ferry_server_group_list,
    .group_info_free = ferry_group_info_free,
    .group_info_list_free = ferry_group_info_list_free,
    .server_stats = ferry_server_stats,
    .users_verify = ferry_users_verify,
    .users_role = ferry_users_role,
    .users_authpool = ferry_users_authpool,
};
