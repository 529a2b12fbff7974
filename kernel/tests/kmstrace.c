// A minimal strace on /dev/kmview: runs CMD traced and prints, for each path call, the path the
// program passed and the result it got: "openat("/x") = 3". Nests with other kmview tracers
// (umview -e kmview): what it shows depends on whether it attached before or after them.
//   kmstrace [-o FILE] CMD [ARGS...]
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kmview.h"

static const struct {
  int nr;
  int path_arg;
  const char* name;
} kCalls[] = {
    {SYS_open, 0, "open"},
    {SYS_openat, 1, "openat"},
    {SYS_stat, 0, "stat"},
    {SYS_lstat, 0, "lstat"},
    {SYS_newfstatat, 1, "newfstatat"},
    {SYS_access, 0, "access"},
    {SYS_faccessat, 1, "faccessat"},
    {SYS_faccessat2, 1, "faccessat2"},
    {SYS_execve, 0, "execve"},
    {SYS_statx, 1, "statx"},
    {SYS_readlink, 0, "readlink"},
    {SYS_readlinkat, 1, "readlinkat"},
};

int main(int argc, char** argv) {
  FILE* out = stderr;
  int i = 1;
  if (argc > 2 && strcmp(argv[1], "-o") == 0) {
    out = fopen(argv[2], "w");
    if (!out) {
      fprintf(stderr, "kmstrace: %s: %s\n", argv[2], strerror(errno));
      return 2;
    }
    i = 3;
  }
  if (i >= argc) {
    fprintf(stderr, "usage: kmstrace [-o FILE] CMD [ARGS...]\n");
    return 2;
  }
  int fd = open(KMVIEW_DEVICE, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    fprintf(stderr, "kmstrace: %s: %s\n", KMVIEW_DEVICE, strerror(errno));
    return 2;
  }
  struct kmview_config c = {0};
  for (size_t k = 0; k < sizeof kCalls / sizeof kCalls[0]; k++)
    c.bitmap[kCalls[k].nr / 64] |= 1ULL << (kCalls[k].nr % 64);
  if (ioctl(fd, KMVIEW_IOC_CONFIG, &c) != 0) return 2;
  pid_t child = fork();
  if (child == 0) {
    if (ioctl(fd, KMVIEW_IOC_ATTACH_SELF) != 0) _exit(126);
    execvp(argv[i], argv + i);  // the descriptor is O_CLOEXEC: only the tracer keeps it
    _exit(127);
  }
  // Paths seen at entry, by tid, printed with the result at exit.
  static char pending[65536][256];
  int status = 0;
  for (;;) {
    struct kmview_event ev;
    if (read(fd, &ev, sizeof ev) != sizeof ev) break;
    if (ev.type == KMVIEW_EV_SYSCALL_ENTRY) {
      const char* name = "?";
      int arg = 0;
      for (size_t k = 0; k < sizeof kCalls / sizeof kCalls[0]; k++) {
        if (kCalls[k].nr == ev.nr) {
          name = kCalls[k].name;
          arg = kCalls[k].path_arg;
        }
      }
      char path[200] = "";
      struct kmview_mem m = {KMVIEW_MEM_STRING, ev.tid, ev.args[arg], (uintptr_t)path,
                             sizeof path - 1};
      ioctl(fd, KMVIEW_IOC_MEM, &m);
      snprintf(pending[ev.tid & 0xffff], sizeof pending[0], "%s(\"%s\")", name, path);
      struct kmview_reply r = {.tid = ev.tid, .action = KMVIEW_RUN_REPORT_EXIT, .seq = ev.seq};
      ioctl(fd, KMVIEW_IOC_REPLY, &r);
    } else if (ev.type == KMVIEW_EV_SYSCALL_EXIT) {
      fprintf(out, "[%d] %s = %lld\n", ev.tid, pending[ev.tid & 0xffff], (long long)ev.ret);
      fflush(out);
      struct kmview_reply r = {.tid = ev.tid, .action = KMVIEW_KEEP_RETURN, .seq = ev.seq};
      ioctl(fd, KMVIEW_IOC_REPLY, &r);
    } else if (ev.type == KMVIEW_EV_THREAD_EXIT && ev.tid == child) {
      break;
    }
  }
  waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
