/* zygote.c: what the leaders' zygote preloads, and the supervisor's side of it: start it, ask it for a leader */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ini.h"
#include "log.h"
#include "zygote.h"

/* How long the supervisor waits for the zygote's answers: a fork is milliseconds, preloading tens of them */
#define ZYGOTE_READY_TIMEOUT_MS 10000
#define ZYGOTE_SPAWN_TIMEOUT_MS 5000
#define ZYGOTE_FAILURES_MAX     3

/* ---- the spec: what every pool's PHP will load ---- */

typedef struct Buffer {
        char *data;
        size_t size;
        int error;
} Buffer;

static void buffer_add(Buffer *b, const char *kind, const char *value)
{
        size_t lk = strlen(kind) + 1, lv = strlen(value) + 1;
        char *d;

        if (b->error < 0)
                return;
        /* Each pair once: many pools share one php.ini */
        for (size_t i = 0; i < b->size;) {
                const char *k = b->data + i, *v = k + strlen(k) + 1;

                if (streq(k, kind) && streq(v, value))
                        return;
                i = (size_t)(v - b->data) + strlen(v) + 1;
        }
        d = realloc(b->data, b->size + lk + lv);
        if (!d) {
                b->error = -ENOMEM;
                return;
        }
        memcpy(d + b->size, kind, lk);
        memcpy(d + b->size + lk, value, lv);
        b->data = d;
        b->size += lk + lv;
}

int zygote_preload_spec(const Config *c, const char *default_php_ini, char **ret, size_t *ret_size)
{
        Buffer b = {};

        (void)default_php_ini;
        for (size_t i = 0; i < c->n_pools; i++) {
                const PoolConfig *p = &c->pools[i];
                const KeyValueList *lists[] = {&p->php_admin_value, &p->php_value};
                _cleanup_free_ char *scan = NULL;
                const char *ini = pool_php_ini(c, p);

                if (ini)
                        buffer_add(&b, "ini", ini);
                if (pool_php_ini_scan_dir(c, p, &scan) < 0)
                        b.error = -ENOMEM;
                else if (!isempty(scan))
                        buffer_add(&b, "scan", scan);
                for (size_t l = 0; l < ELEMENTSOF(lists); l++)
                        for (size_t k = 0; k < lists[l]->n; k++)
                                if (streq(lists[l]->items[k].key, "extension") ||
                                        streq(lists[l]->items[k].key, "zend_extension"))
                                        buffer_add(&b, "ext", lists[l]->items[k].value);
        }
        if (b.error < 0) {
                free(b.data);
                return b.error;
        }
        *ret = b.data;
        *ret_size = b.size;
        return 0;
}

/* ---- from the spec to shared objects ---- */

typedef struct PathList {
        char **paths;
        size_t n;
        int error;
} PathList;

static void path_add(PathList *l, char *path)
{
        char **p;

        if (!path) {
                l->error = -ENOMEM;
                return;
        }
        for (size_t i = 0; i < l->n; i++)
                if (streq(l->paths[i], path)) {
                        free(path);
                        return;
                }
        p = realloc(l->paths, (l->n + 2) * sizeof(char *));
        if (!p) {
                free(path);
                l->error = -ENOMEM;
                return;
        }
        l->paths = p;
        l->paths[l->n++] = path;
        l->paths[l->n] = NULL;
}

static bool is_file(const char *path)
{
        struct stat st;

        return stat(path, &st) >= 0 && S_ISREG(st.st_mode);
}

/* As php_load_extension(): a name with a slash is a path; else extension_dir/NAME, then extension_dir/NAME.so */
static void extension_add(PathList *l, const char *value, const char *extension_dir)
{
        char *path = NULL;

        if (isempty(value))
                return;
        if (strchr(value, '/')) {
                if (is_file(value))
                        path_add(l, strdup(value));
                return;
        }
        if (isempty(extension_dir))
                return;
        if (asprintf(&path, "%s/%s", extension_dir, value) >= 0 && is_file(path)) {
                path_add(l, path);
                return;
        }
        free(path);
        path = NULL;
        if (asprintf(&path, "%s/%s.so", extension_dir, value) >= 0 && is_file(path)) {
                path_add(l, path);
                return;
        }
        free(path);
}

static const char *no_getenv(const char *name, void *userdata)
{
        (void)userdata;
        return getenv(name);
}

