/* cgroup.c: the pools' own cgroups under fpmd's delegated service cgroup (cgroup v2) */
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <linux/magic.h>

#include "cgroup.h"
#include "log.h"

#define CGROUP_ROOT "/sys/fs/cgroup"

static const struct {
        unsigned bit;
        const char *name;
        const char *settings;
} controllers[] = {
        {CGROUP_CONTROLLER_CPU, "cpu", "cpu_weight/cpu_max"},
        {CGROUP_CONTROLLER_MEMORY, "memory", "memory_max/memory_high"},
        {CGROUP_CONTROLLER_PIDS, "pids", "pids_max"},
};

static int read_one_line(const char *path, char **ret)
{
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        FILE *f = fopen(path, "re");
        ssize_t n;

        if (!f)
                return -errno;
        n = getline(&line, &size, f);
        fclose(f);
        if (n < 0)
                return -ENODATA;
        if (n > 0 && line[n - 1] == '\n')
                line[n - 1] = 0;
        *ret = TAKE_PTR(line);
        return 0;
}

static int write_file(const char *dir, const char *file, const char *value)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -1;
        size_t len = strlen(value);

        if (asprintf(&path, "%s/%s", dir, file) < 0)
                return -ENOMEM;
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (write(fd, value, len) != (ssize_t)len)
                return -errno;
        return 0;
}

/* Our own cgroup from /proc/self/cgroup: the "0::" line of the unified hierarchy */
static int own_cgroup(char **ret)
{
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        FILE *f = fopen("/proc/self/cgroup", "re");
        int r = -ENOENT;

        if (!f)
                return -errno;
        while (getline(&line, &size, f) > 0)
                if (strneq(line, "0::", 3)) {
                        line[strcspn(line, "\n")] = 0;
                        *ret = strdup(line + 3);
                        r = *ret ? 0 : -ENOMEM;
                        break;
                }
        fclose(f);
        return r;
}

/* systemd marks a cgroup it delegated with the trusted.delegate (or user.delegate) extended attribute */
static bool is_delegated(const char *path)
{
        char v[8];
        ssize_t n = getxattr(path, "trusted.delegate", v, sizeof(v) - 1);

        if (n < 0)
                n = getxattr(path, "user.delegate", v, sizeof(v) - 1);
        if (n <= 0)
                return false;
        v[n] = 0;
        return v[0] == '1' || streq(v, "yes") || streq(v, "true");
}

bool cgroup_enabled(const Cgroups *c)
{
        return c->root != NULL;
}

