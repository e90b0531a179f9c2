//! Polled reads: every `mode = "poll"` tag read once per cycle with the Read service, in
//! requests of at most MaxNodesPerRead nodes, source and server timestamps requested.

use opcua::client::Session;
use opcua::types::{NodeId, ReadValueId, TimestampsToReturn};
use protocols::model::Point;

use super::session::{SessionError, chunk_len};
use super::settings::{OpcUaTag, TagMode};
use super::status::{point, status_name};

/// The polled tags of a device, with their parsed node ids.
#[derive(Debug, Clone)]
pub(crate) struct ReadPlan {
    tags: Vec<(usize, ReadValueId)>,
}

impl ReadPlan {
    /// The plan for the `poll` tags among `tags`.
    pub(crate) fn new(tags: &[OpcUaTag]) -> Self {
        Self {
            tags: tags
                .iter()
                .enumerate()
                .filter(|(_, t)| t.mode == TagMode::Poll)
                .filter_map(|(i, t)| t.node_id.parse::<NodeId>().ok().map(|n| (i, n.into())))
                .collect(),
        }
    }

    /// Whether there is nothing to read.
    pub(crate) fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }

    /// Number of Read requests for `max_nodes_per_read`.
    pub(crate) fn requests(&self, max_nodes_per_read: usize) -> usize {
        self.tags
            .chunks(chunk_len(max_nodes_per_read, self.tags.len()))
            .count()
    }

    /// Reads every tag; a failed request fails the whole cycle (the connection is dropped).
    pub(crate) async fn read(
        &self,
        session: &Session,
        tags: &[OpcUaTag],
        max_nodes_per_read: usize,
    ) -> Result<Vec<Point>, SessionError> {
        let mut points = Vec::with_capacity(self.tags.len());
        for chunk in self
            .tags
            .chunks(chunk_len(max_nodes_per_read, self.tags.len()))
        {
            let nodes: Vec<ReadValueId> = chunk.iter().map(|(_, r)| r.clone()).collect();
            let values = session
                .read(&nodes, TimestampsToReturn::Both, 0.0)
                .await
                .map_err(|e| SessionError::Service {
                    service: "Read",
                    status: status_name(e.status()),
                })?;
            if values.len() != chunk.len() {
                return Err(SessionError::Service {
                    service: "Read",
                    status: format!("{} results for {} nodes", values.len(), chunk.len()),
                });
            }
            for ((index, _), dv) in chunk.iter().zip(values.iter()) {
                if let Some(tag) = tags.get(*index) {
                    points.push(point(&tag.id, dv));
                }
            }
        }
        Ok(points)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use protocols::model::TagId;

    fn tag(name: &str, mode: TagMode) -> OpcUaTag {
        OpcUaTag {
            id: TagId::new(&format!("s/a/l/m/{name}")).unwrap(),
            node_id: format!("ns=2;s={name}"),
            mode,
        }
    }

    #[test]
    fn only_polled_tags_are_read_in_chunks_of_the_server_limit() {
        let sub = TagMode::Subscribe {
            sampling_interval: None,
            queue_size: 1,
            deadband: None,
        };
        let tags: Vec<OpcUaTag> = (0..7)
            .map(|i| tag(&format!("t{i}"), if i == 3 { sub } else { TagMode::Poll }))
            .collect();
        let plan = ReadPlan::new(&tags);
        assert!(!plan.is_empty());
        assert_eq!(plan.requests(0), 1); // no limit advertised
        assert_eq!(plan.requests(2), 3); // 6 polled tags
        assert_eq!(plan.requests(6), 1);
        assert!(ReadPlan::new(&tags[3..4]).is_empty());
    }
}
