// Unit tests of the LAMMPS-free parts of pair_style mtp (mtp_file.*, mtp_kernels.*), each kernel
// against a plain independent implementation: Chebyshev polynomials as cos(b acos x), monomials
// with std::pow, moments and the times recursion straight from the file's rows, derivatives by
// central finite differences, grades by a naive matrix product; and the readers' error lines.
//   test_mtp_kernels POT.mtp   -> prints "ok N checks" and exits 0, or names the failed check, exits 1
// Built and run by tests/potentials/test_plugin_kernels.py (and by CMake: target test_mtp_kernels).
#include "mtp_file.h"
#include "mtp_kernels.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace argyro_mtp;

static int n_checks = 0, n_failed = 0;

static void check(bool ok, const std::string &what)
{
  n_checks++;
  if (!ok) {
    n_failed++;
    std::fprintf(stderr, "FAILED: %s\n", what.c_str());
  }
}

static void near(double a, double b, double rtol, double atol, const std::string &what)
{
  const bool ok = std::fabs(a - b) <= atol + rtol * std::fabs(b);
  if (!ok) {
    std::ostringstream os;
    os.precision(17);
    os << what << ": " << a << " vs " << b;
    check(false, os.str());
  } else
    n_checks++;
}

// ---- reference implementation, straight from the file's definitions ----
struct Env {
  int ti;
  std::vector<double> x, y, z;    // neighbour vectors r_j - r_i
  std::vector<int> t;
};

static double cheb(int b, double ksi) { return std::cos(b * std::acos(ksi)); }

static double ref_radial(const Potential &p, int ti, int tj, int mu, double r)
{
  const double ksi = (2.0 * r - (p.min_dist + p.max_dist)) / (p.max_dist - p.min_dist);
  double s = 0.0;
  for (int b = 0; b < p.radial_basis_size; b++)
    s += p.radial_coeffs[(((size_t) ti * p.species_count + tj) * p.radial_funcs_count + mu) * p.radial_basis_size + b] *
        cheb(b, ksi);
  return s * p.scaling * (r - p.max_dist) * (r - p.max_dist);
}

static std::vector<double> ref_moments(const Potential &p, const Env &e)
{
  std::vector<double> M(p.alpha_moments_count, 0.0);
  for (int k = 0; k < p.n_basic(); k++) {
    const int *b = &p.alpha_index_basic[4 * k];
    for (size_t q = 0; q < e.x.size(); q++) {
      const double r = std::sqrt(e.x[q] * e.x[q] + e.y[q] * e.y[q] + e.z[q] * e.z[q]);
      M[k] += ref_radial(p, e.ti, e.t[q], b[0], r) * std::pow(e.x[q] / r, b[1]) * std::pow(e.y[q] / r, b[2]) *
          std::pow(e.z[q] / r, b[3]);
    }
  }
  for (int m = 0; m < p.n_times(); m++) {    // rows in file order
    const int *t = &p.alpha_index_times[4 * m];
    M[t[3]] += t[2] * M[t[0]] * M[t[1]];
  }
  return M;
}

static double ref_energy(const Potential &p, const Env &e)
{
  auto M = ref_moments(p, e);
  double E = p.species_coeffs[e.ti];
  for (int m = 0; m < p.n_scalar(); m++) E += p.moment_coeffs[m] * M[p.alpha_moment_mapping[m]];
  return E;
}

// ---- the kernels for one batch ----
struct Batch {
  int ST = 0;
  std::vector<std::vector<double>> r, u, F, Fd, P;
  std::vector<std::vector<int>> t;
  std::vector<double> M, G;
};

static void fill_batch(const Tables &tab, const Offsets &o, const std::vector<Env> &envs, Batch &b)
{
  const int ST = o.ST;
  b.ST = ST;
  b.r.assign(BATCH, std::vector<double>(ST, 1.0));
  b.u.assign(BATCH, std::vector<double>(3 * ST, 0.0));
  b.F.assign(BATCH, std::vector<double>((size_t) tab.R * ST, 0.0));
  b.Fd.assign(BATCH, std::vector<double>((size_t) tab.R * ST, 0.0));
  b.P.assign(BATCH, std::vector<double>((size_t) tab.n_mono * ST, 0.0));
  b.t.assign(BATCH, std::vector<int>(ST, 0));
  b.M.assign((size_t) tab.n_moments * BATCH, 0.0);
  b.G.assign((size_t) tab.n_moments * BATCH, 0.0);
  for (int s = 0; s < BATCH; s++) {
    const Env &e = envs[s];
    const int nn = (int) e.x.size(), NQ = (nn + 3) & ~3;
    for (int q = 0; q < NQ; q++) {
      if (q < nn) {
        const double r = std::sqrt(e.x[q] * e.x[q] + e.y[q] * e.y[q] + e.z[q] * e.z[q]);
        b.r[s][q] = r;
        b.u[s][q] = e.x[q] / r;
        b.u[s][ST + q] = e.y[q] / r;
        b.u[s][2 * ST + q] = e.z[q] / r;
        b.t[s][q] = e.t[q];
      } else
        b.u[s][q] = 1.0;    // padding: F = Fd = 0
    }
    radial(tab, e.ti, nn, b.r[s].data(), b.t[s].data(), b.F[s].data(), b.Fd[s].data(), ST);
    monomials(tab, o, b.u[s].data(), b.P[s].data(), NQ);
    basic_moments(tab, o, b.P[s].data(), b.F[s].data(), NQ, b.M.data() + s, BATCH);
  }
  times_forward(tab, b.M.data());
  times_backward(tab, b.M.data(), b.G.data());
}

