/* A gateway-style enforcement point: several worker threads authorize
 * requests through one shared mesh_t while the main thread hot-swaps signed
 * policy bundles; then an incident revokes a user, and the revocation is
 * shipped to a second gateway. Usage: gateway DATA_DIR (examples/data). */
#include <pthread.h>
#include <stdint.h>

#include "common.h"

#define NOW_MS INT64_C(1767226200000) /* 2026-01-01T00:10:00Z */
#define WORKERS 4
#define ROUNDS 500

static const char *token_alice, *token_bob, *token_carol;
static const mesh_t *gw;

struct expectation {
  const char **token;
  const char *action;
  mesh_effect effect;
  const char *reason_or_obligation;
};

static const char *bogus = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJtYWxsb3J5In0.";
static const struct expectation cases[] = {
  {&token_alice, "Action::\"read\"", MESH_EFFECT_ALLOW, NULL},
  {&token_alice, "Action::\"delete\"", MESH_EFFECT_DENY, NULL},
  {&token_bob, "Action::\"write\"", MESH_EFFECT_CHALLENGE, "mfa"},
  {&token_carol, "Action::\"write\"", MESH_EFFECT_ALLOW, NULL},
  {&token_carol, "Action::\"delete\"", MESH_EFFECT_DENY, NULL},
  {&token_bob, "Action::\"delete\"", MESH_EFFECT_ALLOW, NULL},
  {&bogus, "Action::\"read\"", MESH_EFFECT_DENY, "credential_rejected"},
};
#define NCASES (sizeof cases / sizeof cases[0])

struct worker_result {
  int ok, bad;
};

static void *worker(void *arg) {
  struct worker_result *r = arg;
  int i;
  for (i = 0; i < ROUNDS * (int)NCASES; i++) {
    const struct expectation *c = &cases[(size_t)i % NCASES];
    const mesh_decision *d = NULL;
    mesh_result rc = mesh_authorize(gw, *c->token, c->action, "Document::\"q3-plan\"",
                                    "{\"channel\": \"vpn\"}", NOW_MS, &d);
    int good = rc == MESH_OK && mesh_decision_effect(d) == c->effect;
    if (good && c->reason_or_obligation != NULL) {
      const char *got = c->effect == MESH_EFFECT_CHALLENGE ? mesh_decision_obligation(d)
                                                           : mesh_decision_reason(d);
      good = got != NULL && strcmp(got, c->reason_or_obligation) == 0;
    }
    if (good) {
      r->ok++;
    } else {
      r->bad++;
    }
    mesh_decision_free(d);
  }
  return NULL;
}

/* Finds the line "NAME TOKEN" in tokens.txt and returns a copy of TOKEN. */
static char *token_of(const char *tokens, const char *name) {
  const char *line = tokens;
  size_t n = strlen(name);
  while (line != NULL && *line != '\0') {
    if (strncmp(line, name, n) == 0 && line[n] == ' ') {
      const char *tok = line + n + 1, *end = strchr(tok, '\n');
      size_t len = end != NULL ? (size_t)(end - tok) : strlen(tok);
      char *copy = malloc(len + 1);
      if (copy != NULL) {
        memcpy(copy, tok, len);
        copy[len] = '\0';
      }
      return copy;
    }
    line = strchr(line, '\n');
    if (line != NULL) line++;
  }
  return NULL;
}

