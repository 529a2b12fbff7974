// umtrace: an strace-like observer plugin. Logs one line per system call, `[pid TID] name(args) =
// result`, showing the call as umtrace saw it at its place in the plugin stack.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>

#include "umview/plugin.h"

namespace {

using umview::Arg;
using umview::Call;
using umview::RemotePtr;
using umview::SyscallInfo;

constexpr size_t kMaxString = 256;  // bytes of a path or string shown before "..."
constexpr size_t kMaxBuf = 32;      // bytes of a data buffer shown before "..."
constexpr size_t kMaxArgv = 32;     // argv/envp entries shown before "..."
// A log file is written in whole lines, in batches of about this size: one write() per call
// would cost a syscall in the tracer for every traced call.
constexpr size_t kFileFlushAt = 64 * 1024;

// ---- Number formatting into a reused string (std::to_chars: no allocation, no locale).

void AppendDec(std::string& out, int64_t v) {
  char b[24];
  out.append(b, std::to_chars(b, b + sizeof b, v).ptr);
}

void AppendUDec(std::string& out, uint64_t v) {
  char b[24];
  out.append(b, std::to_chars(b, b + sizeof b, v).ptr);
}

void AppendHex(std::string& out, uint64_t v) {
  char b[24];
  out += "0x";
  out.append(b, std::to_chars(b, b + sizeof b, v, 16).ptr);
}

// strace's "%#03o": 0644 -> "0644", 7 -> "007", 0 -> "000".
void AppendOct(std::string& out, uint64_t v) {
  char b[24];
  char* end = std::to_chars(b, b + sizeof b, v, 8).ptr;
  out += '0';
  if (end - b < 2) out.append(2 - (end - b), '0');
  out.append(b, end);
}

// A C string literal: printable ASCII as is, the usual escapes, every other byte as \xNN.
void AppendQuoted(std::string& out, const char* s, size_t n) {
  static constexpr char kHexDigits[] = "0123456789abcdef";
  out += '"';
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\v':
        out += "\\v";
        break;
      case '\f':
        out += "\\f";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          out += static_cast<char>(c);
        } else {
          out += "\\x";
          out += kHexDigits[c >> 4];
          out += kHexDigits[c & 15];
        }
    }
  }
  out += '"';
}

// ---- Symbolic flags.

struct FlagName {
  uint64_t value;
  const char* name;
};

// Multi-bit flags come before their parts (O_SYNC includes O_DSYNC, O_TMPFILE O_DIRECTORY).
constexpr FlagName kOpenFlags[] = {
    {O_TMPFILE, "O_TMPFILE"},
    {O_SYNC, "O_SYNC"},
    {O_CREAT, "O_CREAT"},
    {O_EXCL, "O_EXCL"},
    {O_NOCTTY, "O_NOCTTY"},
    {O_TRUNC, "O_TRUNC"},
    {O_APPEND, "O_APPEND"},
    {O_NONBLOCK, "O_NONBLOCK"},
    {O_DSYNC, "O_DSYNC"},
    {O_ASYNC, "O_ASYNC"},
    {O_DIRECT, "O_DIRECT"},
    // glibc defines O_LARGEFILE as 0 on x86-64; the kernel bit is 0100000 (asm-generic/fcntl.h).
    {0100000, "O_LARGEFILE"},
    {O_DIRECTORY, "O_DIRECTORY"},
    {O_NOFOLLOW, "O_NOFOLLOW"},
    {O_NOATIME, "O_NOATIME"},
    {O_CLOEXEC, "O_CLOEXEC"},
    {O_PATH, "O_PATH"},
};

// AT_* flags (linux/fcntl.h). 0x200 means AT_REMOVEDIR for unlinkat, AT_EACCESS for faccessat2.
constexpr FlagName kAtFlags[] = {
    {0x100, "AT_SYMLINK_NOFOLLOW"}, {0x200, "AT_REMOVEDIR"},   {0x400, "AT_SYMLINK_FOLLOW"},
    {0x800, "AT_NO_AUTOMOUNT"},     {0x1000, "AT_EMPTY_PATH"}, {0x2000, "AT_STATX_FORCE_SYNC"},
    {0x4000, "AT_STATX_DONT_SYNC"}, {0x8000, "AT_RECURSIVE"},
};
static_assert(AT_SYMLINK_NOFOLLOW == 0x100 && AT_REMOVEDIR == 0x200 && AT_EACCESS == 0x200 &&
              AT_SYMLINK_FOLLOW == 0x400 && AT_NO_AUTOMOUNT == 0x800 && AT_EMPTY_PATH == 0x1000);

