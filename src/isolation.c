/* isolation.c: what a pool's workers drop into before their first request: user, groups, chroot, limits */
#include <grp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "isolation.h"
#include "log.h"
#include "user.h"

static int resolve_user(const PoolConfig *p, Isolation *i)
{
        _cleanup_(user_record_done) UserRecord u = {};
        int r;

        r = user_lookup(p->user, &u);
        if (r == -ESRCH)
                return log_error_errno(r, "[pool %s] user '%s' does not exist.", p->name, p->user);
        if (r < 0)
                return log_error_errno(r, "[pool %s] failed to look up user '%s': %m", p->name, p->user);
        i->uid = u.uid;
        i->gid = u.gid;

        if (p->group) {
                r = group_lookup(p->group, &i->gid);
                if (r == -ESRCH)
                        return log_error_errno(r, "[pool %s] group '%s' does not exist.", p->name, p->group);
                if (r < 0)
                        return log_error_errno(r, "[pool %s] failed to look up group '%s': %m", p->name, p->group);
        } else if (!u.name)
                return log_error_errno(
                        ESRCH, "[pool %s] user %s has no entry in the user database: set 'group'.", p->name, p->user);

        /* The user's supplementary groups, as a login would have them */
        if (u.name) {
                r = user_groups(u.name, i->gid, &i->groups, &i->n_groups);
                if (r < 0)
                        return log_error_errno(
                                r, "[pool %s] failed to look up the groups of user '%s': %m", p->name, u.name);
        }
        /* As PHP-FPM: USER and HOME of the workers only for a user given by name */
        if (u.name && streq(p->user, u.name))
                i->home = TAKE_PTR(u.home);
        i->user = u.name ? TAKE_PTR(u.name) : strdup(p->user);
        return i->user ? 0 : log_oom();
}

/* 0 for a folder (symlinks followed), else why not */
static int folder_check(const char *path)
{
        struct stat st;

        if (stat(path, &st) < 0)
                return -errno;
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int isolation_plan(const PoolConfig *p, bool announce, Isolation *ret)
{
        Isolation i = {.rlimit_files = p->rlimit_files, .rlimit_core = p->rlimit_core, .dumpable = p->process_dumpable};
        bool privileged = geteuid() == 0;
        int r;

        if (!privileged) {
                _cleanup_(user_record_done) UserRecord me = {};
                char uid[sizeof("4294967295")];

                (void)snprintf(uid, sizeof(uid), "%u", (unsigned)geteuid());
                if (user_lookup(uid, &me) < 0 || !me.name)
                        me.name = strdup("?");
                if (announce && (p->user || p->group))
                        log_notice("[pool %s] 'user' and 'group' are ignored: fpmd runs unprivileged, so the pool "
                                   "runs as '%s' too.",
                                p->name, strna(me.name));
                if (p->chroot)
                        return log_error_errno(
                                EPERM, "[pool %s] chroot '%s' needs fpmd to run as root.", p->name, p->chroot);
                i.user = TAKE_PTR(me.name);
        } else if (!p->user) {
                if (!p->allow_root)
                        return log_error_errno(EPERM,
                                "[pool %s] would run PHP as root: set 'user' (and 'group'), or 'allow_root = true;' "
                                "if that is really meant.",
                                p->name);
                if (announce)
                        log_warning("[pool %s] runs PHP as root (allow_root = true).", p->name);
                i.user = strdup("root");
        } else {
                r = resolve_user(p, &i);
                if (r < 0) {
                        isolation_done(&i);
                        return r;
                }
                if (i.uid == 0 && !p->allow_root) {
                        isolation_done(&i);
                        return log_error_errno(EPERM,
                                "[pool %s] user '%s' is root: set another user, or 'allow_root = true;' if that "
                                "is really meant.",
                                p->name, p->user);
                }
                i.change_user = true;
        }

        /* Checked here, not in each worker: a pool that cannot chroot or chdir never starts, nor replaces one (an
         * ondemand pool's first worker would find out after the generation it replaced had gone). PHP-FPM checks
         * both when it reads its configuration. */
        if (p->chroot) {
                r = folder_check(p->chroot);
                if (r < 0) {
                        r = log_error_errno(r, "[pool %s] chroot '%s' is not a folder: %m", p->name, p->chroot);
                        isolation_done(&i);
                        return r;
                }
                i.chroot = strdup(p->chroot);
        }
        if (p->chdir) {
                _cleanup_free_ char *inside = NULL;

                if (p->chroot && asprintf(&inside, "%s/%s", p->chroot, p->chdir) < 0) {
                        isolation_done(&i);
                        return log_oom();
                }
                r = folder_check(inside ?: p->chdir);
                if (r < 0) {
                        if (p->chroot)
                                r = log_error_errno(r, "[pool %s] chdir '%s' is not a folder in chroot '%s': %m",
                                        p->name, p->chdir, p->chroot);
                        else
                                r = log_error_errno(r, "[pool %s] chdir '%s' is not a folder: %m", p->name, p->chdir);
                        isolation_done(&i);
                        return r;
                }
                i.chdir = strdup(p->chdir);
        }
        if (!i.user || (p->chroot && !i.chroot) || (p->chdir && !i.chdir)) {
                isolation_done(&i);
                return log_oom();
        }
        *ret = i;
        return 0;
}

static int set_limit(int resource, int value, const char *name)
{
        struct rlimit rl;

        if (value == -1)
                return 0;
        rl.rlim_cur = rl.rlim_max = value == -2 ? RLIM_INFINITY : (rlim_t)value;
        if (setrlimit(resource, &rl) < 0)
                return log_error_errno(errno, "Failed to set %s to %d: %m", name, value);
        return 0;
}

int isolation_apply(const Isolation *i)
{
        const char *dir;
        int r;

        r = set_limit(RLIMIT_NOFILE, i->rlimit_files, "rlimit_files");
        if (r < 0)
                return r;
        r = set_limit(RLIMIT_CORE, i->rlimit_core, "rlimit_core");
        if (r < 0)
                return r;

        if (i->change_user && setgroups(i->n_groups, i->groups) < 0)
                return log_error_errno(errno, "Failed to set the supplementary groups of '%s': %m", i->user);

        if (i->chroot && chroot(i->chroot) < 0)
                return log_error_errno(errno, "Failed to chroot to %s: %m", i->chroot);
        dir = i->chdir ? i->chdir : (i->chroot ? "/" : NULL);
        if (dir && chdir(dir) < 0)
                return log_error_errno(errno, "Failed to change directory to %s: %m", dir);

        if (i->change_user) {
                /* setresgid/setresuid: real, effective and saved ids, so nothing can switch back */
                if (setresgid(i->gid, i->gid, i->gid) < 0)
                        return log_error_errno(errno, "Failed to switch to group %u: %m", (unsigned)i->gid);
                if (setresuid(i->uid, i->uid, i->uid) < 0)
                        return log_error_errno(errno, "Failed to switch to user '%s': %m", i->user);
                if (i->uid != 0 && setuid(0) == 0)
                        return log_error_errno(EPERM, "Dropping privileges to '%s' did not stick.", i->user);
        }

        /* Not dumpable: no core with request data, and other processes of the user cannot ptrace it */
        if (prctl(PR_SET_DUMPABLE, i->dumpable ? 1 : 0) < 0)
                return log_error_errno(errno, "Failed to set process.dumpable: %m");
        return 0;
}

void isolation_done(Isolation *i)
{
        free(i->groups);
        free(i->user);
        free(i->home);
        free(i->chroot);
        free(i->chdir);
        *i = (Isolation){};
}
