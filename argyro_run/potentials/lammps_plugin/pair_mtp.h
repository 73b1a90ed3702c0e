// pair_style mtp: moment tensor potential (MLIP-2/3 .mtp format) as a LAMMPS plugin.
// Part of argyro-run. Reverse-mode evaluation: per atom one neighbour pass builds the basic
// moments, the alpha_index_times recursion runs forward, dE/dM runs backward, and a second
// neighbour pass turns dE/dM into dE/dr_ij.
#ifndef ARGYRO_PAIR_MTP_H
#define ARGYRO_PAIR_MTP_H

#include "pair.h"

#include <string>
#include <vector>

namespace LAMMPS_NS {

class PairMTP : public Pair {
 public:
  PairMTP(class LAMMPS *);
  ~PairMTP() override;
  void compute(int, int) override;
  void settings(int, char **) override;
  void coeff(int, char **) override;
  void init_style() override;
  double init_one(int, int) override;
  void *extract_peratom(const char *, int &) override;
  double memory_usage() override;

 protected:
  // potential
  int nspecies = 0, rb_size = 0, rf_count = 0;
  double scaling = 1.0, min_dist = 0.0, max_dist = 0.0;
  std::vector<double> radial_coeffs;        // [ti][tj][mu][xi]
  std::vector<double> radial_coeffs_t;      // [ti][tj][xi][mu] (contiguous in mu)
  std::vector<double> species_coeffs;       // [S]
  std::vector<double> moment_coeffs;        // [alpha_scalar]
  std::vector<int> basic_mu, basic_ang;     // per basic moment: radial function, angular index
  std::vector<int> ang_pow;                 // per distinct angular part: a,b,c
  std::vector<int> ang_start, ang_k, ang_mu; // basic moments grouped by angular part (CSR)
  std::vector<int> times;                   // [m][4]: i j mult k
  std::vector<int> mapping;                 // alpha_moment_mapping
  int alpha_moments_count = 0, n_basic = 0, n_times = 0, n_scalar = 0, n_ang = 0, max_pow = 0;
  std::vector<std::string> species_names;
  std::vector<int> type_map;                // LAMMPS type -> MTP type (-1 unmapped)

  // active set / grades
  bool have_active = false;
  bool config_mode = false;                 // active set of configuration rows (sum over atoms)
  std::vector<double> config_row, config_row_all;
  int active_nrows = 0;
  std::vector<double> ainv;                 // row-major A^-1
  double select_threshold = -1.0, break_threshold = -1.0;
  std::string dump_file;
  int dump_every = 1;
  bigint last_dump_step = -1;
  int grade_index = -1;                     // custom per-atom vector d_mtp_grade
  double last_max_grade = 0.0;

  // work arrays (grown, never allocated in the inner loop)
  int nmax_nb = 0;
  std::vector<double> nb_r, nb_u, nb_f, nb_df, nb_P;  // nb_P: monomials per neighbour
  std::vector<int> ang_gidx;                // per angular part: monomials with one power less (x,y,z)
  std::vector<int> ang_mono;                // per angular part: its index in the monomial list
  std::vector<int> mono_par, mono_dim;      // monomial list closed under lowering, degree order:
  int n_mono = 0;                           //   P[m] = P[mono_par[m]] * u[mono_dim[m]]
  std::vector<double> ang_n;                // per angular part: p0, p1, p2, p0+p1+p2
  std::vector<int> nb_j;
  std::vector<double> moments, dEdM, rb_v, rb_d, row;
  std::vector<double> mdense, wdense;       // basic moments / dE/dM as [angular part][mu]

  template <int RR> void eval(int, int);
  void read_mtp(const std::string &);
  void read_active_set(const std::string &);
  void grow_nb(int);
  void write_selected(double);
  void allocate();
};

}    // namespace LAMMPS_NS

#endif
