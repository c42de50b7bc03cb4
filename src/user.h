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

/* -ESRCH when there is no such user (a number without an entry is fine for uid alone), other negative errno
 * when the lookup itself failed. Logs nothing. */
int user_lookup(const char *name, UserRecord *ret);
void user_record_done(UserRecord *u);
int group_lookup(const char *name, gid_t *ret);
