//! mmCIF read as AlphaFold's template pipeline reads it (DeepMind's `mmcif_parsing.parse`):
//! the polymer sequence of each protein chain from `_entity_poly_seq` (SEQRES, modified residues
//! as their parent), where each SEQRES position was observed (`_atom_site.label_seq_id`) and
//! with which atoms, the release date (oldest `_pdbx_audit_revision_history.revision_date`) and
//! the resolution.
//!
//! Structures for training and scoring go through `protein::read_structure` (pdbtbx); templates
//! need the SEQRES ↔ structure mapping, which that reader does not keep, so this module has its
//! own small CIF reader (the first data block: key–value pairs and loops).

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use crate::error::{read_text, FeaturesError, Result};

/// The first data block of a CIF file: every tag with its values (one for a key–value pair,
/// one per row for a loop column), as written.
#[derive(Debug, Default, Clone)]
pub struct CifBlock {
    pub name: String,
    values: HashMap<String, Vec<String>>,
}

impl CifBlock {
    /// The values of `tag` (e.g. `_atom_site.Cartn_x`), if the block has it.
    pub fn get(&self, tag: &str) -> Option<&[String]> {
        self.values.get(tag).map(Vec::as_slice)
    }

    /// Rows of the category `prefix` (e.g. `_entity_poly_seq.`) holding the `columns` asked for;
    /// empty when the category is absent. All columns must have the same number of rows.
    fn rows(&self, source: &str, prefix: &str, columns: &[&str]) -> Result<Vec<Vec<&str>>> {
        let found: Vec<Option<&[String]>> =
            columns.iter().map(|c| self.get(&format!("{prefix}{c}"))).collect();
        if found.iter().all(Option::is_none) {
            return Ok(Vec::new());
        }
        let mut cols = Vec::with_capacity(columns.len());
        for (name, col) in columns.iter().zip(&found) {
            cols.push(col.ok_or_else(|| {
                FeaturesError::parse(source, None, format!("`{prefix}{name}` is missing"))
            })?);
        }
        let n = cols[0].len();
        if cols.iter().any(|c| c.len() != n) {
            return Err(FeaturesError::parse(
                source,
                None,
                format!("the columns of `{prefix}` have different lengths"),
            ));
        }
        Ok((0..n).map(|i| cols.iter().map(|c| c[i].as_str()).collect()).collect())
    }
}

/// One token of CIF syntax and the line it starts on; quoted and text-field values are never
/// keywords or tags.
struct Token {
    text: String,
    quoted: bool,
    line: usize,
}

fn tokenize(text: &str, source: &str) -> Result<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    while let Some((number, line)) = lines.next() {
        let mut rest = line;
        if let Some(first) = line.strip_prefix(';') {
            // A text field: up to the next line that starts with `;`.
            let mut field = vec![first.trim_end().to_string()];
            let mut closed = false;
            for (_, next) in lines.by_ref() {
                if let Some(after) = next.strip_prefix(';') {
                    rest = after;
                    closed = true;
                    break;
                }
                field.push(next.trim_end().to_string());
            }
            if !closed {
                return Err(FeaturesError::parse(
                    source,
                    Some(number),
                    "a text field (`;`) is never closed",
                ));
            }
            tokens.push(Token { text: field.join("\n"), quoted: true, line: number });
        }
        let bytes = rest.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i].is_ascii_whitespace() {
                i += 1;
                continue;
            }
            if bytes[i] == b'#' {
                break;
            }
            if bytes[i] == b'\'' || bytes[i] == b'"' {
                // A quoted value ends at the same quote followed by white space or the line end.
                let quote = bytes[i];
                let start = i + 1;
                let mut end = start;
                loop {
                    if end >= bytes.len() {
                        return Err(FeaturesError::parse(
                            source,
                            Some(number),
                            "a quoted value is never closed",
                        ));
                    }
                    if bytes[end] == quote
                        && (end + 1 == bytes.len() || bytes[end + 1].is_ascii_whitespace())
                    {
                        break;
                    }
                    end += 1;
                }
                tokens.push(Token {
                    text: rest[start..end].to_string(),
                    quoted: true,
                    line: number,
                });
                i = end + 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            tokens.push(Token { text: rest[start..i].to_string(), quoted: false, line: number });
        }
    }
    Ok(tokens)
}