// Appends the names of the bits of `v` found in `table`, '|'-separated, then any rest in hex.
// `sep` says whether something was written before (a '|' is needed first).
void AppendFlags(std::string& out, uint64_t v, const FlagName* table, size_t n, bool sep,
                 int alias_bit = 0, const char* alias = nullptr) {
  for (size_t i = 0; i < n && v != 0; ++i) {
    if ((v & table[i].value) != table[i].value) continue;
    if (sep) out += '|';
    out += (alias != nullptr && table[i].value == static_cast<uint64_t>(alias_bit)) ? alias
                                                                                    : table[i].name;
    v &= ~table[i].value;
    sep = true;
  }
  if (v != 0) {
    if (sep) out += '|';
    AppendHex(out, v);
  } else if (!sep) {
    out += '0';
  }
}

void AppendOpenFlags(std::string& out, uint64_t v, bool with_access_mode) {
  v &= 0xffffffffu;  // an int in the kernel
  if (with_access_mode) {
    switch (v & O_ACCMODE) {
      case O_RDONLY:
        out += "O_RDONLY";
        break;
      case O_WRONLY:
        out += "O_WRONLY";
        break;
      case O_RDWR:
        out += "O_RDWR";
        break;
      default:
        out += "O_ACCMODE";
        break;
    }
    v &= ~static_cast<uint64_t>(O_ACCMODE);
  }
  AppendFlags(out, v, kOpenFlags, std::size(kOpenFlags), with_access_mode);
}

void AppendSigno(std::string& out, int sig) {
  if (const char* abbrev = sigabbrev_np(sig); abbrev != nullptr) {
    out += "SIG";
    out += abbrev;
  } else if (sig >= 32 && sig <= 64) {
    out += "SIGRT_";  // kernel numbering, as strace prints it: glibc reserves 32 and 33
    AppendDec(out, sig - 32);
  } else {
    AppendDec(out, sig);
  }
}

// Calls whose result is an address, shown in hex.
bool ReturnsPointer(int nr) {
  return nr == __NR_mmap || nr == __NR_mremap || nr == __NR_brk || nr == __NR_shmat;
}

void AppendResult(std::string& out, int nr, int64_t ret) {
  if (ret < 0 && ret >= -4095) {
    const int err = static_cast<int>(-ret);
    // Kernel-internal restart codes: the program never sees them; the call is restarted or
    // fails with EINTR once the signal is handled (include/linux/errno.h).
    switch (err) {
      case 512:
        out += "? ERESTARTSYS (To be restarted if SA_RESTART is set)";
        return;
      case 513:
        out += "? ERESTARTNOINTR (To be restarted)";
        return;
      case 514:
        out += "? ERESTARTNOHAND (To be restarted if no handler)";
        return;
      case 516:
        out += "? ERESTART_RESTARTBLOCK (Interrupted by signal)";
        return;
    }
    out += "-1 ";
    if (const char* name = strerrorname_np(err); name != nullptr) {
      out += name;
    } else {
      out += "E";
      AppendDec(out, err);
    }
    out += " (";
    out += strerror(err);
    out += ')';
    return;
  }
  if (ReturnsPointer(nr)) {
    AppendHex(out, static_cast<uint64_t>(ret));
  } else if (nr == __NR_umask) {
    AppendOct(out, static_cast<uint64_t>(ret));  // the previous mask
  } else {
    AppendDec(out, ret);
  }
}

// ---- Output.

// Where the log goes: stderr (a line per write, so it interleaves sanely with the program's own
// stderr) or a file (batched whole lines). Write errors are dropped: tracing must not stop the
// program.
class LogWriter {
 public:
  ~LogWriter() {
    Flush();
    if (fd_ > 2) close(fd_);
  }

  bool Open(const std::string& path, std::string* error) {
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      *error = "output=" + path + ": " + strerror(errno);
      return false;
    }
    Flush();
    if (fd_ > 2) close(fd_);
    fd_ = fd;
    per_line_ = false;
    return true;
  }

  // `line` ends with '\n'.
  void Write(std::string_view line) {
    if (per_line_) {
      WriteAll(line.data(), line.size());
      return;
    }
    buf_.append(line);
    if (buf_.size() >= kFileFlushAt) Flush();
  }

  void Flush() {
    WriteAll(buf_.data(), buf_.size());
    buf_.clear();
  }

 private:
  void WriteAll(const char* p, size_t n) {
    while (n > 0) {
      ssize_t w = write(fd_, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return;
      p += w;
      n -= static_cast<size_t>(w);
    }
  }

  int fd_ = 2;
  bool per_line_ = true;
  std::string buf_;
};

