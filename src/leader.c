/* leader.c: a pool's leader process: PHP started once, workers forked on the supervisor's request */
#include <dirent.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <systemd/sd-event.h>

#include "channel.h"
#include "isolation.h"
#include "leader.h"
#include "listen.h"
#include "log.h"
#include "php.h"
#include "worker.h"

typedef struct Leader {
        const LeaderArgs *args;
        sd_event *event;
        AllowedClients allowed;
        Isolation isolation;
        pid_t *pids; /* the worker of each slot, from fork(): signals go only to these, our own children */
        int *pidfds; /* the same workers as pidfds (-1: none, a kernel without them) */
        unsigned n_slots;
        unsigned n_workers;
        bool stopping;
} Leader;

/* In a new worker, before PHP runs: the leader's event loop is not the worker's. Holding the leader's epoll, a
 * script could add fds of its own to it with any event data, which the leader (root) would take for its own event
 * sources; holding its signalfd, it could change which signals the leader reads. sd-event does not give its fds
 * away, so they are found by kind: the leader has no other epoll, signalfd or timerfd. Closing our copies leaves
 * the leader's loop as it is. */
static int worker_close_leader_loop(void)
{
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;

        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                char path[64], target[32] = {};
                int fd = atoi(de->d_name);

                if (fd < 3 || fd == dirfd(d))
                        continue;
                snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
                if (readlink(path, target, sizeof(target) - 1) < 0)
                        continue;
                if (streq(target, "anon_inode:[eventpoll]") || streq(target, "anon_inode:[signalfd]") ||
                        streq(target, "anon_inode:[timerfd]"))
                        (void)close(fd);
        }
        closedir(d);
        return 0;
}

static void leader_spawn(Leader *l, int slot)
{
        const LeaderArgs *a = l->args;
        pid_t pid;

        if (slot < 0 || (unsigned)slot >= l->n_slots || l->pids[slot] > 0) {
                log_error("Supervisor asked for worker slot %d, which is out of range or taken, ignoring.", slot);
                return;
        }

        a->scoreboard->slots[slot].state = WORKER_STARTING;
        pid = fork();
        if (pid < 0) {
                int r = -errno;

                a->scoreboard->slots[slot].state = WORKER_FREE;
                /* The supervisor says it, once until a worker starts again */
                log_debug_errno(r, "Failed to fork a worker: %m");
                (void)channel_send(a->ctl_fd, CHANNEL_SPAWN_FAILED, slot, 0, r);
                return;
        }
        if (pid == 0) {
                WorkerContext w = {
                        .config = a->config,
                        .pool = a->pool,
                        .listen_fd = a->listen_fd,
                        .handover_rx = a->handover_rx,
                        .handover_tx = a->handover_tx,
                        .allowed = &l->allowed,
                        .isolation = &l->isolation,
                        .scoreboard = a->scoreboard,
                        .slot = (unsigned)slot,
                };

                /* The worker must not keep the leader's channel: its end tells the supervisor the leader died */
                safe_close(a->ctl_fd);
                /* Nor a handle on its siblings */
                for (unsigned i = 0; i < l->n_slots; i++)
                        l->pidfds[i] = safe_close(l->pidfds[i]);
                /* Nor its event loop */
                int r = worker_close_leader_loop();
                if (r < 0) {
                        log_error_errno(r, "Failed to close the leader's event loop in a new worker: %m");
                        _exit(EXIT_FAILURE);
                }
                _exit(worker_run(&w));
        }

        l->pids[slot] = pid;
        l->pidfds[slot] = pidfd_open(pid, 0);
        a->scoreboard->slots[slot].pid = pid;
        l->n_workers++;
        (void)channel_send(a->ctl_fd, CHANNEL_SPAWNED, slot, pid, 0);
}

static void leader_signal(Leader *l, int slot, int sig)
{
        if (slot < 0 || (unsigned)slot >= l->n_slots || l->pids[slot] <= 0)
                return;
        /* Not reaped yet (SIGCHLD clears the entry), so the pid is still our child's; its pidfd cannot name
         * another process even then */
        if (l->pidfds[slot] >= 0 && pidfd_send_signal(l->pidfds[slot], sig, NULL, 0) >= 0)
                return;
        (void)kill(l->pids[slot], sig);
}

static void leader_stop_workers(Leader *l)
{
        for (unsigned i = 0; i < l->n_slots; i++)
                leader_signal(l, (int)i, SIGTERM);
}

static void leader_maybe_exit(Leader *l)
{
        if (l->stopping && l->n_workers == 0)
                sd_event_exit(l->event, 0);
}

/* The workers are told, and a worker that accepts a connection before it reads its signal hands it on: from the
 * acknowledgement on, nothing new is served by this generation */
static void leader_stop(Leader *l)
{
        l->stopping = true;
        __atomic_store_n(&l->args->scoreboard->draining, 1, __ATOMIC_RELEASE);
        leader_stop_workers(l);
        (void)channel_send(l->args->ctl_fd, CHANNEL_STOPPING, -1, getpid(), 0);
        leader_maybe_exit(l);
}

static int on_ctl(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Leader *l = userdata;
        ChannelMessage m;
        int r;

        (void)revents;
        r = channel_receive(fd, &m);
        if (r == 0)
                return 0;
        if (r < 0) {
                /* The supervisor is gone: finish what runs, then go too */
                log_warning("Lost the supervisor, stopping the pool.");
                sd_event_source_set_enabled(s, SD_EVENT_OFF);
                leader_stop(l);
                return 0;
        }

        switch (m.type) {
        case CHANNEL_SPAWN:
                if (!l->stopping)
                        leader_spawn(l, m.slot);
                break;
        case CHANNEL_SIGNAL:
                leader_signal(l, m.slot, m.status);
                break;
        case CHANNEL_PING:
                (void)channel_send(l->args->ctl_fd, CHANNEL_PONG, m.slot, getpid(), 0);
                break;
        case CHANNEL_STOP:
                leader_stop(l);
                break;
        default:
                log_warning("Unexpected message %d from the supervisor, ignoring.", m.type);
        }
        return 0;
}

