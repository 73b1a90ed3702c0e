// Kernels of the moment tensor potential: see mtp_kernels.h.
#include "mtp_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

namespace argyro_mtp {

namespace {

// On x86-64 GCC builds every hot kernel gets a second copy for x86-64-v3 (AVX2 + FMA) chosen at
// run time, so the portable build (no -march) runs AVX2 code on current CPUs.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(ARGYRO_NO_CLONES)
#define MTP_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define MTP_CLONES
#endif

// four doubles (one AVX2 register, two SSE2 registers in the portable clone); unaligned
// loads/stores through memcpy
typedef double v4d __attribute__((vector_size(32)));
static_assert(BATCH == 4, "the batch kernels use one v4d per moment");
inline v4d ld4(const double *p)
{
  v4d v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void st4(double *p, v4d v) { std::memcpy(p, &v, sizeof v); }

MTP_CLONES void monomials_k(int n_mono, const int *par_off, const int *dim_off, const int *row_off,
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

MTP_CLONES void basic_moments_k(int n_basic, const int *P_off, const int *F_off, const double *__restrict P,
                                const double *__restrict F, int NQ, double *__restrict out, int stride)
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
    out[(size_t) k * stride] = (s0 + s1) + (s2 + s3);
  }
}

// forward: M[target] = sum mult M[a] M[b] over a run, for the 4 atoms of a batch at once (the
// 4-wide loads/stores replace 4 scattered scalar ones; two accumulators hide the add latency)
MTP_CLONES void times_forward_k(int n_runs, const int *run_start, const int *run_target, const int *t_a,
                                const int *t_b, const double *t_mult, double *M)
{
  for (int rr = 0; rr < n_runs; rr++) {
    v4d acc0 = {0, 0, 0, 0}, acc1 = acc0;
    int m = run_start[rr];
    const int e = run_start[rr + 1];
    for (; m + 1 < e; m += 2) {
      acc0 += t_mult[m] * ld4(M + t_a[m]) * ld4(M + t_b[m]);
      acc1 += t_mult[m + 1] * ld4(M + t_a[m + 1]) * ld4(M + t_b[m + 1]);
    }
    if (m < e) acc0 += t_mult[m] * ld4(M + t_a[m]) * ld4(M + t_b[m]);
    st4(M + run_target[rr], acc0 + acc1);
  }
}

// adjoint in gather form: moments by descending index, G[k] = dE0/dM[k] + sum over the rows
// with k as a source of mult G[target] M[other source]. Every target is above its sources, so
// its G is final when a source reads it: one store per moment, sums in registers (the scatter
// form, G[a] += w M[b] per row, is bound by store-to-load forwarding)
MTP_CLONES void times_backward_k(int n_moments, const int *src_start, const int *e_t, const int *e_o,
                                 const double *e_mult, const double *dEdM0, const double *M, double *G)
{
  for (int k = n_moments - 1; k >= 0; k--) {
    v4d acc0 = {dEdM0[k], dEdM0[k], dEdM0[k], dEdM0[k]}, acc1 = {0, 0, 0, 0};
    int e = src_start[k];
    const int end = src_start[k + 1];
    for (; e + 1 < end; e += 2) {
      acc0 += e_mult[e] * ld4(G + e_t[e]) * ld4(M + e_o[e]);
      acc1 += e_mult[e + 1] * ld4(G + e_t[e + 1]) * ld4(M + e_o[e + 1]);
    }
    if (e < end) acc0 += e_mult[e] * ld4(G + e_t[e]) * ld4(M + e_o[e]);
    st4(G + 4 * k, acc0 + acc1);
  }
}

// radial functions for R = 4 (the common MLIP levels 14-18): the Chebyshev recursion for four
// neighbours at once (r padded to whole vectors), then per neighbour the contraction with
// c[tj][b][0..3] in one vector register. B <= 32 Chebyshev terms (more: radial_generic)
constexpr int RADIAL4_MAX_B = 32;
MTP_CLONES void radial4_k(int nn, const double *__restrict r, const int *__restrict tj,
                          const double *__restrict c_ti, int B, double min_dist, double max_dist, double scaling,
                          double *__restrict F, double *__restrict Fd, int ST)
{
  const double mult = 2.0 / (max_dist - min_dist);
  double T[RADIAL4_MAX_B][4], D[RADIAL4_MAX_B][4];
  for (int q = 0; q < nn; q += 4) {
    const v4d rq = ld4(r + q);
    const v4d ksi = (2.0 * rq - (min_dist + max_dist)) / (max_dist - min_dist);
    const v4d d = rq - max_dist;
    v4d v0 = scaling * d * d, d0 = scaling * 2.0 * d;
    st4(T[0], v0);
    st4(D[0], d0);
    if (B > 1) {
      v4d v1 = scaling * ksi * d * d, d1 = scaling * (mult * d * d + 2.0 * ksi * d);
      st4(T[1], v1);
      st4(D[1], d1);
      for (int b = 2; b < B; b++) {
        const v4d v2 = 2.0 * ksi * v1 - v0;
        const v4d d2 = 2.0 * (mult * v1 + ksi * d1) - d0;
        st4(T[b], v2);
        st4(D[b], d2);
        v0 = v1;
        v1 = v2;
        d0 = d1;
        d1 = d2;
      }
    }
    const int nl = nn - q < 4 ? nn - q : 4;
    for (int l = 0; l < nl; l++) {
      const double *c = c_ti + (size_t) tj[q + l] * B * 4;
      v4d fv = {0, 0, 0, 0}, fd = fv;
      for (int b = 0; b < B; b++) {
        const v4d cb = ld4(c + 4 * b);
        fv += cb * T[b][l];
        fd += cb * D[b][l];
      }
      for (int mu = 0; mu < 4; mu++) {
        F[(size_t) mu * ST + q + l] = fv[mu];
        Fd[(size_t) mu * ST + q + l] = fd[mu];
      }
    }
  }
}

// any R (RR > 0: compile-time R, unrolled mu loops)
template <int RR>
void radial_generic(int Rdyn, int nn, const double *r, const int *tj, const double *c_ti, int B, double min_dist,
                    double max_dist, double scaling, double *F, double *Fd, int ST)
{
  const int R = RR > 0 ? RR : Rdyn;
  const double mult = 2.0 / (max_dist - min_dist);
  std::vector<double> buf(RR > 0 ? 0 : 2 * (size_t) R);
  double fixed[2 * (RR > 0 ? RR : 1)];
  double *fv = RR > 0 ? fixed : buf.data(), *fd = fv + R;
  for (int q = 0; q < nn; q++) {
    const double rq = r[q];
    const double ksi = (2.0 * rq - (min_dist + max_dist)) / (max_dist - min_dist);
    const double d = rq - max_dist;
    const double *c = c_ti + (size_t) tj[q] * B * R;
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
      F[(size_t) mu * ST + q] = fv[mu];
      Fd[(size_t) mu * ST + q] = fd[mu];
    }
  }
}

// the angular parts a0..a1 of one class (X, Y, Z: which powers are nonzero) for NV x 4
// neighbours from q on, sums in registers. The radial part of the derivative is
// A = sum_a Wd_a P_a; the angular part g_d = sum_a p_d(a) W_a P_{a - e_d} (the u-gradient of the
// monomials); wk[p] = dE/dM of the p-th basic moment in angular order
template <int NV, bool X, bool Y, bool Z>
__attribute__((always_inline)) inline void nb_class(int q, int a0, int a1, const int *ang_start, const int *F_off,
                                                    const int *P_off, const int *G_off, const double *ang_n,
                                                    const double *__restrict wk, const double *__restrict P,
                                                    const double *__restrict F, const double *__restrict Fd,
                                                    v4d *a_, v4d *x_, v4d *y_, v4d *z_)
{
  for (int a = a0; a < a1; a++) {
    v4d W[NV], Wd[NV];
    for (int v = 0; v < NV; v++) W[v] = Wd[v] = v4d{0, 0, 0, 0};
    for (int p = ang_start[a]; p < ang_start[a + 1]; p++) {
      const double w = wk[p];
      const int fo = F_off[p] + q;
      for (int v = 0; v < NV; v++) {
        W[v] += w * ld4(F + fo + 4 * v);
        Wd[v] += w * ld4(Fd + fo + 4 * v);
      }
    }
    const double *an = ang_n + 4 * a;
    const int *gi = G_off + 3 * a;
    const int po = P_off[a] + q;
    for (int v = 0; v < NV; v++) a_[v] += Wd[v] * ld4(P + po + 4 * v);
    if (X) {
      const int g = gi[0] + q;
      const double c = an[0];
      for (int v = 0; v < NV; v++) x_[v] += (c * W[v]) * ld4(P + g + 4 * v);
    }
    if (Y) {
      const int g = gi[1] + q;
      const double c = an[1];
      for (int v = 0; v < NV; v++) y_[v] += (c * W[v]) * ld4(P + g + 4 * v);
    }
    if (Z) {
      const int g = gi[2] + q;
      const double c = an[2];
      for (int v = 0; v < NV; v++) z_[v] += (c * W[v]) * ld4(P + g + 4 * v);
    }
  }
}

template <int NV>
__attribute__((always_inline)) inline void nb_block(int q, const int *cls, const int *ang_start, const int *F_off,
                                                    const int *P_off, const int *G_off, const double *ang_n,
                                                    const double *__restrict wk, const double *__restrict P,
                                                    const double *__restrict F, const double *__restrict Fd,
                                                    double *__restrict A, double *__restrict gx,
                                                    double *__restrict gy, double *__restrict gz)
{
  v4d a_[NV], x_[NV], y_[NV], z_[NV];
  for (int v = 0; v < NV; v++) a_[v] = x_[v] = y_[v] = z_[v] = v4d{0, 0, 0, 0};
#define MTP_CLASS(C)                                                                                              \
  nb_class<NV, (C & 1) != 0, (C & 2) != 0, (C & 4) != 0>(q, cls[C], cls[C + 1], ang_start, F_off, P_off, G_off, \
                                                         ang_n, wk, P, F, Fd, a_, x_, y_, z_)
  MTP_CLASS(0);
  MTP_CLASS(1);
  MTP_CLASS(2);
  MTP_CLASS(3);
  MTP_CLASS(4);
  MTP_CLASS(5);
  MTP_CLASS(6);
  MTP_CLASS(7);
#undef MTP_CLASS
  for (int v = 0; v < NV; v++) {
    st4(A + q + 4 * v, a_[v]);
    st4(gx + q + 4 * v, x_[v]);
    st4(gy + q + 4 * v, y_[v]);
    st4(gz + q + 4 * v, z_[v]);
  }
}

// eight neighbours per block (the scalar loads per angular part shared by two vectors), a last
// block of four
MTP_CLONES void neighbour_backward_k(const int *cls, const int *ang_start, const int *F_off, const int *P_off,
                                     const int *G_off, const double *ang_n, const double *__restrict wk,
                                     const double *__restrict P, const double *__restrict F,
                                     const double *__restrict Fd, int NQ, double *__restrict A,
                                     double *__restrict gx, double *__restrict gy, double *__restrict gz)
{
  int q = 0;
  for (; q + 8 <= NQ; q += 8)
    nb_block<2>(q, cls, ang_start, F_off, P_off, G_off, ang_n, wk, P, F, Fd, A, gx, gy, gz);
  if (q < NQ) nb_block<1>(q, cls, ang_start, F_off, P_off, G_off, ang_n, wk, P, F, Fd, A, gx, gy, gz);
}

// x A^-1 for 4 rows at once, 8 columns per pass held in registers
MTP_CLONES void grades_k(int n, const double *__restrict Ainv, const double *__restrict x, double *__restrict s)
{
  int col = 0;
  for (; col + 8 <= n; col += 8) {
    v4d c0 = {0, 0, 0, 0}, c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
    for (int rr = 0; rr < n; rr++) {
      const v4d xr = ld4(x + 4 * rr);
      const double *a = Ainv + (size_t) rr * n + col;
      c0 += xr * a[0];
      c1 += xr * a[1];
      c2 += xr * a[2];
      c3 += xr * a[3];
      c4 += xr * a[4];
      c5 += xr * a[5];
      c6 += xr * a[6];
      c7 += xr * a[7];
    }
    st4(s + 4 * col, c0);
    st4(s + 4 * (col + 1), c1);
    st4(s + 4 * (col + 2), c2);
    st4(s + 4 * (col + 3), c3);
    st4(s + 4 * (col + 4), c4);
    st4(s + 4 * (col + 5), c5);
    st4(s + 4 * (col + 6), c6);
    st4(s + 4 * (col + 7), c7);
  }
  for (; col < n; col++) {
    v4d c0 = {0, 0, 0, 0};
    for (int rr = 0; rr < n; rr++) c0 += ld4(x + 4 * rr) * Ainv[(size_t) rr * n + col];
    st4(s + 4 * col, c0);
  }
}

}    // namespace

