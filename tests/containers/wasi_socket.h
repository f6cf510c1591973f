/* The guest side of WAMR's socket extension (lib-socket/inc/wasi_socket_ext.h): the structs and
 * the imports, declared here because wasi-libc ships neither. */
#ifndef TEST_WASI_SOCKET_H
#define TEST_WASI_SOCKET_H
#include <stdint.h>
#include <wasi/api.h>

typedef struct { uint8_t n0, n1, n2, n3; } wamr_ip4_t;
typedef struct { wamr_ip4_t addr; uint16_t port; } wamr_ip4_port_t;
typedef struct { uint16_t n0, n1, n2, n3, h0, h1, h2, h3; } wamr_ip6_t;
typedef struct { wamr_ip6_t addr; uint16_t port; } wamr_ip6_port_t;
typedef struct {
    uint32_t kind; /* IPv4 = 0, IPv6 = 1 */
    union { wamr_ip4_port_t ip4; wamr_ip6_port_t ip6; } addr;
} wamr_addr_t;
typedef struct { wamr_addr_t addr; int32_t type; } wamr_addr_info_t;
typedef struct { int32_t type; int32_t family; uint8_t hints_enabled; } wamr_addr_info_hints_t;

_Static_assert(sizeof(wamr_addr_t) == 24, "__wasi_addr_t");
_Static_assert(sizeof(wamr_addr_info_t) == 28, "__wasi_addr_info_t");
_Static_assert(sizeof(wamr_addr_info_hints_t) == 12, "__wasi_addr_info_hints_t");

#define WAMR_IMPORT(name) __attribute__((import_module("wasi_snapshot_preview1"), import_name(name)))
WAMR_IMPORT("sock_open") int32_t wamr_sock_open(int32_t poolfd, int32_t af, int32_t socktype, uint32_t *fd);
WAMR_IMPORT("sock_bind") int32_t wamr_sock_bind(int32_t fd, wamr_addr_t *addr);
WAMR_IMPORT("sock_listen") int32_t wamr_sock_listen(int32_t fd, int32_t backlog);
WAMR_IMPORT("sock_connect") int32_t wamr_sock_connect(int32_t fd, wamr_addr_t *addr);
WAMR_IMPORT("sock_addr_local") int32_t wamr_sock_addr_local(int32_t fd, wamr_addr_t *addr);
WAMR_IMPORT("sock_addr_remote") int32_t wamr_sock_addr_remote(int32_t fd, wamr_addr_t *addr);
WAMR_IMPORT("sock_addr_resolve")
int32_t wamr_sock_addr_resolve(const char *host, const char *service, wamr_addr_info_hints_t *hints,
                               wamr_addr_info_t *info, uint32_t info_size, uint32_t *max_info_size);
WAMR_IMPORT("sock_send_to")
int32_t wamr_sock_send_to(int32_t fd, const __wasi_ciovec_t *si, uint32_t n, uint32_t flags,
                          const wamr_addr_t *dest, uint32_t *sent);
WAMR_IMPORT("sock_recv_from")
int32_t wamr_sock_recv_from(int32_t fd, __wasi_iovec_t *ri, uint32_t n, uint32_t flags,
                            wamr_addr_t *src, uint32_t *received);
WAMR_IMPORT("sock_set_reuse_addr") int32_t wamr_sock_set_reuse_addr(int32_t fd, int32_t on);
WAMR_IMPORT("sock_get_reuse_addr") int32_t wamr_sock_get_reuse_addr(int32_t fd, uint8_t *on);
WAMR_IMPORT("sock_set_recv_timeout") int32_t wamr_sock_set_recv_timeout(int32_t fd, uint64_t us);
WAMR_IMPORT("sock_get_recv_timeout") int32_t wamr_sock_get_recv_timeout(int32_t fd, uint64_t *us);
WAMR_IMPORT("sock_set_tcp_no_delay") int32_t wamr_sock_set_tcp_no_delay(int32_t fd, int32_t on);
WAMR_IMPORT("sock_get_tcp_no_delay") int32_t wamr_sock_get_tcp_no_delay(int32_t fd, uint8_t *on);
WAMR_IMPORT("sock_get_recv_buf_size") int32_t wamr_sock_get_recv_buf_size(int32_t fd, uint32_t *size);
WAMR_IMPORT("sock_set_ipv6_only") int32_t wamr_sock_set_ipv6_only(int32_t fd, int32_t on);
#endif
