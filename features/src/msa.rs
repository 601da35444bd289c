//! A multiple sequence alignment in AlphaFold's form: every row aligned to the query's residues.

/// Rows aligned to the query (row 0), with insertions relative to the query removed and counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Msa {
    /// Aligned sequences, each as long as the query: uppercase letters and `-`.
    pub sequences: Vec<String>,
    /// `deletion_matrix[i][j]`: residues of row `i` deleted (inserted relative to the query)
    /// just before query column `j`.
    pub deletion_matrix: Vec<Vec<u32>>,
    /// The description (name line) of each row.
    pub descriptions: Vec<String>,
}

impl Msa {
    pub fn push(&mut self, sequence: String, deletions: Vec<u32>, description: String) {
        debug_assert_eq!(sequence.len(), deletions.len());
        self.sequences.push(sequence);
        self.deletion_matrix.push(deletions);
        self.descriptions.push(description);
    }

    pub fn len(&self) -> usize {
        self.sequences.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sequences.is_empty()
    }

    /// Number of query residues (alignment columns).
    pub fn query_len(&self) -> usize {
        self.sequences.first().map_or(0, String::len)
    }

    /// The alignment restricted to query columns `columns` (in that order), for cropping.
    /// Deletions before a dropped column are dropped with it.
    pub fn select_columns(&self, columns: &[usize]) -> Msa {
        let mut out = Msa::default();
        for ((sequence, deletions), description) in
            self.sequences.iter().zip(&self.deletion_matrix).zip(&self.descriptions)
        {
            let bytes = sequence.as_bytes();
            out.push(
                columns.iter().map(|&c| char::from(bytes[c])).collect(),
                columns.iter().map(|&c| deletions[c]).collect(),
                description.clone(),
            );
        }
        out
    }

    /// The alignment as A3M text, rows aligned to the query (the residues counted as deleted
    /// are not written back: they are not known). hhsearch reads this as its query.
    pub fn to_a3m(&self) -> String {
        let mut text = String::new();
        for (k, (sequence, description)) in
            self.sequences.iter().zip(&self.descriptions).enumerate()
        {
            let name = if description.is_empty() { format!("row{k}") } else { description.clone() };
            text.push_str(&format!(">{name}\n{sequence}\n"));
        }
        text
    }

    /// The species of each row, as AlphaFold-Multimer pairs rows (`species_id`).
    pub fn species_ids(&self) -> Vec<&str> {
        self.descriptions.iter().map(|d| species_id(d)).collect()
    }

    /// Keeps the first `max_rows` rows (AlphaFold caps each database's hits this way).
    pub fn truncate(&mut self, max_rows: usize) {
        self.sequences.truncate(max_rows);
        self.deletion_matrix.truncate(max_rows);
        self.descriptions.truncate(max_rows);
    }
}

/// The species mnemonic of a UniProt row, as AlphaFold's `msa_identifiers.get_identifiers`
/// reads it: the description's first word up to a `/` must be `tr|ACCESSION|NAME_SPECIES` or
/// `sp|…` (accession 6–10 letters or digits, optionally `_<digit>`; species 1–5 letters or
/// digits, optionally followed by `_<digits>` as in small BFD). Anything else: `""` (no species;
/// such rows are never paired).
pub fn species_id(description: &str) -> &str {
    let identifier = description.split_whitespace().next().unwrap_or("");
    let identifier = identifier.split('/').next().unwrap_or("");
    let alphanumeric = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric());
    let fields: Vec<&str> = identifier.split('|').collect();
    let [database, accession, entry_name] = fields[..] else { return "" };
    if database != "tr" && database != "sp" {
        return "";
    }
    let accession_ok = match accession.split_once('_') {
        None => (6..=10).contains(&accession.len()) && alphanumeric(accession),
        Some((base, isoform)) => {
            (6..=10).contains(&base.len())
                && alphanumeric(base)
                && isoform.len() == 1
                && isoform.as_bytes()[0].is_ascii_digit()
        }
    };
    if !accession_ok {
        return "";
    }
    let parts: Vec<&str> = entry_name.split('_').collect();
    let species = match parts[..] {
        [name, species] | [name, species, _] if !name.is_empty() && alphanumeric(name) => species,
        _ => return "",
    };
    let suffix_ok =
        parts.get(2).is_none_or(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    if (1..=5).contains(&species.len()) && alphanumeric(species) && suffix_ok {
        species
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::species_id;

    #[test]
    fn species_as_alphafold_reads_them() {
        // The examples of AlphaFold's msa_identifiers.py, and this project's jackhmmer rows.
        assert_eq!(species_id("tr|A0A146SKV9|A0A146SKV9_FUNHE"), "FUNHE");
        assert_eq!(species_id("sp|P0C2L1|A3X1_LOXLA"), "LOXLA");
        assert_eq!(species_id("tr|K4G713|K4G713_CALMI/5-142 DE Myoglobin OS=X"), "CALMI");
        assert_eq!(species_id("sp|P02135|HBB_LITCT/4-139"), "LITCT");
        assert_eq!(species_id("sp|P0C2L1_1|A3X1_LOXLA_12"), "LOXLA");
        // Not UniProt's form: no species, so never paired.
        for description in [
            "",
            "2HHB_A",
            "UniRef90_P69905",
            "xx|P0C2L1|A3X1_LOXLA",
            "sp|P0C2L|A3X1_LOXLA",
            "sp|P0C2L1_12|A3X1_LOXLA",
            "sp|P0C2L1|A3X1_LOXLAE",
            "sp|P0C2L1|A3X1_LOX_LA",
            "sp|P0C2L1|_LOXLA",
            "sp|P0C2L1|A3X1_LOXLA|x",
        ] {
            assert_eq!(species_id(description), "", "{description}");
        }
    }
}