Tables make_tables(const Potential &p)
{
  Tables t;
  t.S = p.species_count;
  t.R = p.radial_funcs_count;
  t.B = p.radial_basis_size;
  t.scaling = p.scaling;
  t.min_dist = p.min_dist;
  t.max_dist = p.max_dist;
  t.n_basic = p.n_basic();
  t.n_moments = p.alpha_moments_count;
  t.n_scalar = p.n_scalar();
  const int S = t.S, R = t.R, B = t.B;
  t.radial_t.assign(p.radial_coeffs.size(), 0.0);
  for (int pr = 0; pr < S * S; pr++)
    for (int mu = 0; mu < R; mu++)
      for (int b = 0; b < B; b++)
        t.radial_t[((size_t) pr * B + b) * R + mu] = p.radial_coeffs[((size_t) pr * R + mu) * B + b];

  // distinct angular parts
  std::map<std::vector<int>, int> angid;
  std::vector<int> ang_pow, basic_ang(t.n_basic);
  t.basic_mu.assign(t.n_basic, 0);
  for (int k = 0; k < t.n_basic; k++) {
    const int *b = &p.alpha_index_basic[4 * k];
    std::vector<int> abc = {b[1], b[2], b[3]};
    auto it = angid.find(abc);
    int id;
    if (it == angid.end()) {
      id = (int) angid.size();
      angid[abc] = id;
      ang_pow.insert(ang_pow.end(), abc.begin(), abc.end());
    } else
      id = it->second;
    t.basic_mu[k] = b[0];
    basic_ang[k] = id;
  }
  t.n_ang = (int) angid.size();
  // angular parts ordered by which powers are nonzero (class bits x 1, y 2, z 4): the backward
  // kernel runs each class with only its nonzero derivative terms
  {
    auto cls = [&](int a) {
      return (ang_pow[3 * a] > 0) | (ang_pow[3 * a + 1] > 0) << 1 | (ang_pow[3 * a + 2] > 0) << 2;
    };
    std::vector<int> order(t.n_ang), newid(t.n_ang);
    for (int a = 0; a < t.n_ang; a++) order[a] = a;
    std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return cls(x) < cls(y); });
    std::vector<int> pw(3 * t.n_ang);
    t.ang_class_start.assign(9, 0);
    for (int n = 0; n < t.n_ang; n++) {
      newid[order[n]] = n;
      for (int d = 0; d < 3; d++) pw[3 * n + d] = ang_pow[3 * order[n] + d];
      t.ang_class_start[cls(order[n]) + 1]++;
    }
    for (int c = 0; c < 8; c++) t.ang_class_start[c + 1] += t.ang_class_start[c];
    ang_pow = pw;
    for (int k = 0; k < t.n_basic; k++) basic_ang[k] = newid[basic_ang[k]];
  }
  // monomials closed under lowering one power, sorted by degree
  std::map<std::vector<int>, int> need;
  std::vector<std::vector<int>> stack;
  for (int a = 0; a < t.n_ang; a++) stack.push_back({ang_pow[3 * a], ang_pow[3 * a + 1], ang_pow[3 * a + 2]});
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
  for (auto &kv : need) monos.push_back(kv.first);
  std::stable_sort(monos.begin(), monos.end(), [](const std::vector<int> &x, const std::vector<int> &y) {
    return x[0] + x[1] + x[2] < y[0] + y[1] + y[2];
  });
  t.n_mono = (int) monos.size();
  for (int m = 0; m < t.n_mono; m++) need[monos[m]] = m;
  t.mono_par.assign(t.n_mono, 0);
  t.mono_dim.assign(t.n_mono, 0);
  for (int m = 1; m < t.n_mono; m++) {
    int d = 0;
    while (monos[m][d] == 0) d++;
    auto l = monos[m];
    l[d]--;
    t.mono_par[m] = need[l];
    t.mono_dim[m] = d;
  }
  t.ang_mono.assign(t.n_ang, 0);
  t.ang_lower.assign(3 * t.n_ang, 0);
  t.ang_n.assign(4 * t.n_ang, 0.0);
  for (int a = 0; a < t.n_ang; a++) {
    std::vector<int> m = {ang_pow[3 * a], ang_pow[3 * a + 1], ang_pow[3 * a + 2]};
    t.ang_mono[a] = need[m];
    for (int d = 0; d < 3; d++) {
      t.ang_n[4 * a + d] = m[d];
      if (m[d] == 0) continue;    // coefficient p_d = 0: index 0 is never weighted
      auto l = m;
      l[d]--;
      t.ang_lower[3 * a + d] = need[l];
    }
    t.ang_n[4 * a + 3] = m[0] + m[1] + m[2];
  }
  t.basic_mono.assign(t.n_basic, 0);
  for (int k = 0; k < t.n_basic; k++) t.basic_mono[k] = t.ang_mono[basic_ang[k]];
  t.ang_start.assign(t.n_ang + 1, 0);
  for (int k = 0; k < t.n_basic; k++) t.ang_start[basic_ang[k] + 1]++;
  for (int a = 0; a < t.n_ang; a++) t.ang_start[a + 1] += t.ang_start[a];
  t.ang_k.assign(t.n_basic, 0);
  t.ang_mu.assign(t.n_basic, 0);
  std::vector<int> fill(t.ang_start.begin(), t.ang_start.end() - 1);
  for (int k = 0; k < t.n_basic; k++) {
    const int pos = fill[basic_ang[k]]++;
    t.ang_k[pos] = k;
    t.ang_mu[pos] = t.basic_mu[k];
  }
  // times rows grouped by target, groups by ascending target: sources precede targets
  // (checked by parse_mtp), so a group's sources are complete when it runs
  const int n_times = p.n_times();
  const auto &tim = p.alpha_index_times;
  std::vector<int> order(n_times);
  for (int m = 0; m < n_times; m++) order[m] = m;
  std::stable_sort(order.begin(), order.end(), [&](int u, int v) { return tim[4 * u + 3] < tim[4 * v + 3]; });
  t.t_a.assign(n_times, 0);
  t.t_b.assign(n_times, 0);
  t.t_mult.assign(n_times, 0.0);
  t.run_start.assign(1, 0);
  t.run_target.clear();
  for (int q = 0; q < n_times; q++) {
    const int m = order[q];
    t.t_a[q] = BATCH * tim[4 * m];
    t.t_b[q] = BATCH * tim[4 * m + 1];
    t.t_mult[q] = tim[4 * m + 2];
    const int k = tim[4 * m + 3];
    if (t.run_target.empty() || t.run_target.back() != BATCH * k) {
      if (!t.run_target.empty()) t.run_start.push_back(q);
      t.run_target.push_back(BATCH * k);
    }
  }
  if (n_times) t.run_start.push_back(n_times);
  t.n_runs = (int) t.run_target.size();
  // the same rows by source for the adjoint: (source k, target, other source, multiplicity); a
  // row with both sources k contributes twice
  t.src_start.assign(t.n_moments + 1, 0);
  for (int m = 0; m < n_times; m++) {
    t.src_start[tim[4 * m] + 1]++;
    if (tim[4 * m + 1] != tim[4 * m]) t.src_start[tim[4 * m + 1] + 1]++;
  }
  for (int k = 0; k < t.n_moments; k++) t.src_start[k + 1] += t.src_start[k];
  t.src_t.assign(t.src_start.back(), 0);
  t.src_o.assign(t.src_start.back(), 0);
  t.src_mult.assign(t.src_start.back(), 0.0);
  {
    std::vector<int> fill(t.src_start.begin(), t.src_start.end() - 1);
    for (int m = 0; m < n_times; m++) {
      const int a = tim[4 * m], b = tim[4 * m + 1], k = tim[4 * m + 3];
      const double mult = tim[4 * m + 2];
      int e = fill[a]++;
      t.src_t[e] = BATCH * k;
      t.src_o[e] = BATCH * b;
      t.src_mult[e] = a == b ? 2.0 * mult : mult;
      if (a != b) {
        e = fill[b]++;
        t.src_t[e] = BATCH * k;
        t.src_o[e] = BATCH * a;
        t.src_mult[e] = mult;
      }
    }
  }
  // each source's entries by ascending target (the reads of G walk forward through memory)
  for (int k = 0; k < t.n_moments; k++) {
    const int b0 = t.src_start[k], b1 = t.src_start[k + 1];
    std::vector<int> idx(b1 - b0);
    for (int e = b0; e < b1; e++) idx[e - b0] = e;
    std::stable_sort(idx.begin(), idx.end(), [&](int x, int y) { return t.src_t[x] < t.src_t[y]; });
    std::vector<int> st(idx.size()), so(idx.size());
    std::vector<double> sm(idx.size());
    for (size_t n = 0; n < idx.size(); n++) {
      st[n] = t.src_t[idx[n]];
      so[n] = t.src_o[idx[n]];
      sm[n] = t.src_mult[idx[n]];
    }
    std::copy(st.begin(), st.end(), t.src_t.begin() + b0);
    std::copy(so.begin(), so.end(), t.src_o.begin() + b0);
    std::copy(sm.begin(), sm.end(), t.src_mult.begin() + b0);
  }
  t.mapping = p.alpha_moment_mapping;
  t.species_coeffs = p.species_coeffs;
  t.moment_coeffs = p.moment_coeffs;
  t.dEdM0.assign(t.n_moments, 0.0);
  for (int m = 0; m < t.n_scalar; m++) t.dEdM0[t.mapping[m]] += t.moment_coeffs[m];
  return t;
}

