// pair_style mtp: see pair_mtp.h.
#include "pair_mtp.h"

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "update.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <algorithm>

using namespace LAMMPS_NS;

namespace {

// ---- vectorisable kernels over the neighbours of one atom (structure of arrays, stride NN,
// a multiple of 4; padded neighbours have zero radial functions). On x86-64 GCC builds a
// second copy for x86-64-v3 (AVX2 + FMA) chosen at run time, so the portable build is as fast
// as a -march=native one on current CPUs.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(ARGYRO_NO_CLONES)
#define MTP_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define MTP_CLONES
#endif

// P[m][q] = P[par[m]][q] * u[dim[m]][q] for m >= 1 (P[0] = 1); offsets are row * stride
MTP_CLONES void mtp_monomials(int n_mono, const int *par_off, const int *dim_off, const int *row_off,
                              const double *__restrict u, double *__restrict P, int NQ)
{
  for (int q = 0; q < NQ; q++) P[q] = 1.0;
  for (int m = 1; m < n_mono; m++) {
    const double *__restrict a = P + par_off[m];
    const double *__restrict b = u + dim_off[m];
    double *__restrict c = P + row_off[m];
    for (int q = 0; q < NQ; q++) c[q] = a[q] * b[q];
  }
}

// basic moments: M_k = sum_q F[mu_k][q] * P[mono_k][q]
MTP_CLONES void mtp_basic_moments(int n_basic, const int *P_off, const int *F_off, const double *__restrict P,
                                  const double *__restrict F, int NQ, double *__restrict out)
{
  for (int k = 0; k < n_basic; k++) {
    const double *__restrict a = P + P_off[k];
    const double *__restrict b = F + F_off[k];
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    for (int q = 0; q < NQ; q += 4) {
      s0 += a[q] * b[q];
      s1 += a[q + 1] * b[q + 1];
      s2 += a[q + 2] * b[q + 2];
      s3 += a[q + 3] * b[q + 3];
    }
    out[k] = (s0 + s1) + (s2 + s3);
  }
}

// alpha_index_times recursion in runs of one target: forward M[target] = sum mult M[a] M[b]
// (two accumulators: runs are short and the sum is latency-bound) and its adjoint
MTP_CLONES void mtp_times_forward(int n_runs, const int *run_start, const int *run_target, const int *t_a,
                                  const int *t_b, const double *t_mult, double *M)
{
  for (int rr = 0; rr < n_runs; rr++) {
    double acc0 = 0.0, acc1 = 0.0;
    int m = run_start[rr];
    const int e = run_start[rr + 1];
    for (; m + 1 < e; m += 2) {
      acc0 += t_mult[m] * M[t_a[m]] * M[t_b[m]];
      acc1 += t_mult[m + 1] * M[t_a[m + 1]] * M[t_b[m + 1]];
    }
    if (m < e) acc0 += t_mult[m] * M[t_a[m]] * M[t_b[m]];
    M[run_target[rr]] = acc0 + acc1;
  }
}

MTP_CLONES void mtp_times_backward(int n_runs, const int *run_start, const int *run_target, const int *t_a,
                                   const int *t_b, const double *t_mult, const double *M, double *G)
{
  for (int rr = n_runs - 1; rr >= 0; rr--) {
    const double g = G[run_target[rr]];
    if (g == 0.0) continue;
    for (int m = run_start[rr]; m < run_start[rr + 1]; m++) {
      const double w = t_mult[m] * g;
      G[t_a[m]] += w * M[t_b[m]];
      G[t_b[m]] += w * M[t_a[m]];
    }
  }
}

// four doubles (one AVX2 register, two SSE2 registers in the portable clone); unaligned
// loads/stores through memcpy
typedef double v4d __attribute__((vector_size(32)));
inline v4d ld4(const double *p)
{
  v4d v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void st4(double *p, v4d v) { std::memcpy(p, &v, sizeof v); }

// radial functions for 4 radial functions (R = 4, the common MLIP levels 14-18): per neighbour the
// Chebyshev recursion in scalars, the contraction with the coefficients c[tj][b][0..3] in one
// vector register; results scattered to F[mu][q], Fd[mu][q] (stride ST)
MTP_CLONES void mtp_radial4(int nn, const double *__restrict r, const int *__restrict tj,
                            const double *__restrict c_ti, int B, double min_dist, double max_dist,
                            double scaling, double *__restrict F, double *__restrict Fd, int ST)
{
  const double mult = 2.0 / (max_dist - min_dist);
  for (int q = 0; q < nn; q++) {
    const double rq = r[q];
    const double ksi = (2.0 * rq - (min_dist + max_dist)) / (max_dist - min_dist);
    const double d = rq - max_dist;
    const double *c = c_ti + (size_t) tj[q] * B * 4;
    double v0 = scaling * d * d, d0 = scaling * 2.0 * d;
    v4d fv = ld4(c) * v0, fd = ld4(c) * d0;
    if (B > 1) {
      double v1 = scaling * ksi * d * d, d1 = scaling * (mult * d * d + 2.0 * ksi * d);
      fv += ld4(c + 4) * v1;
      fd += ld4(c + 4) * d1;
      for (int b = 2; b < B; b++) {
        const double v2 = 2.0 * ksi * v1 - v0;
        const double d2 = 2.0 * (mult * v1 + ksi * d1) - d0;
        const v4d cb = ld4(c + 4 * b);
        fv += cb * v2;
        fd += cb * d2;
        v0 = v1;
        v1 = v2;
        d0 = d1;
        d1 = d2;
      }
    }
    for (int mu = 0; mu < 4; mu++) {
      F[(size_t) mu * ST + q] = fv[mu];
      Fd[(size_t) mu * ST + q] = fd[mu];
    }
  }
}

// backward pass: per neighbour q, A = dE/dr (radial), nP = sum_a W_a n_a P_a and
// g_d = sum_a W_a p_d(a) P_{a - e_d} with W_a = sum_{k in a} dE/dM_k F[mu_k] (wk[p] = dE/dM of
// the p-th basic moment in angular order); four neighbours at a time, all sums in registers
MTP_CLONES void mtp_backward(int n_ang, const int *ang_start, const int *F_off, const int *P_off,
                             const int *G_off, const double *ang_n, const double *__restrict wk,
                             const double *__restrict P, const double *__restrict F,
                             const double *__restrict Fd, int NQ, double *__restrict A,
                             double *__restrict nP, double *__restrict gx, double *__restrict gy,
                             double *__restrict gz)
{
  for (int q = 0; q < NQ; q += 4) {
    v4d a_ = {0, 0, 0, 0}, np_ = a_, x_ = a_, y_ = a_, z_ = a_;
    for (int a = 0; a < n_ang; a++) {
      v4d W = {0, 0, 0, 0}, Wd = W;
      for (int p = ang_start[a]; p < ang_start[a + 1]; p++) {
        const double w = wk[p];
        W += w * ld4(F + F_off[p] + q);
        Wd += w * ld4(Fd + F_off[p] + q);
      }
      const double *an = ang_n + 4 * a;
      const int *gi = G_off + 3 * a;
      const v4d Pa = ld4(P + P_off[a] + q);
      a_ += Wd * Pa;
      np_ += (an[3] * W) * Pa;
      x_ += (an[0] * W) * ld4(P + gi[0] + q);
      y_ += (an[1] * W) * ld4(P + gi[1] + q);
      z_ += (an[2] * W) * ld4(P + gi[2] + q);
    }
    st4(A + q, a_);
    st4(nP + q, np_);
    st4(gx + q, x_);
    st4(gy + q, y_);
    st4(gz + q, z_);
  }
}

std::string trim(const std::string &s)
{
  size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

// numbers in a "{...}" / "{{...}, {...}}" value
std::vector<double> numbers(const std::string &s)
{
  std::string t = s;
  for (char &c : t)
    if (c == '{' || c == '}' || c == ',') c = ' ';
  std::istringstream is(t);
  std::vector<double> out;
  double v;
  while (is >> v) out.push_back(v);
  return out;
}

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

}    // namespace

PairMTP::PairMTP(LAMMPS *lmp) : Pair(lmp)
{
  single_enable = 0;
  restartinfo = 0;
  one_coeff = 1;
  manybody_flag = 1;
  centroidstressflag = CENTROID_NOTAVAIL;
}

PairMTP::~PairMTP()
{
  if (allocated) {
    memory->destroy(setflag);
    memory->destroy(cutsq);
  }
}

void PairMTP::allocate()
{
  allocated = 1;
  int n = atom->ntypes + 1;
  memory->create(setflag, n, n, "pair:setflag");
  memory->create(cutsq, n, n, "pair:cutsq");
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) setflag[i][j] = 0;
}

void PairMTP::read_mtp(const std::string &path)
{
  std::ifstream in(path);
  if (!in) error->all(FLERR, "pair mtp: cannot open potential file {}", path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  if (lines.empty() || trim(lines[0]) != "MTP")
    error->all(FLERR, "pair mtp: {} is not an MTP file (first line must be 'MTP')", path);

  std::map<std::string, std::string> kv;
  std::vector<double> rc;
  for (size_t l = 1; l < lines.size(); l++) {
    std::string s = trim(lines[l]);
    if (s.empty()) continue;
    if (s == "radial_coeffs") {
      // blocks "i-j" followed by radial_funcs_count lines "{...}"
      while (l + 1 < lines.size()) {
        std::string h = trim(lines[l + 1]);
        if (h.empty() || h.find('=') != std::string::npos) break;
        if (h[0] == '{') {
          auto v = numbers(h);
          rc.insert(rc.end(), v.begin(), v.end());
        }
        l++;
      }
      continue;
    }
    auto eq = s.find('=');
    if (eq == std::string::npos) continue;
    kv[trim(s.substr(0, eq))] = trim(s.substr(eq + 1));
  }
  auto need = [&](const char *k) -> std::string {
    auto it = kv.find(k);
    if (it == kv.end()) error->all(FLERR, "pair mtp: {} lacks '{}'", path, k);
    return it->second;
  };
  if (kv.count("radial_basis_type") && kv["radial_basis_type"] != "RBChebyshev")
    error->all(FLERR, "pair mtp: only RBChebyshev radial basis is supported, got {}",
               kv["radial_basis_type"]);
  scaling = kv.count("scaling") ? std::stod(kv["scaling"]) : 1.0;
  nspecies = std::stoi(need("species_count"));
  min_dist = std::stod(need("min_dist"));
  max_dist = std::stod(need("max_dist"));
  rb_size = std::stoi(need("radial_basis_size"));
  rf_count = std::stoi(need("radial_funcs_count"));
  alpha_moments_count = std::stoi(need("alpha_moments_count"));
  n_basic = std::stoi(need("alpha_index_basic_count"));
  n_times = std::stoi(need("alpha_index_times_count"));
  n_scalar = std::stoi(need("alpha_scalar_moments"));
  auto basic = numbers(need("alpha_index_basic"));
  auto tim = numbers(need("alpha_index_times"));
  auto map = numbers(need("alpha_moment_mapping"));
  species_coeffs = numbers(need("species_coeffs"));
  moment_coeffs = numbers(need("moment_coeffs"));
  radial_coeffs = rc;
  species_names.clear();
  for (const char *key : {"species", "species_names", "elements"})
    if (kv.count(key)) species_names = words(kv[key]);
  // argyro-run writes the element names into MLIP's free-text tag: "potential_tag = species:Li,P,S"
  if (species_names.empty() && kv.count("potential_tag") && kv["potential_tag"].rfind("species:", 0) == 0)
    species_names = words(kv["potential_tag"].substr(8));

  if ((int) basic.size() != 4 * n_basic || (int) tim.size() != 4 * n_times ||
      (int) map.size() != n_scalar || (int) species_coeffs.size() != nspecies ||
      (int) moment_coeffs.size() != n_scalar ||
      (int) radial_coeffs.size() != nspecies * nspecies * rf_count * rb_size)
    error->all(FLERR, "pair mtp: inconsistent array sizes in {}", path);
  if (!species_names.empty() && (int) species_names.size() != nspecies)
    error->all(FLERR, "pair mtp: 'species' in {} has {} names, species_count is {}", path,
               species_names.size(), nspecies);

  radial_coeffs_t.assign(radial_coeffs.size(), 0.0);
  for (int pr = 0; pr < nspecies * nspecies; pr++)
    for (int mu = 0; mu < rf_count; mu++)
      for (int b = 0; b < rb_size; b++)
        radial_coeffs_t[((size_t) pr * rb_size + b) * rf_count + mu] =
            radial_coeffs[((size_t) pr * rf_count + mu) * rb_size + b];

  // distinct angular parts
  std::map<std::vector<int>, int> angid;
  basic_mu.assign(n_basic, 0);
  basic_ang.assign(n_basic, 0);
  ang_pow.clear();
  max_pow = 0;
  for (int k = 0; k < n_basic; k++) {
    int mu = (int) basic[4 * k];
    std::vector<int> abc = {(int) basic[4 * k + 1], (int) basic[4 * k + 2], (int) basic[4 * k + 3]};
    if (mu < 0 || mu >= rf_count) error->all(FLERR, "pair mtp: bad radial index in {}", path);
    auto it = angid.find(abc);
    int id;
    if (it == angid.end()) {
      id = (int) angid.size();
      angid[abc] = id;
      ang_pow.insert(ang_pow.end(), abc.begin(), abc.end());
    } else
      id = it->second;
    basic_mu[k] = mu;
    basic_ang[k] = id;
    max_pow = std::max(max_pow, std::max(abc[0], std::max(abc[1], abc[2])));
  }
  n_ang = (int) angid.size();
  // monomials u_x^p0 u_y^p1 u_z^p2 closed under lowering one power, sorted by degree
  {
    std::map<std::vector<int>, int> need;
    std::vector<std::vector<int>> stack;
    for (int a = 0; a < n_ang; a++)
      stack.push_back({ang_pow[3 * a], ang_pow[3 * a + 1], ang_pow[3 * a + 2]});
    stack.push_back({0, 0, 0});
    while (!stack.empty()) {
      auto m = stack.back();
      stack.pop_back();
      if (need.count(m)) continue;
      need[m] = 0;
      for (int d = 0; d < 3; d++)
        if (m[d] > 0) {
          auto l = m;
          l[d]--;
          stack.push_back(l);
        }
    }
    std::vector<std::vector<int>> monos;
    for (auto &kv2 : need) monos.push_back(kv2.first);
    std::stable_sort(monos.begin(), monos.end(), [](const std::vector<int> &x, const std::vector<int> &y) {
      return x[0] + x[1] + x[2] < y[0] + y[1] + y[2];
    });
    n_mono = (int) monos.size();
    for (int m = 0; m < n_mono; m++) need[monos[m]] = m;
    mono_par.assign(n_mono, 0);
    mono_dim.assign(n_mono, 0);
    for (int m = 1; m < n_mono; m++) {
      int d = 0;
      while (monos[m][d] == 0) d++;
      auto l = monos[m];
      l[d]--;
      mono_par[m] = need[l];
      mono_dim[m] = d;
    }
    ang_mono.assign(n_ang, 0);
    ang_gidx.assign(3 * n_ang, 0);
    for (int a = 0; a < n_ang; a++) {
      std::vector<int> m = {ang_pow[3 * a], ang_pow[3 * a + 1], ang_pow[3 * a + 2]};
      ang_mono[a] = need[m];
      for (int d = 0; d < 3; d++) {
        if (m[d] == 0) continue;    // coefficient p_d = 0: index 0 is never weighted
        auto l = m;
        l[d]--;
        ang_gidx[3 * a + d] = need[l];
      }
    }
  }
  basic_mono.assign(n_basic, 0);
  for (int k = 0; k < n_basic; k++) basic_mono[k] = ang_mono[basic_ang[k]];
  ang_n.assign(4 * n_ang, 0.0);
  for (int a = 0; a < n_ang; a++) {
    for (int d = 0; d < 3; d++) ang_n[4 * a + d] = ang_pow[3 * a + d];
    ang_n[4 * a + 3] = ang_pow[3 * a] + ang_pow[3 * a + 1] + ang_pow[3 * a + 2];
  }
  ang_start.assign(n_ang + 1, 0);
  for (int k = 0; k < n_basic; k++) ang_start[basic_ang[k] + 1]++;
  for (int a = 0; a < n_ang; a++) ang_start[a + 1] += ang_start[a];
  ang_k.assign(n_basic, 0);
  ang_mu.assign(n_basic, 0);
  {
    std::vector<int> fill(ang_start.begin(), ang_start.end() - 1);
    for (int k = 0; k < n_basic; k++) {
      int pos = fill[basic_ang[k]]++;
      ang_k[pos] = k;
      ang_mu[pos] = basic_mu[k];
    }
  }
  times.resize(4 * n_times);
  for (int m = 0; m < 4 * n_times; m++) times[m] = (int) tim[m];
  // rows grouped by target moment, groups in ascending target order: every source has a lower
  // index than its target (checked below), so a group's sources are complete when it runs
  {
    std::vector<int> order(n_times);
    for (int m = 0; m < n_times; m++) order[m] = m;
    std::stable_sort(order.begin(), order.end(),
                     [&](int u, int v) { return tim[4 * u + 3] < tim[4 * v + 3]; });
    t_a.assign(n_times, 0);
    t_b.assign(n_times, 0);
    t_mult.assign(n_times, 0.0);
    run_start.assign(1, 0);
    run_target.clear();
    for (int p = 0; p < n_times; p++) {
      const int m = order[p];
      t_a[p] = (int) tim[4 * m];
      t_b[p] = (int) tim[4 * m + 1];
      t_mult[p] = tim[4 * m + 2];
      const int k = (int) tim[4 * m + 3];
      if (run_target.empty() || run_target.back() != k) {
        if (!run_target.empty()) run_start.push_back(p);
        run_target.push_back(k);
      }
    }
    run_start.push_back(n_times);
    n_runs = (int) run_target.size();
  }
  for (int m = 0; m < n_times; m++) {
    int a = times[4 * m], b = times[4 * m + 1], k = times[4 * m + 3];
    if (a < 0 || b < 0 || k < 0 || a >= alpha_moments_count || b >= alpha_moments_count ||
        k >= alpha_moments_count || a >= k || b >= k || k < n_basic)
      error->all(FLERR, "pair mtp: alpha_index_times row {} of {} is not in evaluation order", m,
                 path);
  }
  mapping.resize(n_scalar);
  for (int m = 0; m < n_scalar; m++) {
    mapping[m] = (int) map[m];
    if (mapping[m] < 0 || mapping[m] >= alpha_moments_count)
      error->all(FLERR, "pair mtp: bad alpha_moment_mapping in {}", path);
  }
  moments.assign(alpha_moments_count, 0.0);
  wk.assign(n_basic, 0.0);
  nmax_nb = 0;    // neighbour arrays and kernel offsets are rebuilt for this basis
  dEdM.assign(alpha_moments_count, 0.0);
  rb_v.assign(rb_size, 0.0);
  rb_d.assign(rb_size, 0.0);
  row.assign(nspecies + n_scalar, 0.0);
}

void PairMTP::read_active_set(const std::string &path)
{
  std::ifstream in(path);
  if (!in) error->all(FLERR, "pair mtp: cannot open active set {}", path);
  std::string l1, w1, mode, w2;
  std::getline(in, l1);
  if (trim(l1) != "MTP active set v1")
    error->all(FLERR, "pair mtp: {} is not an 'MTP active set v1' file", path);
  in >> w1 >> mode >> w2 >> active_nrows;
  std::string w3;
  in >> w3;
  if (w1 != "mode" || w2 != "n_rows" || w3 != "inverse" ||
      (mode != "neighborhood" && mode != "configuration"))
    error->all(FLERR, "pair mtp: bad header in active set {}; allowed modes: neighborhood, "
               "configuration", path);
  config_mode = (mode == "configuration");
  if (active_nrows != nspecies + n_scalar)
    error->all(FLERR, "pair mtp: active set {} has n_rows {}, potential needs {}", path,
               active_nrows, nspecies + n_scalar);
  ainv.assign((size_t) active_nrows * active_nrows, 0.0);
  for (auto &v : ainv)
    if (!(in >> v)) error->all(FLERR, "pair mtp: active set {} is truncated", path);
  have_active = true;
}

void PairMTP::settings(int narg, char **arg)
{
  if (narg < 1) error->all(FLERR, "Illegal pair_style mtp command: pair_style mtp FILE.mtp "
                           "[active_set FILE] [select G1] [break G2] [dump FILE] [every N]");
  read_mtp(arg[0]);
  std::string active;
  have_active = false;
  select_threshold = break_threshold = -1.0;
  dump_file.clear();
  dump_every = 1;
  for (int i = 1; i < narg; i += 2) {
    if (i + 1 >= narg) error->all(FLERR, "pair_style mtp: keyword {} needs a value", arg[i]);
    std::string k = arg[i];
    if (k == "active_set") active = arg[i + 1];
    else if (k == "select") select_threshold = utils::numeric(FLERR, arg[i + 1], false, lmp);
    else if (k == "break") break_threshold = utils::numeric(FLERR, arg[i + 1], false, lmp);
    else if (k == "dump") dump_file = arg[i + 1];
    else if (k == "every") dump_every = utils::inumeric(FLERR, arg[i + 1], false, lmp);
    else
      error->all(FLERR, "pair_style mtp: unknown keyword {}; allowed: active_set select break "
                 "dump every", k);
  }
  if (!active.empty()) read_active_set(active);
  if ((select_threshold > 0 || break_threshold > 0) && !have_active)
    error->all(FLERR, "pair_style mtp: select/break need an active_set FILE");
  if (select_threshold > 0 && dump_file.empty())
    error->all(FLERR, "pair_style mtp: select needs dump FILE");
  if (dump_every < 1) error->all(FLERR, "pair_style mtp: every must be >= 1");
}

void PairMTP::coeff(int narg, char **arg)
{
  if (!allocated) allocate();
  int ntypes = atom->ntypes;
  if (narg != 2 + ntypes)
    error->all(FLERR, "pair_coeff * * needs one MTP species per LAMMPS type ({} types)", ntypes);
  if (strcmp(arg[0], "*") != 0 || strcmp(arg[1], "*") != 0)
    error->all(FLERR, "pair_style mtp requires pair_coeff * *");
  type_map.assign(ntypes + 1, -1);
  for (int t = 1; t <= ntypes; t++) {
    std::string s = arg[1 + t];
    int idx = -1;
    if (s == "NULL") idx = -1;
    else {
      for (int m = 0; m < (int) species_names.size(); m++)
        if (species_names[m] == s) idx = m;
      if (idx < 0) {
        char *end = nullptr;
        long v = strtol(s.c_str(), &end, 10);
        if (end && *end == '\0' && v >= 0 && v < nspecies) idx = (int) v;
        else
          error->all(FLERR, "pair_coeff mtp: species '{}' is neither a species of the potential "
                     "nor an MTP type index 0..{}", s, nspecies - 1);
      }
    }
    type_map[t] = idx;
  }
  for (int i = 1; i <= ntypes; i++)
    for (int j = i; j <= ntypes; j++) setflag[i][j] = (type_map[i] >= 0 && type_map[j] >= 0);
}

void PairMTP::init_style()
{
  if (force->newton_pair == 0) error->all(FLERR, "pair_style mtp requires newton pair on");
  neighbor->add_request(this, NeighConst::REQ_FULL);
  if (have_active) {
    int flag, cols;
    grade_index = atom->find_custom("mtp_grade", flag, cols);
    if (grade_index < 0) grade_index = atom->add_custom("mtp_grade", 1, 0);
  }
}

double PairMTP::init_one(int, int) { return max_dist; }

void PairMTP::grow_nb(int n)
{
  if (n + 4 <= nmax_nb) return;
  nmax_nb = ((n + 4 + 16) + 3) & ~3;    // stride of the structure-of-arrays neighbour data
  const int ST = nmax_nb;
  nb_r.resize(ST);
  nb_u.resize(3 * (size_t) ST);
  nb_f.resize((size_t) ST * rf_count);
  nb_df.resize((size_t) ST * rf_count);
  nb_P.resize((size_t) ST * n_mono);
  nb_w.resize(5 * (size_t) ST);
  nb_j.resize(ST);
  nb_t.resize(ST);
  // row offsets (row * stride) used by the kernels
  off_mono.assign(n_mono, 0);
  off_mono_par.assign(n_mono, 0);
  off_mono_dim.assign(n_mono, 0);
  for (int m = 0; m < n_mono; m++) {
    off_mono[m] = m * ST;
    off_mono_par[m] = mono_par[m] * ST;
    off_mono_dim[m] = mono_dim[m] * ST;
  }
  off_basic_P.assign(n_basic, 0);
  off_basic_F.assign(n_basic, 0);
  for (int k = 0; k < n_basic; k++) {
    off_basic_P[k] = basic_mono[k] * ST;
    off_basic_F[k] = basic_mu[k] * ST;
  }
  off_ang_F.assign(n_basic, 0);
  for (int p = 0; p < n_basic; p++) off_ang_F[p] = ang_mu[p] * ST;
  off_ang_P.assign(n_ang, 0);
  off_ang_g.assign(3 * n_ang, 0);
  for (int a = 0; a < n_ang; a++) {
    off_ang_P[a] = ang_mono[a] * ST;
    for (int d = 0; d < 3; d++) off_ang_g[3 * a + d] = ang_gidx[3 * a + d] * ST;
  }
}

void PairMTP::compute(int eflag, int vflag)
{
  // radial_funcs_count as a compile-time constant for the common sizes (unrolled mu loops)
  switch (rf_count) {
    case 1: eval<1>(eflag, vflag); break;
    case 2: eval<2>(eflag, vflag); break;
    case 3: eval<3>(eflag, vflag); break;
    case 4: eval<4>(eflag, vflag); break;
    case 5: eval<5>(eflag, vflag); break;
    case 6: eval<6>(eflag, vflag); break;
    default: eval<0>(eflag, vflag);
  }
}

template <int RR> void PairMTP::eval(int eflag, int vflag)
{
  ev_init(eflag, vflag);
  double **x = atom->x;
  double **f = atom->f;
  int *type = atom->type;
  int inum = list->inum;
  int *ilist = list->ilist;
  int *numneigh = list->numneigh;
  int **firstneigh = list->firstneigh;
  const double cut2 = max_dist * max_dist;
  const int R = RR > 0 ? RR : rf_count;
  const int B = rb_size, S = nspecies;
  double *grades = (have_active && grade_index >= 0) ? atom->dvector[grade_index] : nullptr;
  double local_max_grade = 0.0;
  if (have_active && config_mode) config_row.assign(nspecies + n_scalar, 0.0);
  const double mult = 2.0 / (max_dist - min_dist);

  for (int ii = 0; ii < inum; ii++) {
    const int i = ilist[ii];
    const int ti = type_map[type[i]];
    if (ti < 0) continue;
    const double xi = x[i][0], yi = x[i][1], zi = x[i][2];
    const int *jl = firstneigh[i];
    const int jn = numneigh[i];
    grow_nb(jn);
    const int NN = nmax_nb;    // stride of the neighbour arrays (a multiple of 4, > jn + 3)
    double *ux_ = &nb_u[0], *uy_ = ux_ + NN, *uz_ = uy_ + NN;
    double *F = &nb_f[0], *Fd = &nb_df[0];
    int nn = 0;
    // pass 1: neighbours inside the cutoff and their unit vectors; then the radial functions
    // (Chebyshev basis times scaling*(r-max_dist)^2 as MLIP's RBChebyshev, contracted with the
    // coefficients of the species pair)
    for (int jj = 0; jj < jn; jj++) {
      const int j = jl[jj] & NEIGHMASK;
      const int tj = type_map[type[j]];
      if (tj < 0) continue;
      const double dx = x[j][0] - xi, dy = x[j][1] - yi, dz = x[j][2] - zi;
      const double r2 = dx * dx + dy * dy + dz * dz;
      if (r2 >= cut2) continue;
      const double r = sqrt(r2), inv_r = 1.0 / r;
      nb_j[nn] = j;
      nb_r[nn] = r;
      nb_t[nn] = tj;
      ux_[nn] = dx * inv_r;
      uy_[nn] = dy * inv_r;
      uz_[nn] = dz * inv_r;
      nn++;
    }
    const double *c_ti = &radial_coeffs_t[(size_t) ti * S * B * R];
    if (R == 4) {
      mtp_radial4(nn, nb_r.data(), nb_t.data(), c_ti, B, min_dist, max_dist, scaling, F, Fd, NN);
    } else {
      for (int q = 0; q < nn; q++) {
        const double r = nb_r[q];
        const double ksi = (2.0 * r - (min_dist + max_dist)) / (max_dist - min_dist);
        const double d = r - max_dist;
        const double *c = c_ti + (size_t) nb_t[q] * B * R;
        double fv[RR > 0 ? RR : 64], fd[RR > 0 ? RR : 64];
        double v0 = scaling * d * d, d0 = scaling * 2.0 * d;
        for (int mu = 0; mu < R; mu++) {
          fv[mu] = c[mu] * v0;
          fd[mu] = c[mu] * d0;
        }
        if (B > 1) {
          double v1 = scaling * ksi * d * d, d1 = scaling * (mult * d * d + 2.0 * ksi * d);
          const double *cb = c + R;
          for (int mu = 0; mu < R; mu++) {
            fv[mu] += cb[mu] * v1;
            fd[mu] += cb[mu] * d1;
          }
          for (int b = 2; b < B; b++) {
            const double v2 = 2.0 * ksi * v1 - v0;
            const double d2 = 2.0 * (mult * v1 + ksi * d1) - d0;
            cb = c + (size_t) b * R;
            for (int mu = 0; mu < R; mu++) {
              fv[mu] += cb[mu] * v2;
              fd[mu] += cb[mu] * d2;
            }
            v0 = v1;
            v1 = v2;
            d0 = d1;
            d1 = d2;
          }
        }
        for (int mu = 0; mu < R; mu++) {
          F[(size_t) mu * NN + q] = fv[mu];
          Fd[(size_t) mu * NN + q] = fd[mu];
        }
      }
    }
    const int NQ = (nn + 3) & ~3;    // neighbours padded to whole vectors
    for (int q = nn; q < NQ; q++) {    // padding: zero radial functions, harmless unit vector
      ux_[q] = 1.0;
      uy_[q] = uz_[q] = 0.0;
      nb_r[q] = 1.0;
      for (int mu = 0; mu < R; mu++) F[(size_t) mu * NN + q] = Fd[(size_t) mu * NN + q] = 0.0;
    }
    double *P = &nb_P[0];
    mtp_monomials(n_mono, off_mono_par.data(), off_mono_dim.data(), off_mono.data(), ux_, P, NQ);
    mtp_basic_moments(n_basic, off_basic_P.data(), off_basic_F.data(), P, F, NQ, moments.data());
    // forward recursion, one run of rows per target moment
    mtp_times_forward(n_runs, run_start.data(), run_target.data(), t_a.data(), t_b.data(), t_mult.data(),
                      moments.data());
    double Ei = species_coeffs[ti];
    std::fill(dEdM.begin(), dEdM.end(), 0.0);
    for (int m = 0; m < n_scalar; m++) {
      Ei += moment_coeffs[m] * moments[mapping[m]];
      dEdM[mapping[m]] += moment_coeffs[m];
    }
    if (eflag_global) eng_vdwl += Ei;
    if (eflag_atom) eatom[i] += Ei;
    // grade
    if (grades && config_mode) {
      config_row[ti] += 1.0;
      for (int m = 0; m < n_scalar; m++) config_row[S + m] += moments[mapping[m]];
      grades[i] = 0.0;    // configuration mode: no per-atom grade
    } else if (grades) {
      std::fill(row.begin(), row.end(), 0.0);
      row[ti] = 1.0;
      for (int m = 0; m < n_scalar; m++) row[S + m] = moments[mapping[m]];
      double g = 0.0;
      const int n = active_nrows;
      for (int col = 0; col < n; col++) {
        double s = 0.0;
        for (int rr = 0; rr < n; rr++) s += row[rr] * ainv[(size_t) rr * n + col];
        g = std::max(g, fabs(s));
      }
      grades[i] = g;
      local_max_grade = std::max(local_max_grade, g);
    }
    // backward recursion, runs in reverse order (a target's dE/dM is complete before its run)
    mtp_times_backward(n_runs, run_start.data(), run_target.data(), t_a.data(), t_b.data(), t_mult.data(),
                       moments.data(), dEdM.data());
    for (int p = 0; p < n_basic; p++) wk[p] = dEdM[ang_k[p]];
    // pass 2: dE_i/dr_ij. With P_a = ux^p0 uy^p1 uz^p2 and n = p0+p1+p2,
    // dP_a/dr = (1/r) [(p0 ux^(p0-1) uy^p1 uz^p2, ...) - n P_a u].
    double *Ar = &nb_w[0], *nP = Ar + NN, *gx = nP + NN, *gy = gx + NN, *gz = gy + NN;
    mtp_backward(n_ang, ang_start.data(), off_ang_F.data(), off_ang_P.data(), off_ang_g.data(), ang_n.data(),
                 wk.data(), P, F, Fd, NQ, Ar, nP, gx, gy, gz);
    for (int q = 0; q < nn; q++) {
      const double inv_r = 1.0 / nb_r[q];
      const double ux = ux_[q], uy = uy_[q], uz = uz_[q];
      const double s_u = Ar[q] - nP[q] * inv_r;
      const double fx = gx[q] * inv_r + s_u * ux;
      const double fy = gy[q] * inv_r + s_u * uy;
      const double fz = gz[q] * inv_r + s_u * uz;
      const int j = nb_j[q];
      f[i][0] += fx;
      f[i][1] += fy;
      f[i][2] += fz;
      f[j][0] -= fx;
      f[j][1] -= fy;
      f[j][2] -= fz;
      if (vflag_either) {    // ev_setup clears vflag_global when fdotr is used
        const double r = nb_r[q];
        ev_tally_xyz(i, j, atom->nlocal, 1, 0.0, 0.0, fx, fy, fz, -r * ux, -r * uy, -r * uz);
      }
    }
  }
  if (vflag_fdotr) virial_fdotr_compute();

  if (have_active) {
    double gmax = 0.0;
    if (config_mode) {
      const int n = active_nrows;
      config_row_all.assign(n, 0.0);
      MPI_Allreduce(config_row.data(), config_row_all.data(), n, MPI_DOUBLE, MPI_SUM, world);
      for (int col = 0; col < n; col++) {
        double s = 0.0;
        for (int rr = 0; rr < n; rr++) s += config_row_all[rr] * ainv[(size_t) rr * n + col];
        gmax = std::max(gmax, fabs(s));
      }
    } else
      MPI_Allreduce(&local_max_grade, &gmax, 1, MPI_DOUBLE, MPI_MAX, world);
    last_max_grade = gmax;
    if (select_threshold > 0 && gmax > select_threshold) {
      bigint step = update->ntimestep;
      if (last_dump_step < 0 || step - last_dump_step >= dump_every) {
        write_selected(gmax);
        last_dump_step = step;
      }
    }
    if (break_threshold > 0 && gmax > break_threshold)
      error->all(FLERR, "MTP extrapolation break: max grade {:.6g} > break {:.6g} at step {}",
                 gmax, break_threshold, update->ntimestep);
  }
}

void PairMTP::write_selected(double gmax)
{
  const int nlocal = atom->nlocal;
  const int S = 6;    // tag, type, x, y, z, grade
  std::vector<double> buf((size_t) S * nlocal);
  double *grades = atom->dvector[grade_index];
  for (int i = 0; i < nlocal; i++) {
    buf[S * i] = (double) atom->tag[i];
    buf[S * i + 1] = (double) type_map[atom->type[i]];
    buf[S * i + 2] = atom->x[i][0] - domain->boxlo[0];
    buf[S * i + 3] = atom->x[i][1] - domain->boxlo[1];
    buf[S * i + 4] = atom->x[i][2] - domain->boxlo[2];
    buf[S * i + 5] = grades[i];
  }
  int me = comm->me, np = comm->nprocs;
  int cnt = S * nlocal;
  std::vector<int> counts(np), displs(np);
  MPI_Gather(&cnt, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, world);
  std::vector<double> all;
  if (me == 0) {
    int tot = 0;
    for (int p = 0; p < np; p++) {
      displs[p] = tot;
      tot += counts[p];
    }
    all.resize(tot);
  }
  MPI_Gatherv(buf.data(), cnt, MPI_DOUBLE, all.data(), counts.data(), displs.data(), MPI_DOUBLE,
              0, world);
  if (me != 0) return;
  const int n = (int) all.size() / S;
  std::vector<int> order(n);
  for (int k = 0; k < n; k++) order[k] = k;
  std::sort(order.begin(), order.end(), [&](int a, int b) { return all[S * a] < all[S * b]; });
  FILE *fp = fopen(dump_file.c_str(), "a");
  if (!fp) error->one(FLERR, "pair mtp: cannot open dump file {}", dump_file);
  fprintf(fp, "BEGIN_CFG\n Size\n    %d\n", n);
  if (domain->xperiodic || domain->yperiodic || domain->zperiodic) {
    fprintf(fp, " Supercell\n");
    fprintf(fp, "    %.10f %.10f %.10f\n", domain->xprd, 0.0, 0.0);
    fprintf(fp, "    %.10f %.10f %.10f\n", domain->xy, domain->yprd, 0.0);
    fprintf(fp, "    %.10f %.10f %.10f\n", domain->xz, domain->yz, domain->zprd);
  }
  fprintf(fp, " AtomData:  id type       cartes_x      cartes_y      cartes_z   nbh_grades\n");
  for (int k = 0; k < n; k++) {
    const double *a = &all[S * order[k]];
    fprintf(fp, "    %6d %4d %16.10f %16.10f %16.10f %14.6e\n", k + 1, (int) a[1], a[2], a[3],
            a[4], a[5]);
  }
  fprintf(fp, " Feature   MV_grade\t%.6e\n", gmax);
  fprintf(fp, " Feature   lammps_step\t" BIGINT_FORMAT "\n", update->ntimestep);
  fprintf(fp, "END_CFG\n\n");
  fclose(fp);
}

void *PairMTP::extract_peratom(const char *str, int &ncol)
{
  ncol = 0;
  if (strcmp(str, "mtp_grade") == 0 && grade_index >= 0) return atom->dvector[grade_index];
  return nullptr;
}

double PairMTP::memory_usage()
{
  return (double) nmax_nb * (4 + 2 * rf_count + n_mono) * sizeof(double);
}
