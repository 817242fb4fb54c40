#ifndef MODA_CSYSTEMD_H
#define MODA_CSYSTEMD_H

// libsystemd's calls the daemon makes, loaded with dlopen the first time one is needed (systemd's own
// advice for optional libraries): under systemd, where the Debian package's Depends brings libsystemd0,
// they are libsystemd's; in a container, where there is no service manager to talk to, nothing is
// loaded and they answer "not under systemd". Linked instead, libsystemd and the libraries it loads
// (libcap, libgcrypt, libgpg-error, liblzma, libzstd, liblz4) were 1.4 MB of the container image's
// 21.0 MB compressed, and every start paid for loading them. The declarations are libsystemd's own.
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/// Whether libsystemd.so.0 could be loaded (loads it on first use).
int moda_sd_available(void);

/// 0 without LISTEN_FDS (nothing loaded); -ELIBACC when it is set and libsystemd is absent.
int moda_sd_listen_fds(int unset_environment);
int moda_sd_listen_fds_with_names(int unset_environment, char ***names);
int moda_sd_is_socket_unix(int fd, int type, int listening, const char *path, size_t length);
int moda_sd_is_socket(int fd, int family, int type, int listening);
/// 0 (not sent) without NOTIFY_SOCKET or libsystemd.
int moda_sd_notify(int unset_environment, const char *state);
/// 0 (no watchdog) without WATCHDOG_USEC or libsystemd.
int moda_sd_watchdog_enabled(int unset_environment, uint64_t *usec);
/// -ELIBACC when libsystemd is absent: the caller logs elsewhere.
int moda_sd_journal_sendv(const struct iovec *iov, int n);

#endif