int cgroup_setup(Cgroups *c)
{
        _cleanup_free_ char *own = NULL, *root = NULL, *leaf = NULL, *available = NULL, *path = NULL;
        struct statfs fs;
        char enable[64] = "";
        int r;

        *c = (Cgroups){};
        if (statfs(CGROUP_ROOT, &fs) < 0 || fs.f_type != CGROUP2_SUPER_MAGIC) {
                log_warning("cgroup v2 is not mounted at " CGROUP_ROOT " (a hybrid or v1 host): the pools run "
                            "without cgroups of their own, and cgroup limits are off.");
                return 0;
        }
        r = own_cgroup(&own);
        if (r < 0) {
                log_warning_errno(r, "Cannot tell fpmd's own cgroup, pool cgroups are off: %m");
                return 0;
        }
        if (asprintf(&root, CGROUP_ROOT "%s", streq(own, "/") ? "" : own) < 0)
                return log_oom();

        /* Our cgroup leaf already? Then we were restarted inside it: its parent is the delegated one */
        {
                const char *slash = strrchr(root, '/');
                if (slash && streq(slash + 1, "supervisor"))
                        root[slash - root] = 0;
        }
        if (!is_delegated(root)) {
                log_info("Not in a cgroup delegated by systemd (Delegate=yes): the pools run without cgroups of "
                         "their own.");
                return 0;
        }

        /* A cgroup with controllers for its children holds no process itself: the supervisor moves to a leaf */
        if (asprintf(&leaf, "%s/supervisor", root) < 0)
                return log_oom();
        if (mkdir(leaf, 0755) < 0 && errno != EEXIST) {
                log_warning_errno(errno, "Failed to create %s, pool cgroups are off: %m", leaf);
                return 0;
        }
        r = write_file(leaf, "cgroup.procs", "0");
        if (r < 0) {
                log_warning_errno(r, "Failed to move into %s, pool cgroups are off: %m", leaf);
                return 0;
        }

        if (asprintf(&path, "%s/cgroup.controllers", root) >= 0 && read_one_line(path, &available) >= 0) {
                for (size_t i = 0; i < ELEMENTSOF(controllers); i++) {
                        const char *p = available;
                        size_t l = strlen(controllers[i].name);

                        while ((p = strstr(p, controllers[i].name))) {
                                if ((p == available || p[-1] == ' ') && (p[l] == 0 || p[l] == ' ')) {
                                        c->controllers |= controllers[i].bit;
                                        snprintf(enable + strlen(enable), sizeof(enable) - strlen(enable), "%s+%s",
                                                enable[0] ? " " : "", controllers[i].name);
                                        break;
                                }
                                p += l;
                        }
                }
        }
        if (enable[0]) {
                r = write_file(root, "cgroup.subtree_control", enable);
                if (r < 0) {
                        log_warning_errno(r, "Failed to enable the controllers %s for the pools: %m", enable);
                        c->controllers = 0;
                }
        }

        log_info("Pool cgroups under %s (controllers:%s%s%s).", root,
                c->controllers & CGROUP_CONTROLLER_CPU ? " cpu" : "",
                c->controllers & CGROUP_CONTROLLER_MEMORY ? " memory" : "",
                c->controllers & CGROUP_CONTROLLER_PIDS ? " pids" : "");
        c->root = TAKE_PTR(root);
        return 0;
}

void cgroup_done(Cgroups *c)
{
        for (size_t i = 0; i < c->n_retired; i++)
                free(c->retired[i].leaf);
        c->retired = mfree(c->retired);
        c->n_retired = 0;
        c->root = mfree(c->root);
}

static bool limit_wanted(const CgroupConfig *l, unsigned bit)
{
        switch (bit) {
        case CGROUP_CONTROLLER_CPU:
                return l->cpu_weight != CGROUP_LIMIT_UNSET || l->cpu_max != CGROUP_LIMIT_UNSET;
        case CGROUP_CONTROLLER_MEMORY:
                return l->memory_max != CGROUP_LIMIT_UNSET || l->memory_high != CGROUP_LIMIT_UNSET;
        case CGROUP_CONTROLLER_PIDS:
                return l->pids_max != CGROUP_LIMIT_UNSET;
        default:
                return false;
        }
}

static void pool_write_limit(const char *dir, const char *pool, const char *file, const char *value)
{
        int r = write_file(dir, file, value);

        if (r < 0)
                log_warning_errno(r, "[pool %s] failed to set %s to %s: %m", pool, file, value);
}

