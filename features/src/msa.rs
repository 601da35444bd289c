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

    /// Keeps the first `max_rows` rows (AlphaFold caps each database's hits this way).
    pub fn truncate(&mut self, max_rows: usize) {
        self.sequences.truncate(max_rows);
        self.deletion_matrix.truncate(max_rows);
        self.descriptions.truncate(max_rows);
    }
}