fn is_keyword(token: &Token, keyword: &str) -> bool {
    let text = token.text.as_bytes();
    !token.quoted
        && text.len() >= keyword.len()
        && text[..keyword.len()].eq_ignore_ascii_case(keyword.as_bytes())
}

fn is_tag(token: &Token) -> bool {
    !token.quoted && token.text.starts_with('_')
}

/// The first data block of CIF `text`; `source` names it in errors.
pub fn parse_cif(text: &str, source: &str) -> Result<CifBlock> {
    let tokens = tokenize(text, source)?;
    let mut block = CifBlock::default();
    let mut i = 0;
    let mut started = false;
    while i < tokens.len() {
        let token = &tokens[i];
        if is_keyword(token, "data_") {
            if started {
                break;
            }
            started = true;
            block.name = token.text[5..].to_string();
            i += 1;
        } else if !started {
            return Err(FeaturesError::parse(
                source,
                Some(token.line),
                "expected `data_` before any data",
            ));
        } else if is_keyword(token, "loop_") {
            let loop_line = token.line;
            i += 1;
            let mut tags = Vec::new();
            while i < tokens.len() && is_tag(&tokens[i]) {
                tags.push(tokens[i].text.clone());
                i += 1;
            }
            if tags.is_empty() {
                return Err(FeaturesError::parse(source, Some(loop_line), "a loop has no tags"));
            }
            let mut columns: Vec<Vec<String>> = vec![Vec::new(); tags.len()];
            let mut count = 0;
            while i < tokens.len()
                && !is_tag(&tokens[i])
                && !["loop_", "data_", "save_", "global_", "stop_"]
                    .iter()
                    .any(|k| is_keyword(&tokens[i], k))
            {
                columns[count % tags.len()].push(tokens[i].text.clone());
                count += 1;
                i += 1;
            }
            if count % tags.len() != 0 {
                return Err(FeaturesError::parse(
                    source,
                    Some(loop_line),
                    format!(
                        "the loop of `{}` has {count} values for {} columns",
                        tags[0],
                        tags.len()
                    ),
                ));
            }
            for (tag, column) in tags.into_iter().zip(columns) {
                block.values.insert(tag, column);
            }
        } else if is_tag(token) {
            let Some(value) = tokens.get(i + 1).filter(|v| !is_tag(v)) else {
                return Err(FeaturesError::parse(
                    source,
                    Some(token.line),
                    format!("`{}` has no value", token.text),
                ));
            };
            block.values.insert(token.text.clone(), vec![value.text.clone()]);
            i += 2;
        } else if is_keyword(token, "save_") || is_keyword(token, "global_") {
            i += 1;
        } else {
            return Err(FeaturesError::parse(
                source,
                Some(token.line),
                format!("unexpected value `{}` outside a loop", token.text),
            ));
        }
    }
    if !started {
        return Err(FeaturesError::parse(source, None, "no `data_` block: not an mmCIF file"));
    }
    Ok(block)
}

/// One atom of an observed residue.
#[derive(Debug, Clone, PartialEq)]
pub struct MmcifAtom {
    pub name: String,
    /// Coordinates as Biopython keeps them (float32), which AlphaFold's features inherit.
    pub position: [f32; 3],
}

/// A residue present in the first model.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedResidue {
    /// Chemical component id (`label_comp_id`), e.g. `MSE`.
    pub name: String,
    pub atoms: Vec<MmcifAtom>,
}