static void pool_apply_limits(Cgroups *c, const char *dir, const char *pool, const CgroupConfig *l)
{
        char v[64];

        for (size_t i = 0; i < ELEMENTSOF(controllers); i++)
                if (limit_wanted(l, controllers[i].bit) && !(c->controllers & controllers[i].bit) &&
                        !(c->warned & controllers[i].bit)) {
                        c->warned |= controllers[i].bit;
                        log_warning("The cgroup controller '%s' is not available to fpmd: %s of the pools are not "
                                    "applied.",
                                controllers[i].name, controllers[i].settings);
                }

        if (c->controllers & CGROUP_CONTROLLER_MEMORY) {
                if (l->memory_max != CGROUP_LIMIT_UNSET) {
                        snprintf(v, sizeof(v), "%llu", (unsigned long long)l->memory_max);
                        pool_write_limit(dir, pool, "memory.max", v);
                }
                if (l->memory_high != CGROUP_LIMIT_UNSET) {
                        snprintf(v, sizeof(v), "%llu", (unsigned long long)l->memory_high);
                        pool_write_limit(dir, pool, "memory.high", v);
                }
        }
        if ((c->controllers & CGROUP_CONTROLLER_PIDS) && l->pids_max != CGROUP_LIMIT_UNSET) {
                snprintf(v, sizeof(v), "%llu", (unsigned long long)l->pids_max);
                pool_write_limit(dir, pool, "pids.max", v);
        }
        if (c->controllers & CGROUP_CONTROLLER_CPU) {
                if (l->cpu_weight != CGROUP_LIMIT_UNSET) {
                        snprintf(v, sizeof(v), "%llu", (unsigned long long)l->cpu_weight);
                        pool_write_limit(dir, pool, "cpu.weight", v);
                }
                if (l->cpu_max != CGROUP_LIMIT_UNSET) {
                        /* "200%" of one CPU: 200 ms of every 100 ms period */
                        snprintf(v, sizeof(v), "%llu 100000", (unsigned long long)l->cpu_max * 1000ULL);
                        pool_write_limit(dir, pool, "cpu.max", v);
                }
        }
}

