/* Kernel uevents as the kernel multicasts them on NETLINK_KOBJECT_UEVENT:
 * parsing one message, and the two sockets that carry them to hostdevd,
 * the kernel's own netlink group and a local datagram socket that takes
 * the same bytes (the test hook: a fixture tree has no kernel behind it). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* One parsed message; the strings point into the buffer it came in. */
typedef struct Uevent {
        const char *action;    /* "add", "remove", "bind", "unbind", "change", "move" */
        const char *devpath;   /* "/devices/pci0000:00/0000:00:02.0/0000:01:00.0" */
        const char *subsystem; /* "pci", "vfio" */
        const char *driver;    /* DRIVER=, or NULL */
        const char *sysname;   /* the last component of devpath */
        const char *seqnum;    /* SEQNUM=, or NULL */
} Uevent;

#define UEVENT_BUFFER_SIZE 8192 /* the kernel's messages are at most 2048 bytes */

/* Parses "ACTION@DEVPATH\0KEY=VALUE\0...". buf must be NUL-terminated at
 * buf[size]. -EINVAL when it is not a kernel uevent (libudev's own format,
 * a header that disagrees with ACTION= or DEVPATH=, a missing field). */
int uevent_parse(char *buf, size_t size, Uevent *ret);

/* The kernel's multicast group, non-blocking, with a receive buffer of
 * rcvbuf bytes (forced when privileged). */
int uevent_netlink_open(size_t rcvbuf, int *ret_fd);
/* A datagram socket bound at path (an old socket there is replaced), mode 0600. */
int uevent_socket_open(const char *path, int *ret_fd);

/* Receives one message into buf (size bytes, NUL-terminated on success):
 * its length, -EAGAIN when there is none, -ENOBUFS when the kernel dropped
 * messages (the socket overflowed), -EPERM for a message not sent by the
 * kernel (netlink) or by root (the local socket), which is dropped. */
int uevent_receive(int fd, bool netlink, char *buf, size_t size);