/* The extension= and zend_extension= lines of one ini file, in order */
static void ini_file_add(PathList *l, const char *file, const char *extension_dir)
{
        _cleanup_fclose_ FILE *f = fopen(file, "re");
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        ssize_t n;

        if (!f)
                return;
        while ((n = getline(&line, &size, f)) >= 0) {
                IniLine parsed = {};

                if (n > 0 && line[n - 1] == '\n')
                        line[n - 1] = 0;
                if (!strstr(line, "extension"))
                        continue;
                if (ini_parse_line(line, no_getenv, NULL, &parsed, NULL) < 0)
                        continue;
                for (size_t i = 0; i < parsed.n_statements; i++) {
                        const IniStatement *st = &parsed.statements[i];

                        if (st->type == INI_ENTRY && st->value &&
                                (streq(st->name, "extension") || streq(st->name, "zend_extension")))
                                extension_add(l, st->value, extension_dir);
                }
                ini_line_done(&parsed);
        }
}

static int ini_name_compare(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* PHP reads a scan folder's *.ini files in name order (alphasort) */
static void scan_dir_add(PathList *l, const char *dir, const char *extension_dir)
{
        _cleanup_free_ char *copy = strdup(dir);
        char *state = NULL;

        if (!copy) {
                l->error = -ENOMEM;
                return;
        }
        /* PHP_INI_SCAN_DIR may list several, separated by ':' */
        for (char *d = strtok_r(copy, ":", &state); d; d = strtok_r(NULL, ":", &state)) {
                char **names = NULL;
                size_t n = 0;
                DIR *h = opendir(d);
                struct dirent *de;

                if (!h)
                        continue;
                while ((de = readdir(h))) {
                        size_t len = strlen(de->d_name);
                        char **grown;

                        if (len < 5 || !streq(de->d_name + len - 4, ".ini"))
                                continue;
                        grown = realloc(names, (n + 1) * sizeof(char *));
                        if (!grown)
                                break;
                        names = grown;
                        names[n] = strdup(de->d_name);
                        if (names[n])
                                n++;
                }
                closedir(h);
                qsort(names, n, sizeof(char *), ini_name_compare);
                for (size_t i = 0; i < n; i++) {
                        _cleanup_free_ char *path = NULL;

                        if (asprintf(&path, "%s/%s", d, names[i]) >= 0)
                                ini_file_add(l, path, extension_dir);
                        free(names[i]);
                }
                free(names);
        }
}

int zygote_preload_paths(const char *spec, size_t size, const char *extension_dir, char ***ret)
{
        PathList l = {};

        for (size_t i = 0; i < size;) {
                const char *kind = spec + i, *value;
                size_t lk = strnlen(kind, size - i);

                if (i + lk + 1 >= size)
                        break;
                value = kind + lk + 1;
                if (strnlen(value, size - i - lk - 1) == size - i - lk - 1)
                        break; /* not terminated */
                if (streq(kind, "ini"))
                        ini_file_add(&l, value, extension_dir);
                else if (streq(kind, "scan"))
                        scan_dir_add(&l, value, extension_dir);
                else if (streq(kind, "ext"))
                        extension_add(&l, value, extension_dir);
                i = (size_t)(value - spec) + strlen(value) + 1;
        }
        if (l.error < 0) {
                strv_free(l.paths);
                return l.error;
        }
        if (!l.paths) {
                l.paths = calloc(1, sizeof(char *));
                if (!l.paths)
                        return -ENOMEM;
        }
        *ret = l.paths;
        return 0;
}

/* ---- the supervisor's side ---- */

static int zygote_receive(Zygote *z, ZygoteMessage *ret, int timeout_ms)
{
        struct pollfd pfd = {.fd = z->fd, .events = POLLIN};
        ssize_t n;
        int r;

        r = poll(&pfd, 1, timeout_ms);
        if (r < 0)
                return -errno;
        if (r == 0)
                return -ETIMEDOUT;
        n = recv(z->fd, ret, sizeof(*ret), MSG_DONTWAIT);
        if (n < 0)
                return -errno;
        if (n == 0)
                return -EPIPE;
        if ((size_t)n != sizeof(*ret))
                return -EBADMSG;
        return 0;
}

int zygote_start(Zygote *z, const char *leader_path, char *spec, size_t spec_size)
{
        char *argv[] = {(char *)leader_path, (char *)"--zygote", (char *)"--protocol", (char *)LEADER_PROTOCOL, NULL};
        int pair[2];
        pid_t pid;

        free(z->spec);
        z->spec = spec;
        z->spec_size = spec_size;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                safe_close(pair[0]);
                safe_close(pair[1]);
                return -errno;
        }
        if (pid == 0) {
                sigset_t none;

                if (dup2(pair[1], ZYGOTE_FD) < 0)
                        _exit(127);
                (void)close_range(ZYGOTE_FD + 1, ~0U, 0);
                sigemptyset(&none);
                (void)sigprocmask(SIG_SETMASK, &none, NULL);
                (void)unsetenv("NOTIFY_SOCKET");
                (void)unsetenv("WATCHDOG_USEC");
                (void)unsetenv("WATCHDOG_PID");
                execv(leader_path, argv);
                _exit(127);
        }
        safe_close(pair[1]);
        z->pid = pid;
        z->fd = pair[0];
        z->ready = false;
        /* The spec is sent at once; the zygote answers READY once it has loaded what it names */
        if (send(z->fd, spec, spec_size, MSG_NOSIGNAL) < 0) {
                int r = -errno;
                zygote_stop(z);
                return r;
        }
        log_debug("Leaders' zygote %d started.", (int)pid);
        return 0;
}