/// What AlphaFold's template featurizer needs from an mmCIF entry.
#[derive(Debug, Clone)]
pub struct MmcifEntry {
    /// The file's id as the caller names it (the PDB id for templates).
    pub file_id: String,
    /// The oldest revision date (`YYYY-MM-DD`), if the file states one.
    pub release_date: Option<String>,
    /// `_refine.ls_d_res_high` (or the EM / reflections resolution); 0 when absent.
    pub resolution: f64,
    /// Author chain id → SEQRES one-letter sequence, in AlphaFold's chain order.
    pub chain_to_seqres: Vec<(String, String)>,
    /// Author chain id → for each SEQRES position, the observed residue (`None`: missing).
    pub seqres_to_structure: HashMap<String, Vec<Option<ObservedResidue>>>,
}

impl MmcifEntry {
    pub fn seqres(&self, chain: &str) -> Option<&str> {
        self.chain_to_seqres.iter().find(|(c, _)| c == chain).map(|(_, s)| s.as_str())
    }
}

/// One-letter code of a chemical component, as Biopython 1.79's `SCOPData` table gives it
/// (modified residues → parent; unknown → `X`). `modified_residues.txt` is made by
/// `tools/reference/make_modified_residues.py`.
pub fn component_one_letter(component: &str) -> u8 {
    static TABLE: OnceLock<HashMap<&'static str, u8>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        include_str!("../modified_residues.txt")
            .lines()
            .filter_map(|line| line.split_once(' '))
            .map(|(id, letter)| (id, letter.as_bytes()[0]))
            .collect()
    });
    table.get(component).copied().unwrap_or(b'X')
}

