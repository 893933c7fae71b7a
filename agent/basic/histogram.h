/* A duration histogram as Prometheus has one: counts at fixed upper bounds
 * (cumulative when shown), a total count and a sum. Fixed bounds from
 * 0.5 ms to 10 s cover an HTTP reply as well as a full rescan. */
#pragma once

#include <stdint.h>

#define HISTOGRAM_BUCKETS 14

extern const uint64_t histogram_bounds_usec[HISTOGRAM_BUCKETS];

typedef struct Histogram {
        uint64_t buckets[HISTOGRAM_BUCKETS]; /* observations <= that bound and > the one before */
        uint64_t count;                      /* all, with those above the last bound */
        uint64_t sum_usec;
} Histogram;

void histogram_observe(Histogram *h, uint64_t usec);
