/* leader-main.c: fpmd-leader, a pool's leader, started by the supervisor with its fds at fixed numbers */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <sys/mman.h>

#include "channel.h"
#include "config.h"
#include "leader.h"
#include "log.h"

int main(int argc, char *argv[])
{
        static const struct option options[] = {
                {"protocol", required_argument, NULL, 'P'},
                {"parent", required_argument, NULL, 'p'},
                {"pool", required_argument, NULL, 'n'},
                {},
        };
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *error = NULL;
        const char *protocol = NULL, *name = NULL;
        char path[64];
        Scoreboard *sb;
        pid_t parent = 0;
        int opt, r;

        while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (opt) {
                case 'P':
                        protocol = optarg;
                        break;
                case 'p':
                        parent = (pid_t)atoi(optarg);
                        break;
                case 'n':
                        name = optarg;
                        break;
                default:
                        return 2;
                }

        log_setup(LOG_TARGET_AUTO);
        if (name)
                log_set_pool(name);
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