/// Parses `text` (an mmCIF file; `source` names it in errors) into the entry AlphaFold's
/// template pipeline uses; `file_id` is kept as the entry's id.
pub fn parse_mmcif_entry(text: &str, file_id: &str, source: &str) -> Result<MmcifEntry> {
    let block = parse_cif(text, source)?;
    let bad = |message: String| FeaturesError::parse(source, None, message);

    // Protein chains: entities with at least one peptide component, by label chain id.
    let mut entity_order: Vec<&str> = Vec::new();
    let mut polymers: HashMap<&str, Vec<(&str, i64)>> = HashMap::new();
    for row in block.rows(source, "_entity_poly_seq.", &["entity_id", "num", "mon_id"])? {
        let num: i64 =
            row[1].parse().map_err(|_| bad(format!("_entity_poly_seq.num `{}`", row[1])))?;
        if !polymers.contains_key(row[0]) {
            entity_order.push(row[0]);
        }
        polymers.entry(row[0]).or_default().push((row[2], num));
    }
    let comp_types: HashMap<&str, &str> = block
        .rows(source, "_chem_comp.", &["id", "type"])?
        .into_iter()
        .map(|r| (r[0], r[1]))
        .collect();
    let mut entity_chains: HashMap<&str, Vec<&str>> = HashMap::new();
    for row in block.rows(source, "_struct_asym.", &["id", "entity_id"])? {
        entity_chains.entry(row[1]).or_default().push(row[0]);
    }
    // label chain id → its monomers, in AlphaFold's order (entities as first listed).
    let mut valid_chains: Vec<(&str, &[(&str, i64)])> = Vec::new();
    for entity in &entity_order {
        let monomers = &polymers[entity];
        let mut is_protein = false;
        for (id, _) in monomers {
            let kind = comp_types
                .get(id)
                .ok_or_else(|| bad(format!("component `{id}` is not in `_chem_comp`")))?;
            // DeepMind's later releases compare case-insensitively, as here.
            is_protein |= kind.to_ascii_lowercase().contains("peptide");
        }
        if is_protein {
            for chain in entity_chains.get(entity).map(Vec::as_slice).unwrap_or(&[]) {
                if !valid_chains.iter().any(|(c, _)| c == chain) {
                    valid_chains.push((chain, monomers));
                }
            }
        }
    }
    if valid_chains.is_empty() {
        return Err(bad("no protein chains in this file".into()));
    }

    let columns = [
        "label_comp_id",
        "auth_asym_id",
        "label_asym_id",
        "auth_seq_id",
        "label_seq_id",
        "pdbx_PDB_ins_code",
        "group_PDB",
        "pdbx_PDB_model_num",
        "label_atom_id",
        "Cartn_x",
        "Cartn_y",
        "Cartn_z",
    ];
    let sites = block.rows(source, "_atom_site.", &columns)?;
    if sites.is_empty() {
        return Err(bad("no `_atom_site` records".into()));
    }
    let n_sites = sites.len();
    let column = |tag: &str| block.get(tag).filter(|c| c.len() == n_sites);
    let occupancy = column("_atom_site.occupancy");
    let alt_id = column("_atom_site.label_alt_id");

    // The first model's residues (Biopython's structure), keyed as Biopython keys them.
    type ResidueKey = (String, i64, String, String);
    let first_model = sites[0][7];
    let mut residues: HashMap<ResidueKey, (ObservedResidue, Vec<(f64, bool)>)> = HashMap::new();
    let mut label_to_author: HashMap<&str, &str> = HashMap::new();
    let mut mapping: HashMap<&str, HashMap<i64, ResidueKey>> = HashMap::new();
    let start_of: HashMap<&str, i64> = valid_chains
        .iter()
        .map(|(c, m)| (*c, m.iter().map(|(_, n)| *n).min().unwrap_or(1)))
        .collect();
    for (i, site) in sites.iter().enumerate() {
        let [comp, auth_chain, label_chain, auth_seq, label_seq, ins_code, group, model, atom, x, y, z] =
            site[..]
        else {
            unreachable!("rows have one value per column asked for")
        };
        let hetflag = if group == "HETATM" {
            if comp == "HOH" || comp == "WAT" {
                "W".to_string()
            } else {
                format!("H_{comp}")
            }
        } else {
            " ".to_string()
        };
        let ins = if ins_code == "." || ins_code == "?" { " " } else { ins_code };
        let number = |text: &str, what: &str| -> Result<i64> {
            text.parse().map_err(|_| bad(format!("atom {}: {what} `{text}`", i + 1)))
        };
        if model == first_model {
            let key: ResidueKey = (
                auth_chain.to_string(),
                number(auth_seq, "auth_seq_id")?,
                ins.to_string(),
                hetflag.clone(),
            );
            let coordinate = |v: &str| -> Result<f32> {
                v.parse::<f64>()
                    .map(|v| v as f32)
                    .map_err(|_| bad(format!("atom {}: coordinate `{v}`", i + 1)))
            };
            let position = [coordinate(x)?, coordinate(y)?, coordinate(z)?];
            let occ = occupancy.and_then(|o| o[i].parse::<f64>().ok()).unwrap_or(1.0);
            let has_alt = alt_id.is_some_and(|a| a[i] != "." && a[i] != "?");
            let (residue, meta) = residues.entry(key).or_insert_with(|| {
                (ObservedResidue { name: comp.to_string(), atoms: Vec::new() }, Vec::new())
            });
            match residue.atoms.iter().position(|a| a.name == atom) {
                // Alternative locations: Biopython keeps the one of highest occupancy (the
                // first among equals); a repeated name without altloc is dropped.
                Some(k) => {
                    if has_alt && meta[k].1 && occ > meta[k].0 {
                        residue.atoms[k].position = position;
                        meta[k].0 = occ;
                    }
                }
                None => {
                    residue.atoms.push(MmcifAtom { name: atom.to_string(), position });
                    meta.push((occ, has_alt));
                }
            }
        }
        if model != "1" {
            continue;
        }
        label_to_author.insert(label_chain, auth_chain);
        if let Some(start) = start_of.get(label_chain) {
            let seq_index = number(label_seq, "label_seq_id")? - start;
            let key = (
                auth_chain.to_string(),
                number(auth_seq, "auth_seq_id")?,
                ins.to_string(),
                hetflag,
            );
            mapping.entry(auth_chain).or_default().insert(seq_index, key);
        }
    }

    let mut chain_to_seqres: Vec<(String, String)> = Vec::new();
    let mut seqres_to_structure = HashMap::new();
    for (label_chain, monomers) in &valid_chains {
        let author = *label_to_author.get(label_chain).ok_or_else(|| {
            bad(format!("protein chain `{label_chain}` has no atoms in the first model"))
        })?;
        let chain_mapping = mapping.get(author);
        let observed: Vec<Option<ObservedResidue>> = (0..monomers.len() as i64)
            .map(|index| {
                chain_mapping
                    .and_then(|m| m.get(&index))
                    .and_then(|key| residues.get(key))
                    .map(|(residue, _)| residue.clone())
            })
            .collect();
        let sequence: String =
            monomers.iter().map(|(id, _)| char::from(component_one_letter(id))).collect();
        match chain_to_seqres.iter_mut().find(|(c, _)| c == author) {
            Some(entry) => entry.1 = sequence,
            None => chain_to_seqres.push((author.to_string(), sequence)),
        }
        seqres_to_structure.insert(author.to_string(), observed);
    }

    let release_date = block
        .get("_pdbx_audit_revision_history.revision_date")
        .and_then(|dates| dates.iter().min().cloned());
    let resolution =
        ["_refine.ls_d_res_high", "_em_3d_reconstruction.resolution", "_reflns.d_resolution_high"]
            .iter()
            .filter_map(|tag| block.get(tag).and_then(|v| v.first()).and_then(|v| v.parse().ok()))
            // The last one present wins, as in AlphaFold.
            .next_back()
            .unwrap_or(0.0);
    Ok(MmcifEntry {
        file_id: file_id.to_string(),
        release_date,
        resolution,
        chain_to_seqres,
        seqres_to_structure,
    })
}