// ---- The plugin.

// A call of one thread between its entry and its exit. Everything but an output buffer is
// decoded at entry: at exit the arguments may point to memory that has changed (execve replaces
// the whole address space) or to scratch memory an inner plugin reused.
struct Pending {
  bool active = false;
  pid_t pid = 0;  // thread group, for execve in a non-leader thread
  int nr = -1;
  std::string text;                      // "[pid N] name(args)" without the output buffer
  size_t outbuf_at = std::string::npos;  // where the kOutBuf argument goes into `text`
  int outbuf_arg = -1;
};

class Umtrace final : public umview::Plugin {
 public:
  bool Init(umview::Host& host, const umview::Options& options, std::string* error) override {
    bool filtered = false;
    for (const umview::Option& o : options) {
      if (o.key == "output") {
        if (!o.has_value) {
          *error = "output needs a file name (output=FILE)";
          return false;
        }
        if (!out_.Open(o.value, error)) return false;
      } else if (o.key == "filter") {
        if (!o.has_value || o.value.empty()) {
          *error = "filter needs system call names (filter=NAME+NAME, or filter=none)";
          return false;
        }
        filtered = true;
        if (o.value == "none") continue;
        // '+' separates names: ',' already separates plugin options.
        std::string_view list = o.value;
        while (!list.empty()) {
          size_t plus = list.find('+');
          std::string_view name = list.substr(0, plus);
          int nr = umview::SyscallByName(name);
          if (nr < 0) {
            *error = "filter: unknown system call '" + std::string(name) + "'";
            return false;
          }
          host.ClaimSyscall(nr);
          list = plus == std::string_view::npos ? std::string_view() : list.substr(plus + 1);
        }
      } else {
        *error = "unknown option '" + o.key + "' (expected output, filter)";
        return false;
      }
    }
    if (!filtered) host.ClaimAllSyscalls();
    return true;
  }

  void OnEntry(Call& call) override {
    const int nr = call.nr();
    if (nr == __NR_exit || nr == __NR_exit_group) {
      // They never return: no exit stop will come, so the line is written now.
      line_.clear();
      FormatEntry(call, line_, nullptr);
      line_ += " = ?\n";
      out_.Write(line_);
      return;
    }
    Pending& p = pending_[call.tid()];
    if (p.active) Abandon(p);  // its exit never came (should not happen)
    p.pid = call.pid();
    p.nr = nr;
    FormatEntry(call, p.text, &p);
    p.active = true;
    call.RequestExit();
  }

  void OnExit(Call& call) override {
    auto it = pending_.find(call.tid());
    if (it == pending_.end() || !it->second.active || it->second.nr != call.nr()) {
      // No matching entry record (the core lost track of this thread's call): decode all now.
      if (it != pending_.end() && it->second.active) Abandon(it->second);
      Pending fresh;
      FormatEntry(call, fresh.text, &fresh);
      Finish(call, fresh);
      return;
    }
    Finish(call, it->second);
  }

  void OnTaskExit(pid_t tid, int wait_status) override {
    (void)wait_status;
    auto it = pending_.find(tid);
    if (it == pending_.end()) return;
    if (it->second.active) Abandon(it->second);  // killed inside a call
    pending_.erase(it);
  }

  void OnExec(pid_t pid, pid_t former_tid) override {
    if (former_tid == pid) return;
    // An execve in a non-leader thread: the thread takes the leader's tid, and the leader
    // vanishes without an exit report. Close the leader's unfinished call and move the execve
    // record to the new tid so the exit finds it.
    auto leader = pending_.find(pid);
    if (leader != pending_.end()) {
      if (leader->second.active) Abandon(leader->second);
      pending_.erase(leader);
    }
    auto it = pending_.find(former_tid);
    if (it == pending_.end()) return;
    Pending moved = std::move(it->second);
    pending_.erase(it);
    pending_[pid] = std::move(moved);
  }

  void OnShutdown() override {
    for (auto& [tid, p] : pending_) {
      if (p.active) Abandon(p);
    }
    pending_.clear();
    out_.Flush();
  }

