// Builds the filter with libseccomp and exports the BPF so the child only needs prctl+seccomp.
#include "core/seccomp_filter.h"

#include <errno.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace umview {
namespace {

bool HaveSysAdmin() {
  // CAP_SYS_ADMIN lets us install a filter without no_new_privs, so setuid programs keep
  // working as they do outside when umview runs as root.
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) return false;
  return (data[0].effective & (1u << CAP_SYS_ADMIN)) != 0;
}

// See SeccompFilter::GuardBelow.
bool AddGuardRules(scmp_filter_ctx ctx, uint64_t end, std::string* error) {
  struct Rule {
    int nr;
    unsigned count;
    scmp_arg_cmp a, b;
  };
  const Rule rules[] = {
      {SCMP_SYS(munmap), 1, SCMP_A0(SCMP_CMP_LT, end), {}},
      {SCMP_SYS(mprotect), 1, SCMP_A0(SCMP_CMP_LT, end), {}},
      {SCMP_SYS(pkey_mprotect), 1, SCMP_A0(SCMP_CMP_LT, end), {}},
      {SCMP_SYS(madvise), 1, SCMP_A0(SCMP_CMP_LT, end), {}},
      {SCMP_SYS(mremap), 1, SCMP_A0(SCMP_CMP_LT, end), {}},
      {SCMP_SYS(mremap), 2, SCMP_A3(SCMP_CMP_MASKED_EQ, MREMAP_FIXED, MREMAP_FIXED),
       SCMP_A4(SCMP_CMP_LT, end)},
      {SCMP_SYS(mmap), 2, SCMP_A3(SCMP_CMP_MASKED_EQ, MAP_FIXED, MAP_FIXED),
       SCMP_A0(SCMP_CMP_LT, end)},
      {SCMP_SYS(shmat), 2, SCMP_A2(SCMP_CMP_MASKED_EQ, SHM_REMAP, SHM_REMAP),
       SCMP_A1(SCMP_CMP_LT, end)},
      {SCMP_SYS(userfaultfd), 0, {}, {}},
  };
  for (const Rule& r : rules) {
    int rc = r.count == 0   ? seccomp_rule_add(ctx, SCMP_ACT_TRACE(0), r.nr, 0)
             : r.count == 1 ? seccomp_rule_add(ctx, SCMP_ACT_TRACE(0), r.nr, 1, r.a)
                            : seccomp_rule_add(ctx, SCMP_ACT_TRACE(0), r.nr, 2, r.a, r.b);
    // -EEXIST: the plugin stack already traps the whole call.
    if (rc != 0 && rc != -EEXIST) {
      *error = "seccomp_rule_add(guard " + std::to_string(r.nr) + "): " + strerror(-rc);
      return false;
    }
  }
  return true;
}

// Notify for nr when argument arg has no bit of mask, else trace: one rule for the clear case
// and one per bit (libseccomp compares an argument masked, so "some bit set" is a rule each).
int AddNotifyWhenClear(scmp_filter_ctx ctx, int nr, int arg, uint64_t mask) {
  const auto a = static_cast<unsigned>(arg);
  int r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, nr, 1, SCMP_CMP(a, SCMP_CMP_MASKED_EQ, mask, 0));
  for (uint64_t bit = 1; r == 0 && bit != 0 && bit <= mask; bit <<= 1) {
    if (mask & bit) {
      r = seccomp_rule_add(ctx, SCMP_ACT_TRACE(0), nr, 1,
                           SCMP_CMP(a, SCMP_CMP_MASKED_EQ, bit, bit));
    }
  }
  return r;
}

}  // namespace

SeccompFilter::SeccompFilter(const std::vector<int>& trapped, bool trap_all, bool deny_foreign_arch,
                             const std::vector<ArgRule>& conditional)
    : trapped_(trapped),
      conditional_(conditional),
      trap_all_(trap_all),
      deny_foreign_arch_(deny_foreign_arch) {}

SeccompFilter::~SeccompFilter() = default;

