// Readers of the two text files of pair_style mtp, independent of LAMMPS (and unit-tested
// without it): the MLIP-2/3 potential (.mtp) and the argyro-run active set ("MTP active set v1",
// the inverse of the MaxVol active-set matrix). Both parse a file's whole text; pair_mtp.cpp
// reads the text on rank 0, broadcasts it, and turns a ParseError into LAMMPS's error->all with
// the file name and line.
#ifndef ARGYRO_MTP_FILE_H
#define ARGYRO_MTP_FILE_H

#include <stdexcept>
#include <string>
#include <vector>

namespace argyro_mtp {

// a problem in a file; line is 1-based (0: the file as a whole, e.g. a missing key)
struct ParseError : std::runtime_error {
  int line;
  ParseError(int line_, const std::string &msg) : std::runtime_error(msg), line(line_) {}
};

// contents of an .mtp file (RBChebyshev radial basis), checked for consistent sizes and for
// alpha_index_times rows in evaluation order (sources before their target)
struct Potential {
  int species_count = 0, radial_basis_size = 0, radial_funcs_count = 0;
  double scaling = 1.0, min_dist = 0.0, max_dist = 0.0;
  int alpha_moments_count = 0;
  std::vector<int> alpha_index_basic;    // [k][4]: mu, a, b, c
  std::vector<int> alpha_index_times;    // [m][4]: source, source, multiplicity, target
  std::vector<int> alpha_moment_mapping; // [alpha_scalar_moments]
  std::vector<double> radial_coeffs;     // [ti][tj][mu][b]
  std::vector<double> species_coeffs;    // [species_count]
  std::vector<double> moment_coeffs;     // [alpha_scalar_moments]
  std::vector<std::string> species;      // element names if the file names them, else empty
  int n_basic() const { return (int) alpha_index_basic.size() / 4; }
  int n_times() const { return (int) alpha_index_times.size() / 4; }
  int n_scalar() const { return (int) alpha_moment_mapping.size(); }
};

Potential parse_mtp(const std::string &text);

struct ActiveSet {
  bool configuration_mode = false;    // rows are sums over a configuration's atoms
  int n_rows = 0;
  std::vector<double> inverse;        // row-major A^-1, n_rows x n_rows
};

// expected_rows: species_count + alpha_scalar_moments of the potential it belongs to
ActiveSet parse_active_set(const std::string &text, int expected_rows);

}    // namespace argyro_mtp

#endif