 private:
  // Writes "[pid TID] name(args)" into `s`. With `p`, an output buffer argument is left out and
  // its place recorded, to be decoded at exit; without, it is shown as an address.
  void FormatEntry(Call& call, std::string& s, Pending* p) {
    s.clear();
    if (p != nullptr) {
      p->outbuf_at = std::string::npos;
      p->outbuf_arg = -1;
    }
    s += "[pid ";
    AppendDec(s, call.tid());
    s += "] ";
    const SyscallInfo* info = call.info();
    if (info == nullptr) {
      s += "syscall_";
      AppendDec(s, call.nr());
      s += '(';
      for (int i = 0; i < 6; ++i) {
        if (i > 0) s += ", ";
        AppendHex(s, call.arg(i));
      }
      s += ')';
      return;
    }
    s += info->name;
    s += '(';
    for (int i = 0; i < info->nargs; ++i) {
      const Arg kind = info->args[i];
      // open(at)/mq_open take a mode only with O_CREAT or O_TMPFILE; strace omits it otherwise.
      if (kind == Arg::kMode && i > 0 && info->args[i - 1] == Arg::kOpenFlags &&
          (call.arg(i - 1) & O_CREAT) == 0 && (call.arg(i - 1) & O_TMPFILE) != O_TMPFILE) {
        break;
      }
      if (i > 0) s += ", ";
      if (kind == Arg::kOutBuf && p != nullptr) {
        p->outbuf_at = s.size();
        p->outbuf_arg = i;
        continue;
      }
      AppendArg(call, *info, i, s);
    }
    s += ')';
  }

  void AppendArg(Call& call, const SyscallInfo& info, int i, std::string& s) {
    const uint64_t v = call.arg(i);
    switch (info.args[i]) {
      case Arg::kNone:
      case Arg::kHex:
      case Arg::kOutBuf:  // at entry or without a result: only the address means something
        AppendHex(s, v);
        return;
      case Arg::kInt:
        AppendDec(s, static_cast<int64_t>(v));
        return;
      case Arg::kUInt:
        AppendUDec(s, v);
        return;
      case Arg::kFd:
      case Arg::kPid:
        AppendDec(s, static_cast<int32_t>(v));  // an int in the kernel: upper half ignored
        return;
      case Arg::kDirFd:
        if (static_cast<int32_t>(v) == AT_FDCWD) {
          s += "AT_FDCWD";
        } else {
          AppendDec(s, static_cast<int32_t>(v));
        }
        return;
      case Arg::kPath:
      case Arg::kString:
        AppendString(call, v, s);
        return;
      case Arg::kOpenFlags:
        // pipe2 and dup3 take only O_CLOEXEC/O_NONBLOCK/O_DIRECT: no access mode to show.
        AppendOpenFlags(s, v, info.nr != __NR_pipe2 && info.nr != __NR_dup3);
        return;
      case Arg::kMode:
        AppendOct(s, v & 0xffffffffu);
        return;
      case Arg::kAtFlags:
        AppendFlags(s, v & 0xffffffffu, kAtFlags, std::size(kAtFlags), false, 0x200,
                    info.nr == __NR_faccessat2 ? "AT_EACCESS" : nullptr);
        return;
      case Arg::kInBuf:
        AppendBuffer(call, v, i + 1 < 6 ? call.arg(i + 1) : kMaxBuf, s);
        return;
      case Arg::kSigno:
        AppendSigno(s, static_cast<int32_t>(v));
        return;
      case Arg::kArgv:
        AppendArgv(call, v, s);
        return;
      case Arg::kSockaddr:
        AppendSockaddr(call, v, i + 1 < 6 ? call.arg(i + 1) : 0, s);
        return;
    }
    AppendHex(s, v);
  }

  // A NUL-terminated string in the tracee, quoted; its address if unreadable.
  void AppendString(Call& call, uint64_t addr, std::string& s) {
    if (addr == 0) {
      s += "NULL";
      return;
    }
    int64_t r = call.ReadString(RemotePtr<char>(addr), &str_, kMaxString + 1);
    if (r >= 0) {
      AppendQuoted(s, str_.data(), str_.size());
    } else if (r == -ENAMETOOLONG && str_.size() >= kMaxString) {
      AppendQuoted(s, str_.data(), kMaxString);
      s += "...";
    } else {
      AppendHex(s, addr);
    }
  }

  // The first kMaxBuf of `len` bytes at `addr`, quoted; "..." when there are more.
  void AppendBuffer(Call& call, uint64_t addr, uint64_t len, std::string& s) {
    char buf[kMaxBuf];
    const size_t shown = static_cast<size_t>(std::min<uint64_t>(len, kMaxBuf));
    if (addr == 0 && len != 0) {
      s += "NULL";
      return;
    }
    if (call.Read(RemotePtr<void>(addr), buf, shown) != 0) {
      AppendHex(s, addr);
      return;
    }
    AppendQuoted(s, buf, shown);
    if (len > kMaxBuf) s += "...";
  }

