/*
 * mailpath.c - the mail_path template: its check at config load, its
 * expansion for one user, and the walk that opens the result (see
 * mailpath.h for the trust split between the fixed part and the rest).
 * Library code: pop3d's job threads and pop3ctl.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "mailpath.h"

/* The value of variable c ('u' 'n' 'd' 'h') into *v, *vlen; -1 if none. */
static int
var_value(char c, const char *user, const char *home, const char **v,
    size_t *vlen)
{
	const char	*at = strrchr(user, '@');

	switch (c) {
	case 'u':
		*v = user;
		*vlen = strlen(user);
		return 0;
	case 'n':
		*v = user;
		*vlen = at != NULL ? (size_t)(at - user) : strlen(user);
		return 0;
	case 'd':
		if (at == NULL || at[1] == '\0')
			return -1;
		*v = at + 1;
		*vlen = strlen(at + 1);
		return 0;
	case 'h':
		if (home == NULL || home[0] == '\0')
			return -1;
		*v = home;
		*vlen = strlen(home);
		return 0;
	}
	return -1;
}

/* Length of the variable at t (t[0] == '%'): 2 or 3, or 0 if unknown. */
static size_t
var_len(const char *t, char *name, int *lower)
{
	size_t	i = 1;

	*lower = 0;
	if (t[i] == 'L') {
		*lower = 1;
		i++;
	}
	if (t[i] == 'u' || t[i] == 'n' || t[i] == 'd' || t[i] == 'h' ||
	    (t[i] == '%' && !*lower)) {
		*name = t[i];
		return i + 1;
	}
	return 0;
}

/*
 * Whether the template has a component that is empty ("//"), "." or
 * ".." whatever the variables hold: every login would fail.
 */
