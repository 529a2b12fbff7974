// Interface views for umnet: which network interfaces a view may see (only `lo` in
// mode=loopback, none at all in mode=none), applied to NETLINK_ROUTE replies and to the
// SIOCGIF* ioctls.
#pragma once

#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "umview/plugin.h"

namespace umnet {

// The ioctl requests that name an interface in a struct ifreq (by name, or by index for
// SIOCGIFNAME), plus SIOCGIFCONF; umnet claims ioctl for exactly these numbers.
const std::vector<unsigned long>& InterfaceIoctls();

class InterfaceView {
 public:
  // show_loopback: the host's `lo` is visible (mode=loopback); otherwise nothing is.
  explicit InterfaceView(bool show_loopback);
  ~InterfaceView();
  InterfaceView(const InterfaceView&) = delete;
  InterfaceView& operator=(const InterfaceView&) = delete;

  bool Visible(int ifindex) const { return lo_index_ > 0 && ifindex == lo_index_; }
  bool VisibleName(std::string_view name) const { return lo_index_ > 0 && name == "lo"; }

  // One batch (a datagram) of NETLINK_ROUTE replies the kernel sent umnet's helper socket:
  // the messages about interfaces the view does not have are dropped, and every nlmsg_pid
  // becomes `portid` (the tracee socket's address). *dropped is set when a message was dropped.
  std::string FilterReplies(const char* data, size_t len, uint32_t portid, bool* dropped) const;

  // An ioctl from InterfaceIoctls() on a real socket of the tracee, at entry: completes
  // SIOCGIFCONF (visible interfaces only) and refuses a request naming an interface the view
  // lacks with ENODEV; otherwise the kernel answers.
  void OnIoctl(umview::Call& call) const;
  // The same ioctl on an emulated socket (the tracee has no real one): performed by umnet.
  int64_t Emulate(umview::Call& call, unsigned long request, uint64_t arg) const;

 private:
  bool KeepMessage(const nlmsghdr* h) const;
  // 0 when the interface named (or indexed) by the tracee's ifreq at `arg` is visible,
  // else -ENODEV (-EFAULT if unreadable).
  int CheckIfreq(umview::Call& call, unsigned long request, uint64_t arg) const;
  int64_t Ifconf(umview::Call& call, uint64_t arg) const;

  int lo_index_ = 0;   // 0 when lo is not visible
  int ioctl_fd_ = -1;  // umnet's own socket for interface ioctls
};

}  // namespace umnet
