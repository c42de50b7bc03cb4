/* leader-main.c: fpmd-leader, a pool's leader, started by the supervisor with its fds at fixed numbers; or, with
 * --zygote, the leaders' zygote that forks them (zygote.h) */
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "channel.h"
#include "config.h"
#include "leader.h"
#include "log.h"
#include "php.h"
#include "proctitle.h"
#include "zygote.h"

/* A leader with its fds at LEADER_FD_*: reads its pool's settings and runs */
static int leader_main(const char *protocol, pid_t parent, const char *name)
{
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *error = NULL;
        char path[64];
        Scoreboard *sb;
        int r;

        log_setup(LOG_TARGET_AUTO);
        if (name)
                log_set_pool(name);
        proctitle_set("fpmd-leader: pool %s", strna(name));
        if (!protocol || !streq(protocol, LEADER_PROTOCOL)) {
                log_error("fpmd-leader speaks protocol %s, the supervisor %s: the supervisor and its leader are of "
                          "different builds (restart fpmd after an upgrade).",
                        LEADER_PROTOCOL, strna(protocol));
                return 1;
        }

        snprintf(path, sizeof(path), "/proc/self/fd/%d", LEADER_FD_CONFIG);
        r = config_load_single(path, &c, &error);
        if (r < 0) {
                log_error_errno(r, "Cannot read the pool's settings from the supervisor: %s", error ? error : "%m");
                return 1;
        }
        safe_close(LEADER_FD_CONFIG);
        log_set_max_level(c->log_level);

        r = scoreboard_map(LEADER_FD_SCOREBOARD, c->pools[0].pm.max_children, &sb);
        if (r < 0) {
                log_error_errno(r, "Cannot map the pool's scoreboard: %m");
                return 1;
        }
        /* Only the supervisor holds scoreboards' memfds (fpmd status finds it by them) */
        safe_close(LEADER_FD_SCOREBOARD);
        (void)fcntl(LEADER_FD_CTL, F_SETFD, FD_CLOEXEC);
        (void)fcntl(LEADER_FD_LISTEN, F_SETFD, FD_CLOEXEC);
        (void)fcntl(LEADER_FD_HANDOVER_RX, F_SETFD, FD_CLOEXEC);
        (void)fcntl(LEADER_FD_HANDOVER_TX, F_SETFD, FD_CLOEXEC);

        return leader_run(&(LeaderArgs){
                .config = c,
                .pool = &c->pools[0],
                .listen_fd = LEADER_FD_LISTEN,
                .ctl_fd = LEADER_FD_CTL,
                .handover_rx = LEADER_FD_HANDOVER_RX,
                .handover_tx = LEADER_FD_HANDOVER_TX,
                .scoreboard = sb,
                .parent = parent,
        });
}

/* ---- the zygote ---- */

/* As PHP's DL_LOAD(): a later dlopen() of the same file by PHP finds it loaded */
#define ZYGOTE_DLOPEN_FLAGS (RTLD_LAZY | RTLD_GLOBAL | RTLD_DEEPBIND)

static unsigned count_threads(void)
{
        DIR *d = opendir("/proc/self/task");
        struct dirent *de;
        unsigned n = 0;

        if (!d)
                return 0;
        while ((de = readdir(d)))
                n += de->d_name[0] != '.';
        closedir(d);
        return n;
}

static int zygote_preload(unsigned *ret_failed)
{
        _cleanup_strv_free_ char **paths = NULL;
        char spec[65536];
        unsigned failed = 0, loaded = 0;
        ssize_t n;
        int r;

        n = recv(ZYGOTE_FD, spec, sizeof(spec), 0);
        if (n <= 0)
                return n < 0 ? -errno : -EPIPE;
        r = zygote_preload_paths(spec, (size_t)n, php_extension_dir(), &paths);
        if (r < 0)
                return r;
        for (char **p = paths; *p; p++) {
                if (dlopen(*p, ZYGOTE_DLOPEN_FLAGS)) {
                        loaded++;
                        continue;
                }
                log_debug("Zygote: cannot preload %s: %s", *p, dlerror());
                failed++;
        }
        log_debug("Zygote: %u extensions preloaded, %u left to the leaders.", loaded, failed);
        *ret_failed = failed;
        return 0;
}

/* In the leader forked from the zygote: what exec would have given it (signals, fds at their numbers, its own
 * cgroup), then the leader's own start, once the supervisor is its parent */
_noreturn_ static void zygote_child(const ZygoteMessage *m, int *fds, size_t n_fds)
{
        int high[LEADER_N_FDS + 1];
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigset_t none;

        if (m->has_cgroup && n_fds > LEADER_N_FDS) {
                int procs = openat(fds[LEADER_N_FDS], "cgroup.procs", O_WRONLY | O_CLOEXEC);
                if (procs >= 0) {
                        (void)!write(procs, "0", 1);
                        close(procs);
                }
        }
        for (size_t i = 0; i < LEADER_N_FDS; i++) {
                high[i] = fcntl(fds[i], F_DUPFD, 100);
                if (high[i] < 0)
                        _exit(127);
        }
        for (int i = 0; i < LEADER_N_FDS; i++)
                if (dup2(high[i], LEADER_FD_CTL + i) < 0)
                        _exit(127);
        (void)close_range(_LEADER_FD_END, ~0U, 0);

        for (int sig = 1; sig < _NSIG; sig++)
                (void)sigaction(sig, &dfl, NULL);
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
        (void)prctl(PR_SET_PDEATHSIG, 0);
        (void)prctl(PR_SET_NAME, "fpmd-leader");

        /* The middle process exits right away: then the supervisor, a subreaper, is our parent */
        for (unsigned i = 0; getppid() != (pid_t)m->pid; i++) {
                if (i > 20000)
                        _exit(1);
                (void)usleep(100);
        }
        _exit(leader_main(LEADER_PROTOCOL, (pid_t)m->pid, m->pool));
}

