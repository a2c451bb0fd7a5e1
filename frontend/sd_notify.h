/*
 * sd_notify.h — readiness and status notifications to systemd (Type=notify)
 * without libsystemd: one datagram to the socket named by $NOTIFY_SOCKET.
 */
#ifndef NK_SD_NOTIFY_H
#define NK_SD_NOTIFY_H

/*
 * Sends state (e.g. "READY=1", "STOPPING=1", "STATUS=...") to the service
 * manager. Returns 1 when sent, 0 when $NOTIFY_SOCKET is unset (not run by
 * systemd: nothing to do), -1 on an error (errno set). Thread-safe; keeps no
 * state; state is copied, the caller keeps ownership.
 */
int nk_sd_notify(const char *state);

#endif