Offsets make_offsets(const Tables &t, int ST)
{
  Offsets o;
  o.ST = ST;
  o.mono.resize(t.n_mono);
  o.mono_par.resize(t.n_mono);
  o.mono_dim.resize(t.n_mono);
  for (int m = 0; m < t.n_mono; m++) {
    o.mono[m] = m * ST;
    o.mono_par[m] = t.mono_par[m] * ST;
    o.mono_dim[m] = t.mono_dim[m] * ST;
  }
  o.basic_P.resize(t.n_basic);
  o.basic_F.resize(t.n_basic);
  o.ang_F.resize(t.n_basic);
  for (int k = 0; k < t.n_basic; k++) {
    o.basic_P[k] = t.basic_mono[k] * ST;
    o.basic_F[k] = t.basic_mu[k] * ST;
    o.ang_F[k] = t.ang_mu[k] * ST;
  }
  o.ang_P.resize(t.n_ang);
  o.ang_g.resize(3 * t.n_ang);
  for (int a = 0; a < t.n_ang; a++) {
    o.ang_P[a] = t.ang_mono[a] * ST;
    for (int d = 0; d < 3; d++) o.ang_g[3 * a + d] = t.ang_lower[3 * a + d] * ST;
  }
  return o;
}

void radial(const Tables &t, int ti, int nn, const double *r, const int *tj, double *F, double *Fd, int ST)
{
  const double *c = &t.radial_t[(size_t) ti * t.S * t.B * t.R];
  switch (t.R) {
    case 4:
      if (t.B <= RADIAL4_MAX_B) {
        radial4_k(nn, r, tj, c, t.B, t.min_dist, t.max_dist, t.scaling, F, Fd, ST);
        break;
      }
      radial_generic<4>(4, nn, r, tj, c, t.B, t.min_dist, t.max_dist, t.scaling, F, Fd, ST);
      break;
    case 1: radial_generic<1>(1, nn, r, tj, c, t.B, t.min_dist, t.max_dist, t.scaling, F, Fd, ST); break;
    case 2: radial_generic<2>(2, nn, r, tj, c, t.B, t.min_dist, t.max_dist, t.scaling, F, Fd, ST); break;
    case 3: radial_generic<3>(3, nn, r, tj, c, t.B, t.min_dist, t.max_dist, t.scaling, F, Fd, ST); break;
    case 5: radial_generic<5>(5, nn, r, tj, c, t.B, t.min_dist, t.max_dist, t.scaling, F, Fd, ST); break;
    case 6: radial_generic<6>(6, nn, r, tj, c, t.B, t.min_dist, t.max_dist, t.scaling, F, Fd, ST); break;
    default: radial_generic<0>(t.R, nn, r, tj, c, t.B, t.min_dist, t.max_dist, t.scaling, F, Fd, ST);
  }
}

