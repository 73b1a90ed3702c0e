"""``argyro-run structure``: build structures and write them for inspection.

* ``argyro-run structure input.toml -o DIR [--format extxyz cif vasp]``: every structure of
  every ``[[materials]]`` entry, as ``DIR/<material>/<name>.<ext>`` (extxyz keeps the per-atom
  arrays ``grain_id``, ``gb_distance_A``, ``gb_normal``, ``sublattice``, ``unit_id``; GB
  translations k are ``<name>_t<k>``).
* ``argyro-run structure --halide Cl [--supercell 2 2 2] [--site-exchange 0.25] -o out.extxyz``:
  one structure without an input file (add ``--gb-sigma 5 --gb-plane 3 1 0 --gb-axis 0 0 1``
  for a bicrystal); the format follows the suffix (.extxyz, .cif, .vasp, POSCAR).
"""

from __future__ import annotations

from pathlib import Path

from argyro_run.errors import UserError

_EXT = {"extxyz": ".extxyz", "cif": ".cif", "vasp": ".vasp"}


def _describe(name: str, atoms) -> str:
    a, b, c, *_ = atoms.cell.cellpar()
    extra = ""
    if "gb_sigma" in atoms.info:
        extra = (f"  Sigma{atoms.info['gb_sigma']} ({atoms.info['gb_plane']})[{atoms.info['gb_axis']}]"
                 f" t=({atoms.info['gb_translation']}) removed {atoms.info['gb_removed']}")
    elif "n_site_exchanges" in atoms.info:
        extra = f"  {atoms.info['n_site_exchanges']} halide/S2- exchanges (seed {atoms.info['disorder_seed']})"
    return f"  {name:28s} {len(atoms):6d} atoms  {atoms.get_chemical_formula():22s} cell {a:.2f} {b:.2f} {c:.2f} A{extra}"


def _from_input(args) -> int:
    from argyro_run.config import load_config
    from argyro_run.plan.build import task_seed
    from argyro_run.structures.files import write_structure
    from argyro_run.structures.tasks import build_material

    cfg = load_config(args.input)
    if not cfg.materials:
        raise UserError(f"{args.input}: no [[materials]] defined; nothing to build")
    out = Path(args.output)
    if out.suffix:
        raise UserError(f"-o {out}: with an input file, -o names a directory (got a file name)")
    # build everything first: a problem in any material leaves no files behind
    built = {m.name: build_material(m, seed=task_seed(cfg.run.seed, f"structures/{m.name}"), base_dir=cfg.base_dir)
             for m in cfg.materials}
    n = 0
    for material, structures in built.items():
        print(f"{material}:")
        for name, atoms in structures.items():
            for fmt in args.format:
                write_structure(out / material / (name.replace("/", "_") + _EXT[fmt]), atoms)
            print(_describe(name, atoms))
            n += 1
    print(f"wrote {n} structure(s) to {out}/ ({', '.join(args.format)})")
    return 0


def _single(args) -> int:
    from argyro_run.structures.argyrodite import argyrodite
    from argyro_run.structures.disorder import site_exchange
    from argyro_run.structures.files import make_supercell, read_structure, write_structure
    from argyro_run.structures.gb import csl_bicrystal

    if args.structure_file:
        atoms = read_structure(args.structure_file)
    else:
        atoms = argyrodite(args.halide, lattice_constant_A=args.lattice_constant_A, li_seed=args.li_seed)
    if args.gb_sigma is not None:
        if args.site_exchange or args.supercell != [1, 1, 1]:
            raise UserError("--gb-sigma builds a bicrystal from the unit cell; leave out --supercell and --site-exchange")
        atoms = csl_bicrystal(atoms, sigma=args.gb_sigma, plane=args.gb_plane, axis=args.gb_axis,
                              translation=tuple(args.gb_translation), grain_thickness_cells=args.grain_thickness_cells,
                              min_distance_A=args.min_distance_A, gap_A=args.gb_gap_A)
    else:
        if args.supercell != [1, 1, 1]:
            atoms = make_supercell(atoms, args.supercell)
        if args.site_exchange:
            atoms = site_exchange(atoms, args.site_exchange, seed=args.seed)
    path = write_structure(args.output, atoms)
    print(_describe(path.name, atoms))
    if args.gb_sigma is None:
        from argyro_run.structures.argyrodite import space_groups

        sg = space_groups(atoms)
        print(f"  space group (spglib): anion framework {sg['framework']}, with Li {sg['with_li']}")
    print(f"wrote {path}")
    return 0