static Env random_env(std::mt19937_64 &g, const Potential &p, int nn)
{
  std::uniform_real_distribution<double> U(-1.0, 1.0);
  std::uniform_int_distribution<int> T(0, p.species_count - 1);
  Env e;
  e.ti = T(g);
  while ((int) e.x.size() < nn) {
    double x = U(g), y = U(g), z = U(g);
    const double n = std::sqrt(x * x + y * y + z * z);
    if (n < 0.1 || n > 1.0) continue;
    const double r = p.min_dist + (0.05 + 0.9 * (0.5 + 0.5 * U(g))) * (p.max_dist - p.min_dist);
    e.x.push_back(x / n * r);
    e.y.push_back(y / n * r);
    e.z.push_back(z / n * r);
    e.t.push_back(T(g));
  }
  return e;
}

static std::string read_file(const char *path)
{
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

static int parse_error_line(const std::string &text, bool active, int rows = 0)
{
  try {
    if (active) parse_active_set(text, rows);
    else parse_mtp(text);
  } catch (const ParseError &e) {
    return e.line;
  }
  return -1;
}

static void test_readers(const std::string &text)
{
  // a bad number: the error names its line
  const auto at = text.find("moment_coeffs");
  int line = 1;
  for (size_t c = 0; c < at; c++) line += text[c] == '\n';
  std::string bad = text;
  const auto brace = bad.find('{', at);
  bad.insert(brace + 1, "x1.5, ");
  check(parse_error_line(bad, false) == line, "bad number: error on the moment_coeffs line");
  // a missing key: line 0
  std::string miss = text;
  miss.replace(miss.find("min_dist"), 8, "min_dust");
  check(parse_error_line(miss, false) == 0, "missing key: error for the whole file");
  check(parse_error_line("MTP\nspecies_count = 1\n", false) == 0, "truncated potential");
  check(parse_error_line("LAMMPS\n", false) == 1, "wrong magic line");
  // active sets
  const std::string good = "MTP active set v1\nmode neighborhood\nn_rows 2\ninverse\n1 0\n0 1\n";
  auto a = parse_active_set(good, 2);
  check(a.n_rows == 2 && !a.configuration_mode && a.inverse.size() == 4 && a.inverse[3] == 1.0, "active set");
  check(parse_error_line(good, true, 3) == 3, "active set with the wrong n_rows: line 3");
  check(parse_error_line("MTP active set v1\nmode neighborhood\nn_rows 2\ninverse\n1 0\n0\n", true, 2) == 6,
        "truncated active set: its last line");
  check(parse_error_line("MTP active set v1\nmode foo\nn_rows 2\ninverse\n1 0\n0 1\n", true, 2) == 2, "bad mode");
}

int main(int argc, char **argv)
{
  if (argc != 2) {
    std::fprintf(stderr, "usage: test_mtp_kernels POT.mtp\n");
    return 2;
  }
  const std::string text = read_file(argv[1]);
  Potential p = parse_mtp(text);
  test_readers(text);
  // coefficients of order one, so that every term matters in the comparisons
  std::mt19937_64 g(7);
  std::normal_distribution<double> N(0.0, 1.0);
  for (auto &c : p.radial_coeffs) c = 0.5 * N(g);
  for (auto &c : p.moment_coeffs) c = N(g);
  const Tables tab = make_tables(p);
  // four atoms with 0, 3, 11 and 30 neighbours: empty, one block of four, 8 + 4, 8-blocks
  std::vector<Env> envs = {random_env(g, p, 0), random_env(g, p, 3), random_env(g, p, 11), random_env(g, p, 30)};
  const int ST = 40;
  const Offsets o = make_offsets(tab, ST);
  Batch b;
  fill_batch(tab, o, envs, b);

  for (int s = 0; s < BATCH; s++) {
    const Env &e = envs[s];
    const int nn = (int) e.x.size();
    // radial functions and their derivative
    for (int q = 0; q < nn; q++)
      for (int mu = 0; mu < tab.R; mu++) {
        const double r = b.r[s][q], h = 1e-5;
        near(b.F[s][(size_t) mu * ST + q], ref_radial(p, e.ti, e.t[q], mu, r), 1e-12, 1e-14, "radial F");
        const double fd = (ref_radial(p, e.ti, e.t[q], mu, r + h) - ref_radial(p, e.ti, e.t[q], mu, r - h)) / (2 * h);
        near(b.Fd[s][(size_t) mu * ST + q], fd, 1e-6, 1e-9, "radial dF/dr");
      }
    // every moment (basic and times) and the site energy
    const auto M = ref_moments(p, e);
    for (int k = 0; k < tab.n_moments; k++)
      near(b.M[(size_t) k * BATCH + s], M[k], 1e-11, 1e-12, "moment " + std::to_string(k));
    double E = tab.species_coeffs[e.ti];
    for (int m = 0; m < tab.n_scalar; m++) E += tab.moment_coeffs[m] * b.M[(size_t) tab.mapping[m] * BATCH + s];
    near(E, ref_energy(p, e), 1e-11, 1e-12, "site energy");
    // the adjoint: dE/dM of the basic moments against the complex-step derivative of the
    // reference recursion (E is a polynomial in them: Im E(M + i h e_k) / h is exact to round-off)
    for (int k = 0; k < tab.n_basic; k++) {
      std::vector<std::complex<double>> Mk(M.begin(), M.begin() + tab.n_basic);
      const double h = 1e-30;
      Mk[k] += std::complex<double>(0.0, h);
      Mk.resize(p.alpha_moments_count, 0.0);
      for (int m = 0; m < p.n_times(); m++) {
        const int *t = &p.alpha_index_times[4 * m];
        Mk[t[3]] += (double) t[2] * Mk[t[0]] * Mk[t[1]];
      }
      std::complex<double> En = 0.0;
      for (int m = 0; m < p.n_scalar(); m++) En += p.moment_coeffs[m] * Mk[p.alpha_moment_mapping[m]];
      near(b.G[(size_t) k * BATCH + s], En.imag() / h, 1e-10, 1e-12, "dE/dM basic " + std::to_string(k));
    }
    // dE/dr of every neighbour against finite differences of the reference site energy
    std::vector<double> w4(4 * (size_t) ST), dEdr(3 * (size_t) ST);
    const int NQ = (nn + 3) & ~3;
    neighbour_backward(tab, o, b.G.data() + s, BATCH, b.P[s].data(), b.F[s].data(), b.Fd[s].data(), NQ, w4.data(), ST);
    neighbour_gradient(nn, b.r[s].data(), b.u[s].data(), ST, w4.data(), dEdr.data());
    for (int q = 0; q < nn; q++)
      for (int d = 0; d < 3; d++) {
        Env ep = e, em = e;
        const double h = 1e-6;
        (d == 0 ? ep.x : d == 1 ? ep.y : ep.z)[q] += h;
        (d == 0 ? em.x : d == 1 ? em.y : em.z)[q] -= h;
        const double fd = (ref_energy(p, ep) - ref_energy(p, em)) / (2 * h);
        near(dEdr[3 * q + d], fd, 1e-5, 1e-7, "dE/dr neighbour " + std::to_string(q));
      }
  }
  // monomials: every row of P against std::pow of its exponents (rebuilt from the lowering tree)
  {
    std::vector<std::vector<int>> pw(tab.n_mono, std::vector<int>(3, 0));
    for (int m = 1; m < tab.n_mono; m++) {
      pw[m] = pw[tab.mono_par[m]];
      pw[m][tab.mono_dim[m]]++;
    }
    const Env &e = envs[3];
    for (int m = 0; m < tab.n_mono; m++)
      for (int q = 0; q < (int) e.x.size(); q++) {
        const double *u = b.u[3].data();
        near(b.P[3][(size_t) m * ST + q],
              std::pow(u[q], pw[m][0]) * std::pow(u[ST + q], pw[m][1]) * std::pow(u[2 * ST + q], pw[m][2]), 1e-13,
              1e-15, "monomial");
      }
  }
  // grades: x A^-1 of four rows, max |.|, against a naive product (n not a multiple of 8)
  for (int n : {1, 7, 8, 21}) {
    std::vector<double> A((size_t) n * n), x((size_t) n * BATCH), scratch((size_t) n * BATCH);
    for (auto &v : A) v = N(g);
    for (auto &v : x) v = N(g);
    double gr[BATCH];
    grades(n, A.data(), x.data(), scratch.data(), gr);
    for (int s = 0; s < BATCH; s++) {
      double gm = 0.0;
      for (int c = 0; c < n; c++) {
        double v = 0.0;
        for (int r = 0; r < n; r++) v += x[(size_t) r * BATCH + s] * A[(size_t) r * n + c];
        gm = std::max(gm, std::fabs(v));
      }
      near(gr[s], gm, 1e-13, 1e-14, "grade n=" + std::to_string(n));
    }
  }
  if (n_failed) {
    std::fprintf(stderr, "%d of %d checks failed\n", n_failed, n_checks);
    return 1;
  }
  std::printf("ok %d checks\n", n_checks);
  return 0;
}
