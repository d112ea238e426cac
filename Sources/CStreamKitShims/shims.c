#define _GNU_SOURCE 1
#include "CStreamKitShims.h"
/* Most shims are static inline in the header; these need GNU declarations (pipe2, the
   posix_spawn _np actions) that must not leak into the header's module. */
#if defined(__linux__)
#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

int streamkit_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int streamkit_spawn_add_closefrom(void *actions, int low) {
    return posix_spawn_file_actions_addclosefrom_np((posix_spawn_file_actions_t *)actions, low);
}

int streamkit_spawn_add_chdir(void *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np((posix_spawn_file_actions_t *)actions, path);
}
#endif
