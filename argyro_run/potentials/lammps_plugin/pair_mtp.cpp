// pair_style mtp, LAMMPS glue: see pair_mtp.h.
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
#include "utils.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

using namespace LAMMPS_NS;
using argyro_mtp::BATCH;

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

// the whole text of a file, read on rank 0 and broadcast (potential_path: searched like other
// potential files, i.e. also in $LAMMPS_POTENTIALS)
std::string PairMTP::read_text(const std::string &path, bool potential_path)
{
  long long n = -1;
  std::string text;
  if (comm->me == 0) {
    FILE *fp = potential_path ? utils::open_potential(path, lmp, nullptr) : fopen(path.c_str(), "rb");
    if (fp) {
      char buf[65536];
      size_t got;
      while ((got = fread(buf, 1, sizeof buf, fp)) > 0) text.append(buf, got);
      n = ferror(fp) ? -1 : (long long) text.size();
      fclose(fp);
    }
  }
  MPI_Bcast(&n, 1, MPI_LONG_LONG, 0, world);
  if (n < 0) error->all(FLERR, "pair mtp: cannot open or read {}", path);
  text.resize(n);
  for (long long at = 0; at < n;) {    // in chunks below INT_MAX
    const int chunk = (int) std::min<long long>(n - at, 1 << 30);
    MPI_Bcast(&text[at], chunk, MPI_CHAR, 0, world);
    at += chunk;
  }
  return text;
}

void PairMTP::read_mtp(const std::string &path)
{
  const std::string text = read_text(path, true);
  argyro_mtp::Potential p;
  try {
    p = argyro_mtp::parse_mtp(text);
  } catch (const argyro_mtp::ParseError &e) {
    if (e.line > 0) error->all(FLERR, "pair mtp: {}:{}: {}", path, e.line, e.what());
    error->all(FLERR, "pair mtp: {}: {}", path, e.what());
  }
  tab = argyro_mtp::make_tables(p);
  species_names = p.species;
  nmax_nb = 0;    // neighbour arrays and kernel offsets are rebuilt for this basis
  M4.assign((size_t) tab.n_moments * BATCH, 0.0);
  G4.assign((size_t) tab.n_moments * BATCH, 0.0);
  x4.assign((size_t) (tab.S + tab.n_scalar) * BATCH, 0.0);
  gscratch.assign((size_t) (tab.S + tab.n_scalar) * BATCH, 0.0);
}

void PairMTP::read_active_set(const std::string &path)
{
  const std::string text = read_text(path, false);
  try {
    active = argyro_mtp::parse_active_set(text, tab.S + tab.n_scalar);
  } catch (const argyro_mtp::ParseError &e) {
    if (e.line > 0) error->all(FLERR, "pair mtp: active set {}:{}: {}", path, e.line, e.what());
    error->all(FLERR, "pair mtp: active set {}: {}", path, e.what());
  }
  have_active = true;
}

