//! A protein chain in AlphaFold's atom37 representation, read from PDB or mmCIF with `pdbtbx`.

use std::io::{BufReader, Cursor};
use std::path::Path;

use ndarray::{Array1, Array2, Array3};
use pdbtbx::{Format, ReadOptions, StrictnessLevel};

use crate::error::{FeaturesError, Location, Result};
use crate::residue_constants::{
    atom_order, restype_3to1, restype_order, ATOM_CA, ATOM_TYPE_NUM, UNK_RESTYPE_INDEX,
};

/// One chain, atom37 layout (N residues).
#[derive(Debug, Clone, PartialEq)]
pub struct Protein {
    /// Chain identifier (author chain id for mmCIF).
    pub chain_id: String,
    /// Cartesian coordinates (Å): [N, 37, 3]; zero where the atom is absent.
    pub atom_positions: Array3<f64>,
    /// 1.0 where the atom is present: [N, 37].
    pub atom_mask: Array2<f64>,
    /// Residue type (0..19, 20 = unknown): \[N\].
    pub aatype: Array1<i32>,
    /// Author residue number: \[N\].
    pub residue_index: Array1<i32>,
    /// Insertion code per residue (`None` for most), kept so that numbering stays unique.
    pub insertion_codes: Vec<Option<String>>,
    /// B-factor per atom: [N, 37].
    pub b_factors: Array2<f64>,
}

impl Protein {
    pub fn len(&self) -> usize {
        self.aatype.len()
    }

    pub fn is_empty(&self) -> bool {
        self.aatype.is_empty()
    }

    /// The chains one after another, as one chain (the first's id): for scores of a whole
    /// complex.
    pub fn concatenated(chains: &[Protein]) -> Protein {
        use ndarray::{concatenate, Axis};
        let views = |f: fn(&Protein) -> ndarray::ArrayViewD<'_, f64>| -> Vec<_> {
            chains.iter().map(f).collect()
        };
        let join = |parts: Vec<ndarray::ArrayViewD<'_, f64>>| {
            concatenate(Axis(0), &parts).expect("chains of one atom layout")
        };
        let aatype: Vec<_> = chains.iter().map(|c| c.aatype.view()).collect();
        let residue_index: Vec<_> = chains.iter().map(|c| c.residue_index.view()).collect();
        Protein {
            chain_id: chains.first().map_or_else(String::new, |c| c.chain_id.clone()),
            atom_positions: join(views(|c| c.atom_positions.view().into_dyn()))
                .into_dimensionality()
                .expect("[N, 37, 3]"),
            atom_mask: join(views(|c| c.atom_mask.view().into_dyn()))
                .into_dimensionality()
                .expect("[N, 37]"),
            aatype: concatenate(Axis(0), &aatype).expect("1-D"),
            residue_index: concatenate(Axis(0), &residue_index).expect("1-D"),
            insertion_codes: chains.iter().flat_map(|c| c.insertion_codes.clone()).collect(),
            b_factors: join(views(|c| c.b_factors.view().into_dyn()))
                .into_dimensionality()
                .expect("[N, 37]"),
        }
    }

    /// The one-letter sequence (`X` for unknown residues).
    pub fn sequence(&self) -> String {
        self.aatype
            .iter()
            .map(|&a| {
                crate::residue_constants::RESTYPES.get(a as usize).map_or('X', |&c| c as char)
            })
            .collect()
    }
}

/// Reads one chain of the first model of a PDB (`.pdb`, `.ent`) or mmCIF (`.cif`, `.mmcif`)
/// file. `chain`: which chain; `None` requires a file with exactly one chain.
///
/// As AlphaFold's `protein.from_pdb_string`: residues without any atom37 atom are skipped,
/// non-standard residues become unknown (20), atoms outside atom37 are ignored. Beyond it:
/// the first alternate location of an atom is used, MSE becomes MET (SE → SD), waters and
/// ligands (residues without a CA that are not polymer residues) are left out, and insertion
/// codes are kept rather than rejected.
pub fn read_structure(path: &Path, chain: Option<&str>) -> Result<Protein> {
    let text = crate::error::read_text(path)?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let format = match ext.as_str() {
        "pdb" | "ent" => StructureFormat::Pdb,
        "cif" | "mmcif" => StructureFormat::Mmcif,
        _ => {
            return Err(structure_error(
                path.display(),
                format!("unknown structure format `.{ext}` (expected .pdb, .ent, .cif or .mmcif)"),
            ))
        }
    };
    parse_structure(&text, format, chain, &path.display().to_string())
}

/// Structure text formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StructureFormat {
    Pdb,
    Mmcif,
}