/// `parse_mmcif_entry` of a file.
pub fn read_mmcif_entry(path: &Path, file_id: &str) -> Result<MmcifEntry> {
    parse_mmcif_entry(&read_text(path)?, file_id, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loops_quotes_and_text_fields() {
        let text = "data_TEST\n_entry.id TEST\n_struct.title\n;A long\ntitle\n;\n\
                    loop_\n_x.a\n_x.b\n1 'two words'\n3 \"it's\" # comment\n";
        let block = parse_cif(text, "t.cif").unwrap();
        assert_eq!(block.name, "TEST");
        assert_eq!(block.get("_struct.title").unwrap(), ["A long\ntitle"]);
        assert_eq!(block.get("_x.a").unwrap(), ["1", "3"]);
        assert_eq!(block.get("_x.b").unwrap(), ["two words", "it's"]);
    }

    #[test]
    fn malformed_cif_names_the_line() {
        let err = parse_cif("data_X\nloop_\n_x.a\n_x.b\n1 2 3\n", "bad.cif").unwrap_err();
        assert!(err.to_string().contains("bad.cif:2"), "{err}");
        assert!(parse_cif("_x.a 1\n", "nodata.cif").is_err());
        let err = parse_cif("data_X\n_x.a 'open\n", "q.cif").unwrap_err();
        assert!(err.to_string().contains("q.cif:2"), "{err}");
        let err = parse_cif("data_X\n_x.a\n;never closed\n", "t.cif").unwrap_err();
        assert!(err.to_string().contains("never closed"), "{err}");
    }

    #[test]
    fn modified_residues_read_as_their_parent() {
        assert_eq!(component_one_letter("MSE"), b'M');
        assert_eq!(component_one_letter("ALA"), b'A');
        assert_eq!(component_one_letter("HOH"), b'X');
    }
}
