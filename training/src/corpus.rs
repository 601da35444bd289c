//! The chains a training run draws from.

use std::path::Path;

#[cfg(feature = "hdf5")]
use ferrofold_data::ChainStore;
use ferrofold_data::{load_chains, ChainEntry, ChainFilter, TrainingChain};

use crate::error::{Result, TrainingError};

/// The chains a run draws from: read from structure files up front, or from a store on demand.
pub enum Corpus {
    Loaded(Vec<TrainingChain>),
    #[cfg(feature = "hdf5")]
    Store {
        store: ChainStore,
        ids: Vec<String>,
    },
}

impl Corpus {
    /// `dir` (a store or a directory of structures), filtered.
    pub fn open(dir: &Path, msa_dir: Option<&Path>, filter: &ChainFilter) -> Result<Self> {
        let keep = |entry: &ChainEntry| {
            filter
                .rejects(entry)
                .inspect(|r| tracing::debug!("{}: left out ({r})", entry.id))
                .is_none()
        };
        let corpus = if ferrofold_data::is_store(dir) {
            #[cfg(feature = "hdf5")]
            {
                let store = ChainStore::open(dir)?;
                let ids =
                    store.entries().iter().filter(|e| keep(e)).map(|e| e.id.clone()).collect();
                Corpus::Store { store, ids }
            }
            #[cfg(not(feature = "hdf5"))]
            return Err(TrainingError::Config(format!(
                "{} is a chain store: {}",
                dir.display(),
                ferrofold_data::WITHOUT_HDF5
            )));
        } else {
            let chains = load_chains(dir, msa_dir)?
                .into_iter()
                .filter(|c| keep(&ChainEntry::of(c, "")))
                .collect();
            Corpus::Loaded(chains)
        };
        if corpus.is_empty() {
            return Err(TrainingError::Config(format!(
                "no chain of {} passes the filters",
                dir.display()
            )));
        }
        Ok(corpus)
    }

    pub fn len(&self) -> usize {
        match self {
            Corpus::Loaded(chains) => chains.len(),
            #[cfg(feature = "hdf5")]
            Corpus::Store { ids, .. } => ids.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// (id, length) of every chain, in index order.
    pub fn lengths(&self) -> Vec<(String, usize)> {
        match self {
            Corpus::Loaded(chains) => {
                chains.iter().map(|c| (c.id.clone(), c.protein.aatype.len())).collect()
            }
            #[cfg(feature = "hdf5")]
            Corpus::Store { store, ids } => {
                ids.iter().map(|id| (id.clone(), store.entry(id).map_or(0, |e| e.length))).collect()
            }
        }
    }

    pub fn get(&self, index: usize) -> Result<std::borrow::Cow<'_, TrainingChain>> {
        Ok(match self {
            Corpus::Loaded(chains) => std::borrow::Cow::Borrowed(&chains[index]),
            #[cfg(feature = "hdf5")]
            Corpus::Store { store, ids } => std::borrow::Cow::Owned(store.read(&ids[index])?),
        })
    }

    /// Every chain (validation sets are small).
    pub fn all(&self) -> Result<Vec<TrainingChain>> {
        (0..self.len()).map(|i| self.get(i).map(|c| c.into_owned())).collect()
    }
}
