// sysloop SYSCALL N: run N iterations of one system call and print the mean cost in ns.
// SYSCALL: getppid | stat (stat of "/") | open (open+close of /etc/hostname, one pair counted).
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void do_getppid(void) { syscall(SYS_getppid); }  // never served from a libc cache

static void do_stat(void) {
  struct stat st;
  if (stat("/", &st) != 0) { perror("stat /"); exit(1); }
}

static void do_open(void) {
  int fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
  if (fd < 0) { perror("open /etc/hostname"); exit(1); }
  close(fd);
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
  static const struct { const char *name; void (*fn)(void); } kCalls[] = {
      {"getppid", do_getppid}, {"stat", do_stat}, {"open", do_open}};
  void (*fn)(void) = NULL;
  long n = argc == 3 ? atol(argv[2]) : 0;
  for (size_t i = 0; argc == 3 && i < sizeof kCalls / sizeof kCalls[0]; i++)
    if (strcmp(argv[1], kCalls[i].name) == 0) fn = kCalls[i].fn;
  if (!fn || n <= 0) {
    fprintf(stderr, "usage: sysloop getppid|stat|open N\n");
    return 2;
  }
  for (long i = 0; i < n / 10 + 1; i++) fn();  // warm up caches and the tracer's paths
  double t0 = now_ns();
  for (long i = 0; i < n; i++) fn();
  printf("%.1f\n", (now_ns() - t0) / n);
  return 0;
}
