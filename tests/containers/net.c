/* Networking through WAMR's socket extension, one mode per run (argv[1]):
 *   echo-server 4|6        bind loopback:0, print port=N, poll+accept one client, echo until EOF
 *   client 4|6 PORT MSG    connect to loopback:PORT, send MSG, print reply=...
 *   udp-echo               bind 127.0.0.1:0 UDP, print port=N, recv_from one datagram, send it back upper-cased
 *   resolve NAME           print each address of NAME (hints: TCP, IPv4)
 *   connect4 PORT          connect to 127.0.0.1:PORT and print connect=<errno> (no other traffic)
 *   options                set/get a few options and print them
 * Every failure prints "<step>=<WASI errno>" and exits 1. */
#include <ctype.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "wasi_socket.h"

#define CHECK(step, call)                                                                          \
    do {                                                                                           \
        int32_t err_ = (call);                                                                     \
        if (err_ != 0) {                                                                           \
            printf("%s=%d\n", step, (int)err_);                                                    \
            fflush(stdout);                                                                        \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

static void loopback(wamr_addr_t *a, int v6, uint16_t port) {
    memset(a, 0, sizeof *a);
    if (v6) {
        a->kind = 1;
        a->addr.ip6.addr.h3 = 1; /* ::1 */
        a->addr.ip6.port = port;
    } else {
        a->kind = 0;
        a->addr.ip4.addr.n0 = 127;
        a->addr.ip4.addr.n3 = 1;
        a->addr.ip4.port = port;
    }
}

static uint16_t port_of(const wamr_addr_t *a) { return a->kind ? a->addr.ip6.port : a->addr.ip4.port; }

static int echo_server(int v6) {
    uint32_t fd, conn;
    wamr_addr_t addr;
    loopback(&addr, v6, 0);
    CHECK("open", wamr_sock_open(-1, v6, 1, &fd));
    CHECK("reuse", wamr_sock_set_reuse_addr(fd, 1));
    CHECK("bind", wamr_sock_bind(fd, &addr));
    CHECK("listen", wamr_sock_listen(fd, 4));
    CHECK("local", wamr_sock_addr_local(fd, &addr));
    printf("port=%u\n", port_of(&addr));
    fflush(stdout);
    struct pollfd p = {.fd = (int)fd, .events = POLLIN};
    int n = poll(&p, 1, 20000);
    printf("poll=%d revents=%d\n", n, p.revents & POLLIN ? 1 : 0);
    CHECK("accept", __wasi_sock_accept(fd, 0, &conn));
    CHECK("remote", wamr_sock_addr_remote(conn, &addr));
    printf("peer_kind=%u\n", addr.kind);
    char buf[256];
    ssize_t got;
    size_t total = 0;
    while ((got = read((int)conn, buf, sizeof buf)) > 0) { /* fd_read on a socket fd */
        if (write((int)conn, buf, (size_t)got) != got) {   /* fd_write on a socket fd */
            printf("write failed\n");
            return 1;
        }
        total += (size_t)got;
    }
    printf("echoed=%zu\n", total);
    close((int)conn);
    close((int)fd);
    return 0;
}

static int client(int v6, uint16_t port, const char *msg) {
    uint32_t fd, sent, got;
    wamr_addr_t addr;
    loopback(&addr, v6, port);
    CHECK("open", wamr_sock_open(-1, v6, 1, &fd));
    CHECK("connect", wamr_sock_connect(fd, &addr));
    __wasi_ciovec_t out = {(const uint8_t *)msg, strlen(msg)};
    CHECK("send", __wasi_sock_send(fd, &out, 1, 0, &sent));
    char buf[256];
    size_t total = 0;
    while (total < sent) {
        __wasi_iovec_t in = {(uint8_t *)buf + total, sizeof buf - 1 - total};
        __wasi_roflags_t flags;
        CHECK("recv", __wasi_sock_recv(fd, &in, 1, 0, &got, &flags));
        if (got == 0)
            break;
        total += got;
    }
    buf[total] = 0;
    printf("reply=%s\n", buf);
    CHECK("shutdown", __wasi_sock_shutdown(fd, __WASI_SDFLAGS_WR));
    close((int)fd);
    return 0;
}

static int udp_echo(void) {
    uint32_t fd, got, sent;
    wamr_addr_t addr, from;
    loopback(&addr, 0, 0);
    CHECK("open", wamr_sock_open(-1, 0, 0, &fd));
    CHECK("bind", wamr_sock_bind(fd, &addr));
    CHECK("local", wamr_sock_addr_local(fd, &addr));
    printf("port=%u\n", addr.addr.ip4.port);
    fflush(stdout);
    char buf[256];
    __wasi_iovec_t in = {(uint8_t *)buf, sizeof buf};
    CHECK("recv_from", wamr_sock_recv_from(fd, &in, 1, 0, &from, &got));
    printf("from=%u.%u.%u.%u:%u len=%u\n", from.addr.ip4.addr.n0, from.addr.ip4.addr.n1,
           from.addr.ip4.addr.n2, from.addr.ip4.addr.n3, from.addr.ip4.port, got);
    for (uint32_t i = 0; i < got; i++)
        buf[i] = (char)toupper((unsigned char)buf[i]);
    __wasi_ciovec_t out = {(const uint8_t *)buf, got};
    CHECK("send_to", wamr_sock_send_to(fd, &out, 1, 0, &from, &sent));
    printf("sent=%u\n", sent);
    close((int)fd);
    return 0;
}

static int resolve(const char *name) {
    wamr_addr_info_hints_t hints = {.type = 1, .family = 0, .hints_enabled = 1};
    wamr_addr_info_t info[4];
    uint32_t max = 0;
    CHECK("resolve", wamr_sock_addr_resolve(name, "", &hints, info, 4, &max));
    printf("count=%u\n", max);
    for (uint32_t i = 0; i < max && i < 4; i++) {
        wamr_ip4_t a = info[i].addr.addr.ip4.addr;
        printf("addr=%u.%u.%u.%u kind=%u type=%d\n", a.n0, a.n1, a.n2, a.n3, info[i].addr.kind,
               (int)info[i].type);
    }
    return 0;
}

static int connect4(uint16_t port) {
    uint32_t fd;
    wamr_addr_t addr;
    loopback(&addr, 0, port);
    CHECK("open", wamr_sock_open(-1, 0, 1, &fd));
    printf("connect=%d\n", (int)wamr_sock_connect(fd, &addr));
    printf("bind=%d\n", (int)wamr_sock_bind(fd, &addr));
    printf("listen=%d\n", (int)wamr_sock_listen(fd, 1));
    printf("close=%d\n", close((int)fd));
    return 0;
}

static int options(void) {
    uint32_t fd, size = 0;
    uint8_t on = 0, nodelay = 0;
    uint64_t us = 0;
    CHECK("open", wamr_sock_open(-1, 0, 1, &fd));
    CHECK("set_reuse", wamr_sock_set_reuse_addr(fd, 1));
    CHECK("get_reuse", wamr_sock_get_reuse_addr(fd, &on));
    CHECK("set_nodelay", wamr_sock_set_tcp_no_delay(fd, 1));
    CHECK("get_nodelay", wamr_sock_get_tcp_no_delay(fd, &nodelay));
    CHECK("set_timeout", wamr_sock_set_recv_timeout(fd, 1500000));
    CHECK("get_timeout", wamr_sock_get_recv_timeout(fd, &us));
    CHECK("get_rcvbuf", wamr_sock_get_recv_buf_size(fd, &size));
    printf("reuse=%u nodelay=%u timeout=%llu rcvbuf_positive=%d\n", on, nodelay,
           (unsigned long long)us, size > 0);
    printf("ipv6_only_on_v4=%d\n", (int)wamr_sock_set_ipv6_only(fd, 1));
    printf("bad_fd=%d\n", (int)wamr_sock_set_reuse_addr(12345, 1));
    close((int)fd);
    return 0;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "echo-server") && argc > 2)
        return echo_server(argv[2][0] == '6');
    if (!strcmp(mode, "client") && argc > 4)
        return client(argv[2][0] == '6', (uint16_t)atoi(argv[3]), argv[4]);
    if (!strcmp(mode, "udp-echo"))
        return udp_echo();
    if (!strcmp(mode, "resolve") && argc > 2)
        return resolve(argv[2]);
    if (!strcmp(mode, "connect4") && argc > 2)
        return connect4((uint16_t)atoi(argv[2]));
    if (!strcmp(mode, "options"))
        return options();
    printf("usage: net MODE ...\n");
    return 2;
}
