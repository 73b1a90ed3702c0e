// The maths of the moment tensor potential, independent of LAMMPS (unit-tested in
// tests/potentials/mtp_kernels_test.cpp): evaluation tables built from a Potential, and kernels
// over the neighbours of one atom or over a batch of BATCH atoms.
//
// Per atom i with neighbours q (r_q, unit vector u_q, species t_q):
//   radial       F[mu][q] = sum_b c[ti][t_q][mu][b] T_b(ksi(r_q)) scaling (r_q - max_dist)^2, Fd = dF/dr
//   monomials    P[m][q]  = u_x^p0 u_y^p1 u_z^p2 for a list of monomials closed under lowering
//   basic        M[k]     = sum_q F[mu_k][q] P[mono_k][q]
//   times        M[k]     = sum over rows (a, b, mult, k) of mult M[a] M[b]   (forward, a batch)
//   energy       E_i      = species_coeffs[ti] + sum_m moment_coeffs[m] M[mapping[m]]
//   adjoint      G = dE/dM backward through the times rows; then per neighbour dE/dr_q from
//                G of the basic moments (neighbour_backward).
// Neighbour arrays are structures of arrays with a stride ST (a multiple of 4, >= the padded
// neighbour count NQ); padded neighbours must have F = Fd = 0. Moments of a batch are stored
// atom-fastest: M[k * BATCH + s] for atom s of the batch.
#ifndef ARGYRO_MTP_KERNELS_H
#define ARGYRO_MTP_KERNELS_H

#include "mtp_file.h"

#include <vector>

namespace argyro_mtp {

constexpr int BATCH = 4;    // atoms whose times recursion and grades run together (one AVX2 register)

struct Tables {
  int S = 0, R = 0, B = 0;             // species, radial functions, Chebyshev terms
  double scaling = 1.0, min_dist = 0.0, max_dist = 0.0;
  int n_basic = 0, n_moments = 0, n_scalar = 0;
  std::vector<double> radial_t;        // coefficients [ti][tj][b][mu] (contiguous in mu)
  // monomials closed under lowering, by degree: P[m] = P[mono_par[m]] * u[mono_dim[m]], P[0] = 1
  int n_mono = 0;
  std::vector<int> mono_par, mono_dim;
  std::vector<int> basic_mu, basic_mono;    // per basic moment
  // distinct angular parts a (ordered by class, see ang_class_start); basic moments grouped by angular part (CSR ang_start), with their
  // moment index ang_k and radial function ang_mu
  int n_ang = 0;
  std::vector<int> ang_mono, ang_start, ang_k, ang_mu;
  std::vector<int> ang_lower;          // [a][3]: monomial with one power of x/y/z less (0 if none)
  std::vector<double> ang_n;           // [a][4]: p0, p1, p2, p0+p1+p2
  std::vector<int> ang_class_start;    // [9]: angular parts by class (p0>0) + 2 (p1>0) + 4 (p2>0)
  // alpha_index_times rows in runs of one target, runs by ascending target; moment indices of
  // the times tables (t_a, t_b, run_target, src_t, src_o) are stored as offsets k * BATCH
  int n_runs = 0;
  std::vector<int> run_start, run_target, t_a, t_b;
  std::vector<double> t_mult;
  // the rows by source moment (CSR src_start over moments): target, other source, multiplicity
  std::vector<int> src_start, src_t, src_o;
  std::vector<double> src_mult;
  std::vector<int> mapping;            // alpha_moment_mapping
  std::vector<double> species_coeffs, moment_coeffs;
  std::vector<double> dEdM0;           // dE/dM before the adjoint: sum of moment_coeffs per moment
};

Tables make_tables(const Potential &p);

// row offsets (row index * stride ST) of the kernels' gathers for neighbour stride ST
struct Offsets {
  int ST = 0;
  std::vector<int> mono, mono_par, mono_dim, basic_P, basic_F, ang_F, ang_P, ang_g;
};
Offsets make_offsets(const Tables &t, int ST);

// radial functions and their r-derivatives of nn neighbours (species tj[q]) of an atom of species ti;
// r must be readable (finite) up to the next multiple of 4
void radial(const Tables &t, int ti, int nn, const double *r, const int *tj, double *F, double *Fd, int ST);
// monomials of NQ unit vectors u[3][ST] into P[n_mono][ST]
void monomials(const Tables &t, const Offsets &o, const double *u, double *P, int NQ);
// basic moments of one atom into M[k * stride]
void basic_moments(const Tables &t, const Offsets &o, const double *P, const double *F, int NQ, double *M,
                   int stride);
// the times recursion for BATCH atoms at once, forward (fills the non-basic moments of M) and
// adjoint (fills G with dE/dM of every moment, from dEdM0 and the times rows)
void times_forward(const Tables &t, double *M);
void times_backward(const Tables &t, const double *M, double *G);
// per neighbour q of one atom: A = sum_k G_k Fd[mu_k] P_k and the u-gradient of the angular
// parts g_d = sum_k G_k p_d(k) F[mu_k] P_{k - e_d}, into w4 = [A, gx, gy, gz][ST]; G of the basic
// moments read as G[k * stride]
void neighbour_backward(const Tables &t, const Offsets &o, const double *G, int stride, const double *P,
                        const double *F, const double *Fd, int NQ, double *w4, int ST);
// dE_i/dr_q (vector from atom i to neighbour q, [q][3]) of nn neighbours from neighbour_backward's w4
void neighbour_gradient(int nn, const double *r, const double *u, int ST, const double *w4, double *dEdr);
// MaxVol grades of BATCH rows x[rr * BATCH + s] (n = number of columns of A^-1 = rows of x):
// grade[s] = max_col |sum_rr x[rr][s] Ainv[rr][col]|; scratch of n * BATCH doubles
void grades(int n, const double *Ainv, const double *x, double *scratch, double *grade);

}    // namespace argyro_mtp

#endif
