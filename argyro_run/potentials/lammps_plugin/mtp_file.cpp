// Readers of .mtp potentials and active sets: see mtp_file.h.
#include "mtp_file.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>
#include <sstream>

namespace argyro_mtp {

namespace {

std::string trim(const std::string &s)
{
  size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

std::vector<std::string> lines_of(const std::string &text)
{
  std::vector<std::string> out;
  std::istringstream is(text);
  std::string l;
  while (std::getline(is, l)) out.push_back(l);
  return out;
}

// words of a value, braces, commas and quotes as separators
std::vector<std::string> words(const std::string &s)
{
  std::string t = s;
  for (char &c : t)
    if (c == '{' || c == '}' || c == ',' || c == '"' || c == '\'') c = ' ';
  std::istringstream is(t);
  std::vector<std::string> out;
  std::string w;
  while (is >> w) out.push_back(w);
  return out;
}

double to_double(const std::string &w, int line, const std::string &key)
{
  const char *s = w.c_str();
  char *end = nullptr;
  errno = 0;
  double v = std::strtod(s, &end);
  if (end == s || *end != '\0' || errno == ERANGE || !std::isfinite(v))
    throw ParseError(line, "'" + key + "': '" + w + "' is not a finite number");
  return v;
}

int to_int(const std::string &w, int line, const std::string &key)
{
  const char *s = w.c_str();
  char *end = nullptr;
  errno = 0;
  long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || errno == ERANGE || v < -2147483647L || v > 2147483647L)
    throw ParseError(line, "'" + key + "': '" + w + "' is not an integer");
  return (int) v;
}

// "{...}" or "{{...}, {...}}" values
std::vector<double> doubles(const std::string &s, int line, const std::string &key)
{
  std::vector<double> out;
  for (auto &w : words(s)) out.push_back(to_double(w, line, key));
  return out;
}

std::vector<int> ints(const std::string &s, int line, const std::string &key)
{
  std::vector<int> out;
  for (auto &w : words(s)) out.push_back(to_int(w, line, key));
  return out;
}

struct Value {
  std::string text;
  int line;
};

}    // namespace

Potential parse_mtp(const std::string &text)
{
  const auto lines = lines_of(text);
  if (lines.empty() || trim(lines[0]) != "MTP")
    throw ParseError(1, "not an MTP potential file (the first line must be 'MTP')");
  std::map<std::string, Value> kv;
  std::vector<double> rc;
  int rc_line = 0;
  for (size_t l = 1; l < lines.size(); l++) {
    const std::string s = trim(lines[l]);
    if (s.empty()) continue;
    if (s == "radial_coeffs") {
      rc_line = (int) l + 1;
      // blocks "i-j", each followed by radial_funcs_count lines "{...}"
      while (l + 1 < lines.size()) {
        const std::string h = trim(lines[l + 1]);
        if (h.empty() || h.find('=') != std::string::npos) break;
        if (h[0] == '{') {
          auto v = doubles(h, (int) l + 2, "radial_coeffs");
          rc.insert(rc.end(), v.begin(), v.end());
        }
        l++;
      }
      continue;
    }
    const auto eq = s.find('=');
    if (eq == std::string::npos) continue;    // e.g. a version line without '='
    kv[trim(s.substr(0, eq))] = Value{trim(s.substr(eq + 1)), (int) l + 1};
  }
  auto need = [&](const std::string &k) -> const Value & {
    auto it = kv.find(k);
    if (it == kv.end()) throw ParseError(0, "the key '" + k + "' is missing");
    return it->second;
  };
  auto one_int = [&](const std::string &k, int lo) {
    const Value &v = need(k);
    int x = to_int(v.text, v.line, k);
    if (x < lo) throw ParseError(v.line, "'" + k + "' must be >= " + std::to_string(lo));
    return x;
  };
  auto one_double = [&](const std::string &k) {
    const Value &v = need(k);
    return to_double(v.text, v.line, k);
  };
  if (kv.count("radial_basis_type") && kv["radial_basis_type"].text != "RBChebyshev")
    throw ParseError(kv["radial_basis_type"].line,
                     "only the RBChebyshev radial basis is supported, got '" + kv["radial_basis_type"].text + "'");
  Potential p;
  p.scaling = kv.count("scaling") ? one_double("scaling") : 1.0;
  p.species_count = one_int("species_count", 1);
  p.min_dist = one_double("min_dist");
  p.max_dist = one_double("max_dist");
  if (!(p.max_dist > p.min_dist))
    throw ParseError(need("max_dist").line, "'max_dist' must be larger than 'min_dist'");
  p.radial_basis_size = one_int("radial_basis_size", 1);
  p.radial_funcs_count = one_int("radial_funcs_count", 1);
  p.alpha_moments_count = one_int("alpha_moments_count", 1);
  const int n_basic = one_int("alpha_index_basic_count", 1);
  const int n_times = one_int("alpha_index_times_count", 0);
  const int n_scalar = one_int("alpha_scalar_moments", 1);
  auto sized_ints = [&](const std::string &k, size_t n) {
    const Value &v = need(k);
    auto x = ints(v.text, v.line, k);
    if (x.size() != n)
      throw ParseError(v.line, "'" + k + "' has " + std::to_string(x.size()) + " numbers, expected " +
                                   std::to_string(n));
    return x;
  };
  auto sized_doubles = [&](const std::string &k, size_t n) {
    const Value &v = need(k);
    auto x = doubles(v.text, v.line, k);
    if (x.size() != n)
      throw ParseError(v.line, "'" + k + "' has " + std::to_string(x.size()) + " numbers, expected " +
                                   std::to_string(n));
    return x;
  };
  p.alpha_index_basic = sized_ints("alpha_index_basic", 4 * (size_t) n_basic);
  p.alpha_index_times = n_times ? sized_ints("alpha_index_times", 4 * (size_t) n_times) : std::vector<int>();
  p.alpha_moment_mapping = sized_ints("alpha_moment_mapping", n_scalar);
  p.species_coeffs = sized_doubles("species_coeffs", p.species_count);
  p.moment_coeffs = sized_doubles("moment_coeffs", n_scalar);
  const size_t nrc = (size_t) p.species_count * p.species_count * p.radial_funcs_count * p.radial_basis_size;
  if (rc_line == 0) throw ParseError(0, "the block 'radial_coeffs' is missing");
  if (rc.size() != nrc)
    throw ParseError(rc_line, "'radial_coeffs' has " + std::to_string(rc.size()) + " numbers, expected " +
                                  std::to_string(nrc) + " (species_count^2 x radial_funcs_count x radial_basis_size)");
  p.radial_coeffs = rc;
  for (const char *key : {"species", "species_names", "elements"})
    if (kv.count(key)) p.species = words(kv[key].text);
  // argyro-run writes the element names into MLIP's free-text tag: "potential_tag = species:Li,P,S"
  if (p.species.empty() && kv.count("potential_tag") && kv["potential_tag"].text.rfind("species:", 0) == 0)
    p.species = words(kv["potential_tag"].text.substr(8));
  if (!p.species.empty() && (int) p.species.size() != p.species_count)
    throw ParseError(0, "the file names " + std::to_string(p.species.size()) + " species, species_count is " +
                            std::to_string(p.species_count));

  const int basic_line = need("alpha_index_basic").line;
  for (int k = 0; k < n_basic; k++) {
    const int *b = &p.alpha_index_basic[4 * k];
    if (b[0] < 0 || b[0] >= p.radial_funcs_count || b[1] < 0 || b[2] < 0 || b[3] < 0)
      throw ParseError(basic_line, "'alpha_index_basic' entry " + std::to_string(k) +
                                       ": radial index must be in 0.." + std::to_string(p.radial_funcs_count - 1) +
                                       " and powers >= 0");
  }
  if (n_basic > p.alpha_moments_count)
    throw ParseError(need("alpha_moments_count").line, "'alpha_moments_count' is below 'alpha_index_basic_count'");
  const int times_line = n_times ? need("alpha_index_times").line : 0;
  for (int m = 0; m < n_times; m++) {
    const int *t = &p.alpha_index_times[4 * m];
    const int a = t[0], b = t[1], k = t[3];
    if (a < 0 || b < 0 || a >= k || b >= k || k < n_basic || k >= p.alpha_moments_count)
      throw ParseError(times_line, "'alpha_index_times' row " + std::to_string(m) +
                                       " is not in evaluation order (sources must precede a non-basic target "
                                       "below alpha_moments_count)");
  }
  const int map_line = need("alpha_moment_mapping").line;
  for (int m = 0; m < n_scalar; m++)
    if (p.alpha_moment_mapping[m] < 0 || p.alpha_moment_mapping[m] >= p.alpha_moments_count)
      throw ParseError(map_line, "'alpha_moment_mapping' entry " + std::to_string(m) + " is outside 0.." +
                                     std::to_string(p.alpha_moments_count - 1));
  return p;
}

ActiveSet parse_active_set(const std::string &text, int expected_rows)
{
  const auto lines = lines_of(text);
  if (lines.empty() || trim(lines[0]) != "MTP active set v1")
    throw ParseError(1, "not an active set (the first line must be 'MTP active set v1')");
  auto header = [&](size_t l, const char *key) {
    auto w = l < lines.size() ? words(lines[l]) : std::vector<std::string>();
    if (w.empty() || w[0] != key)
      throw ParseError((int) l + 1, std::string("expected '") + key + (std::string(key) == "inverse" ? "'" : " VALUE'"));
    return w;
  };
  ActiveSet a;
  auto mode = header(1, "mode");
  if (mode.size() != 2 || (mode[1] != "neighborhood" && mode[1] != "configuration"))
    throw ParseError(2, "bad mode; allowed: neighborhood, configuration");
  a.configuration_mode = mode[1] == "configuration";
  auto nr = header(2, "n_rows");
  if (nr.size() != 2) throw ParseError(3, "expected 'n_rows N'");
  a.n_rows = to_int(nr[1], 3, "n_rows");
  if (a.n_rows != expected_rows)
    throw ParseError(3, "n_rows is " + std::to_string(a.n_rows) + ", the potential needs " +
                            std::to_string(expected_rows) + " (species_count + alpha_scalar_moments)");
  header(3, "inverse");
  a.inverse.reserve((size_t) a.n_rows * a.n_rows);
  size_t l = 4;
  for (; l < lines.size() && a.inverse.size() < (size_t) a.n_rows * a.n_rows; l++)
    for (auto &w : words(lines[l])) a.inverse.push_back(to_double(w, (int) l + 1, "inverse"));
  if (a.inverse.size() != (size_t) a.n_rows * a.n_rows)
    throw ParseError((int) l, "the inverse has " + std::to_string(a.inverse.size()) + " numbers, expected " +
                                  std::to_string((size_t) a.n_rows * a.n_rows) + " (truncated file?)");
  return a;
}

}    // namespace argyro_mtp
