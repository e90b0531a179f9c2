//! A device's compiled register map: its checked tags, the holes learned on the device, and
//! the read plan that covers every tag outside a hole.

use std::fmt::Write as _;

use super::{Hole, PlanError, PlanItem, PlanLimits, ReadRequest, RegisterTag, plan_reads_around};

/// Checked tags plus the requests that read them all, in plan order.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterMap {
    tags: Vec<RegisterTag>,
    limits: PlanLimits,
    address_base: u16,
    holes: Vec<Hole>,
    requests: Vec<ReadRequest>,
    /// Tags no request covers because they overlap a hole, by index.
    in_holes: Vec<usize>,
}

impl RegisterMap {
    /// Plans the reads for `tags` within `limits`.
    pub fn new(tags: Vec<RegisterTag>, limits: PlanLimits) -> Result<Self, PlanError> {
        let mut map = Self {
            tags,
            limits,
            address_base: 0,
            holes: Vec::new(),
            requests: Vec::new(),
            in_holes: Vec::new(),
        };
        map.replan()?;
        Ok(map)
    }

    /// Sets the address base (0 or 1) used when addresses are shown to people; tags and
    /// requests always hold protocol (0-based) addresses.
    pub fn with_address_base(mut self, base: u16) -> Self {
        self.address_base = base;
        self
    }

    fn replan(&mut self) -> Result<(), PlanError> {
        let items: Vec<PlanItem> = self
            .tags
            .iter()
            .map(|t| PlanItem {
                kind: t.kind(),
                address: t.address(),
                len: t.width(),
            })
            .collect();
        self.requests = plan_reads_around(&items, &self.limits, &self.holes)?;
        self.in_holes = items
            .iter()
            .enumerate()
            .filter(|(_, it)| {
                let s = u32::from(it.address);
                let e = s + u32::from(it.len);
                self.holes
                    .iter()
                    .any(|h| h.kind == it.kind && h.blocks(s, e))
            })
            .map(|(i, _)| i)
            .collect();
        Ok(())
    }

    /// Adds learned holes and re-plans. Returns whether anything new was learned.
    pub fn learn(&mut self, holes: impl IntoIterator<Item = Hole>) -> bool {
        let before = self.holes.len();
        for h in holes {
            if !self.holes.contains(&h) {
                self.holes.push(h);
            }
        }
        if self.holes.len() == before {
            return false;
        }
        self.holes.sort();
        // The limits and tags planned before, so planning cannot fail now.
        let _ = self.replan();
        true
    }

    /// Forgets every learned hole (to retry them) and re-plans. Returns whether there were any.
    pub fn forget_holes(&mut self) -> bool {
        if self.holes.is_empty() {
            return false;
        }
        self.holes.clear();
        let _ = self.replan();
        true
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

    /// Widths of the tags by index (what [`super::split`] needs).
    pub fn widths(&self) -> Vec<u16> {
        self.tags.iter().map(RegisterTag::width).collect()
    }

    /// The limits the plan was made with.
    pub fn limits(&self) -> &PlanLimits {
        &self.limits
    }

    /// The address base addresses are shown in (0 or 1).
    pub fn address_base(&self) -> u16 {
        self.address_base
    }

    /// The learned holes, sorted.
    pub fn holes(&self) -> &[Hole] {
        &self.holes
    }

    /// Indices of the tags left out of the plan because they overlap a hole.
    pub fn tags_in_holes(&self) -> &[usize] {
        &self.in_holes
    }

    /// The plan as text, one request per line, addresses as configured (with the address
    /// base), then the holes: `FC03 holding    100..104     count 5     a, b`.
    pub fn describe_plan(&self) -> String {
        let mut out = String::new();
        let base = u32::from(self.address_base);
        for r in &self.requests {
            let names: Vec<&str> = r
                .tags
                .iter()
                .filter_map(|t| self.tags.get(t.index))
                .map(|t| t.id().name())
                .collect();
            let range = format!(
                "{}..{}",
                u32::from(r.start) + base,
                u32::from(r.last()) + base
            );
            let _ = writeln!(
                out,
                "  FC{:02} {:<10} {range:<12} count {:<5} {}",
                r.function_code(),
                r.kind.as_str(),
                r.count,
                names.join(", ")
            );
        }
        for h in &self.holes {
            let names: Vec<&str> = self
                .in_holes
                .iter()
                .filter_map(|&i| self.tags.get(i))
                .filter(|t| {
                    let s = u32::from(t.address());
                    h.kind == t.kind() && h.blocks(s, s + u32::from(t.width()))
                })
                .map(|t| t.id().name())
                .collect();
            let what = if names.is_empty() {
                "(unused registers)".to_owned()
            } else {
                names.join(", ")
            };
            let _ = writeln!(
                out,
                "  hole {:<27} not read   {what}",
                h.describe(self.address_base)
            );
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::modbus::{DataType, RegisterKind, TagSpec};
    use crate::model::TagId;

    fn tag(name: &str, address: u16) -> RegisterTag {
        let id = TagId::new(&format!("s/a/l/d/{name}")).unwrap();
        RegisterTag::new(TagSpec::new(
            id,
            RegisterKind::Holding,
            address,
            DataType::U16,
        ))
        .unwrap()
    }

    #[test]
    fn learns_forgets_and_describes_holes() {
        let tags = vec![tag("a", 0), tag("b", 2), tag("c", 4)];
        let mut map = RegisterMap::new(tags, PlanLimits::default())
            .unwrap()
            .with_address_base(1);
        assert_eq!(map.requests().len(), 1);
        let hole = Hole {
            kind: RegisterKind::Holding,
            start: 2,
            count: 1,
        };
        assert!(map.learn([hole]));
        assert!(!map.learn([hole]), "the same hole is not news");
        assert_eq!(map.tags_in_holes(), [1]);
        assert_eq!(map.requests().len(), 2);
        assert_eq!(
            map.describe_plan(),
            "  FC03 holding    1..1         count 1     a\n\
             \x20 FC03 holding    5..5         count 1     c\n\
             \x20 hole holding 3..3                not read   b\n"
        );
        assert!(map.forget_holes());
        assert!(!map.forget_holes());
        assert!(map.tags_in_holes().is_empty());
        assert_eq!(map.requests().len(), 1);
    }
}
