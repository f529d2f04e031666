/* A log shipper: normalizes a file of mixed raw telemetry (JSON, CEF,
 * syslog, key=value: one record per line) to OCSF NDJSON, and reports the
 * records it could not normalize instead of dropping them.
 * Usage: log_shipper INPUT [OUTPUT.ndjson] */
#include <stdint.h>

#include "common.h"

#define NOW_MS INT64_C(1795651200000) /* 2026-11-25T00:00:00Z */

int main(int argc, char **argv) {
  const char *in = argc > 1 ? argv[1] : "examples/data/mixed.log";
  const char *out = argc > 2 ? argv[2] : NULL;
  size_t len = 0, failures = 0, events = 0;
  char *input = read_file(in, &len), *ndjson = NULL, *errors = NULL, *p;
  const mesh_normalizer *n = NULL;
  if (input == NULL) return 2;

  CHECK(mesh_normalizer_new(&n) == MESH_OK);
  CHECK(mesh_normalize_batch(n, (const uint8_t *)input, len, NULL, NOW_MS, &ndjson, &errors,
                             &failures) == MESH_OK);
  for (p = ndjson; p != NULL && *p != '\0'; p++) events += *p == '\n';
  printf("log_shipper: %zu OCSF events, %zu records dead-lettered\n", events, failures);
  if (errors != NULL && *errors != '\0') printf("dead letters:\n%s", errors);
  CHECK(events == 5 && failures == 1);
  CHECK(ndjson != NULL && strstr(ndjson, "\"class_uid\":3002") != NULL);
  CHECK(errors != NULL && strstr(errors, "this line is not telemetry") != NULL);
  if (out != NULL && ndjson != NULL) {
    FILE *f = fopen(out, "wb");
    CHECK(f != NULL);
    if (f != NULL) {
      fputs(ndjson, f);
      fclose(f);
    }
  }

  /* One record at a time, with an explicit source. */
  {
    const char *rec = "CEF:0|Acme|IdP|1.0|auth-ok|Login succeeded|3|rt=1795650000000 suser=dana@example.com src=192.0.2.9";
    char *event = NULL;
    CHECK(mesh_normalize(n, (const uint8_t *)rec, strlen(rec), "cef", NOW_MS, &event) == MESH_OK);
    CHECK(event != NULL && strstr(event, "\"metadata\"") != NULL);
    mesh_string_free(event);
    event = NULL;
    CHECK(mesh_normalize(n, (const uint8_t *)"{}", 2, "no-such-source", NOW_MS, &event) ==
          MESH_ERR_EVENT);
    CHECK(event == NULL);
  }
  mesh_string_free(ndjson);
  mesh_string_free(errors);
  CHECK(mesh_normalizer_free(n) == MESH_OK);
  free(input);
  printf("log_shipper: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
