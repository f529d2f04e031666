/* Small helpers shared by the C examples: file reading and checks. */
#ifndef MESH_EXAMPLES_COMMON_H
#define MESH_EXAMPLES_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh.h"

static int passed, failed;

#define CHECK(cond)                                                         \
  do {                                                                      \
    if (cond) {                                                             \
      passed++;                                                             \
    } else {                                                                \
      failed++;                                                             \
      fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n",         \
              __FILE__, __LINE__, #cond, mesh_last_error_message());        \
    }                                                                       \
  } while (0)

/* Reads a whole file into a NUL-terminated buffer (caller frees). */
static inline char *read_file(const char *path, size_t *len_out) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  long len;
  if (f == NULL) {
    fprintf(stderr, "cannot open %s\n", path);
    return NULL;
  }
  if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
    fclose(f);
    return NULL;
  }
  buf = malloc((size_t)len + 1);
  if (buf != NULL && fread(buf, 1, (size_t)len, f) != (size_t)len) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  if (buf != NULL) {
    buf[len] = '\0';
    if (len_out != NULL) *len_out = (size_t)len;
  }
  return buf;
}

/* Path of `name` inside directory `dir` (caller frees). */
static inline char *path_in(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  if (p != NULL) snprintf(p, n, "%s/%s", dir, name);
  return p;
}

#endif
