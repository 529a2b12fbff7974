// sysloop SYSCALL N [threads|procs K]: run N calls of one system call and print the mean cost
// per call in ns.
// SYSCALL: getppid | stat (stat of "/") | open (open+close of /etc/hostname, one pair counted).
// With `threads K` or `procs K`, K threads or K processes share the N calls (N/K each), all
// started and waiting before the clock starts; the clock stops when the last worker finishes
// its calls (before thread or process exit), and the result is that time / N, so a tracer that
// serves K tracees as well as one prints the same number.
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void do_getppid(void) { syscall(SYS_getppid); }  // never served from a libc cache

static void do_stat(void) {
  struct stat st;
  if (stat("/", &st) != 0) {
    perror("stat /");
    exit(1);
  }
}

static void do_open(void) {
  int fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    perror("open /etc/hostname");
    exit(1);
  }
  close(fd);
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void (*g_fn)(void);
static long g_each;                      // calls per worker
static pthread_barrier_t g_ready, g_go;  // the clock starts between the two
static double *g_done;                   // per thread: when it finished its calls

static void loop(long n) {
  for (long i = 0; i < n; i++) g_fn();
}

static void *thread_main(void *arg) {
  loop(g_each / 10 + 1);  // warm-up, before the clock
  pthread_barrier_wait(&g_ready);
  pthread_barrier_wait(&g_go);
  loop(g_each);
  g_done[(long)arg] = now_ns();
  return NULL;
}

static double latest(const double *t, int k) {
  double m = 0;
  for (int i = 0; i < k; i++) m = t[i] > m ? t[i] : m;
  return m;
}

static double run_threads(int k) {
  pthread_t *t = calloc(k, sizeof *t);
  g_done = calloc(k, sizeof *g_done);
  pthread_barrier_init(&g_ready, NULL, k + 1);
  pthread_barrier_init(&g_go, NULL, k + 1);
  for (long i = 0; i < k; i++) {
    if (pthread_create(&t[i], NULL, thread_main, (void *)i) != 0) {
      perror("pthread_create");
      exit(1);
    }
  }
  pthread_barrier_wait(&g_ready);
  double t0 = now_ns();  // before any thread can start its calls
  pthread_barrier_wait(&g_go);
  for (int i = 0; i < k; i++) pthread_join(t[i], NULL);
  double t1 = latest(g_done, k);
  free(t);
  free(g_done);
  return t1 - t0;
}

// Each child warms up, says it is ready on `ready`, starts when `go` reaches end of file, and
// sends the time it finished its calls on `done` (8 bytes: one atomic pipe write).
static double run_procs(int k) {
  int ready[2], go[2], done[2];
  if (pipe(ready) != 0 || pipe(go) != 0 || pipe(done) != 0) {
    perror("pipe");
    exit(1);
  }
  for (int i = 0; i < k; i++) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      exit(1);
    }
    if (pid == 0) {
      close(ready[0]);
      close(go[1]);
      close(done[0]);
      loop(g_each / 10 + 1);
      char c = 1;
      if (write(ready[1], &c, 1) != 1) _exit(1);
      while (read(go[0], &c, 1) > 0) {
      }
      loop(g_each);
      double t = now_ns();
      _exit(write(done[1], &t, sizeof t) == sizeof t ? 0 : 1);
    }
  }
  close(ready[1]);
  close(go[0]);
  close(done[1]);
  for (int got = 0; got < k;) {
    char buf[64];
    ssize_t r = read(ready[0], buf, sizeof buf);
    if (r <= 0) {
      fprintf(stderr, "sysloop: a child died before starting\n");
      exit(1);
    }
    got += r;
  }
  double t0 = now_ns();
  close(go[1]);
  double t1 = 0, t;
  int finished = 0, failed = 0, status;
  while (read(done[0], &t, sizeof t) == sizeof t) {
    t1 = t > t1 ? t : t1;
    finished++;
  }
  while (wait(&status) > 0) failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
  if (failed || finished != k) {
    fprintf(stderr, "sysloop: a child failed\n");
    exit(1);
  }
  return t1 - t0;
}

int main(int argc, char **argv) {
  static const struct {
    const char *name;
    void (*fn)(void);
  } kCalls[] = {{"getppid", do_getppid}, {"stat", do_stat}, {"open", do_open}};
  long n = argc >= 3 ? atol(argv[2]) : 0;
  int k = argc == 5 ? atoi(argv[4]) : 1;
  int procs = argc == 5 && strcmp(argv[3], "procs") == 0;
  int threads = argc == 5 && strcmp(argv[3], "threads") == 0;
  for (size_t i = 0; (argc == 3 || argc == 5) && i < sizeof kCalls / sizeof kCalls[0]; i++)
    if (strcmp(argv[1], kCalls[i].name) == 0) g_fn = kCalls[i].fn;
  if (!g_fn || n <= 0 || (argc == 5 && !procs && !threads) || k < 1 || k > 1024 || n < k) {
    fprintf(stderr, "usage: sysloop getppid|stat|open N [threads|procs K (1..1024, <= N)]\n");
    return 2;
  }
  g_each = n / k;
  double elapsed;
  if (procs) {
    elapsed = run_procs(k);
  } else if (threads) {
    elapsed = run_threads(k);
  } else {
    loop(n / 10 + 1);  // warm up caches and the tracer's paths
    double t0 = now_ns();
    loop(n);
    elapsed = now_ns() - t0;
  }
  printf("%.1f\n", elapsed / (g_each * k));
  return 0;
}
