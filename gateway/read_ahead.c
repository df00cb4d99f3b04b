/*
 * read_ahead.c - keeps an HTTP/1 client connection readable while its request is being proxied.
 *
 * h2o 2.2.5's HTTP/1 server stops reading the connection when it hands a request to its handler and starts again
 * when the response is written: with nothing else to wait for on that socket, that is an epoll_ctl DEL and an ADD
 * per request, two of the six system calls a proxied request costs otherwise. It stops because the request's
 * strings (method, path, headers, body) point into the socket's input buffer, which a read could move.
 *
 * So the handler swaps in an empty buffer and keeps the socket reading into that one, with a callback that only
 * stops on end of file, an error or SL_PROXY_READ_AHEAD_MAX bytes (a client that pipelines more waits in the
 * kernel). When the request ends (the pool's dispose hook, before h2o looks at the input again) the request's
 * buffer goes back with whatever was read meanwhile appended, exactly as h2o would have read it later. The epoll
 * registration never changes: h2o's read_stop / read_start pairs fall within one loop iteration.
 *
 * Only for cleartext HTTP/1: TLS connections are left exactly as h2o runs them, and HTTP/2 reads on its own.
 * Worker thread.
 */
#include "gateway/proxy.h"

#include <string.h>

#define SL_PROXY_READ_AHEAD_MAX (64 * 1024)

/* Bytes stay in the swapped-in buffer. A closed connection or an error stops reading (h2o finds the end of file
 * again when it reads after the response), as does a full buffer. */
static void on_read_ahead(h2o_socket_t *sock, const char *err)
{
    if (err != NULL || sock->input->size >= SL_PROXY_READ_AHEAD_MAX)
        h2o_socket_read_stop(sock);
}

void sl_proxy_read_ahead_start(sl_proxy_t *p)
{
    h2o_req_t *req = p->req;
    if (req->version >= 0x200 || req->conn->callbacks->get_socket == NULL)
        return;
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    if (sock == NULL || sock->ssl != NULL || h2o_socket_is_reading(sock))
        return;
    p->client_sock = sock;
    p->client_held = sock->input;
    h2o_buffer_init(&sock->input, &h2o_socket_buffer_prototype);
    h2o_socket_read_start(sock, on_read_ahead);
}

void sl_proxy_read_ahead_end(sl_proxy_t *p)
{
    h2o_socket_t *sock = p->client_sock;
    if (sock == NULL)
        return;
    p->client_sock = NULL;
    if (sock->_cb.read == on_read_ahead)
        h2o_socket_read_stop(sock); /* h2o starts its own reader right after, in this loop iteration */
    h2o_buffer_t *ahead = sock->input;
    sock->input = p->client_held;
    p->client_held = NULL;
    if (ahead->size != 0) {
        h2o_iovec_t dst = h2o_buffer_reserve(&sock->input, ahead->size);
        if (dst.base != NULL) {
            memcpy(dst.base, ahead->bytes, ahead->size);
            sock->input->size += ahead->size;
        }
    }
    h2o_buffer_dispose(&ahead);
}
