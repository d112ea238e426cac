// The machine's own pauses (a "hiccup" meter, as jHiccup): N threads, one per core, each spin on
// the monotonic clock for D seconds and record every gap between two consecutive readings longer
// than 1 ms. On an otherwise idle machine such a gap is time the thread's core was taken away
// (the hypervisor running something else on it, interrupts, kernel threads), so with every core
// busy it is a floor under any request's tail latency measured on the same machine.
//
// Usage: machine-pauses SECONDS THREADS   (prints one JSON object)
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct meter { double seconds; long over1, over3, over5; double max, lost; };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void *spin(void *arg) {
    struct meter *m = arg;
    double start = now(), previous = start;
    for (;;) {
        double t = now(), gap = t - previous;
        if (gap > 0.001) {
            m->over1++;
            m->lost += gap;
            if (gap > 0.003) m->over3++;
            if (gap > 0.005) m->over5++;
            if (gap > m->max) m->max = gap;
        }
        previous = t;
        if (t - start >= m->seconds) break;
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: machine-pauses SECONDS THREADS\n"); return 2; }
    double seconds = atof(argv[1]);
    int threads = atoi(argv[2]);
    if (seconds <= 0 || threads < 1 || threads > 256) { fprintf(stderr, "machine-pauses: bad arguments\n"); return 2; }
    struct meter *meters = calloc((size_t)threads, sizeof *meters);
    pthread_t *ids = calloc((size_t)threads, sizeof *ids);
    if (!meters || !ids) return 1;
    for (int i = 0; i < threads; i++) {
        meters[i].seconds = seconds;
        if (pthread_create(&ids[i], NULL, spin, &meters[i]) != 0) { fprintf(stderr, "machine-pauses: pthread_create failed\n"); return 1; }
    }
    long over1 = 0, over3 = 0, over5 = 0;
    double max = 0, lost = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(ids[i], NULL);
        over1 += meters[i].over1; over3 += meters[i].over3; over5 += meters[i].over5;
        lost += meters[i].lost;
        if (meters[i].max > max) max = meters[i].max;
    }
    double threadSeconds = seconds * threads;
    printf("{\"seconds\":%.1f,\"threads\":%d,\"pauses_over_1ms_per_s\":%.2f,\"pauses_over_3ms_per_s\":%.2f,"
           "\"pauses_over_5ms_per_s\":%.2f,\"max_pause_ms\":%.2f,\"time_lost_fraction\":%.4f}\n",
           seconds, threads, over1 / threadSeconds, over3 / threadSeconds, over5 / threadSeconds, max * 1e3,
           lost / threadSeconds);
    free(meters);
    free(ids);
    return 0;
}
