/*
 * fuzz_manifest.c - libFuzzer target for the commit manifest loader
 * (md_trash.c: md_manifest_load).  The manifest sits in the maildrop's
 * tmp/, which the mail user owns: anything that writes Maildirs as that
 * user (an LDA, webmail, a restore script, or someone with that user's
 * shell) can leave any bytes there, and the next login's recovery reads
 * them.  Each input is written as the manifest of a scratch directory;
 * a load that succeeds must hold only Maildir names.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maildir.h"
#include "pop3d/md_priv.h"
#include "pop3d/md_trash.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	scratch = -1;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char		 dir[] = "/tmp/fuzz_manifest.XXXXXX";
	struct md_nameset	 del;
	struct maildir_name	 mn;
	char			*names = NULL;
	size_t			 i;
	int			 fd;

	if (scratch == -1 && (mkdtemp(dir) == NULL ||
	    (scratch = open(dir, O_RDONLY | O_DIRECTORY)) == -1))
		abort();
	if ((fd = openat(scratch, MD_MANIFEST, O_WRONLY | O_CREAT | O_TRUNC,
	    0600)) == -1)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	if (md_manifest_load(scratch, &del, &names) == 0) {
		/* Every name kept is a Maildir name, and findable. */
		for (i = 0; del.slot != NULL && i <= del.mask; i++) {
			if (del.slot[i] == NULL)
				continue;
			if (maildir_name_parse(del.slot[i], &mn) == -1 ||
			    !md_nameset_has(&del, del.slot[i]))
				abort();
		}
		md_nameset_clear(&del);
	}
	free(names);
	return 0;
}
