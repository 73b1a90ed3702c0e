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
  // neighbour data of the current atom as structure of arrays with stride NN (multiple of 4):
  // nb_u [3][NN] unit vectors, nb_f/nb_df [mu][NN] radial functions/derivatives, nb_P [m][NN]
  std::vector<double> nb_r, nb_u, nb_f, nb_df, nb_P;
  std::vector<int> ang_gidx;                // per angular part: monomials with one power less (x,y,z)
  std::vector<int> ang_mono;                // per angular part: its index in the monomial list
  std::vector<int> mono_par, mono_dim;      // monomial list closed under lowering, degree order:
  int n_mono = 0;                           //   P[m] = P[mono_par[m]] * u[mono_dim[m]]
  std::vector<double> ang_n;                // per angular part: p0, p1, p2, p0+p1+p2
  std::vector<int> nb_j, nb_t;               // neighbour index, MTP species
  std::vector<double> moments, dEdM, rb_v, rb_d, row;
  std::vector<double> nb_w;                 // backward-pass results: A, nP, gx, gy, gz per neighbour
  std::vector<double> wk;                   // dE/dM of the basic moments in angular order
  // row offsets (row index * stride nmax_nb) of the kernels' gathers, recomputed in grow_nb
  std::vector<int> off_mono, off_mono_par, off_mono_dim, off_basic_P, off_basic_F, off_ang_F, off_ang_P,
      off_ang_g;
  // alpha_index_times rows grouped in runs of one target moment: rows run_start[r]..run_start[r+1)
  std::vector<int> t_a, t_b, run_start, run_target;
  std::vector<double> t_mult;
  int n_runs = 0;
  std::vector<int> basic_mono;              // per basic moment: monomial index of its angular part

  template <int RR> void eval(int, int);
  void read_mtp(const std::string &);
  void read_active_set(const std::string &);
  void grow_nb(int);
  void write_selected(double);
  void allocate();
};

}    // namespace LAMMPS_NS

#endif
