/* Load and soak workloads, run natively or in a view; each prints what it observed.
 *   load_work forkstorm N        N short processes (50 at a time), each exiting with i % 200
 *                                or killed by a signal; prints "statuses ok N" if every status
 *                                was the one the child chose
 *   load_work threads T N        T threads each making N getcwd calls (trapped by viewfs);
 *                                prints "calls ok T*N" if every answer was the cwd
 *   load_work soak SECONDS DIR   rounds of mixed work (fork storm, threads, files in DIR,
 *                                exec of /bin/true) until SECONDS pass; after each round
 *                                prints "sample RSS_KB FDS" of the process $UMVIEW_PID and
 *                                finally "rounds R ok" (or the first mismatch) */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int ForkStorm(int n) {
  int bad = 0;
  for (int base = 0; base < n; base += 50) {
    pid_t pids[50];
    int m = n - base < 50 ? n - base : 50;
    for (int j = 0; j < m; ++j) {
      int i = base + j;
      pids[j] = fork();
      if (pids[j] == 0) {
        if (i % 10 == 9) raise(SIGTERM);
        _exit(i % 200);
      }
    }
    for (int j = 0; j < m; ++j) {
      int i = base + j, st;
      if (waitpid(pids[j], &st, 0) != pids[j]) {
        ++bad;
        continue;
      }
      int want_sig = i % 10 == 9;
      if (want_sig ? !(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM)
                   : !(WIFEXITED(st) && WEXITSTATUS(st) == i % 200)) {
        ++bad;
      }
    }
  }
  return bad;
}

static char cwd_[4096];
static int calls_;
static void* Caller(void* arg) {
  long bad = 0;
  char buf[4096];
  (void)arg;
  for (int i = 0; i < calls_; ++i) {
    if (syscall(SYS_getcwd, buf, sizeof buf) < 0 || strcmp(buf, cwd_) != 0) ++bad;
  }
  return (void*)bad;
}
static long Threads(int t, int n) {
  if (!getcwd(cwd_, sizeof cwd_)) return -1;
  calls_ = n;
  pthread_t th[256];
  long bad = 0;
  for (int i = 0; i < t; ++i) pthread_create(&th[i], NULL, Caller, NULL);
  for (int i = 0; i < t; ++i) {
    void* r;
    pthread_join(th[i], &r);
    bad += (long)r;
  }
  return bad;
}

static int Files(const char* dir, int round) {
  char path[4096], buf[64];
  int bad = 0;
  for (int i = 0; i < 20; ++i) {
    snprintf(path, sizeof path, "%s/f%d", dir, i);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    int len = snprintf(buf, sizeof buf, "%d-%d", round, i);
    if (fd < 0 || write(fd, buf, len) != len) ++bad;
    close(fd);
    fd = open(path, O_RDONLY);
    char got[64] = {0};
    if (fd < 0 || read(fd, got, sizeof got) != len || memcmp(got, buf, len) != 0) ++bad;
    close(fd);
    if (i % 2) unlink(path);
  }
  return bad;
}

static int Exec(void) {
  pid_t c = fork();
  if (c == 0) {
    execl("/bin/sh", "sh", "-c", "exit 33", (char*)NULL);
    _exit(127);
  }
  int st;
  waitpid(c, &st, 0);
  return !(WIFEXITED(st) && WEXITSTATUS(st) == 33);
}

static void Sample(const char* pid) {
  char path[64], line[256];
  long rss = -1;
  int fds = 0;
  snprintf(path, sizeof path, "/proc/%s/status", pid);
  FILE* f = fopen(path, "r");
  while (f && fgets(line, sizeof line, f)) {
    if (strncmp(line, "VmRSS:", 6) == 0) rss = atol(line + 6);
  }
  if (f) fclose(f);
  snprintf(path, sizeof path, "/proc/%s/fd", pid);
  DIR* d = opendir(path);
  while (d && readdir(d)) ++fds;
  if (d) closedir(d);
  printf("sample %ld %d\n", rss, fds - 2);
  fflush(stdout);
}

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "forkstorm") == 0) {
    int n = atoi(argv[2]);
    int bad = ForkStorm(n);
    if (bad)
      printf("statuses wrong %d of %d\n", bad, n);
    else
      printf("statuses ok %d\n", n);
    return 0;
  }
  if (argc == 4 && strcmp(argv[1], "threads") == 0) {
    int t = atoi(argv[2]), n = atoi(argv[3]);
    if (t > 256) t = 256;
    long bad = Threads(t, n);
    if (bad)
      printf("calls wrong %ld of %ld\n", bad, (long)t * n);
    else
      printf("calls ok %ld\n", (long)t * n);
    return 0;
  }
  if (argc == 4 && strcmp(argv[1], "soak") == 0) {
    int seconds = atoi(argv[2]);
    const char* pid = getenv("UMVIEW_PID");
    time_t end = time(NULL) + seconds;
    int rounds = 0;
    while (time(NULL) < end || rounds < 4) {
      int bad = ForkStorm(100) + (int)Threads(8, 200) + Files(argv[3], rounds) + Exec();
      if (bad) {
        printf("round %d: %d mismatches\n", rounds, bad);
        return 1;
      }
      ++rounds;
      if (pid) Sample(pid);
    }
    printf("rounds %d ok\n", rounds);
    return 0;
  }
  fprintf(stderr, "usage: load_work forkstorm N | threads T N | soak SECONDS DIR\n");
  return 2;
}
