/* bnrt_hal.h on a host file descriptor: the master side of a pseudo-terminal,
 * or one TCP connection at a time on a loopback listening socket. */
#define _DEFAULT_SOURCE
#define _XOPEN_SOURCE 700

#include "hal_host.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bnrt_hal.h"
#include "bnrt_spec.h"

const bnrt_board_t bnrt_board = {
    "host-sim",
    1000000000u, /* clock_gettime nanoseconds */
    BNRT_COUNTER_TIME,
};

static int g_fd = -1;     /* the byte stream */
static int g_listen = -1; /* TCP mode: accept a new client when one leaves */
static uint8_t g_buf[4096];
static size_t g_have, g_next;

void host_hal_use_fd(int fd, int listen_fd)
{
    g_fd = fd;
    g_listen = listen_fd;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bnrt_hal_init(void)
{
    /* host_main() opened the descriptor already. */
}

uint32_t bnrt_hal_counter(void)
{
    return (uint32_t)now_ns();
}

uint32_t bnrt_hal_millis(void)
{
    return (uint32_t)(now_ns() / 1000000u);
}

static void reconnect(void)
{
    if (g_listen < 0)
        return;
    if (g_fd >= 0)
        close(g_fd);
    g_fd = host_accept(g_listen);
    g_have = g_next = 0;
}

int bnrt_hal_read_byte(uint8_t *byte, uint32_t timeout_ms)
{
    uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;

    while (g_next == g_have) {
        struct pollfd p;
        uint64_t now = now_ns();
        ssize_t got;
        int r;

        p.fd = g_fd;
        p.events = POLLIN;
        p.revents = 0;
        /* timeout 0 (bnrt_cmd_poll) still looks once for bytes already there */
        r = poll(&p, 1, now >= deadline ? 0 : (int)((deadline - now + 999999u) / 1000000u));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 0;
        got = read(g_fd, g_buf, sizeof g_buf);
        if (got > 0) {
            g_have = (size_t)got;
            g_next = 0;
        } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
            if (g_listen < 0) {
                /* pty: we hold the slave open, so this only happens on a real error. */
                perror("bnrt-sim: read");
                _exit(1);
            }
            reconnect();
            return 0;
        }
    }
    *byte = g_buf[g_next++];
    return 1;
}

void bnrt_hal_write(const uint8_t *data, size_t len)
{
    while (len != 0) {
        ssize_t n = write(g_fd, data, len);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return; /* the peer left: drop the answer, the read side reconnects */
        }
        data += n;
        len -= (size_t)n;
    }
}