static int on_sigchld(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        Leader *l = userdata;
        Scoreboard *sb = l->args->scoreboard;

        (void)s;
        (void)si;
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);

                if (pid <= 0)
                        break;
                for (unsigned i = 0; i < l->n_slots; i++) {
                        if (l->pids[i] != pid)
                                continue;
                        l->pids[i] = 0;
                        l->pidfds[i] = safe_close(l->pidfds[i]);
                        sb->slots[i].pid = 0;
                        sb->slots[i].state = WORKER_FREE;
                        if (l->n_workers > 0)
                                l->n_workers--;
                        (void)channel_send(l->args->ctl_fd, CHANNEL_EXITED, (int)i, pid, status);
                        break;
                }
        }
        leader_maybe_exit(l);
        return 0;
}

static int on_stop_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        (void)s;
        (void)si;
        leader_stop(userdata);
        return 0;
}

/* clear_env empties the environment; env = {} sets values, "$NAME" taking the supervisor's NAME; USER and HOME are
 * the pool user's, as PHP-FPM sets them */
static int leader_setup_environment(const PoolConfig *p, const Isolation *iso)
{
        _cleanup_strv_free_ char **values = calloc(p->env.n + 1, sizeof(char *));

        if (!values)
                return log_oom();
        for (size_t i = 0; i < p->env.n; i++) {
                const char *v = p->env.items[i].value;
                if (v[0] == '$')
                        v = getenv(v + 1);
                values[i] = strdup(v ? v : "");
                if (!values[i])
                        return log_oom();
        }
        if (p->clear_env)
                clearenv();
        for (size_t i = 0; i < p->env.n; i++)
                setenv(p->env.items[i].key, values[i], 1);
        if (iso->change_user && iso->home) {
                setenv("USER", iso->user, 1);
                setenv("HOME", iso->home, 1);
        }
        return 0;
}

static void leader_done(Leader *l)
{
        allowed_clients_done(&l->allowed);
        isolation_done(&l->isolation);
        for (unsigned i = 0; l->pidfds && i < l->n_slots; i++)
                safe_close(l->pidfds[i]);
        free(l->pidfds);
        free(l->pids);
        sd_event_unref(l->event);
}

/* What the workers will need, prepared once: a failure is the pool's, before PHP starts */
static int leader_prepare(Leader *l)
{
        const LeaderArgs *a = l->args;
        int r;

        l->n_slots = a->pool->pm.max_children;
        l->pidfds = malloc(sizeof(int) * l->n_slots);
        if (!l->pidfds)
                return log_oom();
        for (unsigned i = 0; i < l->n_slots; i++)
                l->pidfds[i] = -1;
        l->pids = calloc(l->n_slots, sizeof(pid_t));
        if (!l->pids)
                return log_oom();
        r = allowed_clients_parse(
                a->pool->listen.allowed_clients.items, a->pool->listen.allowed_clients.n, &l->allowed, NULL);
        if (r < 0)
                return log_error_errno(r, "Invalid listen.allowed_clients: %m");
        return isolation_plan(a->pool, false, &l->isolation);
}

static int leader_setup_loop(Leader *l)
{
        int r;

        r = sd_event_new(&l->event);
        if (r < 0)
                return r;
        r = sd_event_add_io(l->event, NULL, l->args->ctl_fd, EPOLLIN, on_ctl, l);
        if (r >= 0)
                r = sd_event_add_signal(l->event, NULL, SIGCHLD, on_sigchld, l);
        if (r >= 0)
                r = sd_event_add_signal(l->event, NULL, SIGTERM, on_stop_signal, l);
        if (r >= 0)
                r = sd_event_add_signal(l->event, NULL, SIGINT, on_stop_signal, l);
        if (r >= 0)
                r = sd_event_add_signal(l->event, NULL, SIGQUIT, on_stop_signal, l);
        return r;
}

int leader_run(const LeaderArgs *a)
{
        _cleanup_(leader_done) Leader l = {.args = a};
        sigset_t mask;
        int r;

        /* Blocked first: from here the leader reads them from its event loop, whatever their handlers */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGQUIT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        worker_install_signal_handlers();

        log_set_pool(a->pool->name);
        /* Its own process group: Ctrl-C in a terminal reaches the supervisor, which stops pools in order */
        (void)setpgid(0, 0);
        (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (a->parent > 0 && getppid() != a->parent)
                return 0; /* the supervisor died before we could ask to be told */

        r = leader_prepare(&l);
        if (r >= 0)
                r = php_startup(a->config, a->pool);
        if (r < 0) {
                (void)channel_send(a->ctl_fd, CHANNEL_FAILED, -1, getpid(), r);
                return 1;
        }
        r = leader_setup_environment(a->pool, &l.isolation);
        if (r < 0)
                return 1;

        r = leader_setup_loop(&l);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the leader's event loop: %m"), 1;

        r = channel_send(a->ctl_fd, CHANNEL_READY, -1, getpid(), 0);
        if (r < 0)
                return log_error_errno(r, "Failed to tell the supervisor PHP is up: %m"), 1;

        r = sd_event_loop(l.event);
        return r < 0 ? 1 : 0;
}
