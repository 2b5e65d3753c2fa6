#pragma once
// The two small systemd protocols, spoken natively (libsystemd would map several more shared
// libraries into a process whose headline is memory): sd_notify's datagram to $NOTIFY_SOCKET,
// and socket activation's LISTEN_FDS/LISTEN_PID. w2pserve's own in-place reload passes its
// listening sockets to the new image the same way.

#include <chrono>
#include <string_view>
#include <vector>

namespace w2p::server::systemd {

// Sends "READY=1", "RELOADING=1", "STOPPING=1", "WATCHDOG=1", "STATUS=..." (several lines
// allowed). No-op without $NOTIFY_SOCKET. Returns false when sending failed.
bool notify(std::string_view state);

// The watchdog interval systemd expects pings at ($WATCHDOG_USEC for this process), or zero.
std::chrono::microseconds watchdog_interval();

// Listening sockets passed to this process (fds 3, 4, ... when LISTEN_PID is our pid). The
// variables are removed so that child processes do not see them. Each fd gets FD_CLOEXEC.
std::vector<int> take_listen_fds();

// Makes `fds` the sockets the next image of this process finds (moved to 3, 4, ..., without
// FD_CLOEXEC), and sets LISTEN_FDS/LISTEN_PID for it. Returns false on failure.
bool pass_listen_fds(const std::vector<int>& fds);

}  // namespace w2p::server::systemd
