/* user.c: users and groups by name or number, as PHP-FPM takes them (user = www-data, or user = 33) */
#include <grp.h>
#include <pwd.h>

#include "user.h"

static bool is_number(const char *s, unsigned long *ret)
{
        char *end;

        if (isempty(s) || strspn(s, "0123456789") != strlen(s))
                return false;
        errno = 0;
        *ret = strtoul(s, &end, 10);
        return errno == 0 && *ret < (unsigned long)(uid_t)-1;
}

/* Not found is 0 or one of these, depending on the NSS module */
static int lookup_error(void)
{
        if (errno > 0 && errno != ENOENT && errno != ESRCH && errno != EBADF && errno != EPERM)
                return -errno;
        return -ESRCH;
}

int user_lookup(const char *name, UserRecord *ret)
{
        struct passwd *pw;
        unsigned long id;
        bool number = is_number(name, &id);

        errno = 0;
        pw = number ? getpwuid((uid_t)id) : getpwnam(name);
        if (!pw) {
                if (!number)
                        return lookup_error();
                /* PHP-FPM runs a uid without a user entry with its own group unchanged */
                *ret = (UserRecord){.uid = (uid_t)id, .gid = (gid_t)-1};
                return 0;
        }
        *ret = (UserRecord){
                .uid = pw->pw_uid, .gid = pw->pw_gid, .name = strdup(pw->pw_name), .home = strdup(pw->pw_dir)};
        if (!ret->name || !ret->home) {
                user_record_done(ret);
                return -ENOMEM;
        }
        return 0;
}

void user_record_done(UserRecord *u)
{
        u->name = mfree(u->name);
        u->home = mfree(u->home);
}

int group_lookup(const char *name, gid_t *ret)
{
        struct group *gr;
        unsigned long id;

        if (is_number(name, &id)) {
                *ret = (gid_t)id;
                return 0;
        }
        errno = 0;
        gr = getgrnam(name);
        if (!gr)
                return lookup_error();
        *ret = gr->gr_gid;
        return 0;
}
