// SPDX-License-Identifier: GPL-2.0
/*
 * kmbench: per-call cost of system calls, timed inside the process (so umview's start-up is not
 * counted). Used by bench.sh's "micro" row, natively and under umview in one guest run.
 *   kmbench KIND N [DIR]
 * KIND: getppid (a call no tracer asks for), stat-abs (stat of DIR/f0 by absolute path),
 * stat-rel (newfstatat(dirfd of DIR, "f0")), fstat-empty (newfstatat(fd, "", AT_EMPTY_PATH):
 * glibc's fstat), open-rel (openat(dirfd, "f0") + close), getdents (lseek + getdents64 on DIR).
 * Prints "KIND N ns/call". DIR defaults to /etc. Bad arguments: one line, exit 2.
 *   kmbench run CMD [ARG...]
 * Runs CMD (output to /dev/null), waits, prints "run NS ns" (wall time, start-up included, to
 * the ns: finer than /proc/uptime's 10 ms, for qemu -icount runs where time counts instructions)
 * and exits with CMD's status.
 *   kmbench info
 * Prints the module's counts (KMVIEW_IOC_INFO): "tracers N tasks M".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kmview.h"

static double now_ns(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int run(char **argv) {
  double t0 = now_ns(), t1;
  int status;
  pid_t pid = fork();

  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);

    if (null >= 0) {
      dup2(null, 1);
      dup2(null, 2);
    }
    execv(argv[0], argv);
    _exit(127);
  }
  if (pid < 0 || waitpid(pid, &status, 0) != pid) {
    perror("kmbench run");
    return 2;
  }
  t1 = now_ns();
  printf("run %.0f ns\n", t1 - t0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv) {
  const char *kind, *dir = argc > 3 ? argv[3] : "/etc";
  char path[4096], dents[4096];
  struct stat st;
  long n, i;
  int dfd, fd;
  double t0, t1;

  if (argc >= 3 && !strcmp(argv[1], "run")) return run(argv + 2);
  if (argc == 2 && !strcmp(argv[1], "info")) {
    struct kmview_info info;
    int dev = open(KMVIEW_DEVICE, O_RDWR | O_CLOEXEC);

    memset(&info, 0, sizeof info);
    if (dev < 0 || ioctl(dev, KMVIEW_IOC_INFO, &info) != 0) {
      perror("kmbench: " KMVIEW_DEVICE);
      return 1;
    }
    /* Not counting this open file. */
    printf("tracers %u tasks %u\n", info.tracers - 1, info.tasks);
    return 0;
  }
  if (argc < 3 || (n = strtol(argv[2], NULL, 10)) <= 0) {
    fprintf(stderr,
            "usage: kmbench getppid|stat-abs|stat-rel|fstat-empty|open-rel|getdents N [DIR]\n"
            "       kmbench run CMD [ARG...]\n"
            "       kmbench info\n");
    return 2;
  }
  kind = argv[1];
  snprintf(path, sizeof(path), "%s/f0", dir);
  dfd = open(dir, O_RDONLY | O_DIRECTORY);
  fd = open(path, O_RDONLY);
  if (dfd < 0 || fd < 0) {
    fprintf(stderr, "kmbench: %s needs a directory holding f0\n", dir);
    return 2;
  }
  t0 = now_ns();
  for (i = 0; i < n; i++) {
    if (!strcmp(kind, "getppid"))
      syscall(SYS_getppid);
    else if (!strcmp(kind, "stat-abs"))
      syscall(SYS_newfstatat, AT_FDCWD, path, &st, 0);
    else if (!strcmp(kind, "stat-rel"))
      syscall(SYS_newfstatat, dfd, "f0", &st, 0);
    else if (!strcmp(kind, "fstat-empty"))
      syscall(SYS_newfstatat, fd, "", &st, AT_EMPTY_PATH);
    else if (!strcmp(kind, "open-rel"))
      close(openat(dfd, "f0", O_RDONLY));
    else if (!strcmp(kind, "getdents")) {
      lseek(dfd, 0, SEEK_SET);
      syscall(SYS_getdents64, dfd, dents, sizeof(dents));
    } else {
      fprintf(stderr, "kmbench: unknown kind '%s'\n", kind);
      return 2;
    }
  }
  t1 = now_ns();
  printf("%s %ld %.0f ns/call\n", kind, n, (t1 - t0) / n);
  return 0;
}
