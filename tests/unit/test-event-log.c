/* The event log: ids, the ring's wrap-around, replay after an id, stale
 * and malformed ids, and listeners called in order with each event. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "basic/macro.h"
#include "state/event-log.h"
#include "tap.h"

typedef struct Seen {
        char log[4096];      /* "tag:seq:type " per call */
        const char *tag;
} Seen;

static void record(const Event *e, void *userdata) {
        Seen *s = userdata;
        size_t n = strlen(s->log);

        snprintf(s->log + n, sizeof s->log - n, "%s:%" PRIu64 ":%s ", s->tag ?: "", e->seq, e->type);
}

static int publish_n(EventLog *l, const char *type, int n) {
        for (int i = 0; i < n; i++) {
                json_object *o = json_object_new_object();

                json_object_object_add(o, "n", json_object_new_int(i));
                if (event_log_publish(l, type, o) < 0)
                        return -1;
        }
        return 0;
}

static char *id_of(const EventLog *l, uint64_t seq) {
        char *id = NULL;

        if (asprintf(&id, "%s-%" PRIu64, event_log_instance(l), seq) < 0)
                abort();
        return id;
}

static void capture(const Event *e, void *userdata) {
        Event *copy = userdata;

        free(copy->data);
        *copy = *e;
        copy->type = NULL;
        copy->data = strdup(e->data);
}

static void test_ids_and_data(void) {
        EventLog *l = NULL, *other = NULL;
        const char *inst;
        Event got = {};
        json_object *o;

        ok(event_log_new(8, &l) == 0, "a log of 8");
        inst = event_log_instance(l);
        ok(strlen(inst) == 16 && strspn(inst, "0123456789abcdef") == 16, "instance is 16 hex digits: %s", inst);
        ok(event_log_new(8, &other) == 0 && !streq(event_log_instance(other), inst), "instances differ");
        is_int(event_log_last_seq(l), 0, "no event yet");

        ok(event_log_add_listener(l, capture, &got) == 0, "listener added");
        o = json_object_new_object();
        json_object_object_add(o, "enabled", json_object_new_boolean(1));
        json_object_object_add(o, "reason", json_object_new_string("a\nb/c"));
        ok(event_log_publish(l, "maintenance-changed", o) == 0, "published");
        is_int(got.seq, 1, "first seq is 1");
        is_int(event_log_last_seq(l), 1, "last seq follows");
        {
                char *want = id_of(l, 1);
                is_str(got.id, want, "id is instance-seq");
                free(want);
        }
        ok(got.data && !strchr(got.data, '\n'), "data has no newline: %s", got.data);
        ok(got.data && strstr(got.data, "\"reason\":\"a\\nb/c\""), "compact, slashes as they are: %s", got.data);
        ok(got.data && strstr(got.data, "\"time\":\"") && strstr(got.data, "Z\""), "time added: %s", got.data);
        ok(got.time_usec > 0, "time_usec set");

        ok(event_log_publish(l, "hello", NULL) == 0 && got.seq == 2, "NULL data is {}");
        ok(got.data && strncmp(got.data, "{\"time\":", 8) == 0, "only time: %s", got.data);
        is_int(event_log_publish(l, "x", json_object_new_array()), -EINVAL, "data must be an object");
        is_int(event_log_last_seq(l), 2, "a refused event takes no seq");
        ok(event_log_publish(NULL, "x", json_object_new_object()) == 0, "NULL log is a no-op");

        free(got.data);
        event_log_free(other);
        event_log_free(l);
}

