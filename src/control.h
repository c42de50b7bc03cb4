/* control.h: the supervisor's control socket, where `fpmd reload` asks for a reload and waits for its outcome */
#pragma once

#include <systemd/sd-event.h>

#include "macro.h"

/* An abstract unix socket per supervisor, "@fpmd-control-PIDNS-PID" (PIDNS the inode of its pid namespace):
 * no file to create, and gone with the process. Abstract names are per network namespace, which containers
 * often share with the host and each other while each has pids of its own: the pid namespace keeps their
 * supervisors apart. Only root and fpmd's own user are answered. */
#define CONTROL_ADDRESS_PREFIX "fpmd-control-"

typedef struct Control Control;
typedef struct ControlRequest ControlRequest;

typedef struct ControlHandler {
        /* A reload of these pools' generations (every pool's when n is 0); answered later with control_reply() */
        void (*reload)(ControlRequest *req, char **pools, size_t n, void *userdata);
        void *userdata;
} ControlHandler;

int control_new(sd_event *event, const ControlHandler *handler, Control **ret);
Control *control_free(Control *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Control *, control_free);

/* Answers and forgets the request (a client that left is forgotten too) */
void control_reply(ControlRequest *req, bool ok, const char *text);

/* The client's side: asks the supervisor pid to reload (pools, or every pool when n is 0), waits up to timeout
 * for the outcome; 0 and the supervisor's text, or -EBADE with its reason, or negative errno */
int control_reload(pid_t pid, char *const *pools, size_t n, usec_t timeout, char **ret_text);
/* The supervisors running (by their control sockets): the only one, -ESRCH none, -ENOTUNIQ several */
int control_find_supervisor(pid_t *ret);