void PairMTP::settings(int narg, char **arg)
{
  if (narg < 1) error->all(FLERR, "Illegal pair_style mtp command: pair_style mtp FILE.mtp "
                           "[active_set FILE] [select G1] [break G2] [dump FILE] [every N]");
  read_mtp(arg[0]);
  std::string active_file;
  have_active = false;
  select_threshold = break_threshold = -1.0;
  dump_file.clear();
  grade_every = 1;
  last_dump_step = -1;
  for (int i = 1; i < narg; i += 2) {
    if (i + 1 >= narg) error->all(FLERR, "pair_style mtp: keyword {} needs a value", arg[i]);
    std::string k = arg[i];
    if (k == "active_set") active_file = arg[i + 1];
    else if (k == "select") select_threshold = utils::numeric(FLERR, arg[i + 1], false, lmp);
    else if (k == "break") break_threshold = utils::numeric(FLERR, arg[i + 1], false, lmp);
    else if (k == "dump") dump_file = arg[i + 1];
    else if (k == "every") grade_every = utils::inumeric(FLERR, arg[i + 1], false, lmp);
    else
      error->all(FLERR, "pair_style mtp: unknown keyword {}; allowed: active_set select break "
                 "dump every", k);
  }
  if (!active_file.empty()) read_active_set(active_file);
  if ((select_threshold > 0 || break_threshold > 0) && !have_active)
    error->all(FLERR, "pair_style mtp: select/break need an active_set FILE");
  if (select_threshold > 0 && dump_file.empty())
    error->all(FLERR, "pair_style mtp: select needs dump FILE");
  if (grade_every < 1) error->all(FLERR, "pair_style mtp: every must be >= 1");
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
        if (end && *end == '\0' && v >= 0 && v < tab.S) idx = (int) v;
        else
          error->all(FLERR, "pair_coeff mtp: species '{}' is neither a species of the potential "
                     "nor an MTP type index 0..{}", s, tab.S - 1);
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

double PairMTP::init_one(int, int) { return tab.max_dist; }

void PairMTP::grow_nb(int n)
{
  if (n + 4 <= nmax_nb) return;
  nmax_nb = ((n + 4 + 16) + 3) & ~3;    // stride of the structure-of-arrays neighbour data
  const size_t ST = nmax_nb;
  for (auto &s : slot) {
    s.r.resize(ST);
    s.u.resize(3 * ST);
    s.F.resize(ST * tab.R);
    s.Fd.resize(ST * tab.R);
    s.P.resize(ST * tab.n_mono);
    s.j.resize(ST);
    s.t.resize(ST);
  }
  w4.resize(4 * ST);
  dEdr.resize(3 * ST);
  off = argyro_mtp::make_offsets(tab, nmax_nb);
}

// phase 1: the neighbours of atom i inside the cutoff, their distances, unit vectors and species
// into slot s, padded to whole vectors (padding: unit vector x, r = 1, zero radial functions)
void PairMTP::gather(int s, int i, int ti)
{
  Slot &b = slot[s];
  double **x = atom->x;
  const int *type = atom->type;
  const double cut2 = tab.max_dist * tab.max_dist;
  const int NN = nmax_nb;
  double *ux = b.u.data(), *uy = ux + NN, *uz = uy + NN;
  const double xi = x[i][0], yi = x[i][1], zi = x[i][2];
  const int *jl = list->firstneigh[i];
  const int jn = list->numneigh[i];
  int nn = 0;
  for (int jj = 0; jj < jn; jj++) {
    const int j = jl[jj] & NEIGHMASK;
    const int tj = type_map[type[j]];
    if (tj < 0) continue;
    const double dx = x[j][0] - xi, dy = x[j][1] - yi, dz = x[j][2] - zi;
    const double r2 = dx * dx + dy * dy + dz * dz;
    if (r2 >= cut2) continue;
    const double r = sqrt(r2), inv_r = 1.0 / r;
    b.j[nn] = j;
    b.r[nn] = r;
    b.t[nn] = tj;
    ux[nn] = dx * inv_r;
    uy[nn] = dy * inv_r;
    uz[nn] = dz * inv_r;
    nn++;
  }
  b.i = i;
  b.ti = ti;
  b.nn = nn;
  const int NQ = (nn + 3) & ~3;
  for (int q = nn; q < NQ; q++) {
    ux[q] = 1.0;
    uy[q] = uz[q] = 0.0;
    b.r[q] = 1.0;
    for (int mu = 0; mu < tab.R; mu++) b.F[(size_t) mu * NN + q] = b.Fd[(size_t) mu * NN + q] = 0.0;
  }
}

// phase 2: per atom radial functions, monomials and basic moments; the times recursion for the
// batch (slots >= ns hold zero moments)
void PairMTP::forward(int ns)
{
  const int NN = nmax_nb;
  for (int s = 0; s < ns; s++) {
    Slot &b = slot[s];
    const int NQ = (b.nn + 3) & ~3;
    argyro_mtp::radial(tab, b.ti, b.nn, b.r.data(), b.t.data(), b.F.data(), b.Fd.data(), NN);
    argyro_mtp::monomials(tab, off, b.u.data(), b.P.data(), NQ);
    argyro_mtp::basic_moments(tab, off, b.P.data(), b.F.data(), NQ, M4.data() + s, BATCH);
  }
  for (int s = ns; s < BATCH; s++)
    for (int k = 0; k < tab.n_basic; k++) M4[(size_t) k * BATCH + s] = 0.0;
  argyro_mtp::times_forward(tab, M4.data());
}

// phase 3: site energies; on grading steps the MaxVol grades of the batch's sites (or their
// sum into the configuration row)
void PairMTP::energy(int ns, bool grading)
{
  const int S = tab.S;
  for (int s = 0; s < ns; s++) {
    double Ei = tab.species_coeffs[slot[s].ti];
    for (int m = 0; m < tab.n_scalar; m++) Ei += tab.moment_coeffs[m] * M4[(size_t) tab.mapping[m] * BATCH + s];
    if (eflag_global) eng_vdwl += Ei;
    if (eflag_atom) eatom[slot[s].i] += Ei;
  }
  if (!grading) return;
  double *grades = atom->dvector[grade_index];
  if (active.configuration_mode) {
    for (int s = 0; s < ns; s++) {
      config_row[slot[s].ti] += 1.0;
      for (int m = 0; m < tab.n_scalar; m++) config_row[S + m] += M4[(size_t) tab.mapping[m] * BATCH + s];
      grades[slot[s].i] = 0.0;    // configuration mode: no per-atom grade
    }
    return;
  }
  std::fill(x4.begin(), x4.begin() + (size_t) S * BATCH, 0.0);
  for (int s = 0; s < BATCH; s++) {
    if (s < ns) x4[(size_t) slot[s].ti * BATCH + s] = 1.0;
    for (int m = 0; m < tab.n_scalar; m++)
      x4[(size_t) (S + m) * BATCH + s] = s < ns ? M4[(size_t) tab.mapping[m] * BATCH + s] : 0.0;
  }
  double g[BATCH];
  argyro_mtp::grades(active.n_rows, active.inverse.data(), x4.data(), gscratch.data(), g);
  for (int s = 0; s < ns; s++) {
    grades[slot[s].i] = g[s];
    local_max_grade = std::max(local_max_grade, g[s]);
  }
}

// phases 4 and 5: the adjoint recursion for the batch, then per atom dE/dr of its neighbours and
// the forces and virial
void PairMTP::backward_and_tally(int ns)
{
  argyro_mtp::times_backward(tab, M4.data(), G4.data());
  double **f = atom->f;
  const int NN = nmax_nb;
  for (int s = 0; s < ns; s++) {
    Slot &b = slot[s];
    const int NQ = (b.nn + 3) & ~3;
    argyro_mtp::neighbour_backward(tab, off, G4.data() + s, BATCH, b.P.data(), b.F.data(), b.Fd.data(), NQ,
                                   w4.data(), NN);
    argyro_mtp::neighbour_gradient(b.nn, b.r.data(), b.u.data(), NN, w4.data(), dEdr.data());
    const int i = b.i;
    const double *ux = b.u.data(), *uy = ux + NN, *uz = uy + NN;
    for (int q = 0; q < b.nn; q++) {
      const double fx = dEdr[3 * q], fy = dEdr[3 * q + 1], fz = dEdr[3 * q + 2];
      const int j = b.j[q];
      f[i][0] += fx;
      f[i][1] += fy;
      f[i][2] += fz;
      f[j][0] -= fx;
      f[j][1] -= fy;
      f[j][2] -= fz;
      if (vflag_either) {    // ev_setup clears vflag_global when fdotr is used
        const double r = b.r[q];
        ev_tally_xyz(i, j, atom->nlocal, 1, 0.0, 0.0, fx, fy, fz, -r * ux[q], -r * uy[q], -r * uz[q]);
      }
    }
  }
}

void PairMTP::compute(int eflag, int vflag)
{
  ev_init(eflag, vflag);
  // grades on steps divisible by 'every' and whenever a run sets up (run 0 included)
  const bool grading = have_active && grade_index >= 0 &&
      (update->setupflag || update->ntimestep % grade_every == 0);
  local_max_grade = 0.0;
  if (grading && active.configuration_mode) config_row.assign(active.n_rows, 0.0);
  const int inum = list->inum;
  const int *ilist = list->ilist;
  int maxnb = 0;
  for (int ii = 0; ii < inum; ii++) maxnb = std::max(maxnb, list->numneigh[ilist[ii]]);
  grow_nb(maxnb);
  const int *type = atom->type;
  for (int ii = 0; ii < inum;) {
    int ns = 0;
    while (ns < BATCH && ii < inum) {
      const int i = ilist[ii++];
      const int ti = type_map[type[i]];
      if (ti < 0) continue;
      gather(ns++, i, ti);
    }
    if (ns == 0) break;
    forward(ns);
    energy(ns, grading);
    backward_and_tally(ns);
  }
  if (vflag_fdotr) virial_fdotr_compute();
  if (grading) check_grades();
}

// phase 6 (grading steps): the largest grade over all ranks, the selection dump and the break
void PairMTP::check_grades()
{
  double gmax = 0.0;
  if (active.configuration_mode) {
    const int n = active.n_rows;
    config_row_all.assign(n, 0.0);
    MPI_Allreduce(config_row.data(), config_row_all.data(), n, MPI_DOUBLE, MPI_SUM, world);
    std::fill(x4.begin(), x4.end(), 0.0);
    for (int rr = 0; rr < n; rr++) x4[(size_t) rr * BATCH] = config_row_all[rr];
    double g[BATCH];
    argyro_mtp::grades(n, active.inverse.data(), x4.data(), gscratch.data(), g);
    gmax = g[0];
  } else
    MPI_Allreduce(&local_max_grade, &gmax, 1, MPI_DOUBLE, MPI_MAX, world);
  if (select_threshold > 0 && gmax > select_threshold) {
    const bigint step = update->ntimestep;
    if (last_dump_step < 0 || step - last_dump_step >= grade_every) {
      write_selected(gmax);
      last_dump_step = step;
    }
  }
  if (break_threshold > 0 && gmax > break_threshold)
    error->all(FLERR, "MTP extrapolation break: max grade {:.6g} > break {:.6g} at step {}", gmax,
               break_threshold, update->ntimestep);
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
  return (double) BATCH * nmax_nb * (4 + 2 * tab.R + tab.n_mono) * sizeof(double) +
      (double) 2 * BATCH * tab.n_moments * sizeof(double);
}
