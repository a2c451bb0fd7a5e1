/*
 * sd_notify.c — the sd_notify(3) protocol in a few lines, so namaskahd can
 * run as a Type=notify systemd service without linking libsystemd.
 *
 * The protocol: $NOTIFY_SOCKET names an AF_UNIX datagram socket, either a
 * path ("/run/systemd/notify") or an abstract name ("@..."; the '@' stands
 * for a leading NUL byte). The message is newline-separated VAR=VALUE
 * assignments, sent as one datagram. See docs/namaskah.service.
 */
#include "sd_notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int fill_address(const char *name, struct sockaddr_un *sa,
                        socklen_t *len);

/* Builds the socket address; -1 (EINVAL) when the name is unusable. */
static int
fill_address(const char *name, struct sockaddr_un *sa, socklen_t *len)
{
    size_t n = strlen(name);

    if ((name[0] != '/' && name[0] != '@') || n < 2 ||
        n >= sizeof(sa->sun_path)) {
        errno = EINVAL;
        return -1;
    }
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, name, n);
    if (name[0] == '@')
        sa->sun_path[0] = '\0'; /* abstract namespace */
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
                       (name[0] == '/' ? 1 : 0));
    return 0;
}

int
nk_sd_notify(const char *state)
{
    const char *name = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    socklen_t len;
    ssize_t sent;
    int fd, saved;

    if (name == NULL || name[0] == '\0')
        return 0;
    if (state == NULL || fill_address(name, &sa, &len) != 0) {
        errno = EINVAL;
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
                  (const struct sockaddr *)&sa, len);
    saved = errno;
    close(fd);
    errno = saved;
    return sent == (ssize_t)strlen(state) ? 1 : -1;
}