static void activate(const mesh_t *m, const char *dir, const char *file, mesh_result want) {
  size_t len = 0;
  char *p = path_in(dir, file);
  char *bundle = read_file(p, &len);
  uint64_t rev = 0;
  CHECK(bundle != NULL);
  CHECK(mesh_activate_bundle(m, (const uint8_t *)bundle, len, &rev) == want);
  if (want == MESH_OK) printf("  activated %s (revision %llu)\n", file, (unsigned long long)rev);
  else printf("  refused %s: %s\n", file, mesh_last_error_message());
  free(bundle);
  free(p);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "examples/data";
  char *cfg_path = path_in(dir, "gateway.toml"), *tok_path = path_in(dir, "tokens.txt");
  char *config = read_file(cfg_path, NULL), *tokens = read_file(tok_path, NULL);
  pthread_t threads[WORKERS];
  struct worker_result results[WORKERS];
  const mesh_t *other = NULL;
  const mesh_decision *d = NULL;
  char *revocations = NULL;
  uint64_t rev = 0;
  int i, ok = 0, bad = 0;

  if (config == NULL || tokens == NULL) return 2;
  char *alice = token_of(tokens, "alice"), *bob = token_of(tokens, "bob");
  char *carol = token_of(tokens, "carol");
  if (alice == NULL || bob == NULL || carol == NULL) return 2;
  token_alice = alice;
  token_bob = bob;
  token_carol = carol;

  printf("gateway: one mesh_t shared by %d threads\n", WORKERS);
  CHECK(mesh_new(config, &gw) == MESH_OK);
  activate(gw, dir, "policies-r1.bundle", MESH_OK);

  memset(results, 0, sizeof results);
  for (i = 0; i < WORKERS; i++) pthread_create(&threads[i], NULL, worker, &results[i]);
  /* Hot-swap bundles while the workers decide; a rollback is refused. */
  activate(gw, dir, "policies-r2.bundle", MESH_OK);
  activate(gw, dir, "policies-r1.bundle", MESH_ERR_CONFIG);
  activate(gw, dir, "policies-r3.bundle", MESH_OK);
  for (i = 0; i < WORKERS; i++) {
    pthread_join(threads[i], NULL);
    ok += results[i].ok;
    bad += results[i].bad;
  }
  printf("  %d decisions as expected, %d unexpected\n", ok, bad);
  CHECK(bad == 0 && ok == WORKERS * ROUNDS * (int)NCASES);
  CHECK(mesh_revision(gw, &rev) == MESH_OK && rev == 3);

  /* Incident: alice's sessions are revoked; the next decision is a Deny. */
  CHECK(mesh_revoke_subject(gw, "alice@example.com", NOW_MS, NOW_MS + 3600 * 1000) == MESH_OK);
  CHECK(mesh_authorize(gw, token_alice, "Action::\"read\"", "Document::\"q3-plan\"", NULL, NOW_MS,
                       &d) == MESH_OK);
  CHECK(mesh_decision_effect(d) == MESH_EFFECT_DENY);
  CHECK(strcmp(mesh_decision_reason(d), "revoked") == 0);
  printf("  after revocation alice read: %s\n", mesh_decision_reason(d));
  mesh_decision_free(d);

  /* The revocation reaches a second gateway through merge. */
  CHECK(mesh_revocations_export(gw, &revocations) == MESH_OK);
  CHECK(mesh_new(config, &other) == MESH_OK);
  activate(other, dir, "policies-r3.bundle", MESH_OK);
  CHECK(mesh_revocations_merge(other, revocations) == MESH_OK);
  CHECK(mesh_authorize(other, token_alice, "Action::\"read\"", "Document::\"q3-plan\"", NULL,
                       NOW_MS, &d) == MESH_OK);
  CHECK(mesh_decision_effect(d) == MESH_EFFECT_DENY);
  printf("  second gateway after merge, alice read: %s\n", mesh_decision_reason(d));
  CHECK(mesh_decision_free(d) == MESH_OK);
  CHECK(mesh_decision_free(d) == MESH_ERR_INVALID_HANDLE); /* double free detected */
  mesh_string_free(revocations);

  CHECK(mesh_free(other) == MESH_OK);
  CHECK(mesh_free(gw) == MESH_OK);
  CHECK(mesh_free(gw) == MESH_ERR_INVALID_HANDLE);          /* double free detected */
  CHECK(mesh_revision(gw, &rev) == MESH_ERR_INVALID_HANDLE); /* use after free detected */
  free(alice);
  free(bob);
  free(carol);
  free(config);
  free(tokens);
  free(cfg_path);
  free(tok_path);
  printf("gateway: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
