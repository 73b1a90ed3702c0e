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
  for (int m = 0; m < n_times; m++) {
    int a = times[4 * m], b = times[4 * m + 1], k = times[4 * m + 3];
    if (a < 0 || b < 0 || k < 0 || a >= alpha_moments_count || b >= alpha_moments_count ||
        k >= alpha_moments_count || a >= k || b >= k)
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
  mdense.assign((size_t) n_ang * rf_count, 0.0);
  wdense.assign((size_t) n_ang * rf_count, 0.0);
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
  if (n <= nmax_nb) return;
  nmax_nb = n + 16;
  nb_r.resize(nmax_nb);
  nb_u.resize(3 * (size_t) nmax_nb);
  nb_f.resize((size_t) nmax_nb * rf_count);
  nb_df.resize((size_t) nmax_nb * rf_count);
  nb_P.resize((size_t) nmax_nb * n_mono);
  nb_j.resize(nmax_nb);
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
    std::fill(moments.begin(), moments.end(), 0.0);
    std::fill(mdense.begin(), mdense.end(), 0.0);
    int nn = 0;
    // pass 1: neighbours, radial functions, angular parts, basic moments
    for (int jj = 0; jj < jn; jj++) {
      const int j = jl[jj] & NEIGHMASK;
      const int tj = type_map[type[j]];
      if (tj < 0) continue;
      const double dx = x[j][0] - xi, dy = x[j][1] - yi, dz = x[j][2] - zi;
      const double r2 = dx * dx + dy * dy + dz * dz;
      if (r2 >= cut2) continue;
      const double r = sqrt(r2), inv_r = 1.0 / r;
      const double ux = dx * inv_r, uy = dy * inv_r, uz = dz * inv_r;
      nb_j[nn] = j;
      nb_r[nn] = r;
      nb_u[3 * nn] = ux;
      nb_u[3 * nn + 1] = uy;
      nb_u[3 * nn + 2] = uz;
      // Chebyshev radial basis times scaling*(r-max_dist)^2 (MLIP RBChebyshev), contracted
      // with the radial coefficients on the fly (recursion kept in registers)
      const double ksi = (2.0 * r - (min_dist + max_dist)) / (max_dist - min_dist);
      const double d = r - max_dist;
      const double *c = &radial_coeffs_t[(size_t) (ti * S + tj) * B * R];
      double *fv = &nb_f[(size_t) nn * R];
      double *fd = &nb_df[(size_t) nn * R];
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
      // all monomials of the unit vector, each from its parent with one multiplication
      double *Pn = &nb_P[(size_t) nn * n_mono];
      const double uu[3] = {ux, uy, uz};
      Pn[0] = 1.0;
      for (int m = 1; m < n_mono; m++) Pn[m] = Pn[mono_par[m]] * uu[mono_dim[m]];
      for (int a = 0; a < n_ang; a++) {
        const double val = Pn[ang_mono[a]];
        double *md = &mdense[(size_t) a * R];
        for (int mu = 0; mu < R; mu++) md[mu] += val * fv[mu];
      }
      nn++;
    }
    for (int k = 0; k < n_basic; k++) moments[k] = mdense[(size_t) basic_ang[k] * R + basic_mu[k]];
    // forward recursion
    for (int m = 0; m < n_times; m++) {
      const int *t = &times[4 * m];
      moments[t[3]] += t[2] * moments[t[0]] * moments[t[1]];
    }
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
    // backward recursion
    for (int m = n_times - 1; m >= 0; m--) {
      const int *t = &times[4 * m];
      const double w = t[2] * dEdM[t[3]];
      dEdM[t[0]] += w * moments[t[1]];
      dEdM[t[1]] += w * moments[t[0]];
    }
    std::fill(wdense.begin(), wdense.end(), 0.0);
    for (int k = 0; k < n_basic; k++) wdense[(size_t) basic_ang[k] * R + basic_mu[k]] = dEdM[k];
    // pass 2: dE_i/dr_ij. With P_a = ux^p0 uy^p1 uz^p2 and n = p0+p1+p2,
    // dP_a/dr = (1/r) [(p0 ux^(p0-1) uy^p1 uz^p2, ...) - n P_a u].
    for (int q = 0; q < nn; q++) {
      const double *fv = &nb_f[(size_t) q * R];
      const double *fd = &nb_df[(size_t) q * R];
      const double *Pq = &nb_P[(size_t) q * n_mono];
      double A = 0.0, gx = 0.0, gy = 0.0, gz = 0.0, nP = 0.0;
      for (int a = 0; a < n_ang; a++) {
        double W = 0.0, Wd = 0.0;
        const double *wd = &wdense[(size_t) a * R];
        for (int mu = 0; mu < R; mu++) {
          W += wd[mu] * fv[mu];
          Wd += wd[mu] * fd[mu];
        }
        const int *gi = &ang_gidx[3 * a];
        const double *an = &ang_n[4 * a];
        const double val = Pq[ang_mono[a]];
        A += Wd * val;
        nP += W * an[3] * val;
        // d/du_x of u_x^p0 u_y^p1 u_z^p2 = p0 * (monomial with p0-1); p0 = 0 gives 0
        gx += W * an[0] * Pq[gi[0]];
        gy += W * an[1] * Pq[gi[1]];
        gz += W * an[2] * Pq[gi[2]];
      }
      const double inv_r = 1.0 / nb_r[q];
      const double ux = nb_u[3 * q], uy = nb_u[3 * q + 1], uz = nb_u[3 * q + 2];
      const double s_u = A - nP * inv_r;
      gx = gx * inv_r + s_u * ux;
      gy = gy * inv_r + s_u * uy;
      gz = gz * inv_r + s_u * uz;
      const int j = nb_j[q];
      f[i][0] += gx;
      f[i][1] += gy;
      f[i][2] += gz;
      f[j][0] -= gx;
      f[j][1] -= gy;
      f[j][2] -= gz;
      if (vflag_either) {    // ev_setup clears vflag_global when fdotr is used
        const double r = nb_r[q];
        ev_tally_xyz(i, j, atom->nlocal, 1, 0.0, 0.0, gx, gy, gz, -r * ux, -r * uy, -r * uz);
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
