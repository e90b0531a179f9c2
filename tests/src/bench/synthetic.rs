//! Synthetic assets and tags for the ingest and API scenarios: `assets` assets of
//! `tags_per_asset` float tags each, under a site unique to the run.

use protocols::model::{AssetPath, Point, TagId, Value};

/// Assets and their tags.
pub(crate) struct Synthetic {
    /// The agent id (also the site), unique per run.
    pub(crate) agent: String,
    /// Each asset with its tags.
    pub(crate) assets: Vec<(AssetPath, Vec<TagId>)>,
}

impl Synthetic {
    /// `assets` assets named `a0000...` with tags `t0000...` under site `bench-<random>`.
    pub(crate) fn new(assets: usize, tags_per_asset: usize) -> anyhow::Result<Self> {
        let agent = format!("bench-{:08x}", rand::random::<u32>());
        let assets = (0..assets)
            .map(|a| {
                let asset = AssetPath::from_parts(&agent, "h", "l", &format!("a{a:04}"))?;
                let tags = (0..tags_per_asset)
                    .map(|t| TagId::from_parts(&asset, &format!("t{t:04}")))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((asset, tags))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { agent, assets })
    }

    /// Every tag of every asset.
    pub(crate) fn tags(&self) -> impl Iterator<Item = &TagId> {
        self.assets.iter().flat_map(|(_, tags)| tags)
    }
}

/// One good float point per tag of `tags`, all stamped `ts_ns`.
pub(crate) fn points(tags: &[TagId], ts_ns: i64, seed: u64) -> Vec<Point> {
    tags.iter()
        .enumerate()
        .map(|(i, t)| {
            Point::good(
                t.clone(),
                ts_ns,
                Value::Float((seed + i as u64) as f64 * 0.25),
            )
        })
        .collect()
}
