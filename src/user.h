/* user.h: users and groups by name or number, as PHP-FPM takes them (user = www-data, or user = 33) */
#pragma once

#include <sys/types.h>

#include "macro.h"

typedef struct UserRecord {
        uid_t uid;
        gid_t gid;  /* primary group */
        char *name; /* NULL when given as a number without an entry in the user database */
        char *home;
} UserRecord;

/* From now on every lookup of this process is answered by a child of its own, which holds none of our fds and
 * leaves after a second without a question: the supervisor, a long-running root process, then never loads an
 * NSS module (systemd's, sss, ldap: their libraries, threads and sockets), and stays small. A configuration's
 * lookups, hundreds for hundreds of pools, cost one fork(). */
void user_lookups_in_child(void);
/* A configuration's lookups are over: the helper is told to go and waited for, so it shows in no process list
 * once a configuration is loaded (the next lookup starts one again) */
void user_lookups_done(void);

/* -ESRCH when there is no such user (a number without an entry is fine for uid alone), other negative errno
 * when the lookup itself failed. Logs nothing. */
int user_lookup(const char *name, UserRecord *ret);
void user_record_done(UserRecord *u);
int group_lookup(const char *name, gid_t *ret);
/* The supplementary groups of user name with primary group gid, as a login has them (getgrouplist) */
int user_groups(const char *name, gid_t gid, gid_t **ret, size_t *ret_n);