void monomials(const Tables &t, const Offsets &o, const double *u, double *P, int NQ)
{
  monomials_k(t.n_mono, o.mono_par.data(), o.mono_dim.data(), o.mono.data(), u, P, NQ);
}

void basic_moments(const Tables &t, const Offsets &o, const double *P, const double *F, int NQ, double *M,
                   int stride)
{
  basic_moments_k(t.n_basic, o.basic_P.data(), o.basic_F.data(), P, F, NQ, M, stride);
}

void times_forward(const Tables &t, double *M)
{
  if (t.n_runs)
    times_forward_k(t.n_runs, t.run_start.data(), t.run_target.data(), t.t_a.data(), t.t_b.data(),
                    t.t_mult.data(), M);
}

void times_backward(const Tables &t, const double *M, double *G)
{
  times_backward_k(t.n_moments, t.src_start.data(), t.src_t.data(), t.src_o.data(), t.src_mult.data(),
                   t.dEdM0.data(), M, G);
}

void neighbour_backward(const Tables &t, const Offsets &o, const double *G, int stride, const double *P,
                        const double *F, const double *Fd, int NQ, double *w4, int ST)
{
  thread_local std::vector<double> wk;
  wk.resize(t.n_basic);
  for (int p = 0; p < t.n_basic; p++) wk[p] = G[(size_t) t.ang_k[p] * stride];
  neighbour_backward_k(t.ang_class_start.data(), t.ang_start.data(), o.ang_F.data(), o.ang_P.data(), o.ang_g.data(),
                       t.ang_n.data(), wk.data(), P, F, Fd, NQ, w4, w4 + ST, w4 + 2 * ST, w4 + 3 * ST);
}