static int
literal_components_bad(const char *tmpl)
{
	const char	*p = tmpl, *e;
	size_t		 n;

	if (*p == '~')
		p++;
	else if (*p == '%')
		p += p[1] == 'L' ? 3 : 2;	/* %h, %Lh: the home */
	if (*p == '/')
		p++;
	while (*p != '\0') {
		e = strchr(p, '/');
		n = e != NULL ? (size_t)(e - p) : strlen(p);
		if ((n == 0 && e != NULL && e[1] != '\0') ||
		    (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return 1;
		if (e == NULL)
			break;
		p = e + 1;
	}
	return 0;
}

int
mailpath_check(const char *tmpl, const char **errstr)
{
	const char	*t;
	char		 name;
	int		 lower, per_user = 0;
	size_t		 n;

	if (tmpl[0] == '\0')
		return 0;
	if (tmpl[0] == '~') {
		if (tmpl[1] != '\0' && tmpl[1] != '/') {
			*errstr = "~ must be followed by / (~user is not "
			    "supported)";
			return -1;
		}
		per_user = 1;
	} else if (tmpl[0] != '/' && strncmp(tmpl, "%h", 2) != 0 &&
	    strncmp(tmpl, "%Lh", 3) != 0) {
		*errstr = "must be an absolute path, or start with ~ or %h";
		return -1;
	}
	for (t = tmpl; *t != '\0'; t++) {
		if (*t == '~' && t != tmpl) {
			*errstr = "~ is only allowed at the start";
			return -1;
		}
		if (*t != '%')
			continue;
		if ((n = var_len(t, &name, &lower)) == 0) {
			*errstr = "unknown variable: use %u, %n, %d, %h or %% "
			    "(with L for lower case, e.g. %Ln)";
			return -1;
		}
		if (name == 'u' || name == 'n' || name == 'h')
			per_user = 1;
		if (name == 'h' && t != tmpl) {
			*errstr = "%h is only allowed at the start";
			return -1;
		}
		t += n - 1;
	}
	if (!per_user) {
		*errstr = "must contain %u, %n, %h or ~ (one Maildir per user)";
		return -1;
	}
	if (literal_components_bad(tmpl)) {
		*errstr = "has an empty, \".\" or \"..\" component";
		return -1;
	}
	if (strlen(tmpl) >= POP3_PATH_MAX) {
		*errstr = "too long";
		return -1;
	}
	return 0;
}

int
mailpath_uses_home(const char *tmpl)
{
	const char	*t;
	char		 name;
	int		 lower;
	size_t		 n;

	if (tmpl[0] == '~')
		return 1;
	for (t = tmpl; *t != '\0'; t++)
		if (*t == '%' && (n = var_len(t, &name, &lower)) != 0) {
			if (name == 'h')
				return 1;
			t += n - 1;
		}
	return 0;
}

/* Appends len bytes of s (lower-cased if lower) at mp->path + *o. */
static int
put(struct mailpath *mp, size_t *o, const char *s, size_t len, int lower)
{
	size_t	i;

	if (len >= sizeof(mp->path) - *o)
		return -1;
	for (i = 0; i < len; i++)
		mp->path[(*o)++] = lower ?
		    (char)tolower((unsigned char)s[i]) : s[i];
	mp->path[*o] = '\0';
	return 0;
}

/* Every component from path + from on: not empty, ".", ".." or too long. */
static int
components_ok(const char *path, size_t from)
{
	const char	*p = path + from, *e;
	size_t		 n;

	while (*p != '\0') {
		e = strchr(p, '/');
		n = e != NULL ? (size_t)(e - p) : strlen(p);
		if (n == 0 || n > NAME_MAX || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return -1;
		if (e == NULL)
			break;
		p = e + 1;
	}
	return 0;
}

int
mailpath_expand(const char *tmpl, const char *mail_root, const char *user,
    const char *home, struct mailpath *mp, const char **errstr)
{
	const char	*t, *v;
	size_t		 o = 0, n, vlen, firstvar = (size_t)-1, homeend = 0, hlen;
	char		 name, hbuf[POP3_HOME_MAX];
	int		 lower;

	memset(mp, 0, sizeof(*mp));
	if (home != NULL && home[0] != '\0') {
		hlen = strlen(home);
		while (hlen > 1 && home[hlen - 1] == '/')
			hlen--;		/* "/home/bob/" as Dovecot takes it */
		if (home[0] != '/' || hlen >= POP3_HOME_MAX) {
			*errstr = "the home in the passwd-file is not an "
			    "absolute path";
			return -1;
		}
		memcpy(hbuf, home, hlen);
		hbuf[hlen] = '\0';
		if (components_ok(hbuf, 1) == -1) {
			*errstr = "the home in the passwd-file has an empty, "
			    "\".\" or \"..\" component";
			return -1;
		}
		home = hbuf;
	}
	if (tmpl[0] == '\0') {
		if (put(mp, &o, mail_root, strlen(mail_root), 0) == -1 ||
		    put(mp, &o, "/", 1, 0) == -1)
			goto toolong;
		mp->walk = mp->create = o;
		if (put(mp, &o, user, strlen(user), 0) == -1)
			goto toolong;
		goto check;
	}
	for (t = tmpl; *t != '\0'; t++) {
		if (*t == '~' && t == tmpl) {
			name = 'h';
			lower = 0;
			n = 1;
		} else if (*t != '%') {
			if (put(mp, &o, t, 1, 0) == -1)
				goto toolong;
			continue;
		} else if ((n = var_len(t, &name, &lower)) == 0) {
			*errstr = "mail_path has an unknown variable";
			return -1;
		}
		t += n - 1;
		if (name == '%') {
			if (put(mp, &o, "%", 1, 0) == -1)
				goto toolong;
			continue;
		}
		if (var_value(name, user, home, &v, &vlen) == -1) {
			if (name == 'h') {
				*errstr = "mail_path needs a home, and the "
				    "passwd-file gives the user none";
				return -1;
			}
			*errstr = "mail_path needs %d, and the user name has "
			    "no domain";
			return -2;
		}
		if (firstvar == (size_t)-1)
			firstvar = o;
		if (put(mp, &o, v, vlen, lower) == -1)
			goto toolong;
		if (name == 'h')
			homeend = o;
	}
	while (o > 1 && mp->path[o - 1] == '/')
		mp->path[--o] = '\0';
	if (firstvar == (size_t)-1)
		firstvar = o;
	/* The fixed part ends at the last '/' before the first variable. */
	for (n = firstvar; n > 0 && mp->path[n - 1] != '/'; n--)
		;
	mp->walk = n > 0 ? n : 1;
	mp->create = mp->walk;
	if (homeend > 0) {
		/* A home is never made here: only what lies below it. */
		mp->walk = 1;
		mp->create = homeend < o ? homeend + 1 : o;
	}
 check:
	if (mp->path[0] != '/') {
		*errstr = "mail_path does not give an absolute path";
		return -1;
	}
	/* The template and the home are sound: this is the name's doing. */
	if (components_ok(mp->path, mp->walk) == -1) {
		*errstr = "the user name makes an empty, \".\" or \"..\" "
		    "component of the mail path";
		return -2;
	}
	return 0;
 toolong:
	*errstr = "the mail path is too long";
	return -1;
}

int
mailpath_open(const struct mailpath *mp, int create, uid_t uid, gid_t gid,
    int *userpart)
{
	char		 part[NAME_MAX + 1], root[POP3_PATH_MAX];
	const char	*p, *e;
	struct stat	 st;
	size_t		 n;
	int		 fd, next, err, made;

	if (userpart != NULL)
		*userpart = 0;
	memcpy(root, mp->path, mp->walk);
	root[mp->walk] = '\0';
	if ((fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	for (p = mp->path + mp->walk; *p != '\0'; p = e + 1) {
		e = strchr(p, '/');
		n = e != NULL ? (size_t)(e - p) : strlen(p);
		if (n == 0 || n > NAME_MAX) {
			err = EINVAL;
			goto fail;
		}
		memcpy(part, p, n);
		part[n] = '\0';
		made = 0;
		if (userpart != NULL)
			*userpart = (size_t)(p - mp->path) >= mp->create;
		if (create && (size_t)(p - mp->path) >= mp->create) {
			if (mkdirat(fd, part, 0700) == 0)
				made = 1;
			else if (errno != EEXIST) {
				err = errno;
				goto fail;
			}
		}
		next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		err = errno;
		close(fd);
		if ((fd = next) == -1) {
			errno = err;
			return -1;
		}
		/*
		 * Handed over through the descriptor, never by name: what
		 * is chowned is the directory made here, whatever renames
		 * went on in the parent meanwhile.
		 */
		if (made && uid != (uid_t)-1) {
			if (fstat(fd, &st) == -1) {
				err = errno;
				goto fail;
			}
			if (st.st_uid != geteuid()) {
				err = EPERM;	/* not the one made here */
				goto fail;
			}
			if (fchown(fd, uid, gid) == -1) {
				err = errno;
				goto fail;
			}
		}
		if (e == NULL)
			break;
	}
	return fd;
 fail:
	close(fd);
	errno = err;
	return -1;
}

int
mailpath_parent(const struct mailpath *mp, struct mailpath *parent,
    char *base, size_t baselen)
{
	const char	*slash = strrchr(mp->path, '/');
	size_t		 n;

	if (slash == NULL || slash[1] == '\0' ||
	    (size_t)snprintf(base, baselen, "%s", slash + 1) >= baselen)
		return -1;
	n = (size_t)(slash - mp->path);
	*parent = *mp;
	if (n == 0)
		n = 1;		/* the parent is "/" */
	parent->path[n] = '\0';
	if (parent->walk > n)
		parent->walk = n;
	if (parent->create > n)
		parent->create = n;
	return 0;
}