bool SeccompFilter::Build(std::string* error) {
  scmp_filter_ctx ctx = seccomp_init(trap_all_ ? SCMP_ACT_TRACE(0) : SCMP_ACT_ALLOW);
  if (ctx == nullptr) {
    *error = "seccomp_init failed";
    return false;
  }
  nnp_ = !HaveSysAdmin();
  seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);  // we set no_new_privs ourselves in Install()
  seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
                   deny_foreign_arch_ ? SCMP_ACT_ERRNO(ENOSYS) : SCMP_ACT_ALLOW);
  bool ok = true;
  if (!trap_all_) {
    for (int nr : trapped_) {
      bool notify = std::find(notify_.begin(), notify_.end(), nr) != notify_.end();
      auto clear = std::find_if(notify_when_clear_.begin(), notify_when_clear_.end(),
                                [nr](const ClearRule& c) { return c.nr == nr; });
      int r = notify && clear != notify_when_clear_.end()
                  ? AddNotifyWhenClear(ctx, nr, clear->arg, clear->mask)
                  : seccomp_rule_add(ctx, notify ? SCMP_ACT_NOTIFY : SCMP_ACT_TRACE(0), nr, 0);
      if (r != 0) {
        *error = "seccomp_rule_add(" + std::to_string(nr) + "): " + strerror(-r);
        ok = false;
        break;
      }
    }
    for (int nr : watch_) {
      if (!ok || notify_.empty()) break;
      if (std::find(trapped_.begin(), trapped_.end(), nr) != trapped_.end()) continue;
      int r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, nr, 0);
      if (r != 0 && r != -EEXIST) {
        *error = "seccomp_rule_add(" + std::to_string(nr) + "): " + strerror(-r);
        ok = false;
      }
    }
    for (const ArgRule& a : conditional_) {
      if (!ok) break;
      if (std::find(trapped_.begin(), trapped_.end(), a.nr) != trapped_.end()) continue;
      int r = seccomp_rule_add(
          ctx, SCMP_ACT_TRACE(0), a.nr, 1,
          SCMP_CMP(static_cast<unsigned>(a.arg), a.equal ? SCMP_CMP_EQ : SCMP_CMP_NE, a.value));
      if (r != 0) {
        *error = "seccomp_rule_add(" + std::to_string(a.nr) + ", arg " + std::to_string(a.arg) +
                 "): " + strerror(-r);
        ok = false;
      }
    }
  }
  if (ok && !trap_all_ && guard_end_ != 0) ok = AddGuardRules(ctx, guard_end_, error);
  if (ok) {
    // Export through a memfd: libseccomp only writes BPF to a file descriptor.
    int fd = memfd_create("umview-bpf", MFD_CLOEXEC);
    if (fd < 0 || seccomp_export_bpf(ctx, fd) != 0) {
      *error = "seccomp_export_bpf failed";
      ok = false;
    } else {
      off_t size = lseek(fd, 0, SEEK_END);
      prog_.resize(size);
      if (pread(fd, prog_.data(), size, 0) != size) {
        *error = "reading exported BPF failed";
        ok = false;
      }
    }
    if (fd >= 0) close(fd);
  }
  seccomp_release(ctx);
  return ok;
}

int SeccompFilter::Install() const {
  if (nnp_ && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -errno;
  struct sock_fprog prog;
  prog.len = static_cast<unsigned short>(prog_.size() / sizeof(struct sock_filter));
  prog.filter = reinterpret_cast<struct sock_filter*>(const_cast<char*>(prog_.data()));
  // SPEC_ALLOW: programs outside a view run without the speculative-store-bypass mitigation a
  // filter would otherwise force on them (kernels with spec_store_bypass_disable=seccomp).
  // WAIT_KILLABLE_RECV: once umview has read a notification only a fatal signal interrupts the
  // wait, so a handler without SA_RESTART does not turn an open() into EINTR.
  unsigned flags = SECCOMP_FILTER_FLAG_SPEC_ALLOW;
  if (!notify_.empty())
    flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
  long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (r < 0) return -errno;
  return notify_.empty() ? 0 : static_cast<int>(r);
}

}  // namespace umview