void neighbour_gradient(int nn, const double *r, const double *u, int ST, const double *w4, double *dEdr)
{
  // E depends on r_q through F(r) and the monomials P(u), u = r_vec / r: dE/dr_vec = A u + (g - (g.u) u) / r
  // (g.u = sum_a n_a W_a P_a: the monomials are homogeneous of degree n_a)
  const double *A = w4, *gx = w4 + ST, *gy = w4 + 2 * ST, *gz = w4 + 3 * ST;
  const double *ux = u, *uy = u + ST, *uz = u + 2 * ST;
  for (int q = 0; q < nn; q++) {
    const double inv_r = 1.0 / r[q];
    const double gu = gx[q] * ux[q] + gy[q] * uy[q] + gz[q] * uz[q];
    const double s_u = A[q] - gu * inv_r;
    dEdr[3 * q] = gx[q] * inv_r + s_u * ux[q];
    dEdr[3 * q + 1] = gy[q] * inv_r + s_u * uy[q];
    dEdr[3 * q + 2] = gz[q] * inv_r + s_u * uz[q];
  }
}

void grades(int n, const double *Ainv, const double *x, double *scratch, double *grade)
{
  grades_k(n, Ainv, x, scratch);
  for (int s = 0; s < BATCH; s++) grade[s] = 0.0;
  for (int col = 0; col < n; col++)
    for (int s = 0; s < BATCH; s++) grade[s] = std::max(grade[s], std::fabs(scratch[4 * col + s]));
}

}    // namespace argyro_mtp
