/* Clocks as hostdevd stores them: microseconds. */
#pragma once

#include <stdint.h>
#include <time.h>

/* CLOCK_REALTIME in microseconds: timestamps that are shown and persisted. */
static inline uint64_t now_realtime_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

/* CLOCK_MONOTONIC in microseconds: durations. */
static inline uint64_t now_monotonic_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}