  void AppendArgv(Call& call, uint64_t addr, std::string& s) {
    if (addr == 0) {
      s += "NULL";
      return;
    }
    const size_t start = s.size();
    s += '[';
    for (size_t k = 0;; ++k) {
      uint64_t ptr = 0;
      if (call.Read(RemotePtr<void>(addr + 8 * k), &ptr, sizeof ptr) != 0) {
        if (k == 0) {  // not even the first entry: show the address, as for any bad pointer
          s.resize(start);
          AppendHex(s, addr);
          return;
        }
        s += ", ...";
        break;
      }
      if (ptr == 0) break;
      if (k > 0) s += ", ";
      if (k == kMaxArgv) {
        s += "...";
        break;
      }
      AppendString(call, ptr, s);
    }
    s += ']';
  }

  void AppendSockaddr(Call& call, uint64_t addr, uint64_t len, std::string& s) {
    if (addr == 0) {
      s += "NULL";
      return;
    }
    sockaddr_storage ss{};
    const size_t n = static_cast<size_t>(std::min<uint64_t>(len, sizeof ss));
    if (n < sizeof(sa_family_t) || call.Read(RemotePtr<void>(addr), &ss, n) != 0) {
      AppendHex(s, addr);
      return;
    }
    char text[INET6_ADDRSTRLEN];
    switch (ss.ss_family) {
      case AF_UNIX: {
        const auto* un = reinterpret_cast<const sockaddr_un*>(&ss);
        size_t plen = n - offsetof(sockaddr_un, sun_path);
        s += "{sa_family=AF_UNIX, sun_path=";
        if (plen > 0 && un->sun_path[0] == '\0') {
          s += '@';  // abstract socket: a name of plen-1 bytes after the NUL
          AppendQuoted(s, un->sun_path + 1, plen - 1);
        } else {
          AppendQuoted(s, un->sun_path, strnlen(un->sun_path, plen));
        }
        s += '}';
        return;
      }
      case AF_INET: {
        const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
        s += "{sa_family=AF_INET, sin_port=htons(";
        AppendDec(s, ntohs(in->sin_port));
        s += "), sin_addr=inet_addr(\"";
        s += inet_ntop(AF_INET, &in->sin_addr, text, sizeof text) ? text : "?";
        s += "\")}";
        return;
      }
      case AF_INET6: {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
        s += "{sa_family=AF_INET6, sin6_port=htons(";
        AppendDec(s, ntohs(in6->sin6_port));
        s += "), sin6_addr=\"";
        s += inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text) ? text : "?";
        s += "\"}";
        return;
      }
    }
    s += "{sa_family=";
    AppendDec(s, ss.ss_family);
    s += ", ...}";
  }

  // Writes the line of a call whose exit arrived.
  void Finish(Call& call, Pending& p) {
    const int64_t ret = call.result();
    line_.clear();
    if (p.outbuf_at == std::string::npos) {
      line_ += p.text;
    } else {
      line_.append(p.text, 0, p.outbuf_at);
      const uint64_t addr = call.arg(p.outbuf_arg);
      if (ret < 0) {
        AppendHex(line_, addr);  // nothing was written
      } else {
        // What the call wrote: `ret` bytes, at most the buffer length that follows it.
        uint64_t len = p.outbuf_arg + 1 < 6 ? call.arg(p.outbuf_arg + 1) : ret;
        AppendBuffer(call, addr, std::min<uint64_t>(static_cast<uint64_t>(ret), len), line_);
      }
      line_.append(p.text, p.outbuf_at);
    }
    line_ += " = ";
    AppendResult(line_, p.nr, ret);
    line_ += '\n';
    out_.Write(line_);
    p.active = false;
  }

  // Writes the line of a call whose exit will never come (thread killed inside it).
  void Abandon(Pending& p) {
    line_.clear();
    if (p.outbuf_at == std::string::npos) {
      line_ += p.text;
    } else {
      line_.append(p.text, 0, p.outbuf_at);
      line_ += '?';
      line_.append(p.text, p.outbuf_at);
    }
    line_ += " = ?\n";
    out_.Write(line_);
    p.active = false;
  }

  LogWriter out_;
  std::unordered_map<pid_t, Pending> pending_;
  std::string line_;  // the line being written; reused
  std::string str_;   // a string read from the tracee; reused
};

}  // namespace

UMVIEW_PLUGIN(Umtrace, "umtrace", "strace-like log of system calls (output=FILE, filter=A+B)")