static void zygote_failed(Zygote *z, int error, const char *what)
{
        z->failures++;
        log_warning_errno(error, "The leaders' zygote %s (%m)%s", what,
                z->failures >= ZYGOTE_FAILURES_MAX ? "; leaders are started without it from now on."
                                                   : "; this leader is started without it.");
        zygote_stop(z);
}

pid_t zygote_spawn(Zygote *z, const char *pool, const int fds[LEADER_N_FDS], int cgroup_fd)
{
        ZygoteMessage msg = {.type = ZYGOTE_SPAWN, .pid = (int32_t)getpid(), .has_cgroup = cgroup_fd >= 0};
        int all[LEADER_N_FDS + 1];
        char control[CMSG_SPACE(sizeof(all))] = {};
        struct iovec iov = {.iov_base = &msg, .iov_len = sizeof(msg)};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control};
        struct cmsghdr *cm;
        size_t n = LEADER_N_FDS + (cgroup_fd >= 0);
        int r;

        if (z->fd < 0 || z->failures >= ZYGOTE_FAILURES_MAX)
                return -ENOTCONN;
        if (strlen(pool) >= sizeof(msg.pool))
                return -ENAMETOOLONG;
        strcpy(msg.pool, pool);

        if (!z->ready) {
                ZygoteMessage ready;

                r = zygote_receive(z, &ready, ZYGOTE_READY_TIMEOUT_MS);
                if (r >= 0 && ready.type != ZYGOTE_READY)
                        r = -EBADMSG;
                if (r < 0) {
                        zygote_failed(z, r, "did not come up");
                        return r;
                }
                z->ready = true;
                z->failures = 0;
                if (ready.error > 0)
                        log_debug("The leaders' zygote could not preload %d libraries; leaders load them.",
                                (int)ready.error);
        }

        memcpy(all, fds, LEADER_N_FDS * sizeof(int));
        all[LEADER_N_FDS] = cgroup_fd;
        mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
        cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(n * sizeof(int));
        memcpy(CMSG_DATA(cm), all, n * sizeof(int));
        if (sendmsg(z->fd, &mh, MSG_NOSIGNAL) < 0) {
                r = -errno;
                zygote_failed(z, r, "cannot be asked for a leader");
                return r;
        }
        r = zygote_receive(z, &msg, ZYGOTE_SPAWN_TIMEOUT_MS);
        if (r >= 0 && msg.type != ZYGOTE_SPAWNED)
                r = -EBADMSG;
        if (r < 0) {
                zygote_failed(z, r, "did not answer");
                return r;
        }
        if (msg.pid <= 0)
                return msg.error < 0 ? msg.error : -EIO;
        return (pid_t)msg.pid;
}

void zygote_exited(Zygote *z, int status)
{
        bool expected = z->fd < 0;

        if (!expected)
                log_warning("The leaders' zygote %d exited (%s %d); it is started again when a leader is needed.",
                        (int)z->pid, WIFSIGNALED(status) ? "signal" : "code",
                        WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        z->pid = 0;
        z->fd = safe_close(z->fd);
        z->ready = false;
        if (!expected)
                z->failures++;
}

void zygote_stop(Zygote *z)
{
        /* It reads the end of its channel and exits; SIGCHLD reaps it */
        z->fd = safe_close(z->fd);
        z->ready = false;
}
