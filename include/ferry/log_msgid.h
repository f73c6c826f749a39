/*
 * ferry/log_msgid.h - the journal MESSAGE_ID of each main event, in one place. Under
 * systemd's journal every ferry_log_event() line carries its ID (journalctl
 * MESSAGE_ID=...); the list with the meaning of each ID is in docs/internals/logging.md
 * and ferryd(8). IDs are 128-bit, chosen once at random: never change or reuse one.
 */
#ifndef FERRY_LOG_MSGID_H
#define FERRY_LOG_MSGID_H

#define FERRY_MSGID_DAEMON_START     "d72e7cb9934b4b0ab95e08d8aea3834b"
#define FERRY_MSGID_DAEMON_STOP      "769df7b93fe24f3dab9047300b006e1e"
#define FERRY_MSGID_JOB_CREATED      "1723e5027f3f49f396e35ffc487a272b"
#define FERRY_MSGID_JOB_TRANSFERRED  "00ee90e2ea9445f8acc9b9307a85ff18"
#define FERRY_MSGID_JOB_ERROR        "f29c324b6bea425497ca1c78bc337fb1"
#define FERRY_MSGID_JOB_ACKNOWLEDGED "c53d4ecf7a324eed9a8bbc395c8b384d"
#define FERRY_MSGID_JOB_CANCELLED    "4de220edae134e9ab7e4693464194748"
#define FERRY_MSGID_URL_PUBLISHED    "05d7b572ef9f4609bc850138db540bac"
#define FERRY_MSGID_URL_REMOVED      "a8ae83f60fee4215b806bcde2fc4ff87"
#define FERRY_MSGID_AUTH_LOCKOUT     "ba5fc69b9cd44059848b2f46da091412"

#endif
