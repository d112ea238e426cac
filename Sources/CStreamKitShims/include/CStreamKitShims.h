#ifndef CSTREAMKIT_SHIMS_H
#define CSTREAMKIT_SHIMS_H
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE 1   /* cpu_set_t, sched_setaffinity */
#endif
/// Hints the CPU to load the cache line at `p` (no fault on any address). Swift inlines this.
static inline void streamkit_prefetch(const void *p) { __builtin_prefetch(p, 1, 3); }
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
/// The calling thread's kernel id (Linux), for per-thread scheduling calls.
static inline int streamkit_gettid(void) { return (int)syscall(SYS_gettid); }
#include <stdint.h>
/// `struct sched_attr` up to `sched_period` (SCHED_ATTR_SIZE_VER0, 48 bytes).
struct streamkit_sched_attr {
    uint32_t size; uint32_t sched_policy; uint64_t sched_flags; int32_t sched_nice; uint32_t sched_priority;
    uint64_t sched_runtime; uint64_t sched_deadline; uint64_t sched_period;
};
/// Keeps the calling thread SCHED_OTHER at nice `nice` and asks for a time slice of `slice_ns`
/// (Linux ≥ 6.12 EEVDF: `sched_runtime` of a fair task is its slice request; a shorter slice
/// gives an earlier deadline, so the thread preempts on wakeup). 0 on success, else -1 (errno).
static inline int streamkit_request_slice(uint64_t slice_ns, int nice) {
    struct streamkit_sched_attr a = {0};
    a.size = sizeof a; a.sched_policy = 0; a.sched_nice = nice; a.sched_runtime = slice_ns;
    return (int)syscall(SYS_sched_setattr, 0, &a, 0);
}
#include <sys/prctl.h>
/// Names the calling thread (`PR_SET_NAME`: the kernel keeps 15 bytes). 0 on success, else -1.
static inline int streamkit_set_thread_name(const char *name) { return prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0); }
/// Copies the calling thread's name into `buffer` (at least 16 bytes). 0 on success, else -1.
static inline int streamkit_get_thread_name(char *buffer) { return prctl(PR_GET_NAME, (unsigned long)buffer, 0, 0, 0); }
/// `pipe2(fds, O_CLOEXEC)`: both ends close on exec. 0 on success, else -1 (errno). (In shims.c:
/// the GNU declarations it needs would change `fd_set` for every module importing this header.)
int streamkit_pipe_cloexec(int fds[2]);
/// On a `posix_spawn_file_actions_t`: the child closes every descriptor from `low` up (glibc ≥
/// 2.34). 0 on success, else an errno.
int streamkit_spawn_add_closefrom(void *actions, int low);
/// On a `posix_spawn_file_actions_t`: the child changes to `path` before it runs (glibc ≥ 2.29).
/// 0 on success, else an errno.
int streamkit_spawn_add_chdir(void *actions, const char *path);
#include <sched.h>
/// Runs the calling thread only on the `count` CPUs in `cpus` (`sched_setaffinity` of this thread,
/// not the process). 0 on success, else -1 (errno: EINVAL when none of them is available).
static inline int streamkit_set_thread_cpus(const int32_t *cpus, int count) {
    cpu_set_t set; CPU_ZERO(&set);
    for (int i = 0; i < count; i++) { if (cpus[i] >= 0 && cpus[i] < CPU_SETSIZE) CPU_SET(cpus[i], &set); }
    return sched_setaffinity(0, sizeof set, &set);
}
/// Writes the CPUs the calling thread may run on into `out` (at most `capacity`, ascending);
/// returns how many, or -1 (errno).
static inline int streamkit_get_thread_cpus(int32_t *out, int capacity) {
    cpu_set_t set; CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return -1;
    int n = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE && n < capacity; cpu++) { if (CPU_ISSET(cpu, &set)) out[n++] = cpu; }
    return n;
}
#endif
#endif
