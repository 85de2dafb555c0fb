/* address.c — which address of this machine the shadows use; see
 * address.h.  A wildcard listen address cannot be advertised, so the
 * kernel is asked which local address it would use towards the schedd
 * (a UDP socket connected there sends nothing). */
#include "address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

static gboolean is_wildcard(const char *host)
{
	return !*host || g_str_equal(host, "*") || g_str_equal(host, "0.0.0.0") || g_str_equal(host, "::");
}

static gboolean is_loopback(const char *host)
{
	return g_str_has_prefix(host, "127.") || g_str_equal(host, "::1") || g_str_equal(host, "localhost");
}

static char *join_host_port(const char *host, guint16 port)
{
	return strchr(host, ':') ? g_strdup_printf("[%s]:%u", host, port) : g_strdup_printf("%s:%u", host, port);
}

/* The local address the kernel picks for traffic to @host:@port. */
static char *local_address_towards(const char *host, guint16 port, GError **error)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *res = NULL;
	char portstr[8];
	g_snprintf(portstr, sizeof portstr, "%u", port);
	int rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0) {
		kite_throw(error, KITE_ERROR_IO, "resolve %s: %s", host, gai_strerror(rc));
		return NULL;
	}
	int fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char text[INET6_ADDRSTRLEN] = "";
	gboolean ok = fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0 &&
		      getsockname(fd, (struct sockaddr *)&ss, &sl) == 0;
	if (ok) {
		const void *a = ss.ss_family == AF_INET ? (const void *)&((struct sockaddr_in *)&ss)->sin_addr
							: (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
		ok = inet_ntop(ss.ss_family, a, text, sizeof text) != NULL;
	}
	if (!ok)
		kite_throw_errno(error, "find the address of this machine that reaches %s", host);
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return ok ? g_strdup(text) : NULL;
}

char *kite_startd_contact_address(const char *listen_host, guint16 port, const char *schedd,
				  char **out_warning, GError **error)
{
	g_autofree char *schedd_host = NULL;
	guint16 schedd_port = 0;
	/* A Unix socket (or anything that is not HOST:PORT) is on this host. */
	gboolean local_schedd = strchr(schedd, '/') || !strchr(schedd, ':') ||
				!kite_parse_host_port(schedd, &schedd_host, &schedd_port, NULL) ||
				is_loopback(schedd_host);
	*out_warning = NULL;
	if (is_wildcard(listen_host)) {
		if (local_schedd)
			return join_host_port(strchr(listen_host, ':') ? "::1" : "127.0.0.1", port);
		g_autofree char *mine = local_address_towards(schedd_host, schedd_port, error);
		if (!mine) {
			g_prefix_error(error, "`listen` is a wildcard address and ");
			return NULL;
		}
		return join_host_port(mine, port);
	}
	if (is_loopback(listen_host) && !local_schedd)
		*out_warning = g_strdup_printf(
		    "shadows will be told to claim slots at %s (loopback), but the schedd is at %s: "
		    "shadows there cannot reach this startd; set `listen` to an address of this machine "
		    "that the schedd's host can reach, or to 0.0.0.0:0",
		    listen_host, schedd);
	return join_host_port(listen_host, port);
}