int cgroup_pool_create(Cgroups *c, const char *pool, const CgroupConfig *limits, char **ret_path, int *ret_fd)
{
        _cleanup_free_ char *dir = NULL, *leaf = NULL;
        int fd;

        if (!c->root)
                return -EOPNOTSUPP;
        if (asprintf(&dir, "%s/pool-%s", c->root, pool) < 0 || asprintf(&leaf, "%s/gen-%u", dir, ++c->generation) < 0)
                return log_oom();
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return log_warning_errno(errno, "[pool %s] failed to create its cgroup %s: %m", pool, dir);
        pool_apply_limits(c, dir, pool, limits);
        if (mkdir(leaf, 0755) < 0 && errno != EEXIST)
                return log_warning_errno(errno, "[pool %s] failed to create its cgroup %s: %m", pool, leaf);
        fd = open(leaf, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return log_warning_errno(errno, "[pool %s] failed to open its cgroup %s: %m", pool, leaf);
        *ret_path = TAKE_PTR(leaf);
        *ret_fd = fd;
        return 0;
}

static bool cgroup_populated(const char *leaf)
{
        _cleanup_free_ char *path = NULL;
        char line[64];
        bool populated = true;
        FILE *f;

        if (asprintf(&path, "%s/cgroup.events", leaf) < 0)
                return true;
        f = fopen(path, "re");
        if (!f)
                return errno != ENOENT;
        while (fgets(line, sizeof(line), f))
                if (strneq(line, "populated ", 10))
                        populated = line[10] == '1';
        fclose(f);
        return populated;
}

int cgroup_kill_and_remove(const char *leaf)
{
        if (cgroup_populated(leaf)) {
                int r = write_file(leaf, "cgroup.kill", "1");

                /* Kernels before 5.14 have no cgroup.kill: signal each process */
                if (r == -ENOENT) {
                        _cleanup_free_ char *path = NULL;
                        FILE *f;
                        int pid;

                        if (asprintf(&path, "%s/cgroup.procs", leaf) >= 0 && (f = fopen(path, "re"))) {
                                while (fscanf(f, "%d", &pid) == 1)
                                        (void)kill(pid, SIGKILL);
                                fclose(f);
                        }
                }
        }
        if (rmdir(leaf) < 0) {
                if (errno == ENOENT)
                        return 0;
                return -errno;
        }
        return 0;
}

void cgroup_retire(Cgroups *c, char *leaf)
{
        RetiredCgroup *l;

        if (!leaf)
                return;
        if (rmdir(leaf) == 0 || errno == ENOENT) {
                free(leaf);
                return;
        }
        l = realloc(c->retired, (c->n_retired + 1) * sizeof(*l));
        if (!l) {
                free(leaf);
                return;
        }
        c->retired = l;
        c->retired[c->n_retired++] = (RetiredCgroup){leaf, now_usec(CLOCK_MONOTONIC)};
}

/* ROOT/pool-NAME goes with its last generation's leaf, unless the pool is still configured */
static void remove_pool_folder(const char *leaf, bool (*in_use)(const char *pool, void *userdata), void *userdata)
{
        _cleanup_free_ char *dir = strdup(leaf);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        const char *name;

        if (!slash)
                return;
        *slash = 0;
        name = strrchr(dir, '/');
        if (!name || !strneq(name + 1, "pool-", 5) || (in_use && in_use(name + 6, userdata)))
                return;
        (void)rmdir(dir);
}

void cgroup_sweep(
        Cgroups *c, usec_t grace, bool force, bool (*in_use)(const char *pool, void *userdata), void *userdata)
{
        usec_t now = now_usec(CLOCK_MONOTONIC);

        for (size_t i = 0; i < c->n_retired;) {
                RetiredCgroup *l = &c->retired[i];
                int r = force || now - l->since > grace ? cgroup_kill_and_remove(l->leaf)
                                                        : (rmdir(l->leaf) < 0 && errno != ENOENT ? -errno : 0);

                if (r < 0) {
                        i++;
                        continue;
                }
                remove_pool_folder(l->leaf, in_use, userdata);
                free(l->leaf);
                memmove(l, l + 1, (c->n_retired - i - 1) * sizeof(*l));
                c->n_retired--;
        }
}

void cgroup_wait(Cgroups *c, usec_t timeout)
{
        usec_t end = now_usec(CLOCK_MONOTONIC) + timeout;

        while (c->n_retired > 0 && now_usec(CLOCK_MONOTONIC) < end) {
                while (waitpid(-1, NULL, WNOHANG) > 0)
                        ;
                (void)poll(NULL, 0, 10);
                cgroup_sweep(c, 0, true, NULL, NULL);
        }
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
}

pid_t cgroup_fork_into(int fd)
{
        pid_t pid;

        if (fd < 0)
                return fork();
#ifdef SYS_clone3
        {
                struct clone_args args = {
                        .flags = CLONE_INTO_CGROUP,
                        .exit_signal = SIGCHLD,
                        .cgroup = (uint64_t)fd,
                };

                pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
                if (pid >= 0 || (errno != ENOSYS && errno != E2BIG && errno != EINVAL))
                        return pid;
        }
#endif
        /* No clone3 (kernel before 5.7): the child moves itself before it does anything else */
        pid = fork();
        if (pid == 0) {
                int procs = openat(fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
                if (procs >= 0) {
                        (void)!write(procs, "0", 1);
                        close(procs);
                }
        }
        return pid;
}

int cgroup_pool_stats(const Cgroups *c, const char *pool, uint64_t *ret_memory, uint64_t *ret_cpu_usec)
{
        _cleanup_free_ char *path = NULL, *line = NULL;
        uint64_t memory = UINT64_MAX, cpu = UINT64_MAX;
        char buf[128];
        FILE *f;

        if (!c->root)
                return -ENODATA;
        if (asprintf(&path, "%s/pool-%s/memory.current", c->root, pool) >= 0 && read_one_line(path, &line) >= 0)
                memory = strtoull(line, NULL, 10);
        free(path);
        path = NULL;
        if (asprintf(&path, "%s/pool-%s/cpu.stat", c->root, pool) >= 0 && (f = fopen(path, "re"))) {
                while (fgets(buf, sizeof(buf), f))
                        if (strneq(buf, "usage_usec ", 11))
                                cpu = strtoull(buf + 11, NULL, 10);
                fclose(f);
        }
        if (memory == UINT64_MAX && cpu == UINT64_MAX)
                return -ENODATA;
        *ret_memory = memory;
        *ret_cpu_usec = cpu;
        return 0;
}
