/* ABI conformance test of libmesh: argument checking, error reporting,
 * ownership, version. Prints "N passed, N failed" and exits non-zero on any
 * failure. Built with -Wall -Wextra -Werror -pedantic and run under
 * ASan/UBSan and valgrind by scripts/test-c.sh. */
#include <stdio.h>
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

static void test_version(void) {
  char expected[64];
  snprintf(expected, sizeof expected, "%d.%d.%d", MESH_VERSION_MAJOR,
           MESH_VERSION_MINOR, MESH_VERSION_PATCH);
  CHECK(strcmp(mesh_version(), expected) == 0);
}

static void test_result_messages(void) {
  CHECK(strcmp(mesh_result_message(MESH_OK), "ok") == 0);
  CHECK(strlen(mesh_result_message(MESH_ERR_NULL_ARGUMENT)) > 0);
  CHECK(strcmp(mesh_result_message(424242), "unknown result code") == 0);
}

static void test_actor_key(void) {
  char *key = NULL;
  CHECK(mesh_actor_key("Alice@Example.COM", &key) == MESH_OK);
  CHECK(key != NULL && strcmp(key, "alice@example.com") == 0);
  CHECK(strcmp(mesh_last_error_message(), "") == 0);
  mesh_string_free(key);

  key = NULL;
  CHECK(mesh_actor_key(NULL, &key) == MESH_ERR_NULL_ARGUMENT);
  CHECK(key == NULL); /* out-parameters are written only on success */
  CHECK(strstr(mesh_last_error_message(), "identifier") != NULL);
  CHECK(mesh_actor_key("alice@example.com", NULL) == MESH_ERR_NULL_ARGUMENT);
  CHECK(mesh_actor_key("\xff\xfe", &key) == MESH_ERR_INVALID_UTF8);
  CHECK(mesh_actor_key("   ", &key) == MESH_ERR_IDENTITY);
  CHECK(key == NULL);
  mesh_string_free(NULL); /* accepted, does nothing */
}

int main(void) {
  test_version();
  test_result_messages();
  test_actor_key();
  printf("c abi: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
