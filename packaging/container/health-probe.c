/*
 * The image's HEALTHCHECK: GET /health from the agent's monitoring listener, exit 0 on 200 and 1 otherwise.
 *
 *   health-probe [HOST:PORT]      (default 127.0.0.1:9810, the image's monitoring.listen)
 *
 * The image is FROM scratch: no curl or wget, no shell. The agent's own commands are fixed by its documentation,
 * so rather than a hidden mode of moda-agent this is a separate 15 KB program that only the image carries,
 * linked against the libc the image already holds (docs/containers.md, "Health"). Kubernetes needs none of it:
 * its probes call /health themselves (httpGet).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int fail(const char *what) {
    fprintf(stderr, "health-probe: %s\n", what);
    return 1;
}

int main(int argc, char **argv) {
    const char *target = argc > 1 ? argv[1] : "127.0.0.1:9810";
    char host[64];
    const char *colon = strrchr(target, ':');
    if (colon == NULL || (size_t)(colon - target) >= sizeof host) return fail("usage: health-probe [IPV4:PORT]");
    memcpy(host, target, (size_t)(colon - target));
    host[colon - target] = '\0';
    /* The image listens on 0.0.0.0; the probe asks on loopback. */
    if (strcmp(host, "0.0.0.0") == 0) strcpy(host, "127.0.0.1");

    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &address.sin_addr) != 1) return fail("not an IPv4 address");

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail("socket failed");
    /* A HEALTHCHECK has its own timeout, but a probe that never ends would still hold a process: bound it. */
    struct timeval timeout = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) return fail("no answer on the monitoring port");

    static const char request[] = "GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    if (write(fd, request, sizeof request - 1) != (ssize_t)(sizeof request - 1)) return fail("write failed");

    char reply[4096];
    size_t used = 0;
    ssize_t got;
    while (used < sizeof reply - 1 && (got = read(fd, reply + used, sizeof reply - 1 - used)) > 0) used += (size_t)got;
    reply[used] = '\0';
    close(fd);

    /* The body says why (status, delivery state, queue depth): print it for `podman healthcheck run`/inspect. */
    const char *body = strstr(reply, "\r\n\r\n");
    if (body != NULL) puts(body + 4);
    return strncmp(reply, "HTTP/1.1 200", 12) == 0 ? 0 : 1;
}
