/* libFuzzer target for kernel uevents (host/uevent.h), the messages read
 * from the netlink group or the local test socket: a message is accepted
 * only with the fields the parser promises (a header that agrees with
 * ACTION= and DEVPATH=, a sysname), every field points into the buffer, and
 * the message rebuilt from the fields parses to the same. */

#include "basic/macro.h"
#include "fuzz.h"
#include "host/uevent.h"

static bool inside(const char *p, const char *buf, size_t size) {
        return p >= buf && p <= buf + size;
}

/* "ACTION@DEVPATH\0ACTION=...\0DEVPATH=...\0SUBSYSTEM=...[\0DRIVER=...][\0SEQNUM=...]" */
static char *rebuild(const Uevent *u, size_t *ret_size) {
        char *b = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&b, &size);

        FUZZ_OOM(f);
        fprintf(f, "%s@%s%cACTION=%s%cDEVPATH=%s%cSUBSYSTEM=%s", u->action, u->devpath, 0, u->action, 0,
                u->devpath, 0, u->subsystem);
        if (u->driver)
                fprintf(f, "%cDRIVER=%s", 0, u->driver);
        if (u->seqnum)
                fprintf(f, "%cSEQNUM=%s", 0, u->seqnum);
        fputc(0, f);
        FUZZ_OOM(fclose(f) == 0);
        *ret_size = size - 1; /* the NUL after the last field is buf[size] */
        return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *buf = NULL, *again = NULL;
        Uevent u, v;
        size_t n;
        int r;

        if (size > UEVENT_BUFFER_SIZE)
                return 0;
        buf = fuzz_memdup(data, size);
        r = uevent_parse(buf, size, &u);
        if (r < 0) {
                FUZZ_ASSERT(r == -EINVAL);
                return 0;
        }
        FUZZ_ASSERT(inside(u.action, buf, size) && inside(u.devpath, buf, size) && inside(u.subsystem, buf, size));
        FUZZ_ASSERT(!u.driver || inside(u.driver, buf, size));
        FUZZ_ASSERT(!u.seqnum || inside(u.seqnum, buf, size));
        FUZZ_ASSERT(*u.action && u.devpath[0] == '/' && !strchr(u.action, '@'));
        FUZZ_ASSERT(*u.sysname && !strchr(u.sysname, '/') && inside(u.sysname, buf, size));
        FUZZ_ASSERT(strncmp(buf, u.action, strlen(u.action)) == 0 && buf[strlen(u.action)] == '@');
        FUZZ_ASSERT(streq(buf + strlen(u.action) + 1, u.devpath));

        again = rebuild(&u, &n);
        FUZZ_ASSERT(uevent_parse(again, n, &v) == 0);
        FUZZ_ASSERT(streq(v.action, u.action) && streq(v.devpath, u.devpath) && streq(v.subsystem, u.subsystem));
        FUZZ_ASSERT(streq_ptr(v.driver, u.driver) && streq_ptr(v.seqnum, u.seqnum) && streq(v.sysname, u.sysname));
        return 0;
}
