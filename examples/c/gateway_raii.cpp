// The gateway in C++: RAII wrappers own libmesh handles and strings, so
// nothing leaks on any path. Usage: gateway_raii DATA_DIR (examples/data).
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "mesh.h"

namespace mesh {

// Thrown for any libmesh failure, with its detailed message.
class Error : public std::runtime_error {
 public:
  Error(mesh_result code, const std::string &what)
      : std::runtime_error(what + ": " + mesh_last_error_message()), code_(code) {}
  mesh_result code() const { return code_; }

 private:
  mesh_result code_;
};

inline void check(mesh_result r, const char *what) {
  if (r != MESH_OK) throw Error(r, what);
}

// A string returned by libmesh, freed with mesh_string_free.
struct StringDeleter {
  void operator()(char *s) const { mesh_string_free(s); }
};
using String = std::unique_ptr<char, StringDeleter>;

// One decision, freed with mesh_decision_free.
class Decision {
 public:
  explicit Decision(const mesh_decision *d) : d_(d) {}
  Decision(Decision &&o) noexcept : d_(std::exchange(o.d_, nullptr)) {}
  Decision(const Decision &) = delete;
  Decision &operator=(const Decision &) = delete;
  ~Decision() { mesh_decision_free(d_); }
  mesh_effect effect() const { return mesh_decision_effect(d_); }
  std::string reason() const { return mesh_decision_reason(d_); }
  std::string obligation() const {
    const char *o = mesh_decision_obligation(d_);
    return o ? o : "";
  }
  std::vector<std::string> policies() const {
    std::vector<std::string> ids;
    for (size_t i = 0; i < mesh_decision_policy_count(d_); i++) ids.emplace_back(mesh_decision_policy(d_, i));
    return ids;
  }

 private:
  const mesh_decision *d_;
};

// A decision point, shareable across threads, freed with mesh_free.
class Mesh {
 public:
  explicit Mesh(const std::string &config) { check(mesh_new(config.c_str(), &m_), "mesh_new"); }
  Mesh(const Mesh &) = delete;
  Mesh &operator=(const Mesh &) = delete;
  ~Mesh() { mesh_free(m_); }

  uint64_t activate_bundle(const std::string &bytes) {
    uint64_t rev = 0;
    check(mesh_activate_bundle(m_, reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size(), &rev),
          "mesh_activate_bundle");
    return rev;
  }
  Decision authorize(const std::string &token, const std::string &action, const std::string &resource,
                     int64_t now_ms) const {
    const mesh_decision *d = nullptr;
    check(mesh_authorize(m_, token.c_str(), action.c_str(), resource.c_str(), nullptr, now_ms, &d),
          "mesh_authorize");
    return Decision(d);
  }
  void revoke_subject(const std::string &subject, int64_t before_ms, int64_t expires_ms) {
    check(mesh_revoke_subject(m_, subject.c_str(), before_ms, expires_ms), "mesh_revoke_subject");
  }

 private:
  const mesh_t *m_ = nullptr;
};

}  // namespace mesh

static std::string slurp(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

static std::string token_of(const std::string &tokens, const std::string &name) {
  std::istringstream in(tokens);
  std::string n, t;
  while (in >> n >> t)
    if (n == name) return t;
  throw std::runtime_error("no token for " + name);
}

int main(int argc, char **argv) {
  const std::string dir = argc > 1 ? argv[1] : "examples/data";
  const int64_t now_ms = INT64_C(1767226200000);
  int passed = 0, failed = 0;
  auto expect = [&](bool ok, const char *what) {
    ok ? passed++ : failed++;
    if (!ok) std::fprintf(stderr, "check failed: %s\n", what);
  };
  try {
    mesh::Mesh gw(slurp(dir + "/gateway.toml"));
    expect(gw.activate_bundle(slurp(dir + "/policies-r1.bundle")) == 1, "bundle r1 activates");
    const std::string tokens = slurp(dir + "/tokens.txt");
    const std::string alice = token_of(tokens, "alice"), bob = token_of(tokens, "bob");

    std::vector<std::thread> workers;
    std::vector<int> ok(4, 0);
    for (int w = 0; w < 4; w++)
      workers.emplace_back([&, w] {
        for (int i = 0; i < 200; i++) {
          auto d = gw.authorize(alice, "Action::\"read\"", "Document::\"q3-plan\"", now_ms);
          ok[w] += d.effect() == MESH_EFFECT_ALLOW && d.policies() == std::vector<std::string>{"staff-read"};
        }
      });
    expect(gw.activate_bundle(slurp(dir + "/policies-r2.bundle")) == 2, "bundle r2 hot-swaps");
    for (auto &t : workers) t.join();
    for (int n : ok) expect(n == 200, "every concurrent decision allowed by staff-read");

    auto challenge = gw.authorize(bob, "Action::\"write\"", "Document::\"q3-plan\"", now_ms);
    expect(challenge.effect() == MESH_EFFECT_CHALLENGE && challenge.obligation() == "mfa", "bob is challenged");

    try {
      gw.activate_bundle(slurp(dir + "/policies-r1.bundle"));
      expect(false, "rollback refused");
    } catch (const mesh::Error &e) {
      expect(e.code() == MESH_ERR_CONFIG, "rollback refused with MESH_ERR_CONFIG");
    }

    gw.revoke_subject("alice@example.com", now_ms, now_ms + 3600 * 1000);
    auto after = gw.authorize(alice, "Action::\"read\"", "Document::\"q3-plan\"", now_ms);
    expect(after.effect() == MESH_EFFECT_DENY && after.reason() == "revoked", "alice denied after revocation");
    std::printf("gateway (C++): alice after revocation: %s\n", after.reason().c_str());
  } catch (const std::exception &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    failed++;
  }
  std::printf("gateway_raii: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
