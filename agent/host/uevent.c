/* Kernel uevents: see uevent.h.
 *
 * The kernel's format (lib/kobject_uevent.c): a header "ACTION@DEVPATH",
 * then NUL-separated KEY=VALUE pairs, ACTION, DEVPATH, SUBSYSTEM and SEQNUM
 * among them; a driver bind or unbind carries DRIVER. udevd re-broadcasts
 * on its own group with a binary "libudev" header: that is not parsed here
 * (sd_device_monitor reads it). Only root may send on the kernel group, and
 * the kernel's messages come from port id 0: anything else is forged. */
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "basic/macro.h"
#include "uevent.h"

#define UEVENT_KERNEL_GROUP 1

int uevent_parse(char *buf, size_t size, Uevent *ret) {
        Uevent u = {};
        const char *at, *end = buf + size;
        size_t head;

        if (size == 0 || buf[size] != 0)
                return -EINVAL;
        at = strchr(buf, '@');
        head = strlen(buf);
        if (!at || at == buf || at[1] != '/')
                return -EINVAL;
        for (char *p = buf + head + 1; p < end; p += strlen(p) + 1) {
                const char *v;

                if ((v = startswith(p, "ACTION=")))
                        u.action = v;
                else if ((v = startswith(p, "DEVPATH=")))
                        u.devpath = v;
                else if ((v = startswith(p, "SUBSYSTEM=")))
                        u.subsystem = v;
                else if ((v = startswith(p, "DRIVER=")))
                        u.driver = v;
                else if ((v = startswith(p, "SEQNUM=")))
                        u.seqnum = v;
        }
        if (!u.action || !u.devpath || !u.subsystem || !*u.action || u.devpath[0] != '/')
                return -EINVAL;
        /* the header repeats ACTION and DEVPATH */
        if (strlen(u.action) != (size_t) (at - buf) || strncmp(buf, u.action, (size_t) (at - buf)) != 0 ||
            !streq(at + 1, u.devpath))
                return -EINVAL;
        u.sysname = strrchr(u.devpath, '/') + 1;
        if (!*u.sysname)
                return -EINVAL;
        *ret = u;
        return 0;
}

int uevent_netlink_open(size_t rcvbuf, int *ret_fd) {
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = UEVENT_KERNEL_GROUP };
        int one = 1, size = rcvbuf > INT32_MAX ? INT32_MAX : (int) rcvbuf;
        _cleanup_close_ int fd = -EBADF;

        fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);
        if (fd < 0)
                return -errno;
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
                (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
        if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int uevent_socket_open(const char *path, int *ret_fd) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        int one = 1;

        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
                return -errno;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return -errno;
        if (chmod(path, 0600) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int uevent_receive(int fd, bool netlink, char *buf, size_t size) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(struct ucred))];
        } control = {};
        struct sockaddr_nl from = {};
        struct iovec iov = { .iov_base = buf, .iov_len = size - 1 };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                              .msg_controllen = sizeof control };
        const struct ucred *cred = NULL;
        ssize_t n;

        if (netlink) {
                msg.msg_name = &from;
                msg.msg_namelen = sizeof from;
        }
        n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0)
                return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
                    c->cmsg_len == CMSG_LEN(sizeof(struct ucred)))
                        cred = (const struct ucred *) CMSG_DATA(c);
        if (!cred || (cred->uid != 0 && (netlink || cred->uid != geteuid())) || (netlink && from.nl_pid != 0) ||
            (msg.msg_flags & MSG_TRUNC))
                return -EPERM;
        buf[n] = 0;
        return (int) n;
}
