/*
 * replay.c - main() for the fuzz targets built without libFuzzer (gcc,
 * part of make check): feeds every file of the corpus directories (or
 * files) on the command line to LLVMFuzzerTestOneInput.  A target that
 * finds a broken contract aborts, which fails the replay.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Corpus files are small; a bigger one is a mistake. */
#define REPLAY_FILE_MAX	(16 * 1024 * 1024)

static int
replay_file(const char *path)
{
	FILE		*f;
	struct stat	 st;
	uint8_t		*data;
	size_t		 n;

	if ((f = fopen(path, "rb")) == NULL || fstat(fileno(f), &st) == -1) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		if (f != NULL)
			fclose(f);
		return -1;
	}
	if (st.st_size > REPLAY_FILE_MAX) {
		fprintf(stderr, "replay: %s: too large\n", path);
		fclose(f);
		return -1;
	}
	/* Exactly sized, so ASan would see any overread. */
	if ((data = malloc((size_t)st.st_size + 1)) == NULL) {
		fclose(f);
		return -1;
	}
	n = fread(data, 1, (size_t)st.st_size, f);
	fclose(f);
	LLVMFuzzerTestOneInput(data, n);
	free(data);
	return 0;
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file in dir, in name order (reproducible). */
static int
replay_dir(const char *dir, size_t *count)
{
	DIR		*d;
	struct dirent	*de;
	char		**names = NULL, path[4096];
	size_t		 n = 0, i;
	struct stat	 st;
	int		 ret = 0;

	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		if (names == NULL || (names[n] = strdup(de->d_name)) == NULL) {
			closedir(d);
			return -1;
		}
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), cmpstr);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (replay_file(path) == -1)
				ret = -1;
			else
				(*count)++;
		}
		free(names[i]);
	}
	free(names);
	return ret;
}

int
main(int argc, char *argv[])
{
	struct stat	 st;
	size_t		 count = 0;
	const char	*name;
	int		 i, ret = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: replay NAME DIR|FILE...\n");
		return 2;
	}
	name = argv[1];
	for (i = 2; i < argc; i++) {
		if (stat(argv[i], &st) == -1) {
			fprintf(stderr, "replay: %s: %s\n", argv[i],
			    strerror(errno));
			ret = 1;
		} else if (S_ISDIR(st.st_mode)) {
			if (replay_dir(argv[i], &count) == -1)
				ret = 1;
		} else if (replay_file(argv[i]) == -1)
			ret = 1;
		else
			count++;
	}
	if (ret == 0)
		printf("replay: %s: %zu inputs ok\n", name, count);
	return ret;
}