def _run(args) -> int:
    if args.input:
        if args.halide or args.structure_file or args.gb_sigma is not None:
            raise UserError("give either an input file or --halide/--structure-file options, not both")
        return _from_input(args)
    if not (args.halide or args.structure_file):
        raise UserError("give an input TOML file, or --halide Cl|Br|I (or --structure-file FILE) to build one structure")
    return _single(args)


def register(sub):
    import argparse

    p = sub.add_parser(
        "structure", help="build the structures of an input (or one from options) and write extxyz/CIF/POSCAR files",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Build structures and write them for inspection (docs/structures.md).",
        epilog=("examples:\n"
                "  argyro-run structure input.toml -o DIR [--format extxyz cif vasp]\n"
                "      every structure of every [[materials]] entry as DIR/<material>/<name>.<ext>;\n"
                "      extxyz keeps grain_id, gb_distance_A, gb_normal, sublattice, unit_id\n"
                "  argyro-run structure --halide Cl --supercell 2 2 2 --site-exchange 0.25 -o out.extxyz\n"
                "  argyro-run structure --halide Br --gb-sigma 5 --gb-plane 3 1 0 --gb-axis 0 0 1 -o gb.cif\n"
                "  argyro-run structure --structure-file my.cif --supercell 2 2 2 -o POSCAR"))
    p.add_argument("input", nargs="?", help="input TOML file (builds every structure it defines)")
    p.add_argument("-o", "--output", required=True, help="output directory (with an input file) or file "
                                                         "(.extxyz/.cif/.vasp/POSCAR)")
    p.add_argument("--format", nargs="+", choices=sorted(_EXT), default=["extxyz"],
                   help="formats written for an input file (default extxyz)")
    g = p.add_argument_group("one structure without an input file")
    g.add_argument("--halide", choices=["Cl", "Br", "I"], help="build Li6PS5X")
    g.add_argument("--structure-file", help="start from this file (any ASE format) instead of the builder")
    g.add_argument("--lattice-constant-A", type=float, default=None, help="lattice constant (default: literature value)")
    g.add_argument("--li-seed", type=int, default=None, help="random Li choice per 48h pair (default: deterministic)")
    g.add_argument("--supercell", type=int, nargs=3, default=[1, 1, 1], metavar=("N1", "N2", "N3"))
    g.add_argument("--site-exchange", type=float, default=0.0, metavar="F", help="fraction of 4a halides swapped with 4c S2-")
    g.add_argument("--seed", type=int, default=0, help="seed of the site exchange")
    g.add_argument("--gb-sigma", type=int, default=None, help="build a CSL bicrystal with this Sigma")
    g.add_argument("--gb-plane", type=int, nargs=3, default=[3, 1, 0], metavar=("H", "K", "L"))
    g.add_argument("--gb-axis", type=int, nargs=3, default=[0, 0, 1], metavar=("U", "V", "W"))
    g.add_argument("--gb-translation", type=float, nargs=2, default=[0.0, 0.0], metavar=("F1", "F2"))
    g.add_argument("--grain-thickness-cells", type=float, default=1.0)
    g.add_argument("--gb-gap-A", type=float, default=0.0, help="extra spacing at each GB along the normal")
    g.add_argument("--min-distance-A", type=float, default=1.8)
    p.set_defaults(func=_run)
