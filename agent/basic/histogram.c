/* Duration histograms: see histogram.h. */
#include "histogram.h"

const uint64_t histogram_bounds_usec[HISTOGRAM_BUCKETS] = {
        500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
        1000000, 2500000, 5000000, 10000000,
};

void histogram_observe(Histogram *h, uint64_t usec) {
        for (unsigned i = 0; i < HISTOGRAM_BUCKETS; i++)
                if (usec <= histogram_bounds_usec[i]) {
                        h->buckets[i]++;
                        break;
                }
        h->count++;
        h->sum_usec += usec;
}
