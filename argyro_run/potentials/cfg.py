"""MLIP ``.cfg`` configuration files <-> ASE ``Atoms``.

A file is a sequence of blocks::

    BEGIN_CFG
     Size
        N
     Supercell                      (absent for non-periodic configurations)
        a1x a1y a1z
        ...
     AtomData:  id type cartes_x cartes_y cartes_z fx fy fz [nbh_grades]
        ...
     Energy
        E
     PlusStress:  xx yy zz yz xz xy (the virial -V * stress, eV)
        ...
     Feature   name value
    END_CFG

``type`` is the MTP type index (0-based). With ``species`` (element per type) the atoms get those
elements; without, they are ``X`` with the type in ``arrays["mtp_type"]`` (how MLIP data without
element names is used). Energies/forces/stress become a ``SinglePointCalculator``; per-atom
``nbh_grades`` become ``arrays["grade"]``; ``EnergyWeight``/``Feature`` lines go to ``info``. The
training weights of argyro-run's data travel as features: ``Feature energy_weight w`` (0 for a local
cut-out) and ``Feature force_weight w_1 ... w_N`` (one per atom: 1 on a cut-out's core, 0 on its rim),
read back into ``info["energy_weight"]`` and ``arrays["force_weight"]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from argyro_run.errors import UserError


def _atoms(n, cell, header, rows, species):
    from ase import Atoms

    col = {h: k for k, h in enumerate(header)}
    if "type" not in col:
        raise ValueError("AtomData has no 'type' column")
    types = rows[:, col["type"]].astype(int)
    if "cartes_x" in col:
        pos = rows[:, [col["cartes_x"], col["cartes_y"], col["cartes_z"]]]
    elif "direct_x" in col:
        if cell is None:
            raise ValueError("direct coordinates need a Supercell")
        pos = rows[:, [col["direct_x"], col["direct_y"], col["direct_z"]]] @ cell
    else:
        raise ValueError("AtomData has neither cartes_* nor direct_* columns")
    if species is not None:
        if types.size and (types.min() < 0 or types.max() >= len(species)):
            raise ValueError(f"atom types {sorted(set(types.tolist()))} but only {len(species)} species {list(species)}")
        symbols = [species[t] for t in types]
    else:
        symbols = ["X"] * n
    if cell is not None:
        atoms = Atoms(symbols, positions=pos, cell=cell, pbc=True)
    else:
        atoms = Atoms(symbols, positions=pos, pbc=False)
    if species is None:
        atoms.arrays["mtp_type"] = types
    forces = None
    if "fx" in col:
        forces = rows[:, [col["fx"], col["fy"], col["fz"]]]
    if "nbh_grades" in col:
        atoms.arrays["grade"] = rows[:, col["nbh_grades"]].copy()
    return atoms, forces


def parse_cfg(text: str, species=None, *, source: str = "<text>") -> list:
    """All configurations of MLIP ``.cfg`` text."""
    from ase.calculators.singlepoint import SinglePointCalculator

    lines = text.splitlines()
    out = []
    k = 0
    while k < len(lines):
        if lines[k].strip() != "BEGIN_CFG":
            k += 1
            continue
        start = k
        k += 1
        n, cell, header, rows = None, None, None, None
        energy, virial, info = None, None, {}
        try:
            while lines[k].strip() != "END_CFG":
                s = lines[k].strip()
                k += 1
                if not s:
                    continue
                if s == "Size":
                    n = int(lines[k].split()[0])
                    k += 1
                elif s == "Supercell":
                    vecs = []
                    while len(vecs) < 3 and k < len(lines):
                        parts = lines[k].split()
                        try:
                            vecs.append([float(x) for x in parts[:3]])
                        except (ValueError, IndexError):
                            break
                        if len(parts) != 3:
                            break
                        k += 1
                    if len(vecs) != 3:
                        raise ValueError("only 3D periodic supercells are supported")
                    cell = np.array(vecs)
                elif s.startswith("AtomData:"):
                    if n is None:
                        raise ValueError("AtomData before Size")
                    header = s.split(":", 1)[1].split()
                    rows = np.array([[float(x) for x in lines[k + i].split()] for i in range(n)]).reshape(n, len(header))
                    k += n
                elif s == "Energy":
                    energy = float(lines[k].split()[0])
                    k += 1
                elif s.startswith("PlusStress:"):
                    comps = s.split(":", 1)[1].split()
                    vals = dict(zip(comps, (float(x) for x in lines[k].split())))
                    virial = np.array([vals[c] for c in ("xx", "yy", "zz", "yz", "xz", "xy")])
                    k += 1
                elif s.startswith("Feature"):
                    parts = s.split(None, 2)
                    if len(parts) >= 2:
                        info[parts[1]] = parts[2] if len(parts) > 2 else ""
                elif s.startswith("EnergyWeight") or s.startswith("ForceWeight") or s.startswith("StressWeight"):
                    key = s.split()[0]
                    val = s.split()[1] if len(s.split()) > 1 else lines[k].split()[0]
                    if len(s.split()) == 1:
                        k += 1
                    info[key] = float(val)
                else:
                    raise ValueError(f"unknown line {s!r}")
        except (IndexError, ValueError, KeyError) as e:
            raise ValueError(f"{source}: configuration starting at line {start + 1}: {e}") from None
        if header is None:
            raise ValueError(f"{source}: configuration starting at line {start + 1} has no AtomData")
        atoms, forces = _atoms(n, cell, header, rows, species)
        try:
            if "force_weight" in info:
                fw = np.array([float(x) for x in str(info.pop("force_weight")).split()])
                if fw.shape != (n,):
                    raise ValueError(f"Feature force_weight has {fw.size} values for {n} atoms")
                atoms.arrays["force_weight"] = fw
            if "energy_weight" in info:
                info["energy_weight"] = float(info["energy_weight"])
        except ValueError as e:
            raise ValueError(f"{source}: configuration starting at line {start + 1}: {e}") from None
        atoms.info.update(info)
        kw = {}
        if energy is not None:
            kw["energy"] = energy
        if forces is not None:
            kw["forces"] = forces
        if virial is not None and cell is not None:
            kw["stress"] = -virial / atoms.get_volume()
        if kw:
            atoms.calc = SinglePointCalculator(atoms, **kw)
        out.append(atoms)
        k += 1
    return out


def read_cfg(path, species=None) -> list:
    """Configurations of an MLIP ``.cfg`` file as ASE ``Atoms`` (see the module docstring)."""
    p = Path(path)
    return parse_cfg(p.read_text(encoding="utf-8"), species=species, source=str(p))


def element_types(atoms, species) -> np.ndarray:
    """MTP type of every atom of ``atoms``: the position of its element in ``species`` (ValueError
    naming the elements that are not among them)."""
    index = {s: k for k, s in enumerate(species)}
    sym = atoms.get_chemical_symbols()
    missing = sorted(set(sym) - set(index))
    if missing:
        raise ValueError(f"elements {missing} are not among the species {list(species)}")
    return np.array([index[s] for s in sym], dtype=int)


def _types(atoms, species) -> np.ndarray:
    if species is not None:
        return element_types(atoms, species)
    if "mtp_type" in atoms.arrays:
        return np.asarray(atoms.arrays["mtp_type"], dtype=int)
    raise ValueError("write_cfg needs species (element per MTP type) or arrays['mtp_type']")


def format_cfg(images, species=None) -> str:
    """MLIP ``.cfg`` text of ``images`` (energies/forces/stress from their calculators when present)."""
    out = []
    for atoms in images:
        t = _types(atoms, species)
        n = len(atoms)
        calc = atoms.calc
        res = getattr(calc, "results", {}) if calc is not None else {}
        forces = res.get("forces")
        out += ["BEGIN_CFG", " Size", f"    {n}"]
        periodic = bool(np.all(atoms.pbc))
        if periodic:
            out.append(" Supercell")
            out += ["    " + " ".join("%22.15f" % x for x in v) for v in atoms.cell.array]
        header = ["id", "type", "cartes_x", "cartes_y", "cartes_z"]
        if forces is not None:
            header += ["fx", "fy", "fz"]
        grades = atoms.arrays.get("grade")
        if grades is not None:
            header.append("nbh_grades")
        out.append(" AtomData:  " + " ".join(header))
        for i in range(n):
            row = ["%8d" % (i + 1), "%4d" % t[i]] + ["%22.15f" % x for x in atoms.positions[i]]
            if forces is not None:
                row += ["%22.15f" % x for x in forces[i]]
            if grades is not None:
                row.append("%22.15g" % grades[i])
            out.append(" " + " ".join(row))
        if "energy" in res:
            out += [" Energy", "    %.15f" % res["energy"]]
        if periodic and res.get("stress") is not None:
            s = np.asarray(res["stress"], dtype=float)
            if s.shape == (3, 3):
                s = s[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
            vir = -s * atoms.get_volume()
            out += [" PlusStress:  xx yy zz yz xz xy", "    " + " ".join("%.15f" % x for x in vir)]
        for key in ("EnergyWeight", "ForceWeight", "StressWeight"):
            if key in atoms.info:
                out.append(f" {key}    {float(atoms.info[key]):.15g}")
        fw = atoms.arrays.get("force_weight")
        if fw is not None and not np.all(np.asarray(fw) == 1.0):
            # per-atom force weights (a local cut-out: 1 on its core, 0 on its rim) as one Feature, which
            # MLIP's own readers keep as an unknown feature and this module reads back
            out.append(" Feature   force_weight " + " ".join("%.6g" % w for w in np.asarray(fw, float)))
        for key, val in atoms.info.items():
            if key in ("EnergyWeight", "ForceWeight", "StressWeight", "force_weight") \
                    or not isinstance(val, (str, int, float)):
                continue
            text = str(val)
            if "\n" in text or not key or " " in key:
                continue
            out.append(f" Feature   {key} {text}")
        out += ["END_CFG", ""]
    return "\n".join(out)


def write_cfg(path, images, species=None, *, append: bool = False) -> None:
    """Write ``images`` as an MLIP ``.cfg`` file (``species``: element of each MTP type)."""
    text = format_cfg(images, species)
    p = Path(path)
    if append:
        with open(p, "a", encoding="utf-8") as f:
            f.write(text)
    else:
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(p)


def read_training_set(path: Path, species: list[str] | None) -> list:
    """Labelled images of an MLIP .cfg (or any ASE-readable file with energies/forces)."""
    path = Path(path)
    if path.suffix == ".cfg":
        images = read_cfg(path, species=species)
    else:
        from ase.io import read

        images = read(path, index=":")
    good = []
    for k, a in enumerate(images):
        if a.calc is None or "energy" not in a.calc.results or "forces" not in a.calc.results:
            raise UserError(f"potential.training_set: configuration {k} of {path} has no energy/forces label")
        a.info.setdefault("origin", f"file:{path.name}#{k}")
        good.append(a)
    return good
