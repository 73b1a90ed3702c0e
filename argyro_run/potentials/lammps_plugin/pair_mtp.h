// pair_style mtp: moment tensor potential (MLIP-2/3 .mtp format) as a LAMMPS plugin.
// Part of argyro-run. This class is only the LAMMPS glue: the file readers are in mtp_file.*,
// the maths (radial functions, monomials, basic moments, the times recursion forward and
// adjoint, per-neighbour gradients, MaxVol grades) in mtp_kernels.*.
//
// compute() runs the local atoms in batches of argyro_mtp::BATCH: per batch the phases
// gather (neighbours inside the cutoff, per atom), forward (radial, monomials and basic moments
// per atom; the times recursion for the whole batch), energy (+ grades on grading steps),
// backward (adjoint recursion for the batch, per-neighbour gradients per atom) and tally
// (forces, virial); after the last batch the grade check (select/dump, break).
#ifndef ARGYRO_PAIR_MTP_H
#define ARGYRO_PAIR_MTP_H

#include "pair.h"

#include "mtp_kernels.h"

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
  argyro_mtp::Tables tab;                   // the potential, in evaluation tables
  argyro_mtp::Offsets off;                  // kernel offsets for the neighbour stride nmax_nb
  std::vector<std::string> species_names;
  std::vector<int> type_map;                // LAMMPS type -> MTP type (-1 unmapped)

  // active set / grades
  bool have_active = false;
  argyro_mtp::ActiveSet active;
  std::vector<double> config_row, config_row_all;
  double select_threshold = -1.0, break_threshold = -1.0;
  std::string dump_file;
  int grade_every = 1;                      // grade (select/dump, break) on steps divisible by this
  bigint last_dump_step = -1;
  int grade_index = -1;                     // custom per-atom vector d_mtp_grade
  double local_max_grade = 0.0;

  // batch work arrays (grown, never allocated in the inner loop). Per slot s of a batch the
  // neighbours of its atom as structure of arrays with stride nmax_nb (a multiple of 4):
  // r [NN], u [3][NN], F/Fd [R][NN], P [n_mono][NN], j/t [NN]
  int nmax_nb = 0;
  struct Slot {
    int i = -1, ti = -1, nn = 0;
    std::vector<double> r, u, F, Fd, P;
    std::vector<int> j, t;
  };
  Slot slot[argyro_mtp::BATCH];
  std::vector<double> M4, G4;               // moments and dE/dM of the batch [k][BATCH]
  std::vector<double> x4, gscratch;         // grade rows [species + scalar][BATCH], scratch
  std::vector<double> w4, dEdr;             // per-neighbour backward results of one atom

  void gather(int s, int i, int ti);
  void forward(int ns);
  void energy(int ns, bool grading);
  void backward_and_tally(int ns);
  void check_grades();
  std::string read_text(const std::string &path, bool potential_path);
  void read_mtp(const std::string &);
  void read_active_set(const std::string &);
  void grow_nb(int);
  void write_selected(double);
  void allocate();
};

}    // namespace LAMMPS_NS

#endif