/// Parses structure text; `source` names it in errors.
pub fn parse_structure(
    text: &str,
    format: StructureFormat,
    chain: Option<&str>,
    source: &str,
) -> Result<Protein> {
    let pdb = read_with_pdbtbx(text, format, source)?;
    let model =
        pdb.models().next().ok_or_else(|| structure_error(source, "no model (no atoms)"))?;
    let chains: Vec<&pdbtbx::Chain> = model.chains().collect();
    let selected = match chain {
        Some(id) => chains.iter().find(|c| c.id() == id).ok_or_else(|| {
            let ids: Vec<&str> = chains.iter().map(|c| c.id()).collect();
            structure_error(source, format!("no chain `{id}` (chains: {})", ids.join(", ")))
        })?,
        None => match chains.as_slice() {
            [only] => only,
            [] => return Err(structure_error(source, "no chain")),
            many => {
                let ids: Vec<&str> = many.iter().map(|c| c.id()).collect();
                return Err(structure_error(
                    source,
                    format!(
                        "{} chains ({}): name the chain to read where the command takes one \
                         (score: --model-chain, --reference-chain), else give a file of one chain",
                        many.len(),
                        ids.join(", ")
                    ),
                ));
            }
        },
    };
    chain_to_protein(selected, source)
}

/// Refuses a coordinate, occupancy or B-factor that reads as NaN or infinity, naming its line:
/// such a value would become NaN coordinates downstream (or crash the structure parser).
fn refuse_non_finite_numbers(text: &str, format: StructureFormat, source: &str) -> Result<()> {
    let non_finite = |field: &str| field.trim().parse::<f64>().is_ok_and(|x| !x.is_finite());
    let refuse = |line: usize, what: &str, value: &str| {
        Err(FeaturesError::Parse {
            location: Location::new(source, Some(line)),
            message: format!("{what} `{}` is not a finite number", value.trim()),
        })
    };
    match format {
        StructureFormat::Pdb => {
            // Fixed columns 31-38, 39-46, 47-54 (x, y, z), 55-60 occupancy, 61-66 B-factor.
            const FIELDS: [(&str, usize, usize); 5] = [
                ("x coordinate", 30, 38),
                ("y coordinate", 38, 46),
                ("z coordinate", 46, 54),
                ("occupancy", 54, 60),
                ("B-factor", 60, 66),
            ];
            for (index, line) in text.lines().enumerate() {
                if !(line.starts_with("ATOM  ") || line.starts_with("HETATM")) {
                    continue;
                }
                for (what, start, end) in FIELDS {
                    if let Some(value) = line.get(start..end.min(line.len())) {
                        if non_finite(value) {
                            return refuse(index + 1, what, value);
                        }
                    }
                }
            }
        }
        StructureFormat::Mmcif => {
            const CHECKED: [&str; 5] =
                ["Cartn_x", "Cartn_y", "Cartn_z", "occupancy", "B_iso_or_equiv"];
            let mut columns: Vec<String> = Vec::new();
            let mut in_header = false;
            for (index, line) in text.lines().enumerate() {
                let trimmed = line.trim();
                if trimmed == "loop_" {
                    columns.clear();
                    in_header = true;
                } else if let Some(item) = trimmed.strip_prefix("_atom_site.") {
                    if in_header {
                        columns.push(item.split_whitespace().next().unwrap_or("").to_string());
                    }
                } else if trimmed.starts_with('_') || trimmed.starts_with('#') {
                    in_header = false;
                    columns.clear();
                } else if !columns.is_empty() {
                    in_header = false;
                    let values: Vec<&str> = trimmed.split_whitespace().collect();
                    // Rows with quoted values holding spaces do not split into columns; the
                    // coordinates of such rows are checked after parsing.
                    if values.len() != columns.len() {
                        continue;
                    }
                    for (column, value) in columns.iter().zip(&values) {
                        if CHECKED.contains(&column.as_str()) && non_finite(value) {
                            return refuse(index + 1, column, value);
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

fn read_with_pdbtbx(text: &str, format: StructureFormat, source: &str) -> Result<pdbtbx::PDB> {
    refuse_non_finite_numbers(text, format, source)?;
    let mut options = ReadOptions::new();
    options
        .set_format(match format {
            StructureFormat::Pdb => Format::Pdb,
            StructureFormat::Mmcif => Format::Mmcif,
        })
        .set_level(StrictnessLevel::Loose)
        .set_only_first_model(true)
        .set_discard_hydrogens(true);
    // pdbtbx can panic on some malformed input (e.g. its identifier checks use `expect`); user
    // input must never crash the program, so a panic becomes an error naming the file.
    // Only coordinate records matter here; header records (CRYST1 with a blank Z field, odd
    // REMARKs) make pdbtbx refuse files whose coordinates are fine, so they are left out. The
    // charge columns (79-80) are cut too: some programs write other things there, which
    // pdbtbx refuses, and the charge is not used.
    let filtered;
    let text = match format {
        StructureFormat::Pdb => {
            filtered = text
                .lines()
                .filter(|l| {
                    ["ATOM  ", "HETATM", "MODEL ", "ENDMDL", "TER", "END"]
                        .iter()
                        .any(|r| l.starts_with(r))
                })
                .map(|l| match l.char_indices().nth(78) {
                    Some((cut, _)) if l.starts_with("ATOM") || l.starts_with("HETATM") => &l[..cut],
                    _ => l,
                })
                .collect::<Vec<_>>()
                .join("\n");
            filtered.as_str()
        }
        StructureFormat::Mmcif => text,
    };
    let reader = BufReader::new(Cursor::new(text.as_bytes()));
    let result =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| options.read_raw(reader)));
    match result {
        Ok(Ok((pdb, _warnings))) => Ok(pdb),
        Ok(Err(errors)) => {
            let messages: Vec<String> = errors
                .iter()
                .filter(|e| e.level().fails(StrictnessLevel::Loose))
                .map(|e| {
                    // pdbtbx quotes whole lines (a whole mmCIF loop, at worst): one line each.
                    let text = e.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
                    match text.char_indices().nth(200) {
                        Some((cut, _)) => format!("{} …", &text[..cut]),
                        None => text,
                    }
                })
                .collect();
            // One problem per atom can make thousands: the first few say enough.
            const SHOWN: usize = 3;
            let mut message = messages.iter().take(SHOWN).cloned().collect::<Vec<_>>().join("; ");
            if messages.len() > SHOWN {
                message.push_str(&format!(" (and {} more problems)", messages.len() - SHOWN));
            }
            Err(structure_error(source, format!("cannot be read: {message}")))
        }
        Err(_) => Err(structure_error(
            source,
            "cannot be read: the structure parser failed on malformed input",
        )),
    }
}

fn chain_to_protein(chain: &pdbtbx::Chain, source: &str) -> Result<Protein> {
    let mut positions = Vec::new();
    let mut masks = Vec::new();
    let mut b_factors = Vec::new();
    let mut aatype = Vec::new();
    let mut residue_index = Vec::new();
    let mut insertion_codes = Vec::new();
    for residue in chain.residues() {
        let Some(name) = residue.name() else { continue };
        let is_mse = name == "MSE";
        let restype =
            if is_mse { restype_order(b'M') } else { restype_3to1(name).and_then(restype_order) }
                .unwrap_or(UNK_RESTYPE_INDEX);
        let mut pos = [[0.0f64; 3]; ATOM_TYPE_NUM];
        let mut mask = [0.0f64; ATOM_TYPE_NUM];
        let mut bf = [0.0f64; ATOM_TYPE_NUM];
        let mut all_hetero = true;
        // Conformers come in file order: the blank-altloc atoms and the first alternate
        // location fill a slot first; later alternates never overwrite it.
        for conformer in residue.conformers() {
            for atom in conformer.atoms() {
                all_hetero &= atom.hetero();
                let atom_name = if is_mse && atom.name() == "SE" { "SD" } else { atom.name() };
                let Some(slot) = atom_order(atom_name) else { continue };
                if mask[slot] > 0.0 {
                    continue;
                }
                let (x, y, z) = atom.pos();
                if ![x, y, z, atom.b_factor()].iter().all(|v| v.is_finite()) {
                    return Err(structure_error(
                        source,
                        format!(
                            "atom {} of residue {}: a coordinate or B-factor is not finite",
                            atom.name(),
                            residue.serial_number()
                        ),
                    ));
                }
                pos[slot] = [x, y, z];
                mask[slot] = 1.0;
                bf[slot] = atom.b_factor();
            }
        }
        if mask.iter().sum::<f64>() < 0.5 {
            continue;
        }
        // HETATM groups other than modified residues (waters, ligands) have no CA.
        if all_hetero && !is_mse && mask[ATOM_CA] == 0.0 {
            continue;
        }
        positions.extend(pos.iter().flatten());
        masks.extend(mask);
        b_factors.extend(bf);
        aatype.push(restype as i32);
        residue_index.push(i32::try_from(residue.serial_number()).map_err(|_| {
            structure_error(
                source,
                format!("residue number {} out of range", residue.serial_number()),
            )
        })?);
        insertion_codes.push(residue.insertion_code().map(str::to_string));
    }
    let n = aatype.len();
    if n == 0 {
        return Err(structure_error(
            source,
            format!("chain `{}` has no amino-acid residues", chain.id()),
        ));
    }
    let protein = Protein {
        chain_id: chain.id().to_string(),
        atom_positions: Array3::from_shape_vec((n, ATOM_TYPE_NUM, 3), positions).expect("shape"),
        atom_mask: Array2::from_shape_vec((n, ATOM_TYPE_NUM), masks).expect("shape"),
        aatype: Array1::from_vec(aatype),
        residue_index: Array1::from_vec(residue_index),
        insertion_codes,
        b_factors: Array2::from_shape_vec((n, ATOM_TYPE_NUM), b_factors).expect("shape"),
    };
    if protein.atom_mask.column(ATOM_CA).sum() == 0.0 {
        return Err(structure_error(source, format!("chain `{}` has no CA atoms", chain.id())));
    }
    Ok(protein)
}

fn structure_error(source: impl std::fmt::Display, message: impl Into<String>) -> FeaturesError {
    FeaturesError::Structure { path: source.to_string(), message: message.into() }
}