static void zygote_spawn_one(const ZygoteMessage *m, int *fds, size_t n_fds)
{
        ZygoteMessage reply = {.type = ZYGOTE_SPAWNED};
        pid_t middle, leader;

        middle = fork();
        if (middle < 0) {
                reply.error = -errno;
                (void)send(ZYGOTE_FD, &reply, sizeof(reply), MSG_NOSIGNAL);
                return;
        }
        if (middle == 0) {
                leader = fork();
                if (leader == 0)
                        zygote_child(m, fds, n_fds);
                reply.pid = leader > 0 ? leader : 0;
                reply.error = leader > 0 ? 0 : -errno;
                (void)send(ZYGOTE_FD, &reply, sizeof(reply), MSG_NOSIGNAL);
                _exit(0);
        }
        (void)waitpid(middle, NULL, 0);
}

static int zygote_main(const char *protocol)
{
        ZygoteMessage ready = {.type = ZYGOTE_READY};
        unsigned failed = 0;
        int r;

        log_setup(LOG_TARGET_AUTO);
        (void)prctl(PR_SET_NAME, "fpmd-zygote");
        proctitle_set("fpmd-zygote");
        /* It ends with the supervisor */
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        /* As fpmd's other processes: what logrotate or an operator sends the whole unit (systemctl kill -s USR1
         * fpmd) leaves it running. Its leaders start with every signal back at its default. */
        (void)signal(SIGUSR1, SIG_IGN);
        (void)signal(SIGUSR2, SIG_IGN);
        (void)signal(SIGHUP, SIG_IGN);
        (void)signal(SIGPIPE, SIG_IGN);
        if (!protocol || !streq(protocol, LEADER_PROTOCOL))
                return log_error("fpmd-leader --zygote speaks protocol %s, the supervisor %s.", LEADER_PROTOCOL,
                               strna(protocol)),
                       1;
        r = zygote_preload(&failed);
        if (r < 0)
                return log_error_errno(r, "Zygote: cannot read what to preload: %m"), 1;
        /* fork() copies one thread: a library that started threads would leave its leaders broken */
        if (count_threads() > 1)
                return log_warning("Zygote: a preloaded library started a thread; leaders are started without the "
                                   "zygote."),
                       1;
        ready.error = (int32_t)failed;
        if (send(ZYGOTE_FD, &ready, sizeof(ready), MSG_NOSIGNAL) < 0)
                return 1;

        for (;;) {
                ZygoteMessage m;
                int fds[LEADER_N_FDS + 1];
                char control[CMSG_SPACE(sizeof(fds))];
                struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
                struct msghdr mh = {
                        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control)};
                struct cmsghdr *cm;
                size_t n_fds = 0;
                ssize_t n;

                n = recvmsg(ZYGOTE_FD, &mh, MSG_CMSG_CLOEXEC);
                if (n == 0)
                        return 0; /* the supervisor closed the channel */
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return 1;
                }
                for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
                        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
                                n_fds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                                n_fds = MIN(n_fds, ELEMENTSOF(fds));
                                memcpy(fds, CMSG_DATA(cm), n_fds * sizeof(int));
                        }
                m.pool[sizeof(m.pool) - 1] = 0;
                if ((size_t)n == sizeof(m) && m.type == ZYGOTE_SPAWN && n_fds >= LEADER_N_FDS &&
                        !(mh.msg_flags & MSG_CTRUNC))
                        zygote_spawn_one(&m, fds, n_fds);
                else {
                        ZygoteMessage reply = {.type = ZYGOTE_SPAWNED, .error = -EBADMSG};
                        (void)send(ZYGOTE_FD, &reply, sizeof(reply), MSG_NOSIGNAL);
                }
                for (size_t i = 0; i < n_fds; i++)
                        safe_close(fds[i]);
        }
}

int main(int argc, char *argv[])
{
        static const struct option options[] = {
                {"protocol", required_argument, NULL, 'P'},
                {"parent", required_argument, NULL, 'p'},
                {"pool", required_argument, NULL, 'n'},
                {"zygote", no_argument, NULL, 'z'},
                {},
        };
        _cleanup_free_ char *protocol = NULL, *name = NULL;
        bool zygote = false;
        pid_t parent = 0;
        int opt;

        /* The arguments are copied: their memory becomes the process title */
        proctitle_init(argc, argv);
        while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (opt) {
                case 'P':
                        free(protocol);
                        protocol = strdup(optarg);
                        break;
                case 'p':
                        parent = (pid_t)atoi(optarg);
                        break;
                case 'n':
                        free(name);
                        name = strdup(optarg);
                        break;
                case 'z':
                        zygote = true;
                        break;
                default:
                        return 2;
                }

        if (zygote)
                return zygote_main(protocol);
        return leader_main(protocol, parent, name);
}
