//! A device's compiled register map: its checked tags and the read plan that covers them.

use super::{PlanError, PlanItem, PlanLimits, ReadRequest, RegisterTag, plan_reads};

/// Checked tags plus the requests that read them all, in plan order.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterMap {
    tags: Vec<RegisterTag>,
    limits: PlanLimits,
    requests: Vec<ReadRequest>,
}

impl RegisterMap {
    /// Plans the reads for `tags` within `limits`.
    pub fn new(tags: Vec<RegisterTag>, limits: PlanLimits) -> Result<Self, PlanError> {
        let items: Vec<PlanItem> = tags
            .iter()
            .map(|t| PlanItem {
                kind: t.kind(),
                address: t.address(),
                len: t.width(),
            })
            .collect();
        let requests = plan_reads(&items, &limits)?;
        Ok(Self {
            tags,
            limits,
            requests,
        })
    }

    /// The tags, in the order given to [`RegisterMap::new`]; [`ReadRequest`] tag indices
    /// point into this list.
    pub fn tags(&self) -> &[RegisterTag] {
        &self.tags
    }

    /// The reads of one poll cycle.
    pub fn requests(&self) -> &[ReadRequest] {
        &self.requests
    }

    /// The limits the plan was made with.
    pub fn limits(&self) -> &PlanLimits {
        &self.limits
    }
}
