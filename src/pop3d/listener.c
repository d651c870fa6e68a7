/*
 * listener.c - the master's listening sockets: parses a listen,
 * listen_tls, listen_proxy or listen_tls_proxy address ("ADDR:PORT",
 * "[V6]:PORT", "*:PORT"), binds it
 * (non-blocking, close-on-exec, v6-only unless "*"), and carries the
 * sockets of unchanged addresses over a reload (metrics_http.c binds
 * metrics_listen the same way).  Runs in pop3d's master,
 * as root, before the children that inherit the sockets start.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "listener.h"
#include "log.h"
#include "xmalloc.h"

int
listener_bind(const char *spec, struct listener *l)
{
	struct addrinfo		 hints, *res = NULL;
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	char			 host[256], port[16], hbuf[NI_MAXHOST],
				 pbuf[NI_MAXSERV];
	const char		*colon;
	int			 fd = -1, on = 1, off = 0, e, wildcard;
	size_t			 hl;

	/* config_load checked the shape: "[V6]:PORT" or "HOST:PORT". */
	if (spec[0] == '[') {
		colon = strchr(spec, ']') + 1;
		hl = (size_t)(colon - spec - 2);
	} else {
		colon = strrchr(spec, ':');
		hl = (size_t)(colon - spec);
	}
	if (hl >= sizeof(host)) {
		log_err("listen %s: address too long", spec);
		return -1;
	}
	memcpy(host, spec[0] == '[' ? spec + 1 : spec, hl);
	host[hl] = '\0';
	snprintf(port, sizeof(port), "%s", colon + 1);
	/* "*" is every address: IPv6 dual-stack, or IPv4 on hosts without v6. */
	wildcard = strcmp(host, "*") == 0;
	if (wildcard)
		snprintf(host, sizeof(host), "::");
again:
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (strcmp(host, "localhost") != 0)
		hints.ai_flags |= AI_NUMERICHOST;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
		log_err("listen %s: %s", spec, gai_strerror(e));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1 && wildcard && errno == EAFNOSUPPORT) {
		freeaddrinfo(res);
		res = NULL;
		wildcard = 0;
		snprintf(host, sizeof(host), "0.0.0.0");
		goto again;
	}
	if (fd == -1)
		goto fail;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	/* An explicit v6 address is v6 only, so "0.0.0.0:P" can coexist. */
	if (res->ai_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
		    wildcard ? &off : &on, sizeof(on));
	if (bind(fd, res->ai_addr, res->ai_addrlen) == -1 ||
	    listen(fd, 1024) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) == -1)
		goto fail;
	freeaddrinfo(res);
	getnameinfo((struct sockaddr *)&ss, sl, hbuf, sizeof(hbuf), pbuf,
	    sizeof(pbuf), NI_NUMERICHOST | NI_NUMERICSERV);
	memset(l, 0, sizeof(*l));
	l->fd = fd;
	l->spec = xstrdup(spec);
	snprintf(l->addr, sizeof(l->addr), ss.ss_family == AF_INET6 ?
	    "[%s]:%s" : "%s:%s", hbuf, pbuf);
	return 0;
fail:
	log_err("listen %s: %s", spec, strerror(errno));
	if (fd != -1)
		close(fd);
	freeaddrinfo(res);
	return -1;
}

static int
bind_one(const char *spec, int is_tls, int proxy, struct listener *l)
{
	if (listener_bind(spec, l) == -1)
		return -1;
	l->tls = is_tls;
	l->proxy = proxy;
	log_info("listen addr=%s tls=%s proxy=%s", l->addr,
	    is_tls ? "implicit" : "starttls", proxy ? "yes" : "no");
	return 0;
}

/*
 * The socket of old for spec (the same kind first: with port 0, several
 * kinds may share a spec; then any kind: a reload may move an address
 * from listen to listen_proxy or back), or nold.
 */
static size_t
old_match(const struct listener *old, size_t nold, const char *spec,
    int is_tls, int proxy, int any_kind)
{
	size_t	k;

	for (k = 0; k < nold; k++)
		if (old[k].fd != -1 && strcmp(old[k].spec, spec) == 0 &&
		    (any_kind || (old[k].tls == is_tls &&
		    old[k].proxy == proxy)))
			break;
	return k;
}

int
listener_bind_all(const struct config *c, struct listener *old,
    size_t nold, struct listener **out, size_t *nout)
{
	struct listener	*v;
	size_t		*from;	/* index in old + 1; 0: bound here */
	size_t		 i, k, j, total, pass;
	int		 is_tls, proxy;
	const char	*spec;
	/* The four lists: plain, implicit TLS, each with a PROXY header. */
	const struct conf_list	*lists[4] = { &c->listen, &c->listen_tls,
				    &c->listen_proxy, &c->listen_tls_proxy };

	total = lists[0]->n + lists[1]->n + lists[2]->n + lists[3]->n;
	v = xcalloc(total, sizeof(*v));
	from = xcalloc(total, sizeof(*from));
	for (i = 0; i < total; i++)
		v[i].fd = -1;
	/* Pass 0 and 1 move sockets over (same kind, then any); 2 binds. */
	for (pass = 0; pass < 3; pass++)
		for (i = 0; i < total; i++) {
			if (v[i].fd != -1)
				continue;
			for (j = 0, k = i; k >= lists[j]->n; j++)
				k -= lists[j]->n;
			spec = lists[j]->v[k];
			is_tls = j == 1 || j == 3;
			proxy = j >= 2;
			if (pass < 2 && (k = old_match(old, nold, spec, is_tls,
			    proxy, pass == 1)) < nold) {
				v[i] = old[k];
				v[i].spec = xstrdup(spec);
				if (v[i].tls != is_tls || v[i].proxy != proxy)
					log_info("listen addr=%s tls=%s "
					    "proxy=%s (was tls=%s proxy=%s)",
					    v[i].addr, is_tls ? "implicit" :
					    "starttls", proxy ? "yes" : "no",
					    v[i].tls ? "implicit" : "starttls",
					    v[i].proxy ? "yes" : "no");
				v[i].tls = is_tls;
				v[i].proxy = proxy;
				old[k].fd = -1;	/* moved */
				from[i] = k + 1;
				continue;
			}
			if (pass == 2 &&
			    bind_one(spec, is_tls, proxy, &v[i]) == -1)
				goto fail;
		}
	free(from);
	*out = v;
	*nout = total;
	return 0;
 fail:
	/* The running set stays whole: what was moved goes back, what was
	   bound here is closed. */
	for (k = 0; k < total; k++) {
		if (from[k] != 0)
			old[from[k] - 1].fd = v[k].fd;
		else if (v[k].fd != -1)
			close(v[k].fd);
		free(v[k].spec);
	}
	free(from);
	free(v);
	return -1;
}

void
listener_free_all(struct listener *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (v[i].fd != -1)
			close(v[i].fd);
		free(v[i].spec);
	}
	free(v);
}