static void test_wrap_and_replay(void) {
        EventLog *l = NULL;
        Seen s = {};
        char *id;

        ok(event_log_new(4, &l) == 0, "a log of 4");
        ok(publish_n(l, "e", 3) == 0, "3 events");
        id = id_of(l, 0);
        is_int(event_log_replay(l, id, record, &s), 3, "from the start: 3");
        is_str(s.log, ":1:e :2:e :3:e ", "all of them, oldest first");
        free(id);

        ok(publish_n(l, "f", 7) == 0, "7 more: the ring wrapped");
        is_int(event_log_last_seq(l), 10, "last seq 10");
        s.log[0] = 0;
        id = id_of(l, 6);
        is_int(event_log_replay(l, id, record, &s), 4, "after 6: 4 events");
        is_str(s.log, ":7:f :8:f :9:f :10:f ", "7 to 10 in order");
        free(id);

        s.log[0] = 0;
        id = id_of(l, 10);
        is_int(event_log_replay(l, id, record, &s), 0, "after the newest: nothing");
        is_str(s.log, "", "no call");
        free(id);

        id = id_of(l, 5);
        is_int(event_log_replay(l, id, record, &s), -ESTALE, "after 5: 6 is gone (the ring holds 7-10)");
        free(id);
        id = id_of(l, 0);
        is_int(event_log_replay(l, id, record, &s), -ESTALE, "from the start: gone");
        free(id);
        id = id_of(l, 11);
        is_int(event_log_replay(l, id, record, &s), -ESTALE, "an id this instance never made");
        free(id);
        is_int(event_log_replay(l, "0123456789abcdef-3", record, &s), -ESTALE, "another instance");
        is_str(s.log, "", "stale ids call nothing");
        event_log_free(l);
}

static void test_junk_ids(void) {
        static const char *const junk[] = {
                "", "1", "-", "0123456789abcdef", "0123456789abcdef-", "0123456789abcdef-x",
                "0123456789ABCDEF-1", "0123456789abcde-1", "0123456789abcdef0-1", "0123456789abcdef-01",
                "0123456789abcdef-+1", "0123456789abcdef--1", "0123456789abcdef-1 ", " 0123456789abcdef-1",
                "0123456789abcdef-18446744073709551616", "0123456789abcdef-123456789012345678901",
                "0123456789abcdef_1",
        };
        EventLog *l = NULL;
        Seen s = {};

        ok(event_log_new(4, &l) == 0, "a log");
        for (size_t i = 0; i < ELEMENTSOF(junk); i++)
                is_int(event_log_replay(l, junk[i], record, &s), -EINVAL, "malformed: '%s'", junk[i]);
        is_int(event_log_replay(l, "0123456789abcdef-18446744073709551615", record, &s), -ESTALE,
               "the largest seq is well-formed");
        is_int(event_log_new(0, &l), -EINVAL, "capacity 0 is refused");
        event_log_free(l);
}

static char order[1024];

static void tagged(const Event *e, void *userdata) {
        size_t n = strlen(order);

        snprintf(order + n, sizeof order - n, "%s%" PRIu64 " ", (const char *) userdata, e->seq);
}

static void test_listeners(void) {
        EventLog *l = NULL;

        ok(event_log_new(2, &l) == 0, "a log");
        ok(event_log_add_listener(l, tagged, (void *) "a") == 0, "listener a");
        ok(event_log_add_listener(l, tagged, (void *) "b") == 0, "listener b");
        ok(event_log_add_listener(l, tagged, (void *) "c") == 0, "listener c");
        ok(publish_n(l, "x", 2) == 0, "two events");
        is_str(order, "a1 b1 c1 a2 b2 c2 ", "every listener, in the order added, event by event");

        order[0] = 0;
        event_log_remove_listener(l, tagged, (void *) "b");
        event_log_remove_listener(l, tagged, (void *) "b"); /* again: nothing */
        event_log_remove_listener(l, record, (void *) "a"); /* another callback: nothing */
        ok(publish_n(l, "y", 1) == 0, "after removing b");
        is_str(order, "a3 c3 ", "a removed listener is not called, the others keep their order");
        event_log_free(l);
}

int main(void) {
        test_ids_and_data();
        test_wrap_and_replay();
        test_junk_ids();
        test_listeners();
        return tap_done();
}
