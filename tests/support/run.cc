// Test support; see run.h.
#include "tests/support/run.h"

#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

extern char** environ;

namespace umview::test {

std::string UmviewBin() { return UMVIEW_BIN; }
std::string PluginPath(const std::string& name) {
  return std::string(UMVIEW_PLUGIN_DIR) + "/" + name + ".so";
}
std::string TestPluginPath(const std::string& name) {
  return std::string(UMVIEW_TEST_PLUGIN_DIR) + "/" + name + ".so";
}
std::string Tracee(const std::string& name) { return std::string(UMVIEW_TRACEE_DIR) + "/" + name; }

RunResult Run(const std::vector<std::string>& argv, const RunOptions& opts) {
  RunResult res;
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) return res;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    setpgid(0, 0);  // so a timeout kills the whole tree
    signal(SIGPIPE, SIG_DFL);  // the test process ignores it; the command must not inherit that
    if (!opts.cwd.empty() && chdir(opts.cwd.c_str()) != 0) _exit(125);
    for (const auto& e : opts.extra_env) putenv(strdup(e.c_str()));
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execvp(a[0], a.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  // Feed stdin, then close it.
  if (!opts.stdin_data.empty()) {
    signal(SIGPIPE, SIG_IGN);
    (void)!write(in[1], opts.stdin_data.data(), opts.stdin_data.size());
  }
  close(in[1]);
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  bool killed = false;
  while (open_fds > 0) {
    int r = poll(fds, 2, 200);
    if (r < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP))) {
        char buf[65536];
        ssize_t n = read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          close(fds[i].fd);
          fds[i].fd = -1;
          --open_fds;
        } else {
          (i == 0 ? res.out : res.err).append(buf, n);
        }
      }
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!killed && now.tv_sec - start.tv_sec > opts.timeout_seconds) {
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      killed = true;
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  res.status = st;
  if (WIFEXITED(st)) {
    res.exit_code = WEXITSTATUS(st);
  } else if (WIFSIGNALED(st)) {
    res.signal = WTERMSIG(st);
  }
  return res;
}

RunResult RunUmview(const std::vector<std::string>& args, const RunOptions& opts) {
  std::vector<std::string> argv = {UmviewBin()};
  argv.insert(argv.end(), args.begin(), args.end());
  return Run(argv, opts);
}

TempDir::TempDir() {
  const char* tmp = getenv("TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/umview-test-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back(0);
  if (mkdtemp(buf.data()) != nullptr) path_ = buf.data();
  chmod(path_.c_str(), 0755);
}

TempDir::~TempDir() {
  if (!path_.empty()) {
    std::string cmd = "rm -rf '" + path_ + "'";
    (void)!system(cmd.c_str());
  }
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << data;
}

std::string UnprivilegedUser() {
  if (getuid() != 0) return "";  // already unprivileged: tests run as ourselves
  if (getpwnam("umviewtest") != nullptr) return "umviewtest";
  if (system("useradd --system --no-create-home --shell /bin/sh umviewtest >/dev/null 2>&1") == 0 &&
      getpwnam("umviewtest") != nullptr) {
    return "umviewtest";
  }
  if (getpwnam("nobody") != nullptr) return "nobody";
  return "";
}

}  // namespace umview::test
