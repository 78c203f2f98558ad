/* bnrt-sim: the firmware's command loop on this computer.
 *
 *   bnrt-sim            open a pseudo-terminal, print its path, serve on it
 *   bnrt-sim --tcp PORT listen on 127.0.0.1:PORT (0: any free port), print
 *                       socket://127.0.0.1:PORT, serve one client at a time
 *
 * The first stdout line is what a host opens with serial.serial_for_url. */
#define _DEFAULT_SOURCE
#define _XOPEN_SOURCE 700

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "bnrt_cmdloop.h"
#include "bnrt_hal.h"
#include "hal_host.h"

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static int open_pty(void)
{
    struct termios t;
    const char *path;
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    int slave;

    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0)
        die("bnrt-sim: posix_openpt");
    path = ptsname(master);
    if (path == NULL)
        die("bnrt-sim: ptsname");
    /* Holding the slave open keeps the master readable (no EIO) while no
     * host is connected; raw mode so no byte is translated or echoed. */
    slave = open(path, O_RDWR | O_NOCTTY);
    if (slave < 0 || tcgetattr(slave, &t) != 0)
        die("bnrt-sim: open pty slave");
    cfmakeraw(&t);
    if (tcsetattr(slave, TCSANOW, &t) != 0)
        die("bnrt-sim: tcsetattr");
    printf("%s\n", path);
    fflush(stdout);
    return master;
}

int host_accept(int listen_fd)
{
    int one = 1;
    int fd;

    do {
        fd = accept(listen_fd, NULL, NULL);
    } while (fd < 0);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int open_tcp(int port)
{
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        die("bnrt-sim: socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((uint16_t)port);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 1) != 0)
        die("bnrt-sim: bind/listen");
    if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0)
        die("bnrt-sim: getsockname");
    printf("socket://127.0.0.1:%u\n", (unsigned)ntohs(addr.sin_port));
    fflush(stdout);
    return fd;
}

/* --poll: serve through the non-blocking bnrt_cmd_poll(), as an application's
 * main loop would, doing its "own work" (a 200 us sleep) between polls. */
static void poll_loop(void)
{
    static bnrt_server_t server;
    const struct timespec idle = {0, 200000};

    bnrt_hal_init();
    bnrt_server_init(&server);
    for (;;) {
        if (bnrt_cmd_poll(&server) == 0)
            nanosleep(&idle, NULL);
    }
}

int main(int argc, char **argv)
{
    int use_poll = argc > 1 && strcmp(argv[argc - 1], "--poll") == 0;

    signal(SIGPIPE, SIG_IGN); /* a client leaving mid-answer is not fatal */
    argc -= use_poll;
    if (argc == 3 && strcmp(argv[1], "--tcp") == 0) {
        char *end;
        long port = strtol(argv[2], &end, 10);
        int listen_fd;
        if (*end != '\0' || port < 0 || port > 65535) {
            fprintf(stderr, "bnrt-sim: --tcp needs a port number 0..65535\n");
            return 2;
        }
        listen_fd = open_tcp((int)port);
        host_hal_use_fd(host_accept(listen_fd), listen_fd);
    } else if (argc == 1) {
        host_hal_use_fd(open_pty(), -1);
    } else {
        fprintf(stderr, "usage: bnrt-sim [--tcp PORT] [--poll]\n");
        return 2;
    }
    if (use_poll)
        poll_loop();
    bnrt_main();
    return 0;
}
