#include "CSystemd.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

// The functions, looked up once; all NULL when libsystemd.so.0 is not installed.
static struct {
    int (*listen_fds)(int);
    int (*listen_fds_with_names)(int, char ***);
    int (*is_socket_unix)(int, int, int, const char *, size_t);
    int (*is_socket)(int, int, int, int);
    int (*notify)(int, const char *);
    int (*watchdog_enabled)(int, uint64_t *);
    int (*journal_sendv)(const struct iovec *, int);
} sd;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded = 0;

static void load(void) {
    void *library = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) return;
    sd.listen_fds = (int (*)(int))dlsym(library, "sd_listen_fds");
    sd.listen_fds_with_names = (int (*)(int, char ***))dlsym(library, "sd_listen_fds_with_names");
    sd.is_socket_unix = (int (*)(int, int, int, const char *, size_t))dlsym(library, "sd_is_socket_unix");
    sd.is_socket = (int (*)(int, int, int, int))dlsym(library, "sd_is_socket");
    sd.notify = (int (*)(int, const char *))dlsym(library, "sd_notify");
    sd.watchdog_enabled = (int (*)(int, uint64_t *))dlsym(library, "sd_watchdog_enabled");
    sd.journal_sendv = (int (*)(const struct iovec *, int))dlsym(library, "sd_journal_sendv");
    // Every one of these has been in libsystemd0 since systemd 209; a library missing one is not libsystemd.
    loaded = sd.listen_fds && sd.listen_fds_with_names && sd.is_socket_unix && sd.is_socket
        && sd.notify && sd.watchdog_enabled && sd.journal_sendv;
    if (!loaded) dlclose(library);
}

int moda_sd_available(void) {
    pthread_once(&once, load);
    return loaded;
}

// Absent, not empty: libsystemd answers a set but malformed variable with an error, and so must we.
static int has(const char *variable) {
    return getenv(variable) != NULL;
}

int moda_sd_listen_fds(int unset_environment) {
    if (!has("LISTEN_FDS")) return 0;
    return moda_sd_available() ? sd.listen_fds(unset_environment) : -ELIBACC;
}

int moda_sd_listen_fds_with_names(int unset_environment, char ***names) {
    if (!has("LISTEN_FDS")) return 0;
    return moda_sd_available() ? sd.listen_fds_with_names(unset_environment, names) : -ELIBACC;
}

int moda_sd_is_socket_unix(int fd, int type, int listening, const char *path, size_t length) {
    return moda_sd_available() ? sd.is_socket_unix(fd, type, listening, path, length) : -ELIBACC;
}

int moda_sd_is_socket(int fd, int family, int type, int listening) {
    return moda_sd_available() ? sd.is_socket(fd, family, type, listening) : -ELIBACC;
}

int moda_sd_notify(int unset_environment, const char *state) {
    if (!has("NOTIFY_SOCKET")) return 0;
    return moda_sd_available() ? sd.notify(unset_environment, state) : 0;
}

int moda_sd_watchdog_enabled(int unset_environment, uint64_t *usec) {
    if (!has("WATCHDOG_USEC")) return 0;
    return moda_sd_available() ? sd.watchdog_enabled(unset_environment, usec) : 0;
}

int moda_sd_journal_sendv(const struct iovec *iov, int n) {
    return moda_sd_available() ? sd.journal_sendv(iov, n) : -ELIBACC;
}
